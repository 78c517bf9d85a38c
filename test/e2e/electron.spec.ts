// The desktop app end to end with Playwright's _electron: the real Electron binary, main process,
// sandboxed preload, app:// renderer and the engine host in its utility process. Runs only where
// the binary exists (and a display and better-sqlite3 for Electron's ABI); elsewhere it prints a
// SKIP line saying what is missing and is reported as skipped.
import { test, expect, _electron as electron } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findElectron, isBuildStale } from '../../engine/cli/commands/app.js';
import type { HearthDesktopApi, HostInfo } from '../../engine/common/desktopApi.js';
import { electronSqliteBindingRelativePath } from '../../engine/common/hostProcess.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function whyNot(): string | null {
  const found = findElectron(root);
  if ('reason' in found) return found.reason;
  const version = (JSON.parse(readFileSync(join(root, 'node_modules/electron/package.json'), 'utf8')) as { version: string }).version;
  if (!existsSync(join(root, ...electronSqliteBindingRelativePath(version).split('/')))) {
    return 'better-sqlite3 is not built for Electron: run `npm run rebuild:electron`';
  }
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return 'no display: run the suite under xvfb-run';
  return null;
}

const skipReason = whyNot();
if (skipReason) console.log(`SKIP: Electron binary not available (${skipReason})`);
test.skip(skipReason !== null, `Electron binary not available (${skipReason})`);

type DesktopGlobal = typeof globalThis & { hearthDesktop: HearthDesktopApi; require?: unknown; process?: unknown };

test('the desktop app opens one sandboxed window on the UI, with the engine host ready and stopped on quit', async () => {
  test.setTimeout(180_000);
  const outputs = ['out/main/index.js', 'out/main/engineHost.js', 'out/preload/index.cjs', 'out/renderer/index.html'].map((file) => join(root, file));
  if (isBuildStale(outputs, ['electron', 'engine', 'renderer'].map((dir) => join(root, dir)))) {
    const build = spawnSync(process.execPath, [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], { cwd: root, encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
  }
  const home = mkdtempSync(join(tmpdir(), 'hearth-electron-e2e-'));
  const userData = join(home, 'user-data');
  const app = await electron.launch({
    args: [root, `--user-data-dir=${userData}`, ...(process.platform === 'linux' ? ['--no-sandbox'] : [])],
    env: { ...process.env, HEARTH_HOME: join(home, 'data') } as Record<string, string>,
  });
  let info: HostInfo | null = null;
  try {
    const window = await app.firstWindow();
    await expect(window).toHaveTitle(/Hearth/);
    expect(app.windows()).toHaveLength(1);
    expect(window.url()).toBe('app://hearth/index.html');

    // The preload's surface, and nothing of Node in the page.
    const surface = await window.evaluate(() => {
      const g = globalThis as DesktopGlobal;
      return { keys: Object.keys(g.hearthDesktop).sort(), require: typeof g.require, process: typeof g.process };
    });
    expect(surface).toEqual({ keys: ['getHostInfo', 'installCudaProvider', 'onHostStatus', 'openExternal', 'pickFolder', 'platform'], require: 'undefined', process: 'undefined' });

    info = await window.evaluate(() => (globalThis as DesktopGlobal).hearthDesktop.getHostInfo());
    expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const status = await fetch(`${info.url}/api/status`, { headers: { authorization: `Bearer ${info.token}` } });
    expect(status.status).toBe(200);

    // The renderer is served with our CSP, naming the host as the only other origin it may reach.
    const csp = await window.evaluate(() => fetch('app://hearth/index.html').then((response) => response.headers.get('content-security-policy')));
    expect(csp).toContain(`connect-src 'self' ${info.url}`);
    // Only http(s) links may leave the app.
    await expect(window.evaluate(() => (globalThis as DesktopGlobal).hearthDesktop.openExternal('file:///etc/passwd'))).rejects.toThrow(/Only http\(s\) links/);

    await expect(window.locator('#root > *').first()).toBeVisible();
    await window.screenshot({ path: join(root, 'test-results', 'electron-window.png') });
  } finally {
    await app.close();
  }
  // Quitting stopped the engine host, and the window's size and position were remembered.
  await expect(fetch(`${info!.url}/api/status`)).rejects.toThrow();
  expect(existsSync(join(userData, 'window-state.json'))).toBe(true);
  rmSync(home, { recursive: true, force: true });
});
