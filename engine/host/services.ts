// The parts of the host that other engine modules provide (library, Hub, bench, export), as the
// admin API needs them. host.ts wires each from its module.
import type {
  BenchRun,
  BenchRunSummary,
  BenchSweepRequest,
  DeleteModelResponse,
  ExportBundleRequest,
  ExportBundleResponse,
  ExportDefaults,
  FitVerdict,
  HubModelSummary,
  LibraryModel,
  PullProgress,
  PullRequest,
  ImportRequest,
  SizingRequest,
  SizingResponse,
  BenchProgress,
} from '../common/adminApi.js';
import type { ModelDtype } from '../common/manifest.js';
import type { ConversationStore } from '../store/conversations.js';
import type { ServingConfig } from '../common/servingConfig.js';

export interface LibraryService {
  list(): Promise<LibraryModel[]>;
  remove(name: string, dtype: ModelDtype | null): Promise<DeleteModelResponse['removed']>;
}

export interface HubService {
  search(query: string, limit: number): Promise<HubModelSummary[]>;
  fit(repo: string, dtype: ModelDtype): Promise<FitVerdict>;
  /** Starts a download + convert; progress goes to `onProgress`. Returns the job id at once. */
  pull(request: PullRequest, onProgress: (progress: PullProgress) => void): string;
  pulls(): PullProgress[];
  /** Stops a running pull or import (a stopped download resumes from its bytes on disk); the job ends as 'cancelled'. */
  cancel(jobId: string): PullProgress;
  /** Starts converting a local checkpoint folder into the library (`hearth import`); progress as pull jobs. */
  importLocal(request: ImportRequest, onProgress: (progress: PullProgress) => void): string;
}

export interface BenchService {
  list(): Promise<BenchRunSummary[]>;
  get(runId: string): Promise<BenchRun | null>;
  /** Starts a sweep against `baseUrl` (the running server); progress goes to `onProgress`. */
  /** Stops a running sweep (requests in flight finish; the run ends as 'cancelled'); null when it is not live. */
  cancel(runId: string): BenchRun | null;
  start(request: BenchSweepRequest, target: { baseUrl: string; apiKey?: string; model: string; /** The config measured (the served model's; one library model's). */ config: ServingConfig | null }, onProgress: (progress: BenchProgress) => void): Promise<string>;
}

export interface ExportService {
  defaults(): Promise<ExportDefaults>;
  sizing(request: SizingRequest): Promise<SizingResponse>;
  bundle(request: ExportBundleRequest): Promise<ExportBundleResponse>;
}

export interface HostServices {
  conversations: ConversationStore;
  library: LibraryService;
  hub: HubService;
  bench: BenchService;
  exporter: ExportService;
}
