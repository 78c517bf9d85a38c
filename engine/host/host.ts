// The engine host: one process that owns the database, serves models (the same code as
// `hearth serve`), and exposes the admin API the desktop UI and the web UI use.
// main.ts is the process entry; tests call startHost() directly.
import type { Server } from 'node:http';
import type { DashboardSnapshot } from '../common/adminApi.js';
import { databasePath, dataDir as defaultDataDir } from '../store/dataDir.js';
import { openDb, type Db } from '../store/db.js';
import { ConversationStore } from '../store/conversations.js';
import { ModelRegistry } from '../store/modelRegistry.js';
import { RequestLog } from '../store/requestLog.js';
import { createAdminServer, listen, type AdminApiContext } from './adminApi.js';
import { benchService } from './benchService.js';
import { DashboardSampler, LATENCY_WINDOW_MS } from './dashboard.js';
import { EventHub } from './events.js';
import { exportService } from './exportService.js';
import { hubService } from './hubService.js';
import { libraryService } from './libraryService.js';
import { MemoryProbe, memoryReading } from './memory.js';
import { realServeBackend } from './serveBackend.js';
import { combinedSnapshot } from '../server/index.js';
import { ServeController, type ServeBackend } from './serveController.js';

export interface HostOptions {
  token: string;
  /** Admin API port on 127.0.0.1; 0 = any free port. */
  port: number;
  /** Built renderer to serve at `/`; null = API only. */
  rendererDir: string | null;
  /** Origins allowed to call the admin API cross-origin; default DEFAULT_UI_ORIGINS (Electron's app://hearth). */
  allowedOrigins?: readonly string[];
  /** Host names the admin API answers to besides loopback ones ('*' = any). */
  allowedHosts?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** better-sqlite3 binary for Electron's ABI. */
  sqliteBinding?: string;
  dashboardIntervalMs?: number;
  /** Replaces the real engine + server (tests of the controller's edges). */
  serveBackend?: ServeBackend;
  log?: (line: string) => void;
}

export interface RunningHost {
  url: string;
  token: string;
  server: Server;
  /** Stops serving (draining within deadlineMs), closes the admin API and the database. */
  close(deadlineMs: number): Promise<void>;
}

export async function startHost(options: HostOptions): Promise<RunningHost> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => console.error(line));
  const home = defaultDataDir(env);
  const db: Db = openDb(databasePath(env), { nativeBinding: options.sqliteBinding });
  const requestLog = new RequestLog({ db });
  const registry = new ModelRegistry(db, { dataDir: home });
  const library = libraryService(registry, env);
  const events = new EventHub();
  const serve = new ServeController(options.serveBackend ?? realServeBackend({ requestLog, log, env }));
  const dashboard = new DashboardSampler();
  const memory = new MemoryProbe();

  const bench = benchService(db, { device: () => serve.current().settings?.device ?? 'unknown' });
  const ctx: AdminApiContext = {
    token: options.token,
    rendererDir: options.rendererDir,
    allowedOrigins: options.allowedOrigins,
    allowedHosts: options.allowedHosts,
    dataDir: home,
    modelsDir: registry.modelsDir,
    startedAtMs: Date.now(),
    serve,
    requestLog,
    events,
    dashboard,
    library,
    conversations: new ConversationStore(db),
    bench,
    hub: await hubService(db, registry, env, log),
    exporter: await exportService({ dataDir: home, currentConfig: () => serve.current().config, db }),
  };

  // The engine's steps feed the dashboard's batch size (rows per step) while a server is ready.
  let stopStepFeed: (() => void) | null = null;
  serve.onChange((status) => {
    if (status.state === 'ready' || status.state === 'stopped') dashboard.reset();
    stopStepFeed?.();
    stopStepFeed = status.state === 'ready' ? (serve.server()?.onStep?.((step) => dashboard.recordStep(step.batchSize)) ?? null) : null;
    events.publish('serve', status);
  });

  let lastLogTotal = -1;
  const tick = (): DashboardSnapshot => {
    const now = Date.now();
    const status = serve.current();
    const running = serve.server();
    const library = running?.library ?? null;
    const sinceMs = status.startedAtMs ?? now;
    const failedSince = (filter: { model?: string }) => requestLog.count({ ...filter, sinceMs, status: '4xx' }) + requestLog.count({ ...filter, sinceMs, status: '5xx' });
    // A library server: the totals are its loaded models together, each with its own row.
    const engines = library ? new Map(library.engines().map(({ id, engine }) => [id, engine.snapshot()])) : null;
    const snapshot = engines ? combinedSnapshot([...engines.values()]) : (running?.engine?.snapshot() ?? null);
    const models = library
      ? library.models().models.filter((model) => model.state !== 'unloaded').map((model) => ({
          id: model.id,
          state: model.state,
          memoryBytes: model.memoryBytes ?? 0,
          activeRequests: model.activeRequests,
          engine: engines!.get(model.id) ?? null,
          requestsTotal: requestLog.count({ sinceMs, model: model.id }),
          requestsFailed: failedSince({ model: model.id }),
        }))
      : undefined;
    const rss = process.memoryUsage().rss;
    const sample = dashboard.tick({
      timeMs: now,
      serveState: status.state,
      model: status.servedName,
      engine: snapshot,
      memory: memoryReading(memory.gpu(), {
        weightsBytes: snapshot?.weightsBytes ?? 0,
        kvCacheBytes: snapshot?.kvCacheBytes ?? 0,
        processBytes: rss,
        accelerator: snapshot?.accelerator ?? null,
      }),
      recentRequests: running ? requestLog.list({ sinceMs: Math.max(sinceMs, now - LATENCY_WINDOW_MS), limit: 1000 }) : [],
      requestsTotal: running ? requestLog.count({ sinceMs }) : 0,
      requestsFailed: running ? failedSince({}) : 0,
      models,
    });
    events.publish('dashboard', sample);
    const total = requestLog.count();
    if (total !== lastLogTotal) {
      if (lastLogTotal !== -1) events.publish('requests', { total });
      lastLogTotal = total;
    }
    return sample;
  };
  tick();
  const ticker = setInterval(() => {
    try {
      tick();
    } catch (error) {
      log(`hearth host: dashboard sample failed: ${(error as Error).message}`);
    }
  }, options.dashboardIntervalMs ?? 1000);
  ticker.unref();

  const server = createAdminServer(ctx);
  let url: string;
  try {
    url = await listen(server, options.port);
  } catch (error) {
    clearInterval(ticker);
    requestLog.close();
    db.close();
    throw error;
  }

  let closing: Promise<void> | null = null;
  const close = (deadlineMs: number): Promise<void> =>
    (closing ??= (async () => {
      clearInterval(ticker);
      await serve.close(deadlineMs);
      events.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      requestLog.close();
      db.close();
    })());

  return { url, token: options.token, server, close };
}

