// The engine host's admin API: thin HTTP + SSE handlers over the host's services (contract:
// engine/common/adminApi.ts). Every /api route needs the admin token; `/` serves the built
// renderer (web mode) without a token, because the page reads the token from its URL fragment.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  AdminStatus,
  BenchRunListResponse,
  BenchStarted,
  DeleteModelResponse,
  HubSearchResponse,
  LatencyByDayResponse,
  LibraryResponse,
  PullListResponse,
  PullStarted,
  RequestListResponse,
  RequestLogFilter,
} from '../common/adminApi.js';
import { ADMIN_PROXY_PREFIX } from '../common/adminApi.js';
import { MODEL_DTYPES, type ModelDtype } from '../common/manifest.js';
import { HEARTH_VERSION } from '../common/version.js';
import { BrowserGuard } from '../server/browserGuard.js';
import type { RequestLog } from '../store/requestLog.js';
import { isAuthorized } from './auth.js';
import type { DashboardSampler } from './dashboard.js';
import type { EventHub } from './events.js';
import { HttpError, badRequest, notFound, optionalNumber, readBody, sendError, sendJson, unavailable } from './httpUtil.js';
import type { ServeController } from './serveController.js';
import type { OptionalServices } from './services.js';
import { serveStatic } from './staticFiles.js';
import { benchSweepSchema, exportBundleSchema, pullSchema, serveStartSchema, sizingSchema } from './adminBodies.js';

/**
 * Origins of UIs that call the admin API cross-origin: the Electron renderer is served from
 * app://hearth (electron/main.ts). A page served by the host itself is same-origin and needs none.
 */
export const DEFAULT_UI_ORIGINS: readonly string[] = ['app://hearth'];

export interface AdminApiContext extends OptionalServices {
  token: string;
  /** Origins allowed to call the admin API cross-origin (CORS); the token is still required. Others get 403. */
  allowedOrigins?: readonly string[];
  /** Host names the admin API answers to besides loopback ones ('*' = any); others get 403 (DNS rebinding). */
  allowedHosts?: readonly string[];
  /** Built renderer to serve at `/`; null = API only. */
  rendererDir: string | null;
  dataDir: string;
  modelsDir: string;
  startedAtMs: number;
  serve: ServeController;
  requestLog: RequestLog;
  events: EventHub;
  dashboard: DashboardSampler;
}

interface RouteInput {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
}

/** A handler returns a JSON body (sent with 200, or `status`), or undefined when it answered itself. */
type Handler = (input: RouteInput) => Promise<unknown> | unknown;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
  status?: number;
}

function missing(part: string, what: string): never {
  throw unavailable(`${what} is not available in this build of Hearth (engine/${part} is missing). Update Hearth to use it.`);
}

export function parseRequestFilter(query: URLSearchParams): RequestLogFilter {
  const filter: RequestLogFilter = {};
  const status = query.get('status');
  if (status) {
    if (status === '2xx' || status === '4xx' || status === '5xx') filter.status = status;
    else if (/^\d{3}$/.test(status)) filter.status = Number(status);
    else throw badRequest(`Unknown status filter '${status}'; use 2xx, 4xx, 5xx or a code such as 404.`);
  }
  const model = query.get('model');
  if (model) filter.model = model;
  const text = query.get('text');
  if (text) filter.text = text;
  filter.sinceMs = optionalNumber(query, 'sinceMs');
  filter.untilMs = optionalNumber(query, 'untilMs');
  filter.limit = optionalNumber(query, 'limit');
  filter.offset = optionalNumber(query, 'offset');
  for (const key of Object.keys(filter) as (keyof RequestLogFilter)[]) if (filter[key] === undefined) delete filter[key];
  return filter;
}

function parseDtype(value: string | null): ModelDtype | null {
  if (value === null || value === '') return null;
  if (!(MODEL_DTYPES as readonly string[]).includes(value)) throw badRequest(`Unknown dtype '${value}'; use one of ${MODEL_DTYPES.join(', ')}.`);
  return value as ModelDtype;
}

export function buildRoutes(ctx: AdminApiContext): Route[] {
  const routes: Route[] = [];
  const add = (method: string, path: string, handler: Handler, status?: number) => {
    const pattern = new RegExp(`^${path.replace(/:(\w+)/g, '(?<$1>[^/]+)')}$`);
    routes.push({ method, pattern, handler, status });
  };

  add('GET', '/api/status', (): AdminStatus => ({
    version: HEARTH_VERSION,
    dataDir: ctx.dataDir,
    modelsDir: ctx.modelsDir,
    pid: process.pid,
    startedAtMs: ctx.startedAtMs,
    serve: ctx.serve.current(),
    features: { hub: ctx.hub !== undefined, bench: ctx.bench !== undefined, export: ctx.exporter !== undefined, serve: true },
  }));

  add('GET', '/api/events', ({ res }) => {
    const initial: { type: 'serve' | 'dashboard'; data: unknown }[] = [{ type: 'serve', data: ctx.serve.current() }];
    const dashboard = ctx.dashboard.current();
    if (dashboard) initial.push({ type: 'dashboard', data: dashboard });
    ctx.events.attach(res, initial);
    return undefined;
  });

  // Library
  add('GET', '/api/library', async (): Promise<LibraryResponse> => ({
    models: ctx.library ? await ctx.library.list() : missing('store/modelRegistry', 'The model library'),
  }));
  add('DELETE', '/api/library/:name', async ({ params, url }): Promise<DeleteModelResponse> => {
    if (!ctx.library) missing('store/modelRegistry', 'The model library');
    const name = params.name!;
    const dtype = parseDtype(url.searchParams.get('dtype'));
    const served = ctx.serve.current();
    // One variant: the library refuses it only if that variant's package is the one served.
    if (dtype === null && served.state === 'ready' && served.settings?.model === name) {
      throw new HttpError(409, 'conflict', `'${name}' is being served. Stop serving it on the Serve tab, then delete it.`);
    }
    return { removed: await ctx.library.remove(name, dtype) };
  });

  // Hub
  add('GET', '/api/hub/search', async ({ url }): Promise<HubSearchResponse> => {
    if (!ctx.hub) missing('hub', 'Hub search');
    const query = url.searchParams.get('q') ?? '';
    const limit = optionalNumber(url.searchParams, 'limit') ?? 20;
    return { query, results: await ctx.hub.search(query, limit) };
  });
  add('GET', '/api/hub/fit', async ({ url }) => {
    if (!ctx.hub) missing('hub', 'The fit check');
    const repo = url.searchParams.get('repo');
    if (!repo) throw badRequest("Give the Hub repo to check as '?repo=owner/name'.");
    return ctx.hub.fit(repo, parseDtype(url.searchParams.get('dtype')) ?? 'int4');
  });
  add('GET', '/api/hub/pulls', (): PullListResponse => ({ pulls: ctx.hub ? ctx.hub.pulls() : [] }));
  add(
    'POST',
    '/api/hub/pull',
    async ({ req }): Promise<PullStarted> => {
      if (!ctx.hub) missing('hub', 'Downloading from the Hub');
      const body = await readBody(req, pullSchema);
      const jobId = ctx.hub.pull(body, (progress) => ctx.events.publish('pull', progress));
      return { jobId };
    },
    202,
  );

  // Serve
  add('GET', '/api/serve', () => ctx.serve.current());
  add('POST', '/api/serve/start', async ({ req }) => {
    const { settings } = await readBody(req, serveStartSchema);
    return ctx.serve.start(settings);
  });
  add('POST', '/api/serve/reload', async ({ req }) => {
    const { settings } = await readBody(req, serveStartSchema);
    return ctx.serve.reload(settings);
  });
  add('POST', '/api/serve/stop', () => ctx.serve.stop());

  // Dashboard
  add('GET', '/api/dashboard', () => {
    const snapshot = ctx.dashboard.current();
    if (!snapshot) throw unavailable('The dashboard has no sample yet; retry in a second.');
    return snapshot;
  });

  // Request log
  add('GET', '/api/requests', ({ url }): RequestListResponse => {
    const filter = parseRequestFilter(url.searchParams);
    const { limit: _limit, offset: _offset, ...countFilter } = filter;
    const models = ctx.requestLog.models();
    return { total: ctx.requestLog.count(countFilter), entries: ctx.requestLog.list({ limit: 100, ...filter }), models };
  });
  add('GET', '/api/requests.csv', ({ url, res }) => {
    const csv = ctx.requestLog.exportCsv(parseRequestFilter(url.searchParams));
    res.writeHead(200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="hearth-requests-${new Date().toISOString().slice(0, 10)}.csv"`,
      'cache-control': 'no-store',
    });
    res.end(csv);
    return undefined;
  });
  add('GET', '/api/requests/latency-by-day', ({ url }): LatencyByDayResponse => ({
    days: ctx.requestLog.latencyByDay(parseRequestFilter(url.searchParams)),
  }));
  add('GET', '/api/requests/:id', ({ params }) => {
    const entry = ctx.requestLog.get(params.id!);
    if (!entry) throw notFound(`No request '${params.id}' in the log; it may have been pruned by retention.`);
    return entry;
  });

  // Benchmark
  add('GET', '/api/bench/runs', async (): Promise<BenchRunListResponse> => ({
    runs: ctx.bench ? await ctx.bench.list() : missing('bench', 'Benchmarking'),
  }));
  add('GET', '/api/bench/runs/:id', async ({ params }) => {
    if (!ctx.bench) missing('bench', 'Benchmarking');
    const run = await ctx.bench.get(params.id!);
    if (!run) throw notFound(`No benchmark run '${params.id}'.`);
    return run;
  });
  add(
    'POST',
    '/api/bench/runs',
    async ({ req }): Promise<BenchStarted> => {
      if (!ctx.bench) missing('bench', 'Benchmarking');
      const body = await readBody(req, benchSweepSchema);
      const server = ctx.serve.server();
      const status = ctx.serve.current();
      if (!server || !status.baseUrl) throw new HttpError(409, 'not_serving', 'Nothing is being served. Start a model on the Serve tab, then run the benchmark.');
      const runId = await ctx.bench.start(
        body,
        { baseUrl: status.baseUrl, apiKey: status.settings?.apiKey, model: server.servedName },
        (progress) => ctx.events.publish('bench', progress),
      );
      return { runId };
    },
    202,
  );

  // Export
  add('GET', '/api/export/defaults', () => (ctx.exporter ? ctx.exporter.defaults() : missing('export', 'Export')));
  add('POST', '/api/export/sizing', async ({ req }) => {
    if (!ctx.exporter) missing('export', 'GPU sizing');
    return ctx.exporter.sizing(await readBody(req, sizingSchema));
  });
  add('POST', '/api/export/bundle', async ({ req }) => {
    if (!ctx.exporter) missing('export', 'Export');
    return ctx.exporter.bundle(await readBody(req, exportBundleSchema));
  });

  return routes;
}


/** Forwards /api/proxy/v1/* to the running OpenAI server, adding its API key; streams both ways. */
function proxyToServer(ctx: AdminApiContext, req: IncomingMessage, res: ServerResponse, url: URL): void {
  const server = ctx.serve.server();
  if (!server) throw new HttpError(503, 'not_serving', 'No model is being served. Start one on the Serve tab, then send the message again.');
  const target = new URL(url.pathname.slice(ADMIN_PROXY_PREFIX.length) + url.search, server.origin);
  const headers: Record<string, string> = { 'user-agent': 'hearth-playground' };
  // Passed on as sent: the API server itself refuses a body that is not JSON (415).
  if (req.headers['content-type'] !== undefined) headers['content-type'] = req.headers['content-type'];
  const apiKey = ctx.serve.current().settings?.apiKey;
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  const upstream = httpRequest(target, { method: req.method, headers }, (upstreamRes) => {
    const passHeaders: Record<string, string> = {};
    for (const name of ['content-type', 'cache-control', 'retry-after']) {
      const value = upstreamRes.headers[name];
      if (typeof value === 'string') passHeaders[name] = value;
    }
    res.writeHead(upstreamRes.statusCode ?? 502, passHeaders);
    upstreamRes.pipe(res);
  });
  upstream.on('error', (error) => {
    sendError(res, new HttpError(502, 'upstream', `The model server did not answer (${error.message}). Check the Serve tab; restart serving if it failed.`));
  });
  // The browser closing the stream (Stop button) closes the upstream request, which cancels the generation.
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

export function createAdminServer(ctx: AdminApiContext): Server {
  const routes = buildRoutes(ctx);
  const guard = new BrowserGuard({
    bindHost: ADMIN_HOST,
    allowedHosts: ctx.allowedHosts ?? [],
    allowedOrigins: ctx.allowedOrigins ?? DEFAULT_UI_ORIGINS,
    // The web UI is served by this host (staticFiles.ts), so its own pages are same-origin.
    allowSameOrigin: true,
    hints: { allowedHosts: '--allowed-hosts or HEARTH_ADMIN_ALLOWED_HOSTS', allowedOrigins: 'HEARTH_ADMIN_ORIGINS' },
  });
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://host.invalid');
    void handle(ctx, guard, routes, req, res, url).catch((error) => sendError(res, error));
  });
}

async function handle(ctx: AdminApiContext, guard: BrowserGuard, routes: Route[], req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  res.setHeader('x-content-type-options', 'nosniff');
  const refusal = guard.check(req);
  if (refusal) throw new HttpError(refusal.status, refusal.code, refusal.message);
  const origin = req.headers.origin;
  if (typeof origin === 'string' && (ctx.allowedOrigins ?? DEFAULT_UI_ORIGINS).includes(origin)) {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
    if (req.method === 'OPTIONS') {
      // Preflight: browsers send it without the Authorization header, so it is answered before the token check.
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, DELETE',
        'access-control-allow-headers': 'authorization, content-type',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
  }
  if (!url.pathname.startsWith('/api/')) {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method_not_allowed', 'Only GET is served outside /api.');
    if (url.pathname === '/health') return sendJson(res, 200, { status: 'ok' });
    if (ctx.rendererDir && serveStatic(ctx.rendererDir, url.pathname, res)) return;
    throw notFound(ctx.rendererDir ? `Nothing at ${url.pathname}.` : 'This engine host serves the admin API only (no built renderer). Build it with `npx vite build --config renderer/vite.config.ts`.');
  }
  if (!isAuthorized(req, url, ctx.token)) {
    throw new HttpError(401, 'unauthorized', 'Missing or wrong admin token. Open the UI from the link the host printed (it carries the token), or restart Hearth.');
  }
  if (url.pathname.startsWith(`${ADMIN_PROXY_PREFIX}/`)) return proxyToServer(ctx, req, res, url);
  const methodMatches = routes.filter((route) => route.pattern.test(url.pathname));
  if (methodMatches.length === 0) throw notFound(`No admin route ${url.pathname}.`);
  const route = methodMatches.find((candidate) => candidate.method === req.method);
  if (!route) throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${url.pathname}.`);
  const params = Object.fromEntries(
    Object.entries(route.pattern.exec(url.pathname)?.groups ?? {}).map(([key, value]) => [key, decodeURIComponent(value)]),
  );
  const body = await route.handler({ req, res, url, params });
  if (body !== undefined) sendJson(res, route.status ?? 200, body);
}

/** The admin API is for this machine only; it always binds loopback. */
const ADMIN_HOST = '127.0.0.1';

export function listen(server: Server, port: number, host = ADMIN_HOST): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`Port ${port} on ${host} is already in use. Stop the other program, or start the host with another --port (0 picks a free one).`)
          : error,
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address() as AddressInfo;
      resolve(`http://${host}:${address.port}`);
    });
  });
}
