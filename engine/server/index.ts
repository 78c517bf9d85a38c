// The HTTP server: `hearth serve`, the desktop engine host and the tests all start it here.
// It listens at once and answers 503 until the engine has loaded and produced its warm-up token.
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EngineSnapshot } from '../common/engineApi.js';
import type { RequestLog } from '../store/requestLog.js';
import { BrowserGuard } from './browserGuard.js';
import type { ServerState } from './context.js';
import { ServerMetrics } from './metrics.js';
import { buildRoutes, createRequestHandler } from './router.js';
import type { ServedEngine } from './servedEngine.js';
import { vertexRoutes } from './vertex.js';
import type { ModelPool } from './modelPool.js';
import { DEFAULT_SERVE_PORT } from '../common/servingConfig.js';
import { DEFAULT_MAX_BODY_BYTES } from './http.js';

export type { ServedEngine } from './servedEngine.js';
export { ServerMetrics } from './metrics.js';

export const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = DEFAULT_SERVE_PORT;
export { DEFAULT_MAX_BODY_BYTES };

export interface CreateServerOptions {
  /** The engine, or its loading promise (the server answers 503 until it resolves; 503 with the reason if it rejects). */
  engine?: ServedEngine | Promise<ServedEngine>;
  /** Library mode instead of `engine`: models loaded on demand by the name a request gives (modelPool.ts). */
  pool?: ModelPool;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Name the API reports and accepts in `model`; default the manifest's name. */
  servedName?: string;
  /** When set, API routes need `Authorization: Bearer <apiKey>`. /health and /metrics stay open. */
  apiKey?: string | null;
  /** Allowed CORS origins ('*' for any); empty = CORS off. A request with another Origin gets 403. */
  corsOrigins?: string[];
  /**
   * Host names the server answers to besides loopback names and `host` ('*' = any); see
   * browserGuard.ts. Bound to 0.0.0.0 or :: with none given, any Host is accepted.
   */
  allowedHosts?: string[];
  /** Also serve Vertex AI's predict/health routes (AIP_PREDICT_ROUTE, AIP_HEALTH_ROUTE). */
  vertex?: boolean;
  maxBodyBytes?: number;
  /** Where request rows go; null/undefined = not logged. The caller owns (closes) it. */
  requestLog?: RequestLog | null;
  /** Store prompt and response text in the request log. */
  contentLogging?: boolean;
  /** Generate one token after loading so /health turns green without user traffic. Default true. */
  warmUp?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Operational messages (load failures, internal errors). Default: stderr. */
  log?: (line: string) => void;
}

export interface HearthServer {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly metrics: ServerMetrics;
  readonly httpServer: Server;
  /** Resolves when the engine has loaded and the warm-up token came out; rejects if loading failed. */
  readonly ready: Promise<void>;
  /**
   * Stops accepting connections, lets in-flight requests finish for up to `deadlineMs` (ms from
   * now), then cancels the rest, and flushes the request log. Does not shut the engine down.
   */
  close(deadlineMs: number): Promise<void>;
}

/** A port that is taken: the message says which and what to do. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  constructor(readonly host: string, readonly port: number) {
    super(`Port ${port} on ${host} is already in use (another server is running there?). Stop it, or choose another port with --port.`);
  }
}

/** One token through a freshly loaded engine, so /health turns green without user traffic. */
export async function warmUp(engine: ServedEngine): Promise<void> {
  const promptTokenIds = engine.tokenizer.encode('Hello');
  if (promptTokenIds.length === 0) promptTokenIds.push(engine.manifest.tokenizer.bosTokenId ?? 0);
  const handle = engine.submit({
    requestId: 'warmup',
    promptTokenIds,
    sampling: { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1 },
    maxNewTokens: 1,
    stopStrings: [],
    stopTokenIds: [],
    ignoreEos: true,
    arrivalTimeMs: Date.now(),
  });
  for await (const event of handle) {
    if (event.type === 'done' && event.finishReason === 'error') throw new Error(`warm-up generation failed: ${event.error?.message}`);
  }
}

export async function createServer(options: CreateServerOptions): Promise<HearthServer> {
  const log = options.log ?? ((line: string) => console.error(line));
  const metrics = new ServerMetrics();
  const host = options.host ?? DEFAULT_HOST;
  const corsOrigins = options.corsOrigins ?? [];
  if ((options.engine === undefined) === (options.pool === undefined)) throw new Error('createServer needs an engine or a model pool (bug)');
  const pool = options.pool ?? null;
  const state: ServerState = {
    engine: null,
    pool,
    loadError: null,
    servedName: options.servedName ?? null,
    metrics,
    requestLog: options.requestLog ?? null,
    contentLogging: options.contentLogging ?? false,
    apiKey: options.apiKey ?? null,
    corsOrigins,
    guard: new BrowserGuard({
      bindHost: host,
      allowedHosts: options.allowedHosts ?? [],
      allowedOrigins: corsOrigins,
      // The API serves no pages, so no page is same-origin with it (a rebinding page would be).
      allowSameOrigin: false,
      hints: { allowedHosts: '--allowed-hosts (hearth serve), server.allowedHosts or HEARTH_ALLOWED_HOSTS', allowedOrigins: '--cors-origin (hearth serve) or server.corsOrigins' },
    }),
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    inflight: new Set(),
    draining: false,
    log,
  };
  metrics.setSnapshotSource(() => (pool ? combinedSnapshot(pool.engines().map(({ engine }) => engine.snapshot())) : (state.engine?.snapshot() ?? null)));
  if (pool) metrics.watchPool(pool);
  const routes = buildRoutes(options.vertex ? vertexRoutes(options.env ?? process.env) : null);
  const handler = createRequestHandler(state, routes, async () => ({
    text: await metrics.registry.metrics(),
    contentType: metrics.registry.contentType,
  }));
  const httpServer = createHttpServer((req, res) => {
    handler(req, res).catch((error) => log(`hearth server: unhandled error (bug): ${(error as Error)?.stack ?? error}`));
  });
  // Long generations must not be cut by Node's default request timeout.
  httpServer.requestTimeout = 0;
  httpServer.headersTimeout = 60_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(host, options.port ?? DEFAULT_PORT) : error);
    };
    httpServer.once('error', onError);
    httpServer.listen(options.port ?? DEFAULT_PORT, host, () => {
      httpServer.off('error', onError);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;

  let stopStepListener: (() => void) | void = undefined;
  const ready = (async () => {
    if (pool) return; // each model warms up as it loads
    try {
      const engine = await options.engine!;
      stopStepListener = engine.onStep?.((stats) => metrics.observeStep(stats));
      if (options.warmUp ?? true) await warmUp(engine);
      state.engine = engine;
    } catch (error) {
      state.loadError = error instanceof Error ? error : new Error(String(error));
      log(`hearth server: the model could not be loaded: ${state.loadError.message}`);
      throw state.loadError;
    }
  })();
  // Callers that never await `ready` must not crash the process with an unhandled rejection.
  ready.catch(() => {});

  const close = async (deadlineMs: number): Promise<void> => {
    state.draining = true;
    const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
    httpServer.closeIdleConnections();
    const giveUpAt = Date.now() + Math.max(0, deadlineMs);
    while (state.inflight.size > 0 && Date.now() < giveUpAt) await new Promise((r) => setTimeout(r, 20));
    if (state.inflight.size > 0) {
      log(`hearth server: cancelling ${state.inflight.size} request(s) still running at the shutdown deadline.`);
      for (const ctx of state.inflight) ctx.cancelAll();
      // Cancelled requests end within an engine step; give them a moment to write their rows.
      const hardStopAt = Date.now() + 2000;
      while (state.inflight.size > 0 && Date.now() < hardStopAt) await new Promise((r) => setTimeout(r, 20));
    }
    httpServer.closeAllConnections();
    await closed;
    if (typeof stopStepListener === 'function') stopStepListener();
    state.requestLog?.flush();
  };

  return { url: `http://${urlHost}:${port}`, port, host, metrics, httpServer, ready, close };
}

/** Library mode's engine gauges: the loaded models together (queues and bytes add up; /metrics and the desktop dashboard). */
export function combinedSnapshot(snapshots: EngineSnapshot[]): EngineSnapshot {
  const sum = (read: (snapshot: EngineSnapshot) => number) => snapshots.reduce((total, snapshot) => total + read(snapshot), 0);
  const capacity = sum((snapshot) => snapshot.kvCacheCapacityTokens);
  return {
    state: 'ready',
    model: snapshots.map((snapshot) => snapshot.model).join(','),
    device: [...new Set(snapshots.map((snapshot) => snapshot.device))].join(',') || 'none',
    queueSize: sum((snapshot) => snapshot.queueSize),
    runningSize: sum((snapshot) => snapshot.runningSize),
    kvCacheUsage: capacity > 0 ? sum((snapshot) => snapshot.kvCacheUsage * snapshot.kvCacheCapacityTokens) / capacity : 0,
    kvCacheCapacityTokens: capacity,
    kvCacheBytes: sum((snapshot) => snapshot.kvCacheBytes),
    weightsBytes: sum((snapshot) => snapshot.weightsBytes),
    tokensGenerated: sum((snapshot) => snapshot.tokensGenerated),
    hasGenerated: true,
    config: snapshots[0]?.config ?? ({} as EngineSnapshot['config']),
    accelerator: snapshots[0]?.accelerator ?? null,
  };
}
