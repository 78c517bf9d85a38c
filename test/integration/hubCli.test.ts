// The `hearth pull/search/fit/models/rm` commands as a user runs them: real child processes, the
// endpoint from HF_ENDPOINT, the token from HF_TOKEN, the library in HEARTH_HOME.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDb } from '../../engine/store/db.js';
import { ModelRegistry } from '../../engine/store/modelRegistry.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { markServing } from '../../engine/hub/library.js';
import { startFakeHub, type FakeHub } from '../fixtures/fakeHub.js';
import { runHearth, type CliRun } from '../fixtures/cli.js';
import { ensureFixtureCheckpoint } from '../fixtures/packages.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = 'hf_cliTokenMustNotAppear42';
let hub: FakeHub;
let home: string;

function hearth(args: string[], extraEnv: Record<string, string> = {}): Promise<CliRun> {
  return runHearth(args, { PATH: process.env.PATH, HOME: home, HEARTH_HOME: home, HF_HOME: join(home, 'hf'), HF_ENDPOINT: hub.url, ...extraEnv });
}

before(async () => {
  const tiny = await ensureFixtureCheckpoint({});
  hub = await startFakeHub({
    repos: [
      { id: 'fixture-org/tiny-chat', files: tiny.checkpointDir, license: 'apache-2.0', downloads: 1200, likes: 3, safetensorsParameters: { F32: 140_000 } },
      { id: 'fixture-org/tiny-gated', files: tiny.checkpointDir, gated: 'auto', license: 'other', downloads: 10, likes: 50 },
    ],
    tokens: [TOKEN],
  });
  home = mkdtempSync(join(tmpdir(), 'hearth-hub-cli-'));
});

after(async () => {
  await hub.close();
  rmSync(home, { recursive: true, force: true });
});

describe('hearth pull / models / rm / search / fit', () => {
  test('pull converts into the library; models lists it; rm refuses while served, then removes it', async () => {
    const pull = await hearth(['pull', 'fixture-org/tiny-chat', '--dtype', 'int4']);
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, /Ready: tiny-chat \(int4, weights .*\) from fixture-org\/tiny-chat@[0-9a-f]{12}\./);
    assert.match(pull.stdout, /Serve it with: hearth serve tiny-chat/);
    assert.match(pull.stderr, /model\.safetensors: downloaded and verified/);
    assert.match(pull.stderr, /total 100%/, 'the progress line shows total bytes');
    // The files went to HF_HOME/hub in the standard layout.
    assert.ok(existsSync(join(home, 'hf', 'hub', 'models--fixture-org--tiny-chat', 'refs', 'main')));

    const models = await hearth(['models']);
    assert.equal(models.code, 0, models.stderr);
    assert.match(models.stdout, /tiny-chat\s+ready\s+int4 .*fixture-org\/tiny-chat@/);
    const listed = JSON.parse((await hearth(['models', '--json'])).stdout);
    const packageDir = listed[0].variants[0].path as string;
    assert.ok(statSync(join(packageDir, 'manifest.json')).isFile());

    const release = markServing(packageDir, { HEARTH_HOME: home });
    try {
      const refused = await hearth(['rm', 'tiny-chat']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, new RegExp(`'tiny-chat' is being served \\(pid ${process.pid}\\)\\. Stop that hearth serve first`));
      assert.ok(existsSync(packageDir), 'nothing was deleted');
    } finally {
      release();
    }
    const removed = await hearth(['rm', 'tiny-chat']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.ok(!existsSync(packageDir));
    assert.match((await hearth(['models'])).stdout, /The library is empty/);
  });

  test('a pull killed mid-download shows as interrupted, and the next pull resumes with Range', async () => {
    const file = hub.repo('fixture-org/tiny-chat').files.get('model.safetensors')!;
    const kept = 150_000;
    hub.stallNext('model.safetensors', kept);
    const env = { PATH: process.env.PATH, HOME: home, HEARTH_HOME: home, HF_HOME: join(home, 'hf-kill'), HF_ENDPOINT: hub.url };
    const child = spawn(process.execPath, [join(root, 'bin/hearth.mjs'), 'pull', 'fixture-org/tiny-chat', '--name', 'killed'], { cwd: root, env, stdio: 'ignore' });
    const partial = join(home, 'hf-kill', 'hub', 'models--fixture-org--tiny-chat', 'blobs', `${file.sha256}.incomplete`);
    for (let i = 0; i < 600 && !(existsSync(partial) && statSync(partial).size >= kept); i++) await sleep(50);
    assert.equal(statSync(partial).size, kept, 'the child wrote the bytes it received');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    // At the next start the registry sees a download whose process is gone.
    const db = openDb(join(home, 'hearth.db'));
    try {
      const record = new ModelRegistry(db, { dataDir: home }).get('killed')!;
      assert.equal(record.status, 'interrupted');
      assert.match(record.error!, /Pull again to resume/);
    } finally {
      db.close();
    }
    hub.requests.length = 0;
    const again = await hearth(['pull', 'fixture-org/tiny-chat', '--name', 'killed'], { HF_HOME: join(home, 'hf-kill') });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`model\\.safetensors: resuming at 146\\.5 KiB`));
    const transfers = hub.requests.filter((r) => r.kind === 'lfs' && r.file === 'model.safetensors');
    assert.deepEqual(transfers.map((r) => [r.range, r.bodyBytes]), [[`bytes=${kept}-`, file.bytes - kept]]);
    assert.equal((await hearth(['rm', 'killed'])).code, 0);
  });

  test('rm and pull reject names that would escape the data directory', async () => {
    for (const name of ['../../etc']) {
      const run = await hearth(['rm', name]);
      assert.equal(run.code, 2, `${name}: ${run.stderr}`);
      assert.match(run.stderr, /is not a valid model name/);
    }
    const pull = await hearth(['pull', 'fixture-org/tiny-chat', '--name', '../escape']);
    assert.equal(pull.code, 1);
    assert.match(pull.stderr, /'\.\.\/escape' is not a valid model name/);
    assert.ok(!existsSync(join(home, '..', 'escape')));
  });

  test('gated: without HF_TOKEN a clear message; with it the pull works and the token is never printed or stored', async () => {
    const denied = await hearth(['pull', 'fixture-org/tiny-gated']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /is gated or private \(HTTP 401\).*accept the model's terms.*HF_TOKEN/s);

    const allowed = await hearth(['pull', 'fixture-org/tiny-gated', '--dtype', 'fp32'], { HF_TOKEN: TOKEN });
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.ok(!allowed.stdout.includes(TOKEN) && !allowed.stderr.includes(TOKEN));
    const models = await hearth(['models', '--json'], { HF_TOKEN: TOKEN });
    assert.ok(!models.stdout.includes(TOKEN));
    for (const name of readdirSync(home).filter((n) => n.startsWith('hearth.db'))) {
      assert.ok(!readFileSync(join(home, name)).includes(TOKEN), `${name} holds the token`);
    }
  });

  test('search shows size, license, access, update date, downloads and likes', async () => {
    const run = await hearth(['search', 'tiny', '--sort', 'likes']);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.match(lines[0]!, /MODEL\s+SIZE\s+BYTES\s+LICENSE\s+ACCESS\s+UPDATED\s+DOWNLOADS\s+LIKES/);
    assert.match(lines[1]!, /fixture-org\/tiny-gated\s+other\s+gated \(auto\)\s+2025-01-01\s+10\s+50/);
    assert.match(lines[2]!, /fixture-org\/tiny-chat\s+140\.0k params\s+546\.9 KiB\s+apache-2\.0\s+2025-01-01\s+1\.2k\s+3/);
  });

  test('fit reads config.json from the Hub and prints the verdict with numbers', async () => {
    const run = await hearth(['fit', 'fixture-org/tiny-chat', '--dtype', 'int4', '--context', '256', '--slots', '2', '--device', 'cpu']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /KV cache\s+512 B\/token × 256 tokens × 2 sequences = 256\.0 KiB/);
    assert.match(run.stdout, /^Fits: needs /m);
  });
});
