// `hearth app`: the mode decision (pure), the staleness check, and web mode end to end — the real
// CLI in a child process, its printed address fetched over HTTP, then stopped with SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tokenFromFragment } from '../../common/desktopApi.js';
import { chooseAppMode, findElectron, isBuildStale } from './app.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

test('Electron is used only when its binary and an Electron build of better-sqlite3 exist', () => {
  const binary = { path: '/opt/electron/electron' };
  assert.deepEqual(chooseAppMode({ forceWeb: false, electron: binary, electronSqliteReady: true }), { mode: 'electron', electronPath: binary.path });
  assert.deepEqual(chooseAppMode({ forceWeb: true, electron: binary, electronSqliteReady: true }), { mode: 'web', reason: '--web given' });
  const noBinary = chooseAppMode({ forceWeb: false, electron: { reason: "Electron's binary is not installed" }, electronSqliteReady: false });
  assert.deepEqual(noBinary, { mode: 'web', reason: "Electron's binary is not installed" });
  const noSqlite = chooseAppMode({ forceWeb: false, electron: binary, electronSqliteReady: false });
  assert.ok(noSqlite.mode === 'web' && noSqlite.reason.includes('npm run rebuild:electron'));
});

test('findElectron explains a missing binary instead of throwing', () => {
  const found = findElectron(root);
  if ('path' in found) return; // a machine with the binary: nothing to explain
  assert.match(found.reason, /not installed/);
});

test('a build is stale when an output is missing or older than a source', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-stale-'));
  try {
    mkdirSync(join(dir, 'src'));
    const source = join(dir, 'src', 'a.ts');
    const output = join(dir, 'out.js');
    writeFileSync(source, '');
    assert.equal(isBuildStale([output], [join(dir, 'src')]), true, 'missing output');
    writeFileSync(output, '');
    utimesSync(source, new Date(1_000_000), new Date(1_000_000));
    utimesSync(output, new Date(2_000_000), new Date(2_000_000));
    assert.equal(isBuildStale([output], [join(dir, 'src')]), false);
    utimesSync(source, new Date(3_000_000), new Date(3_000_000));
    assert.equal(isBuildStale([output], [join(dir, 'src')]), true, 'source edited after the build');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('web mode serves the UI and the admin API at the printed address, and stops on SIGTERM', { timeout: 180_000 }, async () => {
  const home = mkdtempSync(join(tmpdir(), 'hearth-app-home-'));
  const child = spawn(process.execPath, [join(root, 'bin/hearth.mjs'), 'app', '--web', '--no-open'], {
    cwd: root,
    env: { ...process.env, HEARTH_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    const address = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /(http:\/\/127\.0\.0\.1:\d+\/#token=\S+)/.exec(output);
        if (match) resolve(match[1]!);
      });
      void exited.then((code) => reject(new Error(`hearth app exited (${code}) before printing an address:\n${output}`)));
    });
    assert.match(output, /web mode — --web given/);
    const url = new URL(address);
    const token = tokenFromFragment(url.hash);
    assert.ok(token);
    assert.match(await (await fetch(url.origin)).text(), /<div id="root">/);
    assert.equal((await fetch(`${url.origin}/api/status`)).status, 401);
    assert.equal((await fetch(`${url.origin}/api/status`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, output);
    await assert.rejects(fetch(`${url.origin}/api/status`), 'the host is gone after the CLI exits');
  } finally {
    child.kill('SIGKILL');
    rmSync(home, { recursive: true, force: true });
  }
});
