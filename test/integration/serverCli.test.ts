// `hearth serve` as a real process: binds, loads, logs device/KV capacity/URL, serves, writes the
// request log under HEARTH_HOME, exits 0 on SIGTERM after flushing; a taken port is a clear error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RequestLog } from '../../engine/store/requestLog.js';
import { copyFixturePackage, ensureFixturePackage } from '../fixtures/packages.js';
import { postJson, tinyPackage } from './serverHarness.js';

const hearth = fileURLToPath(new URL('../../bin/hearth.mjs', import.meta.url));
let home: string;
let packageDir: string;
const children: ChildProcess[] = [];

before(async () => {
  packageDir = (await tinyPackage()).packageDir;
  home = mkdtempSync(join(tmpdir(), 'hearth-serve-cli-'));
});
after(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

function startServe(args: string[]) {
  const child = spawn(process.execPath, [hearth, 'serve', ...args], {
    env: { ...process.env, HEARTH_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  const waitForOutput = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(stdout);
        if (match) return resolve(match);
        if (child.exitCode !== null) reject(new Error(`hearth serve exited (${child.exitCode}) before printing ${pattern}:\n${stdout}\n${stderr}`));
        else setTimeout(check, 20);
      };
      check();
    });
  return { child, exited, waitForOutput, output: () => ({ stdout, stderr }) };
}

test('serves a package from a config file, logs device/KV/URL, exits 0 on SIGTERM with the log flushed', async () => {
  const config = join(home, 'tuned.json');
  writeFileSync(config, JSON.stringify({ version: 1, server: { port: 0 }, cpuThreads: 1, cpuSpinning: true, batching: { maxBatchSize: 3, maxConcurrentRequests: 5 } }));
  const serve = startServe([packageDir, '--config', config, '--served-name', 'tiny-cli']);
  const [, url] = await serve.waitForOutput(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
  await serve.waitForOutput(/ready — model 'tiny-cli' on cpu.*KV cache \d+ tokens/);
  assert.equal((await fetch(`${url}/health`)).status, 200);
  const info = (await (await fetch(`${url}/info`)).json()) as any;
  assert.equal(info.hearth.batching.maxBatchSize, 3, 'the config file was applied');
  assert.equal(info.max_concurrent_requests, 5);
  assert.deepEqual([info.hearth.accelerator.cpuThreads, info.hearth.accelerator.cpuSpinning], [1, true], 'the engine runs with the file\'s CPU threads and spinning');
  const { status } = await postJson(`${url}/v1/chat/completions`, { model: 'tiny-cli', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
  assert.equal(status, 200);
  serve.child.kill('SIGTERM');
  assert.equal(await serve.exited, 0, serve.output().stderr);
  assert.match(serve.output().stdout, /stopped/);
  const log = new RequestLog({ file: join(home, 'hearth.db') });
  try {
    const rows = log.list();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.model, 'tiny-cli');
    assert.equal(rows[0]!.prompt, null, 'content logging is off by default');
  } finally {
    log.close();
  }
});

test('CPU threads sleep between ops unless --cpu-spinning is given (the flag, --help and /info agree)', async () => {
  for (const [args, spinning] of [[[], false], [['--cpu-spinning'], true]] as const) {
    const serve = startServe([packageDir, '--port', '0', '--cpu-threads', '2', ...args]);
    const [, url] = await serve.waitForOutput(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    await serve.waitForOutput(/ready — model/);
    const info = (await (await fetch(`${url}/info`)).json()) as any;
    assert.deepEqual([info.hearth.accelerator.cpuThreads, info.hearth.accelerator.cpuSpinning], [2, spinning], `args ${JSON.stringify(args)}`);
    assert.match(serve.output().stderr, new RegExp(`2 intra-op threads, spinning ${spinning ? 'on' : 'off'}`));
    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0, serve.output().stderr);
  }
  const help = startServe(['--help']);
  await help.exited;
  assert.match(help.output().stdout, /--cpu-spinning/);
});

test('--cpu-int8-matmul / --cpu-int8-prefill run an int4 package\'s layers in int8 (the flags, a config file, --help and /info agree)', async () => {
  // A copy: the int8 cache is written into the package folder.
  const int4 = join(home, 'int4-package');
  copyFixturePackage((await ensureFixturePackage({ arch: 'llama', dtype: 'int4' })).packageDir, int4);
  const config = (value: unknown) => {
    const file = join(home, `int8-${String(value)}.json`);
    writeFileSync(file, JSON.stringify({ version: 1, cpuInt8MatMul: value }));
    return file;
  };
  const cases = [
    [[], 'off'],
    [['--cpu-int8-matmul'], 'all'],
    [['--config', config(true)], 'all'],
    [['--cpu-int8-prefill'], 'prompt'],
    [['--config', config('prompt')], 'prompt'],
  ] as const;
  for (const [args, mode] of cases) {
    const serve = startServe([int4, '--port', '0', '--device', 'cpu', ...args]);
    const [, url] = await serve.waitForOutput(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    await serve.waitForOutput(/ready — model/);
    const info = (await (await fetch(`${url}/info`)).json()) as any;
    assert.equal(info.hearth.accelerator.cpuInt8MatMul, mode, `args ${JSON.stringify(args)}`);
    if (mode !== 'off') assert.match(serve.output().stderr, mode === 'all' ? /int8 matmuls for every token: \d+ matrices, \d+ MiB of int8/ : /int8 matmuls for prompt tokens \(generated tokens run int4\): \d+ matrices/);
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> };
    const reply = await postJson(`${url}/v1/completions`, { model: models.data[0]!.id, prompt: 'hello', max_tokens: 4, temperature: 0 });
    assert.equal(reply.status, 200, JSON.stringify(reply.json));
    assert.equal(reply.json.usage.completion_tokens, 4);
    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0, serve.output().stderr);
  }
  const both = startServe([int4, '--port', '0', '--cpu-int8-matmul', '--cpu-int8-prefill']);
  assert.equal(await both.exited, 2);
  assert.match(both.output().stderr, /--cpu-int8-matmul and --cpu-int8-prefill exclude each other/);
  const bad = startServe([int4, '--port', '0', '--config', config('sometimes')]);
  assert.notEqual(await bad.exited, 0);
  assert.match(bad.output().stderr, /'cpuInt8MatMul' must be true, false or one of off, prompt, all/);
  const help = startServe(['--help']);
  await help.exited;
  assert.match(help.output().stdout, /--cpu-int8-matmul/);
  assert.match(help.output().stdout, /--cpu-int8-prefill/);
});

test('a port in use is a clear error naming the port', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  try {
    const serve = startServe([packageDir, '--port', String(port)]);
    assert.equal(await serve.exited, 1);
    assert.match(serve.output().stderr, new RegExp(`Port ${port} on 127\\.0\\.0\\.1 is already in use.*--port`));
  } finally {
    blocker.close();
  }
});

test('an invalid config file is refused with the field and why', async () => {
  const config = join(home, 'bad.json');
  writeFileSync(config, JSON.stringify({ version: 1, batching: { maxBatchSize: -2 }, server: { prot: 1 } }));
  const serve = startServe([packageDir, '--config', config]);
  assert.equal(await serve.exited, 2);
  assert.match(serve.output().stderr, /batching\.maxBatchSize/);
  assert.match(serve.output().stderr, /prot/);
});

test('--allowed-hosts adds Host names the server answers to; others get 403; --help documents it', async () => {
  const serve = startServe([packageDir, '--port', '0', '--allowed-hosts', 'box.lan,hearth.internal']);
  const [, url] = await serve.waitForOutput(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
  const port = Number(new URL(url!).port);
  const get = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/models', headers: { host } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
  await serve.waitForOutput(/ready — /);
  assert.equal(await get('box.lan:8000'), 200);
  assert.equal(await get('hearth.internal'), 200);
  assert.equal(await get(`localhost:${port}`), 200);
  assert.equal(await get('evil.example'), 403);
  serve.child.kill('SIGTERM');
  assert.equal(await serve.exited, 0);
  const help = startServe(['--help']);
  assert.equal(await help.exited, 0);
  assert.match(help.output().stdout, /--allowed-hosts A,B[\s\S]*HEARTH_ALLOWED_HOSTS[\s\S]*DNS rebinding/);
});
