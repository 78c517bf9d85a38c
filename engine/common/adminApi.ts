// The engine host's admin API: the contract between the engine host (engine/host/adminApi.ts)
// and the UI (renderer/, in Electron or a plain browser). Runtime-free types only.
//
// Transport: HTTP JSON under `/api/*` on the host's port, plus one Server-Sent-Events stream
// (`GET /api/events`) carrying every live update (dashboard ticks, download progress, serve
// state, bench progress). Every `/api/*` route needs the host's admin token, either as
// `Authorization: Bearer <token>` or, for EventSource (which cannot set headers), `?token=`.
// Errors: non-2xx with an `AdminError` body whose message says what happened and what to do.
//
// The playground talks to the served OpenAI API through `/api/proxy/v1/*` (same origin, the
// admin token instead of the API key), so the UI needs neither CORS nor the API key.
import type { AcceleratorSnapshot, Int8MatMulMode } from './accelerator.js';
import type { DeviceChoice, ServingConfig } from './servingConfig.js';
import type { ModelDtype, ModelManifest } from './manifest.js';
import type { LatencyByDay, RequestLogEntry, RequestLogFilter } from './requestLog.js';

export type { LatencyByDay, RequestLogEntry, RequestLogFilter };

/** Prefix under which the served OpenAI API is proxied for the playground. */
export const ADMIN_PROXY_PREFIX = '/api/proxy';

/** Body of every non-2xx admin response. */
export interface AdminError {
  error: {
    /** Stable machine code, e.g. 'not_found', 'bad_request', 'not_serving', 'conflict', 'unavailable'. */
    code: string;
    /** What happened and what to do about it. */
    message: string;
  };
}

// ---------------------------------------------------------------------------------------------
// Host

/** GET /api/status */
export interface AdminStatus {
  version: string;
  /** Data directory (HEARTH_HOME or the OS app-data folder). */
  dataDir: string;
  /** Where models are stored. */
  modelsDir: string;
  pid: number;
  startedAtMs: number;
  serve: ServeStatus;
}

// ---------------------------------------------------------------------------------------------
// Models: library and Hub

/** One converted model package in the local library. */
export interface LibraryModel {
  /** Library name (what `hearth serve <name>` and the Serve view accept). */
  name: string;
  /** Hub repo it came from, when pulled from the Hub. */
  repo: string | null;
  /** The folder it was imported from (`hearth import`), when it was. */
  sourceDir: string | null;
  /** One entry per converted variant (dtype) of the model. */
  variants: LibraryVariant[];
  /** Sum of the variants' bytes on disk. */
  totalBytes: number;
}

export interface LibraryVariant {
  dtype: ModelDtype;
  /** Package directory on disk. */
  packageDir: string;
  bytesOnDisk: number;
  weightsBytes: number;
  contextLength: number;
  architecture: string;
  createdAt: string;
}

/** GET /api/library */
export interface LibraryResponse {
  models: LibraryModel[];
}

/** DELETE /api/library/:name[?dtype=fp16] → 200 with this body. */
export interface DeleteModelResponse {
  removed: { name: string; dtype: ModelDtype | null; bytesFreed: number };
}

/** GET /api/hub/search?q=&limit= */
export interface HubSearchResponse {
  query: string;
  results: HubModelSummary[];
}

export interface HubModelSummary {
  repo: string;
  downloads: number | null;
  likes: number | null;
  updatedAt: string | null;
  /** Parameter count when the Hub reports it. */
  numParams: number | null;
  architecture: string | null;
  /** Can Hearth convert this architecture? */
  supported: boolean;
  /** Why not, when unsupported. */
  unsupportedReason?: string;
}

export type FitVerdictKind = 'fits' | 'tight' | 'too-big' | 'unsupported' | 'unknown';

/** GET /api/hub/fit?repo=&dtype= */
export interface FitVerdict {
  repo: string;
  dtype: ModelDtype;
  verdict: FitVerdictKind;
  /** Human summary, e.g. "fits in 16 GB system memory with 9 GB to spare". */
  summary: string;
  weightsBytes: number | null;
  /** Memory needed at the default context with one sequence (weights + KV + overhead). */
  requiredBytes: number | null;
  availableBytes: number | null;
  /** Where `availableBytes` was measured. */
  memorySource: MemorySource;
  downloadBytes: number | null;
}

/** POST /api/hub/pull → 202 PullStarted. Progress arrives as `pull` events. */
export interface PullRequest {
  repo: string;
  dtype: ModelDtype;
  revision?: string;
  /** Library name to use; default derived from the repo. */
  name?: string;
}

/** POST /api/library/import → 202 PullStarted: a local checkpoint folder into the library (`hearth import`); progress arrives as `pull` events. */
export interface ImportRequest {
  /** Absolute path of the checkpoint folder on this machine. */
  path: string;
  dtype: ModelDtype;
  /** Library name; default: the folder's name. */
  name?: string;
}

export interface PullStarted {
  jobId: string;
}

export type PullPhase = 'queued' | 'downloading' | 'verifying' | 'converting' | 'done' | 'failed' | 'cancelled';

export interface PullProgress {
  jobId: string;
  repo: string;
  dtype: ModelDtype;
  phase: PullPhase;
  /** 0..1 within the current phase; null when unknown. */
  fraction: number | null;
  bytesDone: number;
  bytesTotal: number | null;
  /** File being downloaded or step being converted. */
  detail: string | null;
  /** Set when phase is 'failed': what happened and what to do. */
  error?: string;
  /** Set when phase is 'done': the library name. */
  name?: string;
}

/** GET /api/hub/pulls — active and recent pull jobs (so a reopened window shows them). */
export interface PullListResponse {
  pulls: PullProgress[];
}

// ---------------------------------------------------------------------------------------------
// Serve

/** What the Serve view edits; the host turns it into a ServingConfig. */
export interface ServeSettings {
  /** Library name or package directory. */
  model: string;
  /** Variant to serve; default: the best available (fp16 > fp32 > int4 on GPU, fp32 first on CPU). */
  dtype?: ModelDtype;
  servedName?: string;
  device: DeviceChoice;
  /** Address the OpenAI API binds; default 127.0.0.1. */
  host?: string;
  /** Port of the OpenAI API; 0 = pick a free one. */
  port: number;
  apiKey?: string;
  corsOrigins: string[];
  /** Most sequences in one decode step (batching.maxBatchSize). */
  maxBatchSize: number;
  /** Longest prompt + completion, tokens (batching.maxTotalTokens); 0 = the model's context. */
  contextLength: number;
  /** KV-cache budget in bytes; 0 = derive from free memory. */
  kvCacheBytes: number;
  /** Store prompt and response text in the request log. */
  contentLogging: boolean;
  /** Serve Vertex AI's /predict as well. */
  vertex?: boolean;
  /** int4 models on the CPU: int8 layer matmuls for prompt tokens or every token (`--cpu-int8-prefill` / `--cpu-int8-matmul`); default 'off'. */
  cpuInt8MatMul?: Int8MatMulMode;
  /**
   * Serve the whole library instead of `model` (`hearth serve --library`): every ready model at
   * this port, loaded on demand by the name a request gives, within these limits.
   */
  library?: ServeLibrarySettings;
}

/** Library mode's limits (the flags of `hearth serve --library`). */
export interface ServeLibrarySettings {
  /** Most models in memory at once (--max-loaded-models). */
  maxLoadedModels: number;
  /** Memory the loaded models may hold together, bytes; 0 = 75 % of this machine's memory (--memory-budget). */
  memoryBudgetBytes: number;
  /** Seconds an idle model stays loaded; -1 = until evicted (--idle-unload-seconds). */
  idleUnloadSeconds: number;
}

export type ServeState = 'stopped' | 'starting' | 'ready' | 'stopping' | 'failed';

/** GET /api/serve, and the body of POST /api/serve/start|stop|reload responses. */
export interface ServeStatus {
  state: ServeState;
  /** Settings of the running (or last attempted) server. */
  settings: ServeSettings | null;
  /** The full serving config in effect (what Export embeds). */
  config: ServingConfig | null;
  /** OpenAI base URL, e.g. http://127.0.0.1:8080/v1, when ready. */
  baseUrl: string | null;
  /** Name the API accepts in `model`. */
  servedName: string | null;
  manifest: Pick<ModelManifest, 'name' | 'architecture' | 'dtype' | 'weightsBytes'> & { contextLength: number } | null;
  startedAtMs: number | null;
  /** Set when state is 'failed': what happened and what to do. */
  error: string | null;
}

/** One model variant of a library server (GET /api/serve/models). */
export interface ServedModelStatus {
  /** `name:dtype`, what a request's `model` may name (or the bare name). */
  id: string;
  name: string;
  dtype: ModelDtype;
  state: 'unloaded' | 'loading' | 'ready' | 'unloading';
  pinned: boolean;
  /** Requests holding the model (running or queued in its engine). */
  activeRequests: number;
  /** Memory it holds (its estimate while loading); null when unloaded. */
  memoryBytes: number | null;
  loadMs: number | null;
  contextLength: number;
}

/** GET /api/serve/models: every servable variant of the library server and the limits they share. */
export interface ServedModelsResponse {
  models: ServedModelStatus[];
  usedBytes: number;
  memoryBudgetBytes: number;
  maxLoadedModels: number;
  idleUnloadSeconds: number;
}

/** POST /api/serve/models/load and /unload body. */
export interface ServeModelRequest {
  /** A library name, or `name:dtype`. */
  model: string;
}

/** POST /api/serve/models/unload → what was unloaded (null: it was not loaded). */
export interface ServeModelUnloaded {
  unloaded: string | null;
}

/** POST /api/serve/start and /api/serve/reload body. */
export interface ServeStartRequest {
  settings: ServeSettings;
}

// ---------------------------------------------------------------------------------------------
// Dashboard

export type MemorySource = 'nvidia-smi' | 'system';

export interface MemoryReading {
  /** Where used/total came from: GPU memory via nvidia-smi, or system RAM. */
  source: MemorySource;
  /** e.g. "NVIDIA L4" or "System memory (CPU execution)". */
  deviceName: string;
  usedBytes: number;
  totalBytes: number;
  /** The engine's own share. */
  engine: { weightsBytes: number; kvCacheBytes: number; otherBytes: number };
  /** The served engine's device (provider, WebGPU adapter, where the KV cache lives, device bytes); null when nothing is served. */
  accelerator: AcceleratorSnapshot | null;
}

export interface LatencyPercentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** GET /api/dashboard, and the `dashboard` event every ~1 s. */
export interface DashboardSnapshot {
  timeMs: number;
  serveState: ServeState;
  model: string | null;
  memory: MemoryReading;
  /** Tokens generated per second over the last tick. */
  tokensPerSec: number;
  /** Total tokens generated since the server started. */
  tokensGenerated: number;
  /** Requests answered since the server started (from the request log). */
  requestsTotal: number;
  requestsFailed: number;
  runningRequests: number;
  queuedRequests: number;
  /**
   * The engine's batch: rows per model step (decoding sequences + prefill chunks), over the steps
   * run since the previous tick — the mean (0 when no step ran), the largest, and how many steps.
   * Not `runningRequests`: admitted requests can wait out a step. `maxBatchSize` is the configured cap.
   */
  batchSize: number;
  peakBatchSize: number;
  stepsInWindow: number;
  maxBatchSize: number;
  /** Over the recent window (`windowMs`) of finished requests. */
  ttftMs: LatencyPercentiles;
  itlMs: LatencyPercentiles;
  windowMs: number;
  /** 0..1 of KV-cache capacity in use. */
  kvCacheUsage: number;
  kvCacheCapacityTokens: number;
  /** The last ≤120 ticks of tokens/s, oldest first, for the chart. */
  history: { timeMs: number; tokensPerSec: number; runningRequests: number; queuedRequests: number }[];
  /** A library server: one row per loaded model (the figures above are their total); empty when one model is served. */
  models: ModelDashboard[];
}

/** One loaded model of a library server on the dashboard. */
export interface ModelDashboard {
  /** `name:dtype`. */
  id: string;
  state: ServedModelStatus['state'];
  memoryBytes: number;
  activeRequests: number;
  runningRequests: number;
  queuedRequests: number;
  tokensPerSec: number;
  /** Tokens generated since this model loaded. */
  tokensGenerated: number;
  /** Requests answered by this model since the server started (from the request log). */
  requestsTotal: number;
  requestsFailed: number;
  ttftMs: LatencyPercentiles;
  itlMs: LatencyPercentiles;
  kvCacheUsage: number;
}

// ---------------------------------------------------------------------------------------------
// Request log

/**
 * GET /api/requests?status=2xx|4xx|5xx|<code>&model=&sinceMs=&untilMs=&text=&limit=&offset=
 * GET /api/requests.csv?(same filters) → text/csv
 * GET /api/requests/latency-by-day?(same filters) → LatencyByDayResponse
 * GET /api/requests/:id → RequestLogEntry
 */
export interface RequestListResponse {
  total: number;
  entries: RequestLogEntry[];
  /** Distinct models seen, for the filter dropdown. */
  models: string[];
}

export interface LatencyByDayResponse {
  days: LatencyByDay[];
}

// ---------------------------------------------------------------------------------------------
// Conversations (the playground's, kept in the database)

export interface ConversationMessage {
  role: 'user' | 'assistant';
  content: string;
  /** An assistant reply's reasoning (`reasoning_content`); never sent back to the model. */
  reasoning?: string;
  /** The model that wrote an assistant reply. */
  model?: string;
  /** finishReason: why the reply ended ('stop', 'length', …), so a reopened one still says it hit max tokens. */
  timings?: { ttftMs: number | null; totalMs: number; completionTokens: number | null; tokensPerSec: number | null; finishReason?: string | null };
  /** A reply that failed or was stopped: what happened. */
  error?: string;
}

export interface ConversationSummary {
  id: string;
  title: string;
  messageCount: number;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface Conversation {
  id: string;
  title: string;
  systemPrompt: string;
  messages: ConversationMessage[];
  createdAtMs: number;
  updatedAtMs: number;
}

/** GET /api/conversations?q= */
export interface ConversationListResponse {
  conversations: ConversationSummary[];
}

/** POST /api/conversations body (all optional), and PUT /api/conversations/:id (the fields to change). */
export interface ConversationChange {
  title?: string;
  systemPrompt?: string;
  messages?: ConversationMessage[];
}

// ---------------------------------------------------------------------------------------------
// Benchmark

/** POST /api/bench/runs body: a concurrency sweep against the running server. */
export interface BenchSweepRequest {
  /** Label shown in the run list. */
  label?: string;
  concurrencyLevels: number[];
  promptTokens: number;
  outputTokens: number;
  /** Requests per concurrency level. */
  requestsPerLevel: number;
  /**
   * A library server: the model to measure (`name` or `name:dtype`; it is loaded first, so the
   * load is not measured). Required there; ignored when one model is served.
   */
  model?: string;
}

export interface BenchStarted {
  runId: string;
}

export interface BenchLevelResult {
  concurrency: number;
  requests: number;
  errors: number;
  /** Aggregate generated tokens per second across all concurrent requests. */
  throughputTokensPerSec: number;
  requestsPerSec: number;
  ttftMs: LatencyPercentiles;
  itlMs: LatencyPercentiles;
  e2eMs: LatencyPercentiles;
}

export type BenchRunState = 'running' | 'done' | 'failed' | 'cancelled';

export interface BenchRunSummary {
  runId: string;
  label: string;
  state: BenchRunState;
  startedAtMs: number;
  model: string;
  device: string;
  /** Best aggregate tokens/s over the levels (for the list). */
  peakThroughputTokensPerSec: number | null;
}

/** GET /api/bench/runs/:id */
export interface BenchRun extends BenchRunSummary {
  sweep: BenchSweepRequest;
  levels: BenchLevelResult[];
  error: string | null;
  /** Serving config measured (batching settings). */
  config: ServingConfig | null;
}

/** GET /api/bench/runs */
export interface BenchRunListResponse {
  runs: BenchRunSummary[];
}

export interface BenchProgress {
  runId: string;
  state: BenchRunState;
  /** Levels finished so far / in total. */
  levelsDone: number;
  levelsTotal: number;
  /** The level just finished, when one did. */
  level?: BenchLevelResult;
  error?: string;
}

// ---------------------------------------------------------------------------------------------
// Export: sizing and bundle

export interface GpuSpec {
  name: string;
  memoryBytes: number;
}

export interface GpuPrice {
  gpu: string;
  /** USD per hour for one GPU including its host share. */
  usdPerHour: number;
}

/** The engine a bundle runs in production: Hearth's own, vLLM or TGI (engine/export/engines). */
export type ExportEngine = 'hearth' | 'vllm' | 'tgi';

/** GET /api/export/defaults */
export interface ExportDefaults {
  /** The engines a bundle can target, with what each pins (image tag) — the view's choice. */
  engines: { name: ExportEngine; label: string }[];
  gpus: GpuSpec[];
  prices: GpuPrice[];
  /** The config of the running server, or of the last one, or null. */
  config: ServingConfig | null;
  /** Default bundle directory (under the data dir). */
  outDir: string;
}

/** POST /api/export/sizing body. */
export interface SizingRequest {
  config: ServingConfig;
  gpus: GpuSpec[];
  prices: GpuPrice[];
  /** Target request rate for the replica count; default 1 req/s. */
  targetRequestsPerSec?: number;
  /** Measured throughput to base replicas on; default from the latest bench run. */
  measuredRequestsPerSec?: number;
}

export interface SizingRow {
  gpu: string;
  memoryBytes: number;
  weightsBytes: number;
  /** KV cache for context × concurrent sequences. */
  kvCacheBytes: number;
  /** Activations + runtime overhead. */
  overheadBytes: number;
  requiredBytes: number;
  fits: boolean;
  /** Most concurrent sequences at full context that fit on this GPU (0 when the weights don't fit). */
  maxConcurrency: number;
  usdPerHour: number | null;
  usdPerMonth: number | null;
  replicas: number | null;
}

export interface SizingResponse {
  rows: SizingRow[];
  /** Assumptions and caveats, e.g. "overhead = 10% + 512 MiB". */
  notes: string[];
}

/** POST /api/export/bundle body. */
export interface ExportBundleRequest {
  config: ServingConfig;
  /** Absolute directory to write; default ExportDefaults.outDir. */
  outDir?: string;
  target: 'gpu' | 'cpu';
  /** Default hearth. vllm and tgi serve the Hub checkpoint the package was pulled from. */
  engine?: ExportEngine;
  /** Bake the model into the image (true) or mount it from a volume (false); Hearth only. */
  bakeModel: boolean;
  gpus?: GpuSpec[];
  prices?: GpuPrice[];
}

export interface ExportBundleResponse {
  outDir: string;
  engine: ExportEngine;
  /** What the pods run (the built image, or vLLM's/TGI's pinned one). */
  image: string;
  /** Files written, relative to outDir. */
  files: string[];
  /** The first step the bundle's README gives (build, or compose up). */
  next: string;
}

// ---------------------------------------------------------------------------------------------
// Live events: GET /api/events?token= (text/event-stream). Each SSE `event:` is the `type`
// below and its `data:` is the JSON payload.

export interface AdminEventMap {
  /** Sent once on connect, then whenever serving changes. */
  serve: ServeStatus;
  /** ~Every second. */
  dashboard: DashboardSnapshot;
  pull: PullProgress;
  bench: BenchProgress;
  /** The request log gained rows (the Requests view refreshes). */
  requests: { total: number };
}

export type AdminEventType = keyof AdminEventMap;
export const ADMIN_EVENT_TYPES: readonly AdminEventType[] = ['serve', 'dashboard', 'pull', 'bench', 'requests'];

export type AdminEvent = { [K in AdminEventType]: { type: K; data: AdminEventMap[K] } }[AdminEventType];
