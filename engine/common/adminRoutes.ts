// The admin API's routes, written once: the engine host registers exactly these (one handler per
// name, checked by the compiler), the renderer's client calls them by name with typed params,
// query and body, and engine/host/README.md's route list is checked against this table by a test.
// Runtime-free: a plain table plus types (see ./adminApi.ts for the bodies).
import type {
  AdminStatus,
  BenchRun,
  Conversation,
  ConversationChange,
  ConversationListResponse,
  BenchRunListResponse,
  BenchStarted,
  BenchSweepRequest,
  DashboardSnapshot,
  DeleteModelResponse,
  ExportBundleRequest,
  ExportBundleResponse,
  ExportDefaults,
  FitVerdict,
  HubSearchResponse,
  LatencyByDayResponse,
  LibraryResponse,
  PullListResponse,
  PullRequest,
  PullStarted,
  PullProgress,
  ImportRequest,
  RequestListResponse,
  RequestLogEntry,
  RequestLogFilter,
  ServeStartRequest,
  ServeStatus,
  SizingRequest,
  SizingResponse,
  ServedModelStatus,
  ServedModelsResponse,
  ServeModelRequest,
  ServeModelUnloaded,
} from './adminApi.js';
import type { ServingConfig } from './servingConfig.js';
import type { ModelDtype } from './manifest.js';

export type AdminMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * How a route answers: 'json' (the handler's value as JSON, with the route's status), or 'raw'
 * (the handler writes the response itself: the event stream, the CSV download).
 */
export type AdminAnswer = 'json' | 'raw';

export interface AdminRouteSpec {
  method: AdminMethod;
  /** Path with `:name` parameters, e.g. '/api/library/:name'. */
  path: string;
  /** Success status of a 'json' route. */
  status: 200 | 202;
  answer: AdminAnswer;
  /** One line for the host's README. */
  doc: string;
}

const json = (method: AdminMethod, path: string, doc: string, status: 200 | 202 = 200): AdminRouteSpec => ({ method, path, status, answer: 'json', doc });
const raw = (method: AdminMethod, path: string, doc: string): AdminRouteSpec => ({ method, path, status: 200, answer: 'raw', doc });

export const ADMIN_ROUTES = {
  status: json('GET', '/api/status', 'version, data dir, serving status, which parts this build has'),
  events: raw('GET', '/api/events', 'SSE: `serve`, `dashboard` (1 s), `pull`, `bench`, `requests` (`?token=`: EventSource cannot set headers)'),
  library: json('GET', '/api/library', 'converted models in the library'),
  deleteModel: json('DELETE', '/api/library/:name', 'delete a model, or one variant with `?dtype=` (409 while served)'),
  importModel: json('POST', '/api/library/import', 'convert a local checkpoint folder into the library (`hearth import`); progress as `pull` events', 202),
  hubSearch: json('GET', '/api/hub/search', 'search the Hub (`?q=&limit=`; HF_ENDPOINT, HF_TOKEN honoured)'),
  hubFit: json('GET', '/api/hub/fit', 'will this repo fit here (`?repo=&dtype=`)'),
  pulls: json('GET', '/api/hub/pulls', 'active and recent downloads'),
  pull: json('POST', '/api/hub/pull', 'download and convert a Hub repo; progress arrives as `pull` events', 202),
  pullCancel: json('POST', '/api/hub/pulls/:id/cancel', 'stop a download (it resumes from the bytes on disk when pulled again) or an import'),
  serveStatus: json('GET', '/api/serve', 'what is served; settings → ServingConfig'),
  serveStart: json('POST', '/api/serve/start', 'serve a model'),
  serveReload: json('POST', '/api/serve/reload', 'restart serving with new settings'),
  serveStop: json('POST', '/api/serve/stop', 'stop serving (in-flight requests drain)'),
  dashboard: json('GET', '/api/dashboard', 'the last dashboard sample'),
  requests: json('GET', '/api/requests', 'request log (`?status=&model=&sinceMs=&untilMs=&text=&limit=&offset=`)'),
  requestsCsv: raw('GET', '/api/requests.csv', 'the filtered request log as CSV (same filters)'),
  latencyByDay: json('GET', '/api/requests/latency-by-day', 'daily latency percentiles (same filters)'),
  request: json('GET', '/api/requests/:id', 'one request log row'),
  conversations: json('GET', '/api/conversations', 'the playground\'s saved conversations, newest first (`?q=` searches titles and messages)'),
  conversationCreate: json('POST', '/api/conversations', 'save a new conversation'),
  conversation: json('GET', '/api/conversations/:id', 'one conversation with its messages'),
  conversationUpdate: json('PUT', '/api/conversations/:id', 'rename it, or replace its system prompt or messages'),
  conversationDelete: json('DELETE', '/api/conversations/:id', 'delete a conversation'),
  benchRuns: json('GET', '/api/bench/runs', 'concurrency sweeps run so far (engine/bench)'),
  benchRun: json('GET', '/api/bench/runs/:id', 'one sweep with its levels'),
  benchStart: json('POST', '/api/bench/runs', 'start a sweep against the served model; progress as `bench` events', 202),
  benchCancel: json('POST', '/api/bench/runs/:id/cancel', 'stop a running sweep (it ends as cancelled)'),
  exportDefaults: json('GET', '/api/export/defaults', 'GPUs, prices, the serving config to export'),
  exportSizing: json('POST', '/api/export/sizing', 'GPU sizing for a serving config (engine/export)'),
  exportBundle: json('POST', '/api/export/bundle', 'write a deployment bundle'),
  // Library serving (the Serve view's library mode): the models the one server holds.
  serveModels: json('GET', '/api/serve/models', 'library mode: every servable model, loaded or not (variant, memory, running requests), and the limits'),
  serveModelLoad: json('POST', '/api/serve/models/load', 'library mode: load a model by name (answers once it is ready; 404 / 503 as a request naming it)'),
  serveModelUnload: json('POST', '/api/serve/models/unload', 'library mode: unload a model (409 while it has running requests: a stream is never cut)'),
  serveModelConfig: json('GET', '/api/serve/models/:id/config', 'library mode: the serving config of a loaded model (what Export and the benchmark use)'),
} as const satisfies Record<string, AdminRouteSpec>;

export type AdminRouteName = keyof typeof ADMIN_ROUTES;

type NoParams = Record<never, string>;

/** Per route: path params, query, body and the JSON answer. `undefined` body = none is sent. */
export interface AdminRouteTypes {
  status: { params: NoParams; query: NoParams; body: undefined; response: AdminStatus };
  events: { params: NoParams; query: { token?: string }; body: undefined; response: never };
  library: { params: NoParams; query: NoParams; body: undefined; response: LibraryResponse };
  deleteModel: { params: { name: string }; query: { dtype?: ModelDtype }; body: undefined; response: DeleteModelResponse };
  importModel: { params: NoParams; query: NoParams; body: ImportRequest; response: PullStarted };
  hubSearch: { params: NoParams; query: { q?: string; limit?: number }; body: undefined; response: HubSearchResponse };
  hubFit: { params: NoParams; query: { repo: string; dtype?: ModelDtype }; body: undefined; response: FitVerdict };
  pulls: { params: NoParams; query: NoParams; body: undefined; response: PullListResponse };
  pull: { params: NoParams; query: NoParams; body: PullRequest; response: PullStarted };
  pullCancel: { params: { id: string }; query: NoParams; body: undefined; response: PullProgress };
  serveStatus: { params: NoParams; query: NoParams; body: undefined; response: ServeStatus };
  serveStart: { params: NoParams; query: NoParams; body: ServeStartRequest; response: ServeStatus };
  serveReload: { params: NoParams; query: NoParams; body: ServeStartRequest; response: ServeStatus };
  serveStop: { params: NoParams; query: NoParams; body: undefined; response: ServeStatus };
  dashboard: { params: NoParams; query: NoParams; body: undefined; response: DashboardSnapshot };
  requests: { params: NoParams; query: RequestLogFilter; body: undefined; response: RequestListResponse };
  requestsCsv: { params: NoParams; query: RequestLogFilter & { token?: string }; body: undefined; response: never };
  latencyByDay: { params: NoParams; query: RequestLogFilter; body: undefined; response: LatencyByDayResponse };
  request: { params: { id: string }; query: NoParams; body: undefined; response: RequestLogEntry };
  conversations: { params: NoParams; query: { q?: string }; body: undefined; response: ConversationListResponse };
  conversationCreate: { params: NoParams; query: NoParams; body: ConversationChange; response: Conversation };
  conversation: { params: { id: string }; query: NoParams; body: undefined; response: Conversation };
  conversationUpdate: { params: { id: string }; query: NoParams; body: ConversationChange; response: Conversation };
  conversationDelete: { params: { id: string }; query: NoParams; body: undefined; response: { deleted: string } };
  benchRuns: { params: NoParams; query: NoParams; body: undefined; response: BenchRunListResponse };
  benchRun: { params: { id: string }; query: NoParams; body: undefined; response: BenchRun };
  benchStart: { params: NoParams; query: NoParams; body: BenchSweepRequest; response: BenchStarted };
  benchCancel: { params: { id: string }; query: NoParams; body: undefined; response: BenchRun };
  exportDefaults: { params: NoParams; query: NoParams; body: undefined; response: ExportDefaults };
  exportSizing: { params: NoParams; query: NoParams; body: SizingRequest; response: SizingResponse };
  exportBundle: { params: NoParams; query: NoParams; body: ExportBundleRequest; response: ExportBundleResponse };
  serveModels: { params: NoParams; query: NoParams; body: undefined; response: ServedModelsResponse };
  serveModelLoad: { params: NoParams; query: NoParams; body: ServeModelRequest; response: ServedModelStatus };
  serveModelUnload: { params: NoParams; query: NoParams; body: ServeModelRequest; response: ServeModelUnloaded };
  serveModelConfig: { params: { id: string }; query: NoParams; body: undefined; response: ServingConfig };
}

// Every route has its types and every typed route is in the table (a compile error otherwise).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const routesTyped: Same<AdminRouteName, keyof AdminRouteTypes> = true;
void routesTyped;

export type AdminParams<K extends AdminRouteName> = AdminRouteTypes[K]['params'];
export type AdminQuery<K extends AdminRouteName> = AdminRouteTypes[K]['query'];
export type AdminBody<K extends AdminRouteName> = AdminRouteTypes[K]['body'];
export type AdminResponse<K extends AdminRouteName> = AdminRouteTypes[K]['response'];
/** Routes that take a JSON body. */
export type AdminBodyRoute = { [K in AdminRouteName]: AdminBody<K> extends undefined ? never : K }[AdminRouteName];

/** The names of a path's `:params`, in order. */
export function pathParams(path: string): string[] {
  return [...path.matchAll(/:(\w+)/g)].map((match) => match[1]!);
}

/**
 * The URL path (with query string) of a call: params encoded into the path, unset and empty query
 * values skipped. Throws when a path parameter is missing (a programming error).
 */
export function adminPath<K extends AdminRouteName>(name: K, params: AdminParams<K>, query?: AdminQuery<K>): string {
  const values = params as Record<string, string | undefined>;
  const path = ADMIN_ROUTES[name].path.replace(/:(\w+)/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined || value === '') throw new Error(`admin route ${name} needs its '${key}' parameter`);
    return encodeURIComponent(value);
  });
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}
