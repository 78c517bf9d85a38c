// Typed client for the engine host's admin API: every call names a route of the table the host
// registers (engine/common/adminRoutes.ts), so its path, params, body and answer are checked.
import type {
  AdminError,
  AdminEventMap,
  AdminEventType,
  BenchSweepRequest,
  ConversationChange,
  ExportBundleRequest,
  ImportRequest,
  PullRequest,
  RequestLogFilter,
  ServeSettings,
  SizingRequest,
} from '../../../engine/common/adminApi.js';
import { ADMIN_ROUTES, adminPath, type AdminBody, type AdminParams, type AdminQuery, type AdminResponse, type AdminRouteName } from '../../../engine/common/adminRoutes.js';
import { ADMIN_EVENT_TYPES, ADMIN_PROXY_PREFIX } from '../../../engine/common/adminApi.js';
import type { HostInfo } from '../../../engine/common/desktopApi.js';
import type { ModelDtype } from '../../../engine/common/manifest.js';

/** An admin API error, with the host's message (what happened, what to do). */
export class AdminRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AdminRequestError';
  }
}

/** What a call passes: path params, query and body, each only where the route has them. */
type CallArgs<K extends AdminRouteName> = (keyof AdminParams<K> extends never ? { params?: AdminParams<K> } : { params: AdminParams<K> }) & {
  query?: AdminQuery<K>;
} & (AdminBody<K> extends undefined ? { body?: undefined } : { body: AdminBody<K> });

export class AdminClient {
  constructor(readonly host: HostInfo) {}

  /** Calls one route of the host's table (engine/common/adminRoutes.ts) by name. */
  async call<K extends AdminRouteName>(name: K, args: CallArgs<K> = {} as CallArgs<K>): Promise<AdminResponse<K>> {
    const { method } = ADMIN_ROUTES[name];
    const path = adminPath(name, (args.params ?? {}) as AdminParams<K>, args.query);
    const body = args.body;
    let response: Response;
    try {
      response = await fetch(`${this.host.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.host.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new AdminRequestError(503, 'unreachable', 'The engine host is not answering (503). If it is restarting, wait a few seconds; otherwise restart Hearth.');
    }
    const text = await response.text();
    if (!response.ok) {
      let message = `The engine host answered ${response.status}.`;
      let code = 'http_error';
      try {
        const parsed = JSON.parse(text) as AdminError;
        message = parsed.error.message;
        code = parsed.error.code;
      } catch {
        /* not JSON: keep the generic message */
      }
      throw new AdminRequestError(response.status, code, message);
    }
    return (text ? JSON.parse(text) : undefined) as AdminResponse<K>;
  }

  status = () => this.call('status');
  library = () => this.call('library');
  deleteModel = (name: string, dtype?: ModelDtype) => this.call('deleteModel', { params: { name }, query: { dtype } });
  searchHub = (query: string) => this.call('hubSearch', { query: { q: query } });
  fit = (repo: string, dtype: ModelDtype) => this.call('hubFit', { query: { repo, dtype } });
  pull = (request: PullRequest) => this.call('pull', { body: request });
  pulls = () => this.call('pulls');
  cancelPull = (jobId: string) => this.call('pullCancel', { params: { id: jobId } });
  importModel = (request: ImportRequest) => this.call('importModel', { body: request });
  serveStatus = () => this.call('serveStatus');
  startServe = (settings: ServeSettings) => this.call('serveStart', { body: { settings } });
  reloadServe = (settings: ServeSettings) => this.call('serveReload', { body: { settings } });
  stopServe = () => this.call('serveStop');
  dashboard = () => this.call('dashboard');
  requests = (filter: RequestLogFilter) => this.call('requests', { query: filter });
  request = (id: string) => this.call('request', { params: { id } });
  latencyByDay = (filter: RequestLogFilter) => this.call('latencyByDay', { query: filter });
  conversations = (q?: string) => this.call('conversations', { query: { q } });
  conversation = (id: string) => this.call('conversation', { params: { id } });
  createConversation = (change: ConversationChange) => this.call('conversationCreate', { body: change });
  updateConversation = (id: string, change: ConversationChange) => this.call('conversationUpdate', { params: { id }, body: change });
  deleteConversation = (id: string) => this.call('conversationDelete', { params: { id } });
  benchRuns = () => this.call('benchRuns');
  benchRun = (runId: string) => this.call('benchRun', { params: { id: runId } });
  startBench = (request: BenchSweepRequest) => this.call('benchStart', { body: request });
  cancelBench = (runId: string) => this.call('benchCancel', { params: { id: runId } });
  exportDefaults = () => this.call('exportDefaults');
  sizing = (request: SizingRequest) => this.call('exportSizing', { body: request });
  exportBundle = (request: ExportBundleRequest) => this.call('exportBundle', { body: request });
  servedModels = () => this.call('serveModels');
  loadServedModel = (model: string) => this.call('serveModelLoad', { body: { model } });
  unloadServedModel = (model: string) => this.call('serveModelUnload', { body: { model } });
  servedModelConfig = (id: string) => this.call('serveModelConfig', { params: { id } });

  /** A link that downloads the filtered request log as CSV (token in the query: a link cannot set headers). */
  csvUrl(filter: RequestLogFilter): string {
    return `${this.host.url}${adminPath('requestsCsv', {}, { ...filter, limit: undefined, offset: undefined, token: this.host.token })}`;
  }

  /** URL of the served OpenAI API through the host's proxy (for the playground). */
  proxyUrl(path: string): string {
    return `${this.host.url}${ADMIN_PROXY_PREFIX}${path}`;
  }

  authHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.host.token}` };
  }

  /** Subscribes to live events; returns the unsubscribe function. EventSource reconnects by itself. */
  subscribe(handlers: { [K in AdminEventType]?: (data: AdminEventMap[K]) => void } & { onConnection?: (open: boolean) => void }): () => void {
    const source = new EventSource(`${this.host.url}${adminPath('events', {}, { token: this.host.token })}`);
    for (const type of ADMIN_EVENT_TYPES) {
      const handler = handlers[type] as ((data: unknown) => void) | undefined;
      if (handler) source.addEventListener(type, (event) => handler(JSON.parse((event as unknown as { data: string }).data)));
    }
    source.onopen = () => handlers.onConnection?.(true);
    source.onerror = () => handlers.onConnection?.(false);
    return () => source.close();
  }
}
