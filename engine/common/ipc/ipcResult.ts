// How an invoke channel's outcome crosses IPC: Electron's own rejection keeps only a mangled
// message, so handlers resolve to this and the preload re-raises `error` as a real Error
// (deserializeError in ../hostProcess.ts), name and stack intact.
import type { SerializedError } from '../engineApi.js';

export type IpcResult<T> = { ok: true; value: T } | { ok: false; error: SerializedError };
