// `hearth pull <repo>[@revision]`: resolve the revision to a commit, list the files, check fit and
// disk space, fetch what conversion needs into the HF cache (reusing what is there, resuming what
// is partial, verifying everything), convert to a package in the library, and record each step in
// the model registry. Progress goes out as typed PullEvents (engine/common/pullEvents.ts) for the
// terminal bar and the GUI alike.
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ModelDtype, ModelManifest } from '../common/manifest.js';
import { weightsBytes, modelShapeFromHfConfig } from '../common/memoryEstimate.js';
import type { PullEvent, PullFileSummary } from '../common/pullEvents.js';
import { dataDir as defaultDataDir, databasePath } from '../store/dataDir.js';
import { openDb } from '../store/db.js';
import { ModelRegistry, defaultModelName, assertSafeModelName } from '../store/modelRegistry.js';
import { assertDiskSpace } from './diskSpace.js';
import { downloadToCache, etagOf, hashFile, type RemoteFile } from './download.js';
import { checkFit, detectMemory, type DetectedMemory } from './fitCheck.js';
import { HfCacheRepo } from './hfCache.js';
import { HubError, hubSettings, type HubOptions, type HubSettings } from './hubSettings.js';
import { assertConvertible, metadataFiles, parseRepoRef, resolveRepo, SAFETENSORS_INDEX, weightFiles, type RepoSnapshot } from './repoFiles.js';
import { isModelPackage, readManifest } from '../convert/modelPackage.js';

export interface PullOptions {
  /** `org/name` or `org/name@revision`. */
  ref: string;
  dtype: ModelDtype;
  /** Library name; default: the repo's name part. */
  name?: string;
  hub?: HubOptions;
  /** Hearth data directory (library + database); default HEARTH_HOME or the OS app-data folder. */
  dataDir?: string;
  /** Use this registry instead of opening the data directory's database. */
  registry?: ModelRegistry;
  onEvent?: (event: PullEvent) => void;
  signal?: AbortSignal;
  maxRetries?: number;
  retryBaseDelayMs?: number;
  /** Free bytes per folder, instead of asking the filesystem (tests inject tiny numbers). */
  freeBytes?: (dir: string) => number | Promise<number>;
  /** Memory to check fit against; default detectMemory(). */
  memory?: DetectedMemory;
  /** Download even when the fit check says it does not fit. */
  force?: boolean;
  /** Minimum interval between 'progress' events, ms. Default 100. */
  progressIntervalMs?: number;
}

export interface PullResult {
  name: string;
  repo: string;
  commit: string;
  snapshotDir: string;
  packageDir: string;
  manifest: ModelManifest;
  /** Bytes received over the network for this pull. */
  receivedBytes: number;
}

export async function pullModel(options: PullOptions): Promise<PullResult> {
  const emit = options.onEvent ?? (() => undefined);
  const home = options.dataDir ?? defaultDataDir(options.hub?.env);
  let ownedDb: ReturnType<typeof openDb> | undefined;
  let registry = options.registry;
  if (!registry) {
    ownedDb = openDb(options.dataDir ? join(options.dataDir, 'hearth.db') : databasePath(options.hub?.env));
    registry = new ModelRegistry(ownedDb, { dataDir: home });
  }
  try {
    return await pullInto(registry, options, emit);
  } catch (error) {
    emit({ type: 'error', message: (error as Error).message });
    throw error;
  } finally {
    ownedDb?.close();
  }
}

async function pullInto(registry: ModelRegistry, options: PullOptions, emit: (event: PullEvent) => void): Promise<PullResult> {
  const { repo, revision } = parseRepoRef(options.ref);
  const name = options.name ?? defaultModelName(repo);
  assertSafeModelName(name);
  const settings = hubSettings(options.hub);
  const cache = new HfCacheRepo(settings.cacheDir, repo);

  const offline = ['1', 'true', 'yes'].includes((options.hub?.env ?? process.env).HF_HUB_OFFLINE?.toLowerCase() ?? '');
  let snapshot;
  try {
    if (offline) throw new HubError(`HF_HUB_OFFLINE is set: not contacting ${settings.endpoint}.`, 'unreachable');
    snapshot = await resolveRepo(settings, repo, revision);
  } catch (error) {
    // Offline or unreachable: a complete snapshot in the HF cache is enough (as in huggingface_hub).
    const cached = error instanceof HubError && error.kind === 'unreachable' ? cachedSnapshot(cache, repo, revision) : undefined;
    if (!cached) throw error;
    snapshot = cached;
  }
  const { commit } = snapshot;
  assertConvertible(snapshot.files);
  cache.writeRef(revision, commit);
  const snapshotDir = cache.snapshotDir(commit);

  let receivedBytes = 0;
  const download = async (file: RemoteFile, onProgress?: (done: number) => void, quiet = false) => {
    const result = await downloadToCache({
      settings,
      cache,
      repo,
      commit,
      file,
      signal: options.signal,
      maxRetries: options.maxRetries,
      retryBaseDelayMs: options.retryBaseDelayMs,
      onProgress,
      onRetry: (info) => emit({ type: 'retry', path: file.path, attempt: info.attempt, delayMs: info.delayMs, reason: info.reason }),
      onVerify: quiet ? undefined : () => emit({ type: 'verifying', path: file.path }),
    });
    receivedBytes += result.receivedBytes;
    return result;
  };
  /**
   * A file already complete in the HF cache (ours or another tool's). Verified like a download:
   * a cached file with the wrong hash is not used (it is fetched again).
   */
  const fromCache = async (file: RemoteFile): Promise<boolean> => {
    const snapshotFile = cache.cachedFile(commit, file.path, file.bytes);
    if (snapshotFile && (await hashFile(snapshotFile, file)) === etagOf(file)) return true;
    const blob = cache.cachedBlob(etagOf(file), file.bytes);
    if (!blob) return false;
    if ((await hashFile(blob, file)) !== etagOf(file)) return false; // a damaged blob: download again
    cache.linkSnapshot(commit, file.path, etagOf(file));
    return true;
  };

  // Small files first: config.json sizes the model, the index names the shards.
  const metadata = metadataFiles(snapshot.files);
  const metadataSources = new Map<string, 'downloaded' | 'hf-cache'>();
  for (const file of metadata) {
    const cached = await fromCache(file);
    // Quiet: these few KB come before 'resolved', which opens the event stream.
    if (!cached) await download(file, undefined, true);
    metadataSources.set(file.path, cached ? 'hf-cache' : 'downloaded');
  }
  const config = JSON.parse(readFileSync(join(snapshotDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const indexPath = join(snapshotDir, SAFETENSORS_INDEX);
  const index = existsSync(indexPath) ? (JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map?: Record<string, string> }) : undefined;
  const weights = weightFiles(snapshot.files, index);
  const files = [...metadata, ...weights];

  const summaries: PullFileSummary[] = files.map((file) => {
    const metadataSource = metadataSources.get(file.path);
    if (metadataSource) return { path: file.path, bytes: file.bytes, cached: metadataSource === 'hf-cache', partialBytes: 0 };
    const cached = cache.cachedFile(commit, file.path, file.bytes) !== undefined || cache.cachedBlob(etagOf(file), file.bytes) !== undefined;
    return { path: file.path, bytes: file.bytes, cached, partialBytes: cached ? 0 : cache.incompleteBytes(etagOf(file)) };
  });
  const totalBytes = files.reduce((sum, file) => sum + file.bytes, 0);
  // Metadata is already fetched at this point; what is left is the weights.
  const bytesToDownload = summaries.reduce((sum, file) => sum + (file.cached || metadataSources.has(file.path) ? 0 : file.bytes - file.partialBytes), 0);
  emit({ type: 'resolved', repo, revision, commit, name, files: summaries, totalBytes, bytesToDownload });

  // Before any large download: does it fit in memory, and on disk?
  const fit = checkFit({ config, dtype: options.dtype, memory: options.memory ?? detectMemory() });
  emit({ type: 'fit', kind: fit.verdict.kind, message: fit.verdict.message });
  if (fit.verdict.kind === 'does-not-fit' && !options.force) {
    throw new HubError(`${repo} in ${options.dtype}: ${fit.verdict.message} Pass --force to download anyway.`, 'unsupported');
  }
  const packageDir = registry.packageDir(name, options.dtype);
  const packageBytes = weightsBytes(modelShapeFromHfConfig(config), options.dtype).storedBytes;
  await assertDiskSpace(
    [
      { dir: settings.cacheDir, bytes: bytesToDownload, what: 'download' },
      { dir: dirname(packageDir), bytes: packageBytes, what: 'converted package' },
    ],
    options.freeBytes,
  );

  registry.beginDownload({
    name,
    repo,
    revision,
    commit,
    files: files.map((file) => ({ path: file.path, bytes: file.bytes, sha256: file.sha256 })),
    snapshotDir,
  });
  try {
    await downloadAll(weights, metadata, { metadataSources, fromCache, download, emit, partialBytes: (file) => cache.incompleteBytes(etagOf(file)), totalBytes, intervalMs: options.progressIntervalMs ?? 100 });
  } catch (error) {
    const message = options.signal?.aborted ? 'Stopped before the download finished. Pull again to resume from the bytes on disk.' : (error as Error).message;
    registry.markFailed(name, message);
    throw error;
  }

  // Convert, unless this exact commit was already converted to this dtype.
  const existing = registry.get(name)?.variants.find((variant) => variant.dtype === options.dtype);
  if (existing?.status === 'ready' && isModelPackage(packageDir)) {
    const manifest = readManifest(packageDir);
    if (manifest.source.revision === commit) {
      registry.markReady(name, options.dtype, manifest.weightsBytes);
      emit({ type: 'done', name, dtype: options.dtype, packageDir, weightsBytes: manifest.weightsBytes, reusedPackage: true });
      return { name, repo, commit, snapshotDir, packageDir, manifest, receivedBytes };
    }
  }
  // A package folder the registry does not vouch for (crash after rename, older commit): rebuild.
  rmSync(packageDir, { recursive: true, force: true });
  registry.beginConversion(name, options.dtype, packageDir);
  emit({ type: 'convert-start', dtype: options.dtype, packageDir });
  let manifest: ModelManifest;
  try {
    const { convertCheckpoint } = await import('../convert/convert.js');
    manifest = await convertCheckpoint({
      checkpointDir: snapshotDir,
      outDir: packageDir,
      dtype: options.dtype,
      name,
      source: { repo, revision: commit },
      onProgress: (progress) => emit({ type: 'convert-progress', ...progress }),
    });
  } catch (error) {
    registry.markFailed(name, `Conversion to ${options.dtype} failed: ${(error as Error).message}`, options.dtype);
    throw error;
  }
  registry.markReady(name, options.dtype, manifest.weightsBytes);
  emit({ type: 'done', name, dtype: options.dtype, packageDir, weightsBytes: manifest.weightsBytes, reusedPackage: false });
  return { name, repo, commit, snapshotDir, packageDir, manifest, receivedBytes };
}

/**
 * The snapshot a ref points to in the HF cache, listed from the cache itself: each entry links to
 * blobs/<etag>, and the etag (sha256 or git sha1) is what the file is verified against.
 */
function cachedSnapshot(cache: HfCacheRepo, repo: string, revision: string): RepoSnapshot | undefined {
  const commit = cache.readRef(revision);
  if (!commit) return undefined;
  const dir = cache.snapshotDir(commit);
  if (!existsSync(join(dir, 'config.json'))) return undefined;
  const files: RemoteFile[] = [];
  const walk = (sub: string) => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const path = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        walk(path);
        continue;
      }
      const full = join(dir, path);
      const etag = basename(lstatSync(full).isSymbolicLink() ? readlinkSync(full) : '');
      if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(etag)) continue; // a copy, not a link: cannot verify it
      files.push({ path, bytes: statSync(full).size, sha256: etag.length === 64 ? etag : undefined, gitOid: etag.length === 40 ? etag : '' });
    }
  };
  walk('');
  return { repo, revision, commit, gated: false, files };
}

interface DownloadAllContext {
  metadataSources: Map<string, 'downloaded' | 'hf-cache'>;
  fromCache: (file: RemoteFile) => Promise<boolean>;
  download: (file: RemoteFile, onProgress?: (done: number) => void) => Promise<{ resumedFromBytes: number }>;
  emit: (event: PullEvent) => void;
  partialBytes: (file: RemoteFile) => number;
  totalBytes: number;
  intervalMs: number;
}

/** Fetches the files one at a time (disk and link stay saturated; resume stays simple). */
async function downloadAll(weights: RemoteFile[], metadata: RemoteFile[], context: DownloadAllContext): Promise<void> {
  const { emit, totalBytes } = context;
  let doneBytes = metadata.reduce((sum, file) => sum + file.bytes, 0); // fetched before 'resolved'
  for (const file of metadata) emit({ type: 'file-done', path: file.path, source: context.metadataSources.get(file.path) ?? 'hf-cache' });
  const startedMs = Date.now();
  let networkBytes = 0;
  for (const file of weights) {
    if (await context.fromCache(file)) {
      doneBytes += file.bytes;
      emit({ type: 'file-done', path: file.path, source: 'hf-cache' });
      continue;
    }
    let lastEmitMs = 0;
    const resumedFromBytes = context.partialBytes(file);
    let lastDone = resumedFromBytes;
    const onProgress = (fileBytesDone: number) => {
      networkBytes += Math.max(0, fileBytesDone - lastDone);
      lastDone = fileBytesDone;
      const now = Date.now();
      if (now - lastEmitMs < context.intervalMs && fileBytesDone < file.bytes) return;
      lastEmitMs = now;
      const elapsedSec = Math.max(0.001, (now - startedMs) / 1000);
      const bytesPerSec = networkBytes / elapsedSec;
      const totalBytesDone = doneBytes + fileBytesDone;
      emit({
        type: 'progress',
        path: file.path,
        fileBytesDone,
        fileBytes: file.bytes,
        totalBytesDone,
        totalBytes,
        bytesPerSec,
        etaSec: bytesPerSec > 0 ? (totalBytes - totalBytesDone) / bytesPerSec : null,
      });
    };
    emit({ type: 'file-start', path: file.path, bytes: file.bytes, resumedFromBytes });
    await context.download(file, onProgress);
    doneBytes += file.bytes;
    emit({ type: 'file-done', path: file.path, source: 'downloaded' });
  }
}

/** The same pull as an async iterator of events (for the GUI host); the result is the last 'done'. */
export function pullModelEvents(options: Omit<PullOptions, 'onEvent'>): AsyncIterable<PullEvent> & { result: Promise<PullResult> } {
  const queue: PullEvent[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  const result = pullModel({
    ...options,
    onEvent: (event) => {
      queue.push(event);
      wake?.();
    },
  }).finally(() => {
    finished = true;
    wake?.();
  });
  result.catch(() => undefined); // surfaced as an 'error' event; `result` still rejects for awaiters
  return {
    result,
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (finished) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
  };
}

export type { HubSettings };
