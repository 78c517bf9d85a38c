// Electron main process: the thin desktop shell. One window, one engine host in a utility process
// (supervised: restarted with backoff, stopped cleanly on quit), a CSP on the renderer, and a
// few shell actions over typed IPC. Everything that serves models lives in the engine host,
// which is the same code `hearth serve`/`hearth app --web` run.
import { BrowserWindow, Menu, app, dialog, ipcMain, net, protocol, screen, session, shell, type IpcMainInvokeEvent, type MenuItemConstructorOptions } from 'electron';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HostStatus } from '../engine/common/desktopApi.js';
import { HOST_ENV, serializeError, withEngineMalloc } from '../engine/common/hostProcess.js';
import { INVOKE_CHANNELS, type InvokeArgs, type InvokeChannel, type InvokeResult } from '../engine/common/ipc/channels.js';
import type { IpcResult } from '../engine/common/ipc/ipcResult.js';
import { assertInvokeChannel } from './channelAllowlist.js';
import { buildContentSecurityPolicy, originOf } from './csp.js';
import { folderDialogOptions, pickedFolder } from './folderPicker.js';
import { findOrtPackageDir, planCudaInstall, runCudaInstall } from './cudaInstaller.js';
import { isSafeExternalUrl } from './externalLinks.js';
import { electronSqliteBindingPath } from './nativeBinding.js';
import { Supervisor } from './supervisor.js';
import { forkUtilityChild } from './utilityChild.js';
import { readWindowState, writeWindowState } from './windowState.js';

// Build layout (electron.vite.config.ts): out/main/{index,engineHost}.js, out/preload/index.cjs, out/renderer/.
const mainDir = import.meta.dirname;
const rendererDir = resolve(mainDir, '../renderer');
const preloadPath = join(mainDir, '../preload/index.cjs');
const hostEntryPath = join(mainDir, 'engineHost.js');
const devServerUrl = app.isPackaged ? undefined : process.env.ELECTRON_RENDERER_URL;
const APP_ORIGIN = 'app://hearth';

// The renderer is served from app:// (not file://) so it gets a real origin and our CSP header.
protocol.registerSchemesAsPrivileged([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

let window: BrowserWindow | null = null;
let quitting = false;
/** The port the host got on its first ready start: restarts reuse it, so the renderer's base URL stays valid. */
let preferredPort = 0;
const adminToken = randomBytes(32).toString('hex');

const supervisor = new Supervisor({
  spawn: () => {
    // The host loads and unloads models: its malloc must give freed memory back (ENGINE_MALLOC_ENV).
    const env: NodeJS.ProcessEnv = withEngineMalloc({ ...process.env, [HOST_ENV.adminToken]: adminToken, [HOST_ENV.adminPort]: String(preferredPort) }, process.platform);
    const binding = app.isPackaged ? null : electronSqliteBindingPath(app.getAppPath(), process.versions.electron);
    if (binding && existsSync(binding)) env[HOST_ENV.sqliteBinding] = binding;
    // In development the renderer comes from Vite's dev server, an origin the admin API refuses unless told.
    const devOrigin = devServerUrl ? originOf(devServerUrl) : null;
    if (devOrigin) env.HEARTH_ADMIN_ORIGINS = [env.HEARTH_ADMIN_ORIGINS, devOrigin].filter(Boolean).join(',');
    return forkUtilityChild(hostEntryPath, env);
  },
});

supervisor.on('status', (status: HostStatus) => {
  if (status.state === 'ready') {
    const port = Number(new URL(status.url).port);
    // The page's CSP names the port it was served with; if the host had to bind another one, reload
    // so the CSP and the renderer's base URL follow it.
    const moved = port !== preferredPort;
    preferredPort = port;
    if (moved && window) window.webContents.reload();
  }
  // A host that died before ready may have failed to bind the remembered port: let the next one pick any.
  if (status.state === 'restarting' && status.error) preferredPort = 0;
  if (status.state === 'restarting') console.error(`hearth: ${status.message}${status.error ? `: ${status.error.message}` : ''}`);
  if (window && !window.isDestroyed()) window.webContents.send('host:status', status);
});
supervisor.on('message', (message) => {
  if (message.type === 'log') console.log(`[engine] ${message.message}`);
});

function currentCsp(): string {
  // The port is chosen before the host starts (freeLoopbackPort), so even a page loaded while the
  // host is still starting names exactly the origin it will answer on.
  const hostOrigin = preferredPort !== 0 ? `http://127.0.0.1:${preferredPort}` : 'http://127.0.0.1:*';
  return buildContentSecurityPolicy({ hostOrigin, devServerOrigin: devServerUrl ? (originOf(devServerUrl) ?? undefined) : undefined });
}

/** A port nobody listens on now; the host binds it a moment later (if it is taken by then, the host picks any and the window reloads). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(0));
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function serveRenderer(): void {
  protocol.handle('app', async (request) => {
    const { pathname } = new URL(request.url);
    const file = resolve(rendererDir, `.${decodeURIComponent(pathname === '/' ? '/index.html' : pathname)}`);
    const inside = relative(rendererDir, file);
    if (inside.startsWith('..') || inside.startsWith(sep) || !existsSync(file)) return new Response('Not found', { status: 404 });
    const response = await net.fetch(pathToFileURL(file).toString());
    const headers = new Headers(response.headers);
    headers.set('Content-Security-Policy', currentCsp());
    headers.set('X-Content-Type-Options', 'nosniff');
    return new Response(response.body, { status: response.status, headers });
  });
  if (devServerUrl) {
    session.defaultSession.webRequest.onHeadersReceived({ urls: [`${devServerUrl.replace(/\/$/, '')}/*`] }, (details, callback) => {
      callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [currentCsp()] } });
    });
  }
}

function isTrustedSender(event: IpcMainInvokeEvent): boolean {
  const url = event.senderFrame?.url ?? '';
  return url.startsWith(`${APP_ORIGIN}/`) || (devServerUrl !== undefined && url.startsWith(devServerUrl));
}

type Handlers = { [C in InvokeChannel]: (...args: InvokeArgs<C>) => Promise<InvokeResult<C>> | InvokeResult<C> };

const handlers: Handlers = {
  'host:get-info': () => supervisor.waitReady(),
  'host:get-status': () => supervisor.status,
  'shell:open-external': async (url) => {
    if (typeof url !== 'string' || !isSafeExternalUrl(url)) throw new Error(`Only http(s) links open outside Hearth; refused ${JSON.stringify(url)}.`);
    await shell.openExternal(url);
  },
  'shell:install-cuda': () => installCudaProvider(),
  'dialog:pick-folder': async (options) => {
    const dialogOptions = folderDialogOptions(options);
    return pickedFolder(await (window ? dialog.showOpenDialog(window, dialogOptions) : dialog.showOpenDialog(dialogOptions)));
  },
};

function registerIpc(): void {
  for (const channel of INVOKE_CHANNELS) {
    assertInvokeChannel(channel);
    ipcMain.handle(channel, async (event, ...args: unknown[]): Promise<IpcResult<unknown>> => {
      if (!isTrustedSender(event)) return { ok: false, error: { name: 'UntrustedSender', message: `IPC from ${event.senderFrame?.url ?? 'an unknown frame'} refused.` } };
      try {
        const handler = handlers[channel] as (...handlerArgs: unknown[]) => unknown;
        return { ok: true, value: await handler(...args) };
      } catch (error) {
        return { ok: false, error: serializeError(error) };
      }
    });
  }
}

async function installCudaProvider() {
  const plan = planCudaInstall({
    ortPackageDir: findOrtPackageDir(),
    execPath: process.execPath,
    runAsNode: true,
    env: process.env,
    platform: process.platform,
    arch: process.arch,
    packaged: app.isPackaged,
  });
  if ('problem' in plan) return { ok: false, exitCode: null, log: '', message: plan.problem };
  return runCudaInstall(plan, (chunk) => process.stdout.write(`[cuda install] ${chunk}`));
}

async function installCudaFromMenu(): Promise<void> {
  const result = await installCudaProvider();
  const { response } = await dialog.showMessageBox({
    type: result.ok ? 'info' : 'error',
    message: result.ok ? 'CUDA provider installed' : 'CUDA provider not installed',
    detail: `${result.message}\n\n${result.log.slice(-1500)}`,
    buttons: result.ok ? ['Restart engine now', 'Later'] : ['OK'],
  });
  if (result.ok && response === 0) await restartEngine();
}

async function restartEngine(): Promise<void> {
  await supervisor.stop();
  supervisor.start();
}

function buildMenu(): void {
  const engineMenu: MenuItemConstructorOptions[] = [{ label: 'Restart Engine', click: () => void restartEngine() }];
  if (process.platform === 'linux') {
    engineMenu.push({ type: 'separator' }, { label: 'Install CUDA Provider (NVIDIA)…', click: () => void installCudaFromMenu() });
  }
  const template: MenuItemConstructorOptions[] = [
    ...(process.platform === 'darwin' ? [{ role: 'appMenu' as const }] : []),
    { role: 'fileMenu' },
    { role: 'editMenu' },
    { role: 'viewMenu' },
    { label: 'Engine', submenu: engineMenu },
    { role: 'windowMenu' },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

function createWindow(): void {
  const stateFile = join(app.getPath('userData'), 'window-state.json');
  const state = readWindowState(stateFile, screen.getAllDisplays().map((display) => display.workArea));
  window = new BrowserWindow({
    ...state,
    minWidth: 640,
    minHeight: 480,
    show: false,
    title: 'Hearth',
    icon: join(app.getAppPath(), 'resources', 'icon.png'),
    webPreferences: { preload: preloadPath, contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, spellcheck: false },
  });
  if (state.maximized) window.maximize();
  window.once('ready-to-show', () => window?.show());
  window.on('close', () => {
    if (!window) return;
    writeWindowState(stateFile, { ...window.getNormalBounds(), maximized: window.isMaximized() });
  });
  window.on('closed', () => {
    window = null;
  });
  // Links leave the app only as http(s) in the user's browser; the window itself never navigates away.
  window.webContents.setWindowOpenHandler(({ url }) => {
    if (isSafeExternalUrl(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  window.webContents.on('will-navigate', (event, url) => {
    if (!url.startsWith(`${APP_ORIGIN}/`) && !(devServerUrl && url.startsWith(devServerUrl))) event.preventDefault();
  });
  void window.loadURL(devServerUrl ?? `${APP_ORIGIN}/index.html`);
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (!window) return createWindow();
    if (window.isMinimized()) window.restore();
    window.focus();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('activate', () => {
    if (!window) createWindow();
  });
  app.on('before-quit', (event) => {
    // Stop the engine first (drain, close the database), then really quit.
    if (quitting) return;
    event.preventDefault();
    quitting = true;
    void supervisor.stop().finally(() => app.quit());
  });
  void app.whenReady().then(async () => {
    session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
    serveRenderer();
    registerIpc();
    buildMenu();
    preferredPort = await freeLoopbackPort();
    supervisor.start();
    createWindow();
  });
}
