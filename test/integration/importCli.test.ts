// `hearth import`: a local checkpoint (a generated one in the real Hugging Face layout, in a folder
// named like a fine-tune) becomes a library model that lists, serves by name through the openai
// client, refuses a vLLM export (no Hub checkpoint to pin) and deletes like a pulled one; the
// checkpoint folder is never changed; a bad folder leaves nothing in the library.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { resolvePackage } from '../../engine/hub/library.js';
import { startServedModel } from '../../engine/server/servedModel.js';
import { runHearth } from '../fixtures/cli.js';
import { ensureFixtureCheckpoint } from '../fixtures/packages.js';

let home: string;
let env: NodeJS.ProcessEnv;
let checkpoint: string;
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'hearth-import-'));
  env = { ...process.env, HEARTH_HOME: home };
  checkpoint = join(home, 'work', 'my finetune');
  cpSync((await ensureFixtureCheckpoint({ arch: 'llama', shape: 'tiny' })).checkpointDir, checkpoint, { recursive: true });
});

after(() => rmSync(home, { recursive: true, force: true }));

test('import → models → serve by name → export refused for vLLM → rm; the checkpoint folder is untouched', { timeout: 240_000 }, async () => {
  const before = Object.fromEntries(readdirSync(checkpoint).map((name) => [name, sha256(join(checkpoint, name))]));
  const imported = await runHearth(['import', checkpoint, '--dtype', 'fp32'], env);
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /Imported LlamaForCausalLM from .*my finetune as 'my-finetune' \(fp32/);
  assert.match(imported.stdout, /hearth serve my-finetune/);

  const listed = await runHearth(['models', '--json'], env);
  assert.equal(listed.code, 0, listed.stderr);
  const [model] = JSON.parse(listed.stdout) as { name: string; status: string; repo: string; files: { path: string; sha256: string }[]; variants: { dtype: string; status: string }[] }[];
  assert.equal(model!.name, 'my-finetune');
  assert.equal(model!.status, 'ready');
  assert.deepEqual(model!.variants.map((variant) => [variant.dtype, variant.status]), [['fp32', 'ready']]);
  assert.equal(model!.repo, `local:${checkpoint}`);
  for (const file of model!.files) assert.equal(file.sha256, before[file.path], `${file.path}'s sha256 is recorded`);
  assert.ok(model!.files.some((file) => file.path === 'model.safetensors'));

  const served = await startServedModel({ packageDir: resolvePackage('my-finetune', env), engine: { device: 'cpu' }, server: { port: 0 }, mark: { env }, log: () => {} });
  try {
    await served.ready;
    const client = new OpenAI({ baseURL: `${served.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const reply = await client.chat.completions.create({ model: 'my-finetune', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
    assert.equal(reply.model, 'my-finetune');
    assert.ok(reply.usage!.completion_tokens > 0);
  } finally {
    await served.close(2000);
  }

  const exported = await runHearth(['export', 'my-finetune', '--engine', 'vllm', '--out', join(home, 'bundle')], env);
  assert.equal(exported.code, 1, exported.stdout);
  assert.match(exported.stderr, /original checkpoint/);

  const removed = await runHearth(['rm', 'my-finetune'], env);
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal((await runHearth(['models', '--json'], env)).stdout.trim(), '[]');
  assert.deepEqual(Object.fromEntries(readdirSync(checkpoint).map((name) => [name, sha256(join(checkpoint, name))])), before, 'the checkpoint folder is unchanged');
});

test('a folder that is not a checkpoint: a clear error, exit 1, nothing in the library', async () => {
  const notCheckpoint = join(home, 'work', 'notes');
  cpSync(checkpoint, notCheckpoint, { recursive: true });
  rmSync(join(notCheckpoint, 'config.json'));
  writeFileSync(join(notCheckpoint, 'README.md'), 'not a model');
  const run = await runHearth(['import', notCheckpoint], env);
  assert.equal(run.code, 1, run.stdout);
  assert.match(run.stderr, /config\.json/);
  assert.equal((await runHearth(['models', '--json'], env)).stdout.trim(), '[]');
  assert.ok(!existsSync(join(home, 'models', 'notes')), 'no package folder left behind');
});
