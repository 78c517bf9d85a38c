// Typed client for the engine host's admin API (contract: engine/common/adminApi.ts).
import type {
  AdminError,
  AdminEventMap,
  AdminEventType,
  AdminStatus,
  BenchRun,
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
  RequestListResponse,
  RequestLogEntry,
  RequestLogFilter,
  ServeSettings,
  ServeStatus,
  SizingRequest,
  SizingResponse,
} from '../../../engine/common/adminApi.js';
import { ADMIN_EVENT_TYPES, ADMIN_PROXY_PREFIX } from '../../../engine/common/adminApi.js';
import type { HostInfo } from '../../../engine/common/desktopApi.js';
import type { ModelDtype } from '../../../engine/common/manifest.js';
import { filterQuery } from './query.js';

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

export class AdminClient {
  constructor(readonly host: HostInfo) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
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
    return (text ? JSON.parse(text) : undefined) as T;
  }

  status = () => this.call<AdminStatus>('GET', '/api/status');
  library = () => this.call<LibraryResponse>('GET', '/api/library');
  deleteModel = (name: string, dtype?: ModelDtype) =>
    this.call<DeleteModelResponse>('DELETE', `/api/library/${encodeURIComponent(name)}${dtype ? `?dtype=${dtype}` : ''}`);
  searchHub = (query: string) => this.call<HubSearchResponse>('GET', `/api/hub/search?q=${encodeURIComponent(query)}`);
  fit = (repo: string, dtype: ModelDtype) => this.call<FitVerdict>('GET', `/api/hub/fit?repo=${encodeURIComponent(repo)}&dtype=${dtype}`);
  pull = (request: PullRequest) => this.call<PullStarted>('POST', '/api/hub/pull', request);
  pulls = () => this.call<PullListResponse>('GET', '/api/hub/pulls');
  serveStatus = () => this.call<ServeStatus>('GET', '/api/serve');
  startServe = (settings: ServeSettings) => this.call<ServeStatus>('POST', '/api/serve/start', { settings });
  reloadServe = (settings: ServeSettings) => this.call<ServeStatus>('POST', '/api/serve/reload', { settings });
  stopServe = () => this.call<ServeStatus>('POST', '/api/serve/stop');
  dashboard = () => this.call<DashboardSnapshot>('GET', '/api/dashboard');
  requests = (filter: RequestLogFilter) => this.call<RequestListResponse>('GET', `/api/requests${filterQuery(filter)}`);
  request = (id: string) => this.call<RequestLogEntry>('GET', `/api/requests/${encodeURIComponent(id)}`);
  latencyByDay = (filter: RequestLogFilter) => this.call<LatencyByDayResponse>('GET', `/api/requests/latency-by-day${filterQuery(filter)}`);
  benchRuns = () => this.call<BenchRunListResponse>('GET', '/api/bench/runs');
  benchRun = (runId: string) => this.call<BenchRun>('GET', `/api/bench/runs/${encodeURIComponent(runId)}`);
  startBench = (request: BenchSweepRequest) => this.call<BenchStarted>('POST', '/api/bench/runs', request);
  exportDefaults = () => this.call<ExportDefaults>('GET', '/api/export/defaults');
  sizing = (request: SizingRequest) => this.call<SizingResponse>('POST', '/api/export/sizing', request);
  exportBundle = (request: ExportBundleRequest) => this.call<ExportBundleResponse>('POST', '/api/export/bundle', request);

  /** A link that downloads the filtered request log as CSV (token in the query: a link cannot set headers). */
  csvUrl(filter: RequestLogFilter): string {
    const query = filterQuery({ ...filter, limit: undefined, offset: undefined });
    return `${this.host.url}/api/requests.csv${query}${query ? '&' : '?'}token=${encodeURIComponent(this.host.token)}`;
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
    const source = new EventSource(`${this.host.url}/api/events?token=${encodeURIComponent(this.host.token)}`);
    for (const type of ADMIN_EVENT_TYPES) {
      const handler = handlers[type] as ((data: unknown) => void) | undefined;
      if (handler) source.addEventListener(type, (event) => handler(JSON.parse((event as unknown as { data: string }).data)));
    }
    source.onopen = () => handlers.onConnection?.(true);
    source.onerror = () => handlers.onConnection?.(false);
    return () => source.close();
  }
}
