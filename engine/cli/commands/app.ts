// `hearth app` (`npm start`): the desktop app when Electron's binary is installed, otherwise the
// same UI in the browser, served by the engine host running headless in this process.
// It always says which mode it chose and why.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { APP_ROOT } from '../../appRoot.js';
import { webUiUrl } from '../../common/desktopApi.js';
import { HOST_SHUTDOWN_DEADLINE_MS, electronSqliteBindingRelativePath } from '../../common/hostProcess.js';
import { generateToken } from '../../host/auth.js';
import { startHost } from '../../host/host.js';
import { intInRange, parseCommandArgs } from '../args.js';
import { CliError } from '../cliError.js';

const USAGE = `Usage: hearth app [options]

Opens Hearth's desktop app. Where Electron's binary is not installed (or with --web), runs the
engine host here and opens the same UI in your browser instead.

Options:
  --web        Always use the browser UI (no Electron)
  --port N     Port of the web UI / admin API on 127.0.0.1 (web mode; default 0 = any free port)
  --no-open    Print the web UI's address but do not open a browser
  -h, --help   Show this help`;

const repoRoot = APP_ROOT;

export type AppMode = { mode: 'electron'; electronPath: string } | { mode: 'web'; reason: string };

/** Electron's binary, or why it cannot be used. `require('electron')` returns the binary's path. */
export function findElectron(root: string): { path: string } | { reason: string } {
  let path: unknown;
  try {
    path = createRequire(join(root, 'package.json'))('electron');
  } catch (error) {
    const message = ((error as Error).message ?? String(error)).split('\n')[0];
    return { reason: `Electron's binary is not installed (${message}). Install it with \`npm install\` where the Electron download is reachable.` };
  }
  if (typeof path !== 'string' || !existsSync(path)) return { reason: `the electron package points at ${String(path)}, which does not exist` };
  return { path };
}

export interface ModeInputs {
  forceWeb: boolean;
  electron: { path: string } | { reason: string };
  /** Whether better-sqlite3 is built for Electron's ABI (scripts/rebuild-electron-native.mjs). */
  electronSqliteReady: boolean;
}

/** Pure: which mode to run and, for web mode, the reason to print. */
export function chooseAppMode({ forceWeb, electron, electronSqliteReady }: ModeInputs): AppMode {
  if (forceWeb) return { mode: 'web', reason: '--web given' };
  if ('reason' in electron) return { mode: 'web', reason: electron.reason };
  if (!electronSqliteReady) {
    return {
      mode: 'web',
      reason: 'better-sqlite3 is not built for Electron yet (Electron has its own ABI). Run `npm run rebuild:electron` once, then `npm start` again',
    };
  }
  return { mode: 'electron', electronPath: electron.path };
}

/** Newest modification time under the given folders (source files only), in ms. */
export function newestMtimeMs(dirs: string[]): number {
  let newest = 0;
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|tsx|mts|mjs|css|html)$/.test(entry.name) && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  dirs.forEach(walk);
  return newest;
}

/** A build is stale when any output is missing or older than the newest source. */
export function isBuildStale(outputs: string[], sourceDirs: string[]): boolean {
  if (outputs.some((file) => !existsSync(file))) return true;
  const oldestOutput = Math.min(...outputs.map((file) => statSync(file).mtimeMs));
  return newestMtimeMs(sourceDirs) > oldestOutput;
}

function runNode(args: string[], what: string): void {
  console.log(`hearth app: ${what}…`);
  const result = spawnSync(process.execPath, args, { cwd: repoRoot, stdio: 'inherit' });
  if (result.status !== 0) throw new CliError(`${what} failed (exit code ${result.status}); see the output above.`);
}

function electronVersion(): string {
  return (JSON.parse(readFileSync(join(repoRoot, 'node_modules/electron/package.json'), 'utf8')) as { version: string }).version;
}

async function runElectron(electronPath: string): Promise<number> {
  const outputs = ['out/main/index.js', 'out/main/engineHost.js', 'out/preload/index.cjs', 'out/renderer/index.html'].map((file) => join(repoRoot, file));
  if (isBuildStale(outputs, ['electron', 'engine', 'renderer'].map((dir) => join(repoRoot, dir)))) {
    runNode([join(repoRoot, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], 'building the desktop app (electron-vite build)');
  }
  console.log(`hearth app: opening the desktop app (Electron ${electronVersion()})`);
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE; // would make the binary a plain Node
  const child = spawn(electronPath, [repoRoot], { cwd: repoRoot, stdio: 'inherit', env });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  process.on('SIGINT', forward('SIGINT'));
  process.on('SIGTERM', forward('SIGTERM'));
  return new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
}

function hasDisplay(env: NodeJS.ProcessEnv): boolean {
  if (process.platform === 'linux' || process.platform === 'freebsd') return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
  return true;
}

function openInBrowser(url: string): void {
  const [command, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  const child = spawn(command, args, { stdio: 'ignore', detached: true });
  child.on('error', () => console.log(`hearth app: could not run ${command}; open the address above yourself.`));
  child.unref();
}

async function runWeb(reason: string, port: number, open: boolean): Promise<number> {
  console.log(`hearth app: web mode — ${reason.replace(/\.$/, '')}.`);
  const rendererDir = join(repoRoot, 'out', 'renderer');
  if (isBuildStale([join(rendererDir, 'index.html')], ['renderer', 'engine/common'].map((dir) => join(repoRoot, dir)))) {
    runNode([join(repoRoot, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'renderer/vite.config.ts', '--logLevel', 'warn'], 'building the web UI (vite build)');
  }
  const token = generateToken();
  let host;
  try {
    host = await startHost({ token, port, rendererDir });
  } catch (error) {
    throw new CliError(`could not start the engine host: ${(error as Error).message}`);
  }
  const url = webUiUrl({ url: host.url, token });
  console.log(`hearth app: the engine host is running; the UI is at\n\n  ${url}\n\n(the address carries the admin token: keep it to yourself). Ctrl-C stops it.`);
  if (open && hasDisplay(process.env)) openInBrowser(url);
  else if (open) console.log('hearth app: no display found (DISPLAY/WAYLAND_DISPLAY unset), so no browser was opened.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  console.log('hearth app: stopping the engine host…');
  await host.close(HOST_SHUTDOWN_DEADLINE_MS);
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(argv, { web: { type: 'boolean' }, port: { type: 'string' }, 'no-open': { type: 'boolean' } }, USAGE, { allowPositionals: false });
  if (!parsed) return 0;
  const { values } = parsed;
  const port = intInRange('port', values.port, 0, 65535) ?? 0;
  const electron = values.web ? { reason: 'not looked for' } : findElectron(repoRoot);
  const electronSqliteReady = 'path' in electron && existsSync(join(repoRoot, ...electronSqliteBindingRelativePath(electronVersion()).split('/')));
  const mode = chooseAppMode({ forceWeb: values.web ?? false, electron, electronSqliteReady });
  if (mode.mode === 'electron') return runElectron(mode.electronPath);
  return runWeb(mode.reason, port, !values['no-open']);
}
