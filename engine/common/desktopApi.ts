// The surface the Electron preload gives the renderer (window.hearthDesktop), and the shapes it
// carries. Runtime-free: the renderer, the preload and the main process all import it.
//
// The renderer never needs this API to work: it talks to the engine host over HTTP (base URL +
// admin token). In Electron the preload hands it { url, token }; in a plain browser the token
// travels in the URL fragment (see webUiUrl / tokenFromFragment), so the same UI runs in both.
import type { SerializedError } from './engineApi.js';

/** Name of the global the preload defines in the renderer: `window.hearthDesktop`. */
export const DESKTOP_API_GLOBAL = 'hearthDesktop';

/** How to reach the engine host's admin API (HTTP + SSE). */
export interface HostInfo {
  /** Base URL of the admin API, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  /** Bearer token: send `Authorization: Bearer <token>` (or `?token=` on EventSource URLs). */
  token: string;
}

/**
 * What the shell's supervisor knows about the engine host process. The UI shows it as a banner:
 * while not 'ready', HTTP calls to the host fail with connection refused — show it as
 * "engine unavailable (503)" plus this status, not as a hang.
 */
export type HostStatus =
  | { state: 'starting'; attempt: number }
  | { state: 'ready'; url: string }
  | {
      state: 'restarting';
      /** Crashes since the last stable run (resets after a stable uptime). */
      crashCount: number;
      /** When the next start happens, ms from now (exponential backoff, capped). */
      delayMs: number;
      /** Human-readable: "engine restarting in 2 s (crash 3)". */
      message: string;
      exitCode: number | null;
      error?: SerializedError;
    }
  | { state: 'stopping' }
  | { state: 'stopped'; exitCode: number | null };

export interface CudaInstallResult {
  ok: boolean;
  exitCode: number | null;
  /** Installer output (stdout + stderr), tail-trimmed. */
  log: string;
  /** What to do next, e.g. "Restart Hearth to use the CUDA provider." or why it failed. */
  message: string;
}

/** What the folder picker says above its list. */
export interface FolderPickOptions {
  /** The dialog's title, e.g. "Import local checkpoint". */
  title: string;
  /** The button that accepts a folder, e.g. "Import". */
  buttonLabel?: string;
}

/** window.hearthDesktop, defined only inside the Electron app. */
export interface HearthDesktopApi {
  /** 'linux' | 'darwin' | 'win32' | ... (process.platform of the shell). */
  readonly platform: string;
  /** Resolves once the engine host is ready (waits while it starts or restarts). */
  getHostInfo(): Promise<HostInfo>;
  /** Subscribes to supervisor status; returns the unsubscribe function. Fires the current status at once. */
  onHostStatus(listener: (status: HostStatus) => void): () => void;
  /** Linux/NVIDIA: runs onnxruntime-node's installer for the CUDA 12 provider, then the host must restart. */
  installCudaProvider(): Promise<CudaInstallResult>;
  /** Opens an http(s) URL in the user's browser (other schemes are refused). */
  openExternal(url: string): Promise<void>;
  /** Opens the OS's folder picker; resolves to the chosen folder's absolute path, or null when cancelled. */
  pickFolder(options: FolderPickOptions): Promise<string | null>;
}

/** The URL that opens the web UI in a browser, carrying the token in the fragment (never sent to servers). */
export function webUiUrl(info: HostInfo): string {
  return `${info.url}/#token=${encodeURIComponent(info.token)}`;
}

/** Reads the token from a location.hash like `#token=abc` (what webUiUrl writes). */
export function tokenFromFragment(hash: string): string | null {
  const params = new URLSearchParams(hash.startsWith('#') ? hash.slice(1) : hash);
  const token = params.get('token');
  return token === null || token === '' ? null : token;
}
