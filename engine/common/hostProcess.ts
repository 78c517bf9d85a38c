// The contract between a supervisor (Electron's main process, or `hearth app` headless) and the
// engine host process (engine/host/main.ts). Runtime-free: both sides import it.
//
// Launch: the supervisor starts the host as a child (Electron: utilityProcess.fork; Node:
// child_process.fork) with these env vars. Argv flags `--port N --token T` may override them when
// the host is started by hand.
//
// Messages: the host sends HostToParentMessage to its parent — in a utility process through
// `process.parentPort.postMessage(msg)`, in a forked Node child through `process.send(msg)`,
// and with neither (started by hand) it prints the ready line to stdout:
//   `hearth host ready: <adminUrl>`.
// The parent sends ParentToHostMessage; on 'shutdown' the host stops accepting requests, lets
// running ones end (or fails them) within deadlineMs, closes its servers and the database, and
// exits 0. SIGTERM means the same as { type: 'shutdown' } with a default deadline.
import type { SerializedError } from './engineApi.js';

export const HOST_ENV = {
  /** Bearer token the admin API requires. Required: the parent generates a random one. */
  adminToken: 'HEARTH_ADMIN_TOKEN',
  /** Admin API port on 127.0.0.1; '0' or unset = any free port (reported in 'ready'). */
  adminPort: 'HEARTH_ADMIN_PORT',
  /** Path of better-sqlite3's .node built for Electron's ABI; pass to openDb({ nativeBinding }). */
  sqliteBinding: 'HEARTH_SQLITE_BINDING',
  /** Folder of the built renderer (index.html) the host serves at `/` for the web UI; unset = none. */
  rendererDir: 'HEARTH_RENDERER_DIR',
} as const;

/**
 * Set in the environment of a process that loads and unloads models (the engine host; `hearth
 * serve --library` and `hearth app`, re-spawned with it by bin/hearth.mjs, which repeats the value).
 * glibc's malloc raises its mmap threshold (up to 32 MiB) as large blocks are freed, after which
 * they come from heaps it seldom gives back, so an unloaded model's memory stays resident. A fixed
 * threshold maps every block above it on its own and unmaps it when freed. Measured with
 * scripts/bench-library-load.ts (docs/benchmarks.md): an unload gives back about 135 of 225 MiB
 * at 4 MiB (145 at 64 KiB) against 100 of 240 without; 64 KiB cost about 7 % of 16-stream decode
 * (per-step buffers mapped and unmapped each step), 4 MiB nothing measurable. glibc reads it once
 * at process start; other C libraries (macOS, Windows, musl) ignore it.
 */
export const ENGINE_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '4194304' };

/** `env` with ENGINE_MALLOC_ENV added on Linux, unless the user set those variables themselves. */
export function withEngineMalloc(env: Record<string, string | undefined>, platform: string): Record<string, string | undefined> {
  if (platform !== 'linux') return env;
  const added = Object.fromEntries(Object.entries(ENGINE_MALLOC_ENV).filter(([name]) => env[name] === undefined));
  return { ...env, ...added };
}

export type HostToParentMessage =
  | {
      type: 'ready';
      /** e.g. http://127.0.0.1:41234 — admin HTTP + SSE API (and the web UI when rendererDir is set). */
      adminUrl: string;
      /** Echo of the token in use (lets the parent verify it launched the right process). */
      token: string;
      pid: number;
    }
  /** The host cannot go on (e.g. port in use, database newer than the code). It exits after sending. */
  | { type: 'fatal'; error: SerializedError }
  /** Serving state changed (model loaded/unloaded); informational, for logs and the tray. */
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };

export type ParentToHostMessage = { type: 'shutdown'; deadlineMs: number };

/** Default time a host gets to stop cleanly before it is killed. */
export const HOST_SHUTDOWN_DEADLINE_MS = 5000;

export function isHostToParentMessage(value: unknown): value is HostToParentMessage {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'ready' || type === 'fatal' || type === 'log';
}

export function isParentToHostMessage(value: unknown): value is ParentToHostMessage {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'shutdown';
}

export { serializeError, deserializeError } from './serializedError.js';

/**
 * Where `npm run rebuild:electron` (scripts/rebuild-electron-native.mjs) puts better-sqlite3 built
 * for Electron, relative to the app root, '/'-separated. Main passes it as HEARTH_SQLITE_BINDING
 * in a source checkout; packaged apps have node_modules rebuilt for Electron instead.
 */
export function electronSqliteBindingRelativePath(electronVersion: string): string {
  return `node_modules/.hearth-electron/better-sqlite3-electron-${electronVersion}/better_sqlite3.node`;
}
