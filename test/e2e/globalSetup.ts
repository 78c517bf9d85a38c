// Starts what the UI suites drive: the renderer built by Vite into a temp folder, a fake Hub
// serving a generated checkpoint (so the Models view can search and download offline), and the
// real engine host (engine/host/main.ts, forked like the desktop supervisor does) with
// HEARTH_HOME in a temp dir. Hands the host's URL and token to the specs through the env.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { withEngineMalloc } from '../../engine/common/hostProcess.js';
import { startFakeHub } from '../fixtures/fakeHub.js';
import { ensureFixtureCheckpoint, ensureFixturePackage } from '../fixtures/packages.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const E2E_REPO = 'fixture-org/tiny-llama';

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (!existsSync('/usr/bin/chromium')) {
    console.log('SKIP UI suites: /usr/bin/chromium is missing (install Debian\'s chromium: apt-get install chromium).');
    process.env.HEARTH_E2E_SKIP = '/usr/bin/chromium is missing';
    return async () => {};
  }
  const work = mkdtempSync(join(tmpdir(), 'hearth-e2e-'));
  const rendererDir = join(work, 'renderer');
  await build({ configFile: join(root, 'renderer/vite.config.ts'), logLevel: 'warn', build: { outDir: rendererDir, emptyOutDir: true } });

  const [{ checkpointDir }, { packageDir }] = await Promise.all([
    ensureFixtureCheckpoint({ arch: 'llama' }),
    ensureFixturePackage({ arch: 'llama', dtype: 'fp32', shape: 'tiny' }),
  ]);
  const hub = await startFakeHub({
    repos: [
      { id: E2E_REPO, files: checkpointDir, downloads: 1234, likes: 56, tags: ['llama', 'text-generation', 'safetensors'], safetensorsParameters: { F32: 140_000 }, lastModified: '2026-10-01T00:00:00.000Z' },
    ],
  });

  const token = `e2e-${Math.random().toString(36).slice(2)}-admin-token`;
  const home = join(work, 'home');
  const child: ChildProcess = fork(join(root, 'engine/host/main.ts'), [], {
    execArgv: ['--import', 'tsx'],
    cwd: root,
    // As the desktop supervisor forks it (electron/main.ts).
    env: withEngineMalloc({
      ...process.env,
      HEARTH_HOME: home,
      HEARTH_ADMIN_TOKEN: token,
      HEARTH_ADMIN_PORT: '0',
      HEARTH_RENDERER_DIR: rendererDir,
      HF_ENDPOINT: hub.url,
      HF_HUB_CACHE: join(work, 'hf-cache'),
      HF_TOKEN: '',
    }, process.platform),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (message: { type?: string; adminUrl?: string; error?: { message: string } }) => {
      if (message.type === 'ready') resolve(message.adminUrl!);
      if (message.type === 'fatal') reject(new Error(`engine host failed to start: ${message.error?.message}`));
    });
    child.once('exit', (code) => reject(new Error(`engine host exited with ${code} before it was ready`)));
  });

  process.env.HEARTH_E2E_URL = url;
  process.env.HEARTH_E2E_TOKEN = token;
  process.env.HEARTH_E2E_PACKAGE = packageDir;
  process.env.HEARTH_E2E_HOME = home;
  process.env.HEARTH_E2E_REPO = E2E_REPO;
  // The same checkpoint as a folder on disk, for the Import action.
  process.env.HEARTH_E2E_CHECKPOINT = checkpointDir;

  return async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.connected) child.send({ type: 'shutdown', deadlineMs: 2000 });
    else child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
    await exited;
    clearTimeout(timer);
    await hub.close();
    rmSync(work, { recursive: true, force: true });
  };
}
