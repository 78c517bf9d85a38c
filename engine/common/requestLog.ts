// Request-log rows and queries as the desktop UI sees them. Runtime-free: the store
// (engine/store/requestLog.ts) writes and reads them; the renderer shows them.
import type { FinishReason } from './engineApi.js';

export interface RequestLogEntry {
  /** The server's request id (e.g. `chatcmpl-…`), unique. */
  id: string;
  /** Epoch ms when the request arrived. */
  timeMs: number;
  /** Route, e.g. `/v1/chat/completions`. */
  endpoint: string;
  /** Model named in the request (or the served model), null when the body had none. */
  model: string | null;
  /** HTTP status sent (499 when the client went away before the response finished). */
  status: number;
  finishReason: FinishReason | null;
  promptTokens: number | null;
  completionTokens: number | null;
  queueMs: number | null;
  ttftMs: number | null;
  totalMs: number;
  /** Completion tokens per second of generation (after the first token), null when not measurable. */
  tokensPerSec: number | null;
  clientIp: string | null;
  userAgent: string | null;
  /** What went wrong, for 4xx/5xx and cancelled requests. */
  error: string | null;
  /** Only stored when content logging is on. */
  prompt: string | null;
  response: string | null;
  stream: boolean;
}

export interface RequestLogFilter {
  /** Exact status, or a class: '2xx', '4xx', '5xx'. */
  status?: number | '2xx' | '4xx' | '5xx';
  model?: string;
  endpoint?: string;
  finishReason?: FinishReason;
  /** Inclusive epoch-ms range. */
  sinceMs?: number;
  untilMs?: number;
  /** Case-insensitive substring of prompt, response, error or id. */
  text?: string;
  limit?: number;
  offset?: number;
}

export interface LatencyByDay {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  requests: number;
  errors: number;
  p50TotalMs: number | null;
  p95TotalMs: number | null;
  p50TtftMs: number | null;
  p95TtftMs: number | null;
}
