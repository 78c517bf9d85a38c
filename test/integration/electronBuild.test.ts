// `electron-vite build` without the Electron binary: main, preload and renderer build, and the
// bundled engine host (what the app runs in its utility process) really starts — here under
// plain Node through child_process.fork and the same Supervisor the app uses — answers its
// token-protected admin API, serves the built renderer, generates with a fixture model through
// the bundled runner worker, and stops on the shutdown message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import type { HearthDesktopApi, HostStatus } from '../../engine/common/desktopApi.js';
import { Supervisor, type ChildHandle } from '../../electron/supervisor.js';
import type { ServeStatus } from '../../engine/common/adminApi.js';
import { HOST_ENV } from '../../engine/common/hostProcess.js';
import { ensureFixturePackage } from '../fixtures/packages.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

test('electron-vite builds main, preload and renderer; the bundled engine host starts, serves a model and stops', { timeout: 240_000 }, async () => {
  // Inside the repo (bundles resolve node_modules by walking up), apart from out/renderer that other suites serve.
  const outDir = join(root, 'out', `build-test-${process.pid}`);
  const home = mkdtempSync(join(tmpdir(), 'hearth-build-home-'));
  try {
    const build = await run(process.execPath, [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], { ...process.env, HEARTH_ELECTRON_OUT: outDir });
    assert.equal(build.code, 0, build.output);

    for (const file of ['main/index.js', 'main/engineHost.js', 'main/runnerWorker.mjs', 'preload/index.cjs', 'renderer/index.html']) {
      assert.ok(existsSync(join(outDir, file)), `${file} built`);
    }
    const preload = readFileSync(join(outDir, 'preload/index.cjs'), 'utf8');
    assert.match(preload, /require\("electron"\)/, 'sandboxed preloads must be CommonJS');
    assert.doesNotMatch(preload, /^import /m);
    assert.doesNotMatch(preload, /require\("(node:)?(fs|child_process|path)"\)/, 'the preload uses no Node modules (sandbox)');
    const main = readFileSync(join(outDir, 'main/index.js'), 'utf8');
    assert.match(main, /sandbox: true/);
    assert.match(main, /contextIsolation: true/);
    assert.match(main, /nodeIntegration: false/);
    await checkPreloadInSandbox(preload);
    const host = readFileSync(join(outDir, 'main/engineHost.js'), 'utf8');
    assert.match(host, /^import Database from "better-sqlite3";$/m, 'better-sqlite3 stays external (native)');
    assert.match(host, /^import .*"onnxruntime-node";$/m, 'onnxruntime-node stays external (native)');
    // modelRunner asks for ./runnerWorker.mjs next to itself: it must sit in the engine host bundle, not a chunk.
    assert.match(readFileSync(join(outDir, 'main/engineHost.js'), 'utf8'), /new URL\("\.\/runnerWorker\.mjs", import\.meta\.url\)/);

    const token = 'build-test-token-0123456789';
    const spawnHost = (): ChildHandle => {
      const child = fork(join(outDir, 'main/engineHost.js'), [], {
        env: { ...process.env, HEARTH_HOME: home, [HOST_ENV.adminToken]: token, [HOST_ENV.adminPort]: '0', [HOST_ENV.rendererDir]: join(outDir, 'renderer') },
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      child.on('error', () => {});
      return {
        pid: child.pid,
        postMessage: (message) => {
          if (child.connected) child.send(message);
        },
        onMessage: (listener) => child.on('message', listener),
        onExit: (listener) => child.once('exit', (code) => listener(code)),
        kill: () => child.kill('SIGKILL'),
      };
    };
    const supervisor = new Supervisor({ spawn: spawnHost, readyTimeoutMs: 60_000, shutdownDeadlineMs: 10_000 });
    supervisor.start();
    try {
      const info = await supervisor.waitReady();
      assert.equal(info.token, token);
      assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await fetch(`${info.url}/api/status`)).status, 401, 'the admin API wants the token');
      const status = await fetch(`${info.url}/api/status`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(status.status, 200);
      const page = await fetch(`${info.url}/`);
      assert.match(await page.text(), /<div id="root">/, 'the host serves the built renderer (web mode)');

      // Serving a model runs the bundled runner worker (out/main/runnerWorker.mjs) next to the bundled host.
      const { packageDir } = await ensureFixturePackage({ arch: 'llama', dtype: 'fp32', shape: 'tiny' });
      const started = await fetch(`${info.url}/api/serve/start`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ settings: { model: packageDir, device: 'cpu', port: 0, maxBatchSize: 2, contextLength: 0, kvCacheBytes: 0, corsOrigins: [], contentLogging: false } }),
      });
      const serve = (await started.json()) as ServeStatus;
      assert.equal(serve.state, 'ready', serve.error ?? '');
      const chat = await fetch(`${serve.baseUrl}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: serve.servedName, messages: [{ role: 'user', content: 'hello' }], max_tokens: 3 }),
      });
      assert.equal(chat.status, 200);
      const completion = (await chat.json()) as { usage: { completion_tokens: number } };
      assert.ok(completion.usage.completion_tokens > 0, 'the bundled engine generated tokens');
    } finally {
      await supervisor.stop();
    }
    assert.deepEqual(supervisor.status, { state: 'stopped', exitCode: 0 }, 'the bundled host exits cleanly on the shutdown message');
  } finally {
    rmSync(outDir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
});

/**
 * Runs the built preload the way a sandboxed renderer does: a bare context whose require() knows
 * only Electron's sandbox modules. Electron's contextBridge and ipcRenderer are stand-ins that
 * record what the preload exposes and answer invokes like electron/main.ts does.
 */
async function checkPreloadInSandbox(source: string): Promise<void> {
  const exposed: Record<string, unknown> = {};
  const invoked: Array<{ channel: string; args: unknown[] }> = [];
  const listeners = new Map<string, (event: unknown, payload: unknown) => void>();
  const replies: Record<string, unknown> = {
    'host:get-info': { ok: true, value: { url: 'http://127.0.0.1:5555', token: 't' } },
    'host:get-status': { ok: true, value: { state: 'starting', attempt: 1 } },
    'dialog:pick-folder': { ok: true, value: '/home/me/finetunes/my-model' },
    'shell:open-external': { ok: false, error: { name: 'RefusedLink', message: 'Only http(s) links open outside Hearth', stack: 'RefusedLink: Only http(s)\n    at main' } },
  };
  const electron = {
    contextBridge: { exposeInMainWorld: (key: string, api: unknown) => (exposed[key] = api) },
    ipcRenderer: {
      invoke: async (channel: string, ...args: unknown[]) => {
        invoked.push({ channel, args });
        return replies[channel];
      },
      on: (channel: string, listener: (event: unknown, payload: unknown) => void) => listeners.set(channel, listener),
      off: (channel: string) => listeners.delete(channel),
    },
  };
  const sandboxRequire = (name: string): unknown => {
    if (name === 'electron') return electron;
    throw new Error(`module not found in the preload sandbox: ${name}`);
  };
  const module = { exports: {} };
  runInNewContext(source, { require: sandboxRequire, module, exports: module.exports, process: { platform: 'linux' }, console }, { filename: 'preload/index.cjs' });

  assert.deepEqual(Object.keys(exposed), ['hearthDesktop']);
  const api = exposed.hearthDesktop as HearthDesktopApi;
  assert.deepEqual(await api.getHostInfo(), { url: 'http://127.0.0.1:5555', token: 't' });
  const statuses: HostStatus[] = [];
  const unsubscribe = api.onHostStatus((status) => statuses.push(status));
  listeners.get('host:status')!({}, { state: 'ready', url: 'http://127.0.0.1:5555' });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(statuses.map((status) => status.state).sort(), ['ready', 'starting'], 'pushed status and the current one');
  unsubscribe();
  assert.equal(listeners.has('host:status'), false);
  // An error from main comes back as a real Error with its name and stack.
  const refused = await api.openExternal('file:///etc/passwd').then(() => null, (error: Error) => error);
  assert.equal(Object.prototype.toString.call(refused), '[object Error]', 'a real Error (of the preload realm)');
  assert.equal(refused?.name, 'RefusedLink');
  assert.match(refused?.stack ?? '', /at main/);
  // The folder picker (Import local checkpoint's Browse…) asks main over its own channel.
  assert.equal(await api.pickFolder({ title: 'Import local checkpoint', buttonLabel: 'Import' }), '/home/me/finetunes/my-model');
  assert.deepEqual(
    invoked.map((call) => call.channel),
    ['host:get-info', 'host:get-status', 'shell:open-external', 'dialog:pick-folder'],
  );
  assert.deepEqual(invoked.at(-1)!.args, [{ title: 'Import local checkpoint', buttonLabel: 'Import' }]);
}
