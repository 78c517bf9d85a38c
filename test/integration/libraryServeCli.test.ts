// `hearth serve --library` as a real process on Linux: bin/hearth.mjs runs it in a child started
// with ENGINE_MALLOC_ENV (glibc reads it only at process start; without it an unloaded model's
// memory stays resident), answers from that child, and passes SIGTERM on: both exit, 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENGINE_MALLOC_ENV } from '../../engine/common/hostProcess.js';

const hearth = fileURLToPath(new URL('../../bin/hearth.mjs', import.meta.url));
const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
const childrenOf = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

test('hearth serve --library runs with the malloc setting that returns freed memory, and stops on SIGTERM', { skip: process.platform !== 'linux' && 'glibc only' }, async () => {
  const home = mkdtempSync(join(tmpdir(), 'hearth-library-cli-'));
  const env: NodeJS.ProcessEnv = { ...process.env, HEARTH_HOME: home };
  for (const name of Object.keys(ENGINE_MALLOC_ENV)) delete env[name];
  const parent = spawn(process.execPath, [hearth, 'serve', '--library', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let server: number | undefined;
  try {
    let output = '';
    const listening = new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk;
        const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(output);
        if (match) resolve(match[1]!);
      };
      parent.stdout!.on('data', onData);
      parent.stderr!.on('data', onData);
      parent.once('exit', (code) => reject(new Error(`hearth exited with ${code}: ${output}`)));
      setTimeout(() => reject(new Error(`no 'listening on' line within 60 s: ${output}`)), 60_000).unref();
    });
    const url = await listening;
    assert.equal((await fetch(`${url}/health`)).status, 200);
    [server] = childrenOf(parent.pid!);
    assert.ok(server, 'the server runs in a child of bin/hearth.mjs');
    for (const [name, value] of Object.entries(ENGINE_MALLOC_ENV)) {
      assert.ok(environ(server).includes(`${name}=${value}`), `the server process has ${name}=${value}`);
      assert.ok(!environ(parent.pid!).some((entry) => entry.startsWith(`${name}=`)), 'set for the child only');
    }
    const exited = new Promise<number | null>((resolve) => parent.once('exit', resolve));
    parent.kill('SIGTERM');
    assert.equal(await exited, 0, output);
    assert.throws(() => readFileSync(`/proc/${server}/environ`), 'the server process is gone too');
  } finally {
    // A failed assertion must not leave the server holding this process's pipes.
    if (server !== undefined && parent.exitCode === null) process.kill(server, 'SIGKILL');
    if (parent.exitCode === null) parent.kill('SIGKILL');
    rmSync(home, { recursive: true, force: true });
  }
});
