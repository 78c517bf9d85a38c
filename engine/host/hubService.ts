// Hub search, fit check and pulls for the Models view, over engine/hub. Pull progress
// (engine/common/pullEvents.ts) is folded into one PullProgress per job for the progress bars.
import { randomBytes } from 'node:crypto';
import { isAbsolute } from 'node:path';
import type { FitVerdict, FitVerdictKind, HubModelSummary, ImportRequest, PullProgress, PullRequest } from '../common/adminApi.js';
import type { ModelDtype } from '../common/manifest.js';
import type { PullEvent } from '../common/pullEvents.js';
import { checkFit, detectMemory, fetchConfig, hubSettings, parseRepoRef, pullModel, resolveRepo, searchModels, type ModelSearchResult } from '../hub/index.js';
import { importCheckpoint } from '../hub/importLocal.js';
import { metadataFiles, weightFiles } from '../hub/repoFiles.js';
import type { Db } from '../store/db.js';
import { dataDir } from '../store/dataDir.js';
import type { ModelRegistry } from '../store/modelRegistry.js';
import { badRequest, httpError, notFound } from './httpUtil.js';
import type { HubService } from './services.js';

// Hub tags (model_type) of the families the converter reads; Gemma 3's text-only checkpoints are tagged gemma3_text.
const SUPPORTED_ARCHITECTURES = ['llama', 'mistral', 'qwen2', 'qwen3', 'phi3', 'gemma2', 'gemma3', 'gemma3_text', 'smollm3', 'granite', 'olmo2'];

export function toSummary(result: ModelSearchResult): HubModelSummary {
  const architecture = result.tags.find((tag) => SUPPORTED_ARCHITECTURES.includes(tag)) ?? null;
  const gatedNote = result.gated ? 'gated: accept its terms on the Hub and set HF_TOKEN' : undefined;
  return {
    repo: result.id,
    downloads: result.downloads,
    likes: result.likes,
    updatedAt: result.lastModified,
    numParams: result.numParams,
    architecture,
    // The search cannot see config.json; "Check fit" reads it and says when an architecture is unsupported.
    supported: true,
    ...(gatedNote ? { unsupportedReason: gatedNote } : {}),
  };
}

const VERDICTS: Record<string, FitVerdictKind> = { fits: 'fits', 'fits-reduced': 'tight', 'does-not-fit': 'too-big' };

/** Folds one pull event into the job's progress. Pure. */
export function applyPullEvent(progress: PullProgress, event: PullEvent): PullProgress {
  switch (event.type) {
    case 'resolved':
      return { ...progress, phase: 'downloading', bytesTotal: event.bytesToDownload, fraction: event.bytesToDownload === 0 ? 1 : 0, name: event.name, detail: `${event.files.length} files` };
    case 'fit':
      return { ...progress, detail: event.message };
    case 'file-start':
      return { ...progress, phase: 'downloading', detail: event.path };
    case 'progress':
      return {
        ...progress,
        phase: 'downloading',
        bytesDone: event.totalBytesDone,
        bytesTotal: event.totalBytes,
        fraction: event.totalBytes > 0 ? event.totalBytesDone / event.totalBytes : null,
        detail: `${event.path}${event.etaSec !== null ? ` · ${Math.ceil(event.etaSec)} s left` : ''}`,
      };
    case 'retry':
      return { ...progress, detail: `retrying ${event.path} (attempt ${event.attempt}): ${event.reason}` };
    case 'verifying':
      return { ...progress, phase: 'verifying', detail: event.path };
    case 'file-done':
      return progress;
    case 'convert-start':
      return { ...progress, phase: 'converting', fraction: 0, detail: `converting to ${event.dtype}` };
    case 'convert-progress':
      return { ...progress, phase: 'converting', fraction: event.tensorsTotal > 0 ? event.tensorsDone / event.tensorsTotal : null, detail: `${event.tensorsDone} of ${event.tensorsTotal} tensors` };
    case 'done':
      return { ...progress, phase: 'done', fraction: 1, name: event.name, detail: event.packageDir };
    case 'error':
      return { ...progress, phase: 'failed', error: event.message };
  }
}

export async function hubService(_db: Db, registry: ModelRegistry, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<HubService> {
  const jobs = new Map<string, PullProgress>();
  const aborts = new Map<string, AbortController>();
  const FINISHED: PullProgress['phase'][] = ['done', 'failed', 'cancelled'];
  /** How a job that threw ends: 'cancelled' when it was stopped, else 'failed' with the reason. */
  const ended = (progress: PullProgress, error: unknown, signal: AbortSignal, stopped: string): PullProgress =>
    signal.aborted ? { ...progress, phase: 'cancelled', error: undefined, detail: stopped } : { ...progress, phase: 'failed', error: (error as Error).message };
  const settings = () => hubSettings({ env });
  return {
    async search(query, limit) {
      try {
        return (await searchModels({ query, limit, hub: { env } })).map(toSummary);
      } catch (error) {
        throw httpError(502, 'hub_unreachable', `${(error as Error).message}`);
      }
    },
    async fit(ref: string, dtype: ModelDtype): Promise<FitVerdict> {
      const hub = settings();
      const { repo, revision } = parseRepoRef(ref);
      let snapshot;
      try {
        snapshot = await resolveRepo(hub, repo, revision);
      } catch (error) {
        throw httpError(502, 'hub_error', (error as Error).message);
      }
      const memory = detectMemory('auto');
      const memorySource = memory.device === 'cuda' ? 'nvidia-smi' : 'system';
      let downloadBytes: number | null = null;
      try {
        downloadBytes = [...metadataFiles(snapshot.files), ...weightFiles(snapshot.files)].reduce((sum, file) => sum + file.bytes, 0);
      } catch {
        /* sharded repos need the index to know; the size stays unknown */
      }
      try {
        const config = await fetchConfig(hub, repo, snapshot.commit);
        const { verdict } = checkFit({ config, dtype, memory });
        return {
          repo,
          dtype,
          verdict: VERDICTS[verdict.kind] ?? 'unknown',
          summary: verdict.message,
          weightsBytes: verdict.requested.weightsBytes,
          requiredBytes: verdict.requested.totalBytes,
          availableBytes: memory.availableBytes,
          memorySource,
          downloadBytes,
        };
      } catch (error) {
        return {
          repo,
          dtype,
          verdict: 'unsupported',
          summary: `${(error as Error).message}`,
          weightsBytes: null,
          requiredBytes: null,
          availableBytes: memory.availableBytes,
          memorySource,
          downloadBytes,
        };
      }
    },
    pull(request: PullRequest, onProgress: (progress: PullProgress) => void): string {
      if ([...jobs.values()].some((job) => job.repo === request.repo && !FINISHED.includes(job.phase))) {
        throw badRequest(`${request.repo} is already downloading; follow it in Downloads.`);
      }
      const jobId = randomBytes(6).toString('hex');
      let progress: PullProgress = { jobId, repo: request.repo, dtype: request.dtype, phase: 'queued', fraction: null, bytesDone: 0, bytesTotal: null, detail: null };
      const emit = (next: PullProgress) => {
        progress = next;
        jobs.set(jobId, progress);
        onProgress(progress);
      };
      emit(progress);
      const ref = request.revision ? `${request.repo}@${request.revision}` : request.repo;
      const abort = new AbortController();
      aborts.set(jobId, abort);
      void pullModel({ ref, dtype: request.dtype, name: request.name, hub: { env }, dataDir: dataDir(env), registry, signal: abort.signal, onEvent: (event) => emit(applyPullEvent(progress, event)) }).then(
        (result) => {
          if (progress.phase !== 'done') emit({ ...progress, phase: 'done', fraction: 1, name: result.name });
        },
        (error: unknown) => {
          if (!abort.signal.aborted) log(`hearth host: pull of ${request.repo} failed: ${(error as Error).message}`);
          emit(ended(progress, error, abort.signal, 'Stopped. Download it again to resume from the bytes on disk.'));
        },
      ).finally(() => aborts.delete(jobId));
      return jobId;
    },
    pulls() {
      return [...jobs.values()];
    },
    cancel(jobId: string): PullProgress {
      const job = jobs.get(jobId);
      if (!job) throw notFound(`No download or import '${jobId}'; it may have finished before the host restarted.`);
      if (!FINISHED.includes(job.phase)) aborts.get(jobId)?.abort();
      return job;
    },
    importLocal(request: ImportRequest, onProgress: (progress: PullProgress) => void): string {
      if (!isAbsolute(request.path)) throw badRequest(`'path' must be an absolute folder path on this machine, got '${request.path}'.`);
      if ([...jobs.values()].some((job) => job.repo === request.path && !FINISHED.includes(job.phase))) {
        throw badRequest(`${request.path} is already being imported; follow it in Downloads.`);
      }
      const jobId = randomBytes(6).toString('hex');
      // The Downloads list shows imports too: the folder in place of a repo, converting from the start.
      let progress: PullProgress = { jobId, repo: request.path, dtype: request.dtype, phase: 'converting', fraction: 0, bytesDone: 0, bytesTotal: null, detail: 'importing a local checkpoint' };
      const emit = (next: PullProgress) => {
        progress = next;
        jobs.set(jobId, progress);
        onProgress(progress);
      };
      emit(progress);
      const abort = new AbortController();
      aborts.set(jobId, abort);
      void importCheckpoint({
        checkpointDir: request.path,
        dtype: request.dtype,
        name: request.name,
        env,
        signal: abort.signal,
        onProgress: (event) => emit({ ...progress, fraction: event.bytesTotal > 0 ? event.bytesDone / event.bytesTotal : null, bytesDone: event.bytesDone, bytesTotal: event.bytesTotal, detail: `tensor ${event.tensorsDone} of ${event.tensorsTotal}` }),
      }).then(
        (result) => emit({ ...progress, phase: 'done', fraction: 1, name: result.name, detail: null }),
        (error: unknown) => {
          if (!abort.signal.aborted) log(`hearth host: import of ${request.path} failed: ${(error as Error).message}`);
          emit(ended(progress, error, abort.signal, 'Stopped; nothing was added to the library.'));
        },
      ).finally(() => aborts.delete(jobId));
      return jobId;
    },
  };
}
