// Routes requests to handlers, answers errors in the route's shape, and turns every answered
// request into one metrics sample and one request-log row.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { applyCors, checkApiKey } from './auth.js';
import { checkJsonContentType, type GuardRefusal } from './browserGuard.js';
import { chatCompletions } from './chatCompletions.js';
import { completions } from './completions.js';
import { RequestContext, type ServerState } from './context.js';
import { ApiError, toApiError } from './errors.js';
import { health } from './health.js';
import { clientIp, exactPath, findRoute, routePattern, sendJson, sendText } from './http.js';
import { getModel, listModels } from './models.js';
import { generate, generateStream, info } from './tgi.js';
import { predict, type VertexRoutes } from './vertex.js';
import { loadModel, loadedModels, unloadModel } from './poolRoutes.js';
import { sendSse, endSse } from './sse.js';

interface Route {
  method: 'GET' | 'POST';
  /** Path pattern (see routePattern in http.ts). */
  pattern: RegExp;
  /** Label in metrics and the request log. */
  endpoint: string;
  idPrefix: string;
  auth: boolean;
  /** Health probes and scrapes would drown the request log; they are not recorded. */
  recorded: boolean;
  errorShape: 'openai' | 'tgi';
  handler: (ctx: RequestContext, params: Record<string, string>) => Promise<void>;
}

/** A route as written: its path, compiled to a pattern by buildRoutes. */
type RouteSpec = Omit<Route, 'pattern'> & { path: string | RegExp };

export function buildRoutes(vertex: VertexRoutes | null): Route[] {
  const api = { auth: true, recorded: true, errorShape: 'openai' as const };
  const open = { auth: false, recorded: false, errorShape: 'openai' as const };
  const routes: RouteSpec[] = [
    { ...api, method: 'POST', path: '/v1/chat/completions', endpoint: '/v1/chat/completions', idPrefix: 'chatcmpl', handler: chatCompletions },
    { ...api, method: 'POST', path: '/v1/completions', endpoint: '/v1/completions', idPrefix: 'cmpl', handler: completions },
    { ...api, method: 'GET', path: '/v1/models', endpoint: '/v1/models', idPrefix: 'models', handler: listModels },
    {
      ...api, method: 'GET', path: '/v1/models/:id*', endpoint: '/v1/models/{id}', idPrefix: 'models',
      handler: (ctx, params) => getModel(ctx, params.id!),
    },
    // Library mode's model management (llama.cpp's router-mode paths); 404 with one model.
    { ...api, recorded: false, method: 'GET', path: '/models', endpoint: '/models', idPrefix: 'models', handler: loadedModels },
    { ...api, recorded: false, method: 'POST', path: '/models/load', endpoint: '/models/load', idPrefix: 'load', handler: loadModel },
    { ...api, recorded: false, method: 'POST', path: '/models/unload', endpoint: '/models/unload', idPrefix: 'unload', handler: unloadModel },
    { ...api, errorShape: 'tgi', method: 'POST', path: '/generate', endpoint: '/generate', idPrefix: 'tgi', handler: generate },
    { ...api, errorShape: 'tgi', method: 'POST', path: '/generate_stream', endpoint: '/generate_stream', idPrefix: 'tgi', handler: generateStream },
    { ...open, method: 'GET', path: '/info', endpoint: '/info', idPrefix: 'info', handler: info },
    { ...open, method: 'GET', path: '/health', endpoint: '/health', idPrefix: 'health', handler: health },
  ];
  if (vertex) {
    routes.push({ ...api, method: 'POST', path: exactPath(vertex.predictRoute), endpoint: vertex.predictRoute, idPrefix: 'predict', handler: predict });
    if (vertex.healthRoute !== '/health') {
      routes.push({ ...open, method: 'GET', path: exactPath(vertex.healthRoute), endpoint: vertex.healthRoute, idPrefix: 'health', handler: health });
    }
  }
  return routes.map(({ path, ...route }) => ({ ...route, pattern: typeof path === 'string' ? routePattern(path) : path }));
}

const UNMATCHED: Omit<Route, 'endpoint'> = {
  method: 'GET', pattern: /$^/, idPrefix: 'req', auth: false, recorded: true, errorShape: 'openai', handler: async () => {},
};

const refused = (refusal: GuardRefusal) => new ApiError(refusal.status, refusal.message, { code: refusal.code });

export function createRequestHandler(state: ServerState, routes: Route[], metricsText: () => Promise<{ text: string; contentType: string }>) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/metrics' && req.method === 'GET') {
      try {
        const refusal = state.guard.check(req);
        if (refusal) throw refused(refusal);
        const { text, contentType } = await metricsText();
        sendText(res, 200, text, contentType);
      } catch (error) {
        const apiError = toApiError(error);
        sendJson(res, apiError.status, apiError.toBody());
      }
      return;
    }
    const found = findRoute(routes, req.method ?? 'GET', url.pathname);
    const route = found !== null && found !== 'wrong-method' ? found.route : { ...UNMATCHED, endpoint: url.pathname };
    const ctx = new RequestContext(req, res, url, state, route.endpoint, route.idPrefix);
    const closed = new Promise<void>((resolve) => res.once('close', resolve));
    const metricsEndpoint = found !== null && found !== 'wrong-method' ? route.endpoint : 'unmatched';
    // CORS preflights are browser plumbing, not requests anyone asked to see.
    if (route.recorded && req.method !== 'OPTIONS') ctx.recordOnEnd(() => record(ctx, metricsEndpoint));
    state.inflight.add(ctx);
    try {
      const refusal = state.guard.check(req);
      if (refusal) throw refused(refusal);
      if (applyCors(req, res, state.corsOrigins)) return;
      if (state.draining) res.setHeader('Connection', 'close');
      if (found === null) {
        throw new ApiError(404, `No route ${req.method} ${url.pathname}. The API lives under /v1 (chat/completions, completions, models).`, {
          code: 'route_not_found',
        });
      }
      if (found === 'wrong-method') throw new ApiError(405, `${req.method} is not allowed on ${url.pathname}.`, { code: 'method_not_allowed' });
      if (route.auth) checkApiKey(req, state.apiKey);
      // Every POST route reads a JSON body.
      if (route.method === 'POST') {
        const contentTypeRefusal = checkJsonContentType(req);
        if (contentTypeRefusal) throw refused(contentTypeRefusal);
      }
      await found.route.handler(ctx, found.params);
    } catch (error) {
      await answerError(ctx, route, error);
    } finally {
      await closed;
      state.inflight.delete(ctx);
      // A response that never ended (the client went away) is recorded once it closed.
      ctx.recordNow();
    }
  };
}

async function answerError(ctx: RequestContext, route: Pick<Route, 'errorShape'>, error: unknown): Promise<void> {
  const apiError = toApiError(error);
  ctx.error = apiError.message;
  if (apiError.status >= 500 && !(error instanceof ApiError)) {
    ctx.state.log(`internal error on ${ctx.endpoint} (${ctx.id}): ${(error as Error)?.stack ?? String(error)}`);
  }
  ctx.cancelAll();
  const res = ctx.res;
  if (res.destroyed || res.writableEnded) return;
  const tgi = route.errorShape === 'tgi';
  const status = tgi ? tgiStatus(apiError) : apiError.status;
  const body = tgi ? { error: apiError.message, error_type: tgiErrorType(status) } : apiError.toBody();
  if (!res.headersSent) {
    // Refused before generating (4xx, or 503 while loading/stopping); 500s are faults, not refusals.
    if (apiError.status < 500 || apiError.status === 503) {
      ctx.state.metrics.observeRejection(apiError.reason ?? `http_${apiError.status}`);
    }
    sendJson(res, status, body, apiError.headers);
    return;
  }
  // Headers (200) already went out with the stream: report the failure in-band and end it.
  ctx.statusOverride = status;
  await sendSse(res, body);
  endSse(res, route.errorShape === 'openai');
}

/**
 * TGI answers a request it cannot validate with 422 (Unprocessable Entity), not 400, and clients
 * written against TGI check for it. A body that is not JSON at all stays 400, as TGI's JSON
 * extractor answers a syntax error; every other status (401, 413, 429, 503, 500) is shared.
 */
function tgiStatus(apiError: ApiError): number {
  return apiError.status === 400 && apiError.code !== 'invalid_json' ? 422 : apiError.status;
}

/** TGI's error_type vocabulary. */
function tgiErrorType(status: number): string {
  if (status === 429) return 'overloaded';
  if (status === 503) return 'unhealthy';
  if (status >= 500) return 'generation';
  return 'validation';
}

/** `metricsEndpoint` is the route's label, never the raw path (unbounded label values would bloat /metrics). */
function record(ctx: RequestContext, metricsEndpoint: string): void {
  const { state } = ctx;
  const status = ctx.statusOverride ?? (ctx.clientGone ? 499 : ctx.res.statusCode);
  const finishReason = ctx.clientGone && ctx.finishReason !== 'error' ? 'cancelled' : ctx.finishReason;
  state.metrics.observeRequest(metricsEndpoint, status, finishReason, ctx.model, ctx.completionTokens ?? 0);
  if (!state.requestLog) return;
  const totalMs = Date.now() - ctx.arrivalMs;
  const generated = ctx.completionTokens ?? 0;
  state.requestLog.record({
    id: ctx.id,
    timeMs: ctx.arrivalMs,
    endpoint: ctx.endpoint,
    model: ctx.model,
    status,
    finishReason,
    promptTokens: ctx.promptTokens,
    completionTokens: ctx.completionTokens,
    queueMs: ctx.queueMs,
    ttftMs: ctx.ttftMs,
    totalMs,
    tokensPerSec: generated > 1 && ctx.decodeMs !== null && ctx.decodeMs > 0 ? ((generated - 1) * 1000) / ctx.decodeMs : null,
    clientIp: clientIp(ctx.req),
    userAgent: ctx.req.headers['user-agent'] ?? null,
    error: ctx.error ?? (ctx.clientGone ? 'The client disconnected before the response finished.' : null),
    prompt: state.contentLogging ? ctx.prompt : null,
    response: state.contentLogging ? ctx.response : null,
    stream: ctx.stream,
  });
}
