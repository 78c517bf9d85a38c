// Starts what the UI suites drive: the renderer built by Vite into a temp folder, a fake Hub
// serving a generated checkpoint (so the Models view can search and download offline), and the
// real engine host (engine/host/main.ts, forked like the desktop supervisor does) with
// HEARTH_HOME in a temp dir. Hands the host's URL and token, the hub's URL (its /_test/ control
// routes) and the fixtures' paths to the specs through the env.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { startFakeHub } from '../fixtures/fakeHub.js';
import { ensureFixtureCheckpoint, ensureFixturePackage } from '../fixtures/packages.js';
import { startEngineHost } from './engineHost.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const E2E_REPO = 'fixture-org/tiny-llama';
/** The same files under a name no other test searches for or pulls: the cancel-and-resume test's (nothing of it is in the HF cache before). */
export const E2E_RESUME_REPO = 'fixture-org/resumable-llama';

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (!existsSync('/usr/bin/chromium')) {
    console.log('SKIP UI suites: /usr/bin/chromium is missing (install Debian\'s chromium: apt-get install chromium).');
    process.env.HEARTH_E2E_SKIP = '/usr/bin/chromium is missing';
    return async () => {};
  }
  const work = mkdtempSync(join(tmpdir(), 'hearth-e2e-'));
  const rendererDir = join(work, 'renderer');
  await build({ configFile: join(root, 'renderer/vite.config.ts'), logLevel: 'warn', build: { outDir: rendererDir, emptyOutDir: true } });

  const [{ checkpointDir }, { packageDir: longPackageDir }] = await Promise.all([
    ensureFixtureCheckpoint({ arch: 'llama' }),
    // A context of 32768 tokens: a reply it writes to the end takes the tiny model seconds, so a
    // test can stop it mid-stream on any machine (the tiny model pulled from the checkpoint fills its 256 in a blink).
    ensureFixturePackage({ arch: 'llama', dtype: 'fp32', shape: 'tiny', contextLength: 32768 }),
  ]);
  const hub = await startFakeHub({
    repos: [
      { id: E2E_REPO, files: checkpointDir, downloads: 1234, likes: 56, tags: ['llama', 'text-generation', 'safetensors'], safetensorsParameters: { F32: 140_000 }, lastModified: '2026-10-01T00:00:00.000Z' },
      { id: E2E_RESUME_REPO, files: checkpointDir, tags: ['llama', 'text-generation', 'safetensors'], safetensorsParameters: { F32: 140_000 } },
    ],
    controlRoutes: true, // the specs stall a transfer and read the request log from their own process
  });

  const token = `e2e-${Math.random().toString(36).slice(2)}-admin-token`;
  const home = join(work, 'home');
  const host = await startEngineHost({
    home,
    token,
    port: 0,
    rendererDir,
    env: { HF_ENDPOINT: hub.url, HF_HUB_CACHE: join(work, 'hf-cache'), HF_TOKEN: '' },
  });
  const url = host.url;

  process.env.HEARTH_E2E_URL = url;
  process.env.HEARTH_E2E_TOKEN = token;
  process.env.HEARTH_E2E_LONG_PACKAGE = longPackageDir;
  process.env.HEARTH_E2E_HUB = hub.url;
  process.env.HEARTH_E2E_RESUME_REPO = E2E_RESUME_REPO;
  // For a spec that starts (and restarts) an engine host of its own.
  process.env.HEARTH_E2E_RENDERER_DIR = rendererDir;
  process.env.HEARTH_E2E_REPO = E2E_REPO;
  // The same checkpoint as a folder on disk, for the Import action.
  process.env.HEARTH_E2E_CHECKPOINT = checkpointDir;

  return async () => {
    await host.stop();
    await hub.close();
    rmSync(work, { recursive: true, force: true });
  };
}
