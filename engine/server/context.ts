// Per-request state: identity, the engine handles it owns (cancelled when the client goes away),
// and the fields that become its request-log row.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { DoneEvent, FinishReason, RequestHandle } from '../common/engineApi.js';
import type { RequestLog } from '../store/requestLog.js';
import type { BrowserGuard } from './browserGuard.js';
import { ApiError } from './errors.js';
import type { ServerMetrics } from './metrics.js';
import type { ModelLease, ModelPool } from './modelPool.js';
import type { ServedEngine } from './servedEngine.js';

export interface ServerState {
  /** The one engine (`hearth serve <model>`); null while it loads, and always in library mode. */
  engine: ServedEngine | null;
  /** Library mode (`hearth serve --library`): the models, loaded on demand by name. */
  pool: ModelPool | null;
  /** Set when loading failed: every model route answers 503 with this message. */
  loadError: Error | null;
  servedName: string | null;
  metrics: ServerMetrics;
  requestLog: RequestLog | null;
  contentLogging: boolean;
  apiKey: string | null;
  corsOrigins: string[];
  /** Host, Origin checks against web pages (DNS rebinding, cross-site requests). */
  guard: BrowserGuard;
  maxBodyBytes: number;
  inflight: Set<RequestContext>;
  draining: boolean;
  log: (line: string) => void;
}

const FINISH_PRIORITY: Record<FinishReason, number> = { cancelled: 3, error: 2, length: 1, stop: 0 };

export class RequestContext {
  readonly arrivalMs = Date.now();
  readonly id: string;
  clientGone = false;
  /** Request-log fields the handler fills in. */
  model: string | null = null;
  finishReason: FinishReason | null = null;
  promptTokens: number | null = null;
  completionTokens: number | null = null;
  queueMs: number | null = null;
  ttftMs: number | null = null;
  /** Wall ms from first to last token of the slowest choice (for tokens/s). */
  decodeMs: number | null = null;
  error: string | null = null;
  prompt: string | null = null;
  response: string | null = null;
  stream = false;
  /** The request field its grammar came from (response_format, tool_choice, ...): named in a compile error's 400. */
  constraintParam: string | null = null;
  /** Status to log when the real failure came after a 200 header (mid-stream). */
  statusOverride: number | null = null;
  /** Library mode: the `keep_alive` the request asked for (seconds; 0 = unload when idle, -1 = keep). */
  keepAliveSeconds: number | undefined = undefined;
  private readonly handles = new Set<RequestHandle>();
  /** Library mode: the model serving this request, held until the response closes. */
  private lease: { lease: ModelLease; requested: string | null } | null = null;
  private writeRecord: (() => void) | null = null;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly url: URL,
    readonly state: ServerState,
    readonly endpoint: string,
    idPrefix: string,
  ) {
    this.id = `${idPrefix}-${randomBytes(12).toString('hex')}`;
    res.once('close', () => {
      if (!res.writableFinished) {
        this.clientGone = true;
        this.cancelAll();
      }
    });
  }

  /**
   * Picks the model for this request: in library mode, leases it from the pool (loading it if
   * needed; released when the response closes); with one model, checks the name as checkModel does.
   * Returns the name the response reports.
   */
  async useModel(requested: string | null | undefined): Promise<string> {
    const pool = this.state.pool;
    if (!pool) return this.checkModel(requested);
    if (this.state.draining) throw new ApiError(503, 'The server is shutting down; retry against another instance.', { code: 'shutting_down' });
    if (!this.lease) {
      const lease = await pool.acquire(requested);
      this.lease = { lease, requested: requested ?? null };
      this.model = lease.id;
      if (this.res.closed) lease.release(this.keepAliveSeconds);
      else this.res.once('close', () => lease.release(this.keepAliveSeconds));
    }
    return this.checkModel(requested);
  }

  /** The loaded engine, or a 503 while it loads (or after it failed to load). */
  engine(): ServedEngine {
    const { engine, loadError, draining } = this.state;
    if (draining) throw new ApiError(503, 'The server is shutting down; retry against another instance.', { code: 'shutting_down' });
    if (this.lease) return this.lease.lease.engine;
    if (this.state.pool) throw new Error('a library-mode handler used the engine before useModel() (bug)');
    if (engine) return engine;
    if (loadError) {
      throw new ApiError(503, `The model failed to load: ${loadError.message}`, { code: 'model_load_failed' });
    }
    throw new ApiError(503, 'The model is still loading; retry in a few seconds.', {
      code: 'model_loading',
      headers: { 'Retry-After': '2' },
    });
  }

  /** The name the API reports and accepts: the server's option, else the engine's served name. */
  servedName(): string {
    if (this.lease) return this.lease.requested ?? this.lease.lease.name;
    return this.state.servedName ?? this.engine().snapshot().model;
  }

  /** Served model name; a request naming another model gets 404. */
  checkModel(requested: string | null | undefined): string {
    if (this.lease) {
      const { lease, requested: leasedAs } = this.lease;
      if (requested !== undefined && requested !== null && requested !== leasedAs && requested !== lease.id && requested !== lease.name) {
        throw badRequestOneModel(requested, lease.id);
      }
      return requested ?? leasedAs ?? lease.name;
    }
    const servedName = this.servedName();
    this.model = requested ?? servedName;
    if (requested !== undefined && requested !== null && requested !== servedName) {
      throw new ApiError(404, `The model '${requested}' does not exist on this server; it serves '${servedName}' (see GET /v1/models).`, {
        param: 'model',
        code: 'model_not_found',
      });
    }
    return servedName;
  }

  /**
   * Records the request (metrics sample, request-log row) once: just before its response's last
   * bytes are handed to the socket, so a client that got a complete answer finds its row even if
   * the process dies right after; or, for a response that never ended, when recordNow() is called.
   */
  recordOnEnd(writeRecord: () => void): void {
    this.writeRecord = writeRecord;
    const res = this.res;
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    // Every handler ends its response through res.end (sendJson, endSse, sendText), so hooking
    // it here covers them all without each one remembering to record.
    res.end = ((...args: unknown[]) => {
      if (!res.destroyed && !res.writableEnded) this.recordNow();
      return end(...args);
    }) as ServerResponse['end'];
  }

  recordNow(): void {
    const writeRecord = this.writeRecord;
    this.writeRecord = null;
    try {
      writeRecord?.();
    } catch (error) {
      // Recording must never keep a response from ending.
      this.state.log(`hearth server: recording ${this.id} failed (bug): ${(error as Error)?.stack ?? error}`);
    }
  }

  /** Cancels `handle` if the client disconnects (or the server gives up on shutdown). */
  track(handle: RequestHandle): void {
    if (this.clientGone) handle.cancel();
    this.handles.add(handle);
  }

  untrack(handle: RequestHandle): void {
    this.handles.delete(handle);
  }

  cancelAll(): void {
    for (const handle of this.handles) handle.cancel();
  }

  failMidStream(error: ApiError): void {
    this.statusOverride = error.status;
    this.error = error.message;
  }

  /** Folds one finished generation into the log fields (several for n > 1 or prompt arrays). */
  noteDone(done: DoneEvent, options: { countPrompt: boolean; decodeMs: number | null }): void {
    if (options.countPrompt) this.promptTokens = (this.promptTokens ?? 0) + done.promptTokens;
    this.completionTokens = (this.completionTokens ?? 0) + done.completionTokens;
    this.queueMs = Math.max(this.queueMs ?? 0, done.timings.queueMs);
    if (done.completionTokens > 0) this.ttftMs = this.ttftMs === null ? done.timings.ttftMs : Math.min(this.ttftMs, done.timings.ttftMs);
    if (options.decodeMs !== null) this.decodeMs = Math.max(this.decodeMs ?? 0, options.decodeMs);
    if (this.finishReason === null || FINISH_PRIORITY[done.finishReason] > FINISH_PRIORITY[this.finishReason]) {
      this.finishReason = done.finishReason;
    }
    if (done.error && this.error === null) this.error = done.error.message;
  }
}

function badRequestOneModel(requested: string, leased: string): ApiError {
  return new ApiError(400, `One request uses one model: '${requested}' differs from '${leased}', which this request already uses. Send a request per model.`, {
    param: 'model',
    code: 'one_model_per_request',
  });
}
