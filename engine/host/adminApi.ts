// The engine host's admin API: thin HTTP + SSE handlers over the host's services (contract:
// engine/common/adminApi.ts). Every /api route needs the admin token; `/` serves the built
// renderer (web mode) without a token, because the page reads the token from its URL fragment.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestLogFilter } from '../common/adminApi.js';
import { ADMIN_PROXY_PREFIX } from '../common/adminApi.js';
import { ADMIN_ROUTES, type AdminBody, type AdminParams, type AdminResponse, type AdminRouteName, type AdminRouteSpec } from '../common/adminRoutes.js';
import { MODEL_DTYPES, type ModelDtype } from '../common/manifest.js';
import { HEARTH_VERSION } from '../common/version.js';
import { BrowserGuard } from '../server/browserGuard.js';
import type { RequestLog } from '../store/requestLog.js';
import { isAuthorized } from './auth.js';
import type { DashboardSampler } from './dashboard.js';
import type { EventHub } from './events.js';
import { badRequest, conflict, httpError, notFound, optionalNumber, readBody, sendError, sendJson, unavailable } from './httpUtil.js';
import { ApiError } from '../server/errors.js';
import { findRoute, routePattern } from '../server/http.js';
import type { z } from 'zod';
import type { LibraryServer, ServeController } from './serveController.js';
import type { ServingConfig } from '../common/servingConfig.js';
import type { HostServices } from './services.js';
import { serveStatic } from './staticFiles.js';
import { ADMIN_BODY_SCHEMAS } from './adminBodies.js';

/**
 * Origins of UIs that call the admin API cross-origin: the Electron renderer is served from
 * app://hearth (electron/main.ts). A page served by the host itself is same-origin and needs none.
 */
export const DEFAULT_UI_ORIGINS: readonly string[] = ['app://hearth'];

export interface AdminApiContext extends HostServices {
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

interface RouteInput<K extends AdminRouteName> {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: AdminParams<K>;
  /** The JSON body, checked against the route's schema (adminBodies.ts); undefined for bodiless routes. */
  body: AdminBody<K>;
}

/**
 * One handler per route of ADMIN_ROUTES: a 'json' route returns its answer (sent with the route's
 * status), a 'raw' route writes the response itself.
 */
type Handlers = { [K in AdminRouteName]: (input: RouteInput<K>) => Promise<AdminResponse<K>> | AdminResponse<K> | (AdminResponse<K> extends never ? void | Promise<void> : never) };

export interface Route {
  name: AdminRouteName;
  method: string;
  pattern: RegExp;
  status: number;
  answer: 'json' | 'raw';
  handler: (input: RouteInput<AdminRouteName>) => unknown;
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

function conversationNotFound(id: string): never {
  throw notFound(`No conversation '${id}'; it may have been deleted in another window.`);
}

function parseDtype(value: string | null): ModelDtype | null {
  if (value === null || value === '') return null;
  if (!(MODEL_DTYPES as readonly string[]).includes(value)) throw badRequest(`Unknown dtype '${value}'; use one of ${MODEL_DTYPES.join(', ')}.`);
  return value as ModelDtype;
}

/** The running library server, or 409: these routes are for the Serve tab's library mode. */
function libraryServer(ctx: AdminApiContext): LibraryServer {
  const server = ctx.serve.server();
  if (!server?.library) {
    throw new ApiError(409, server ? 'One model is being served, not the library. Serve the library (the Serve tab\'s "Serve the whole library") to load and unload models by name.' : 'Nothing is being served. Serve the library on the Serve tab first.', { code: 'not_serving_library' });
  }
  return server.library;
}

function handlers(ctx: AdminApiContext): Handlers {
  return {
    status: () => ({
      version: HEARTH_VERSION,
      dataDir: ctx.dataDir,
      modelsDir: ctx.modelsDir,
      pid: process.pid,
      startedAtMs: ctx.startedAtMs,
      serve: ctx.serve.current(),
    }),

    events: ({ res }) => {
      const initial: { type: 'serve' | 'dashboard'; data: unknown }[] = [{ type: 'serve', data: ctx.serve.current() }];
      const dashboard = ctx.dashboard.current();
      if (dashboard) initial.push({ type: 'dashboard', data: dashboard });
      ctx.events.attach(res, initial);
    },

    // Library
    library: async () => ({
      models: await ctx.library.list(),
    }),
    deleteModel: async ({ params, url }) => {
      const name = params.name;
      const dtype = parseDtype(url.searchParams.get('dtype'));
      const served = ctx.serve.current();
      // One variant: the library refuses it only if that variant's package is the one served.
      if (dtype === null && served.state === 'ready' && served.settings?.model === name) {
        throw conflict(`'${name}' is being served. Stop serving it on the Serve tab, then delete it.`);
      }
      // A library server: a loaded model is in use (an unloaded one may go; the next request naming it gets a 404).
      const loaded = ctx.serve.server()?.library?.models().models.find((model) => model.name === name && model.state !== 'unloaded');
      if (dtype === null && loaded) {
        throw conflict(`'${loaded.id}' is loaded by the library server. Unload it on the Serve tab, then delete it.`);
      }
      return { removed: await ctx.library.remove(name, dtype) };
    },

    // Hub
    hubSearch: async ({ url }) => {
      const query = url.searchParams.get('q') ?? '';
      const limit = optionalNumber(url.searchParams, 'limit') ?? 20;
      return { query, results: await ctx.hub.search(query, limit) };
    },
    hubFit: async ({ url }) => {
      const repo = url.searchParams.get('repo');
      if (!repo) throw badRequest("Give the Hub repo to check as '?repo=owner/name'.");
      return ctx.hub.fit(repo, parseDtype(url.searchParams.get('dtype')) ?? 'int4');
    },
    pulls: () => ({ pulls: ctx.hub.pulls() }),
    pullCancel: ({ params }) => ctx.hub.cancel(params.id),
    importModel: ({ body }) => ({ jobId: ctx.hub.importLocal(body, (progress) => ctx.events.publish('pull', progress)) }),
    pull: ({ body }) => {
      const jobId = ctx.hub.pull(body, (progress) => ctx.events.publish('pull', progress));
      return { jobId };
    },

    // Serve
    serveStatus: () => ctx.serve.current(),
    serveStart: ({ body }) => ctx.serve.start(body.settings),
    serveReload: ({ body }) => ctx.serve.reload(body.settings),
    serveStop: () => ctx.serve.stop(),

    // Dashboard
    dashboard: () => {
      const snapshot = ctx.dashboard.current();
      if (!snapshot) throw unavailable('The dashboard has no sample yet; retry in a second.');
      return snapshot;
    },

    // Request log
    requests: ({ url }) => {
      const filter = parseRequestFilter(url.searchParams);
      const { limit: _limit, offset: _offset, ...countFilter } = filter;
      const models = ctx.requestLog.models();
      return { total: ctx.requestLog.count(countFilter), entries: ctx.requestLog.list({ limit: 100, ...filter }), models };
    },
    requestsCsv: ({ url, res }) => {
      const csv = ctx.requestLog.exportCsv(parseRequestFilter(url.searchParams));
      res.writeHead(200, {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="hearth-requests-${new Date().toISOString().slice(0, 10)}.csv"`,
        'cache-control': 'no-store',
      });
      res.end(csv);
    },
    latencyByDay: ({ url }) => ({ days: ctx.requestLog.latencyByDay(parseRequestFilter(url.searchParams)) }),
    request: ({ params }) => {
      const entry = ctx.requestLog.get(params.id);
      if (!entry) throw notFound(`No request '${params.id}' in the log; it may have been pruned by retention.`);
      return entry;
    },

    // Conversations
    conversations: ({ url }) => ({ conversations: ctx.conversations.list(url.searchParams.get('q') ?? undefined) }),
    conversationCreate: ({ body }) => ctx.conversations.create(body),
    conversation: ({ params }) => ctx.conversations.get(params.id) ?? conversationNotFound(params.id),
    conversationUpdate: ({ params, body }) => ctx.conversations.update(params.id, body) ?? conversationNotFound(params.id),
    conversationDelete: ({ params }) => {
      if (!ctx.conversations.remove(params.id)) conversationNotFound(params.id);
      return { deleted: params.id };
    },

    // Benchmark
    benchRuns: async () => ({ runs: await ctx.bench.list() }),
    benchRun: async ({ params }) => {
      const run = await ctx.bench.get(params.id);
      if (!run) throw notFound(`No benchmark run '${params.id}'.`);
      return run;
    },
    benchCancel: ({ params }) => ctx.bench.cancel(params.id) ?? (() => {
      throw notFound(`No running benchmark '${params.id}'; finished runs cannot be stopped.`);
    })(),
    benchStart: async ({ body }) => {
      const server = ctx.serve.server();
      const status = ctx.serve.current();
      if (!server || !status.baseUrl) throw new ApiError(409, 'Nothing is being served. Start a model on the Serve tab, then run the benchmark.', { code: 'not_serving' });
      // A library server serves many models: the sweep names one, loaded before it starts so
      // that its first requests do not measure the load.
      let target: { model: string; config: ServingConfig | null };
      if (server.library) {
        if (!body.model) {
          const loaded = server.library.models().models.filter((model) => model.state === 'ready').map((model) => `'${model.id}'`);
          throw badRequest(`This server serves the library: name the model to benchmark in 'model' (loaded now: ${loaded.join(', ') || 'none'}).`);
        }
        const loaded = await server.library.load(body.model);
        target = { model: loaded.id, config: server.library.configFor(loaded.id) };
      } else {
        target = { model: server.servedName!, config: server.config };
      }
      const runId = await ctx.bench.start(
        body,
        { baseUrl: status.baseUrl, apiKey: status.settings?.apiKey, ...target },
        (progress) => ctx.events.publish('bench', progress),
      );
      return { runId };
    },

    // Export
    exportDefaults: () => ctx.exporter.defaults(),
    exportSizing: ({ body }) => ctx.exporter.sizing(body),
    exportBundle: ({ body }) => ctx.exporter.bundle(body),

    // Library serving
    serveModels: () => libraryServer(ctx).models(),
    serveModelLoad: ({ body }) => libraryServer(ctx).load(body.model),
    serveModelUnload: async ({ body }) => ({ unloaded: await libraryServer(ctx).unload(body.model) }),
    serveModelConfig: ({ params }) =>
      libraryServer(ctx).configFor(params.id) ?? (() => {
        throw notFound(`'${params.id}' is not loaded; load it (the Serve tab's Load, or POST /api/serve/models/load) and ask again.`);
      })(),
  };
}

/** ADMIN_ROUTES with this host's handlers; a route with a body reads and checks it before its handler runs. */
export function buildRoutes(ctx: AdminApiContext): Route[] {
  const table = handlers(ctx);
  return (Object.keys(ADMIN_ROUTES) as AdminRouteName[]).map((name) => {
    const spec: AdminRouteSpec = ADMIN_ROUTES[name];
    const handler = table[name] as (input: RouteInput<AdminRouteName>) => unknown;
    const schema = (ADMIN_BODY_SCHEMAS as Partial<Record<AdminRouteName, z.ZodType<unknown, unknown>>>)[name];
    return {
      name,
      method: spec.method,
      pattern: routePattern(spec.path),
      status: spec.status,
      answer: spec.answer,
      handler: async (input: RouteInput<AdminRouteName>) => handler({ ...input, body: (schema ? await readBody(input.req, schema) : undefined) as AdminBody<AdminRouteName> }),
    };
  });
}

/** Forwards /api/proxy/v1/* to the running OpenAI server, adding its API key; streams both ways. */
function proxyToServer(ctx: AdminApiContext, req: IncomingMessage, res: ServerResponse, url: URL): void {
  const server = ctx.serve.server();
  if (!server) throw httpError(503, 'not_serving', 'No model is being served. Start one on the Serve tab, then send the message again.');
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
    sendError(res, httpError(502, 'upstream', `The model server did not answer (${error.message}). Check the Serve tab; restart serving if it failed.`));
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
  if (refusal) throw httpError(refusal.status, refusal.code, refusal.message);
  const origin = req.headers.origin;
  if (typeof origin === 'string' && (ctx.allowedOrigins ?? DEFAULT_UI_ORIGINS).includes(origin)) {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
    if (req.method === 'OPTIONS') {
      // Preflight: browsers send it without the Authorization header, so it is answered before the token check.
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, PUT, DELETE',
        'access-control-allow-headers': 'authorization, content-type',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
  }
  if (!url.pathname.startsWith('/api/')) {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw httpError(405, 'method_not_allowed', 'Only GET is served outside /api.');
    if (url.pathname === '/health') return sendJson(res, 200, { status: 'ok' });
    if (ctx.rendererDir && serveStatic(ctx.rendererDir, url.pathname, res)) return;
    throw notFound(ctx.rendererDir ? `Nothing at ${url.pathname}.` : 'This engine host serves the admin API only (no built renderer). Build it with `npx vite build --config renderer/vite.config.ts`.');
  }
  if (!isAuthorized(req, url, ctx.token)) {
    throw httpError(401, 'unauthorized', 'Missing or wrong admin token. Open the UI from the link the host printed (it carries the token), or restart Hearth.');
  }
  if (url.pathname.startsWith(`${ADMIN_PROXY_PREFIX}/`)) return proxyToServer(ctx, req, res, url);
  const found = findRoute(routes, req.method ?? 'GET', url.pathname);
  if (found === null) throw notFound(`No admin route ${url.pathname}.`);
  if (found === 'wrong-method') throw new ApiError(405, `${req.method} is not allowed on ${url.pathname}.`, { code: 'method_not_allowed' });
  const { route, params } = found;
  const answer = await route.handler({ req, res, url, params, body: undefined });
  if (route.answer === 'json') sendJson(res, route.status, answer);
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
