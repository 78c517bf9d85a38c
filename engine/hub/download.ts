// One file from the Hub into the HF cache: resumes from the bytes already on disk (HTTP Range on
// `blobs/<etag>.incomplete`, the same partial file huggingface_hub resumes), retries transient
// failures with exponential backoff, and verifies the bytes against the LFS sha256 (or the git blob
// sha1 for small non-LFS files) before the file is moved into place. A mismatch deletes the file.
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { open, truncate, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HfCacheRepo } from './hfCache.js';
import { HubError, throwForResponse, type HubSettings } from './hubSettings.js';
import { isProcessAlive } from '../store/processAlive.js';

export interface RemoteFile {
  /** Path in the repo, e.g. `model-00001-of-00002.safetensors`. */
  path: string;
  bytes: number;
  /** LFS sha256 when the file is stored in LFS (weights, large tokenizers). */
  sha256?: string;
  /** Git blob sha1 (the Hub's `oid`). */
  gitOid: string;
}

/** The blob name in the HF cache: huggingface_hub uses the LFS sha256, else the git oid. */
export function etagOf(file: RemoteFile): string {
  return file.sha256 ?? file.gitOid;
}

export interface DownloadOptions {
  settings: HubSettings;
  cache: HfCacheRepo;
  repo: string;
  commit: string;
  file: RemoteFile;
  /** Retries after a transient failure that made no progress; default 5. */
  maxRetries?: number;
  /** First backoff delay; doubles each retry. Default 500 ms. */
  retryBaseDelayMs?: number;
  signal?: AbortSignal;
  /** Bytes of this file on disk so far (called often; throttle on the consumer side). */
  onProgress?: (fileBytesDone: number) => void;
  onRetry?: (info: { attempt: number; delayMs: number; reason: string; fileBytesDone: number }) => void;
  onVerify?: () => void;
}

export interface DownloadResult {
  /** snapshots/<commit>/<path> */
  path: string;
  /** Bytes that were already on disk when this download started. */
  resumedFromBytes: number;
  /** Bytes received over the network by this call. */
  receivedBytes: number;
}

export function resolveUrl(endpoint: string, repo: string, commit: string, path: string): string {
  return `${endpoint}/${repo}/resolve/${commit}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

export async function downloadToCache(options: DownloadOptions): Promise<DownloadResult> {
  const release = lockBlob(options.cache, etagOf(options.file), options.file.path);
  try {
    return await downloadLocked(options);
  } finally {
    release();
  }
}

/**
 * Two Hearth processes (the app and a terminal) must not append to the same partial file. The lock
 * is a file created exclusively, holding the owner's pid; a lock whose process is gone is taken over.
 */
function lockBlob(cache: HfCacheRepo, etag: string, path: string): () => void {
  const lock = `${cache.incompletePath(etag)}.hearth-lock`;
  mkdirSync(dirname(lock), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(lock, 'utf8'));
      if (owner && owner !== process.pid && isProcessAlive(owner)) {
        throw new HubError(`${path} is being downloaded by another Hearth process (pid ${owner}). Wait for it to finish, then try again.`, 'unreachable');
      }
      rmSync(lock, { force: true }); // left by a process that died
    }
  }
  throw new HubError(`Could not lock ${lock} for downloading ${path}; remove that file if no other Hearth is running.`, 'unreachable');
}


async function downloadLocked(options: DownloadOptions): Promise<DownloadResult> {
  const { cache, file } = options;
  const etag = etagOf(file);
  const incomplete = cache.incompletePath(etag);
  mkdirSync(dirname(incomplete), { recursive: true });

  let onDisk = cache.incompleteBytes(etag);
  if (onDisk > file.bytes) {
    // Longer than the file can be: not a prefix of it.
    await unlink(incomplete);
    onDisk = 0;
  }
  const resumedFromBytes = onDisk;
  let receivedBytes = 0;
  const maxRetries = options.maxRetries ?? 5;
  const baseDelayMs = options.retryBaseDelayMs ?? 500;
  let failuresWithoutProgress = 0;
  let retries = 0;

  while (onDisk < file.bytes) {
    const before = onDisk;
    try {
      receivedBytes += await fetchInto(options, incomplete, onDisk);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      onDisk = cache.incompleteBytes(etag);
      receivedBytes += Math.max(0, onDisk - before);
      if (!isTransient(error)) throw error;
      failuresWithoutProgress = onDisk > before ? 0 : failuresWithoutProgress + 1;
      if (failuresWithoutProgress > maxRetries) {
        throw new HubError(
          `Downloading ${file.path} failed ${failuresWithoutProgress} times in a row (${describe(error)}). ` +
            `${onDisk} of ${file.bytes} bytes are kept on disk; run the same command again to resume.`,
          'unreachable',
        );
      }
      const delayMs = baseDelayMs * 2 ** Math.max(0, failuresWithoutProgress - 1);
      retries++;
      options.onRetry?.({ attempt: retries, delayMs, reason: describe(error), fileBytesDone: onDisk });
      await sleep(delayMs, undefined, { signal: options.signal });
      continue;
    }
    onDisk = cache.incompleteBytes(etag);
  }

  options.onVerify?.();
  const actual = await hashFile(incomplete, file);
  const expected = file.sha256 ?? file.gitOid;
  if (actual !== expected) {
    await unlink(incomplete).catch(() => undefined);
    throw new HubError(
      `${file.path} is corrupt: its ${file.sha256 ? 'sha256' : 'git sha1'} is ${actual}, but the Hub says ${expected}. ` +
        `The file was deleted; run the same command again to download it afresh (if it keeps happening, a proxy or mirror is altering the file).`,
      'integrity',
    );
  }
  cache.commitBlob(etag);
  return { path: cache.linkSnapshot(options.commit, file.path, etag), resumedFromBytes, receivedBytes };
}

/** One HTTP attempt: appends to the partial file from `offset`; returns the bytes received. */
async function fetchInto(options: DownloadOptions, incomplete: string, offset: number): Promise<number> {
  const { settings, file } = options;
  const url = resolveUrl(settings.endpoint, options.repo, options.commit, file.path);
  const headers: Record<string, string> = { 'Accept-Encoding': 'identity' };
  if (offset > 0) headers.Range = `bytes=${offset}-`;
  const response = await settings.fetch(url, { headers, signal: options.signal, redirect: 'follow' });

  if (response.status === 416) {
    // Nothing left to send from `offset`: the partial file is already complete or not a prefix.
    await response.body?.cancel();
    if (offset !== file.bytes) await truncate(incomplete, 0);
    return 0;
  }
  if (!response.ok) {
    if (response.status >= 500 || response.status === 429) {
      await response.body?.cancel();
      throw new TransientHttpError(response.status);
    }
    return throwForResponse(response, options.repo, settings, `Downloading ${file.path}`);
  }
  let start = 0;
  if (response.status === 206) {
    start = Number(/bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')?.[1] ?? NaN);
    if (start !== offset) {
      await response.body?.cancel();
      throw new TransientHttpError(206, `the server resumed at byte ${start} instead of ${offset}`);
    }
  }
  // 200 means the server ignored the Range header: start over from byte 0.
  const handle = await open(incomplete, start === 0 ? 'w' : 'a');
  let received = 0;
  try {
    if (!response.body) return 0;
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      await handle.write(chunk);
      received += chunk.byteLength;
      options.onProgress?.(start + received);
    }
  } finally {
    await handle.close();
  }
  return received;
}

class TransientHttpError extends Error {
  constructor(
    readonly status: number,
    detail?: string,
  ) {
    super(detail ?? `HTTP ${status}`);
    this.name = 'TransientHttpError';
  }
}

/** Network drops, resets, timeouts and 5xx/429 are worth retrying; 4xx and integrity errors are not. */
function isTransient(error: unknown): boolean {
  if (error instanceof TransientHttpError) return true;
  if (error instanceof HubError) return false;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: string }).code ?? (error.cause as { code?: string } | undefined)?.code;
  if (code && ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'EAI_AGAIN'].includes(code)) return true;
  return error.name === 'TypeError' || /terminated|fetch failed|socket|other side closed/i.test(error.message);
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/** sha256 of the file, or the git blob sha1 (`blob <size>\0` + content) for non-LFS files. */
export async function hashFile(path: string, file: Pick<RemoteFile, 'sha256' | 'bytes'>): Promise<string> {
  const hash = createHash(file.sha256 ? 'sha256' : 'sha1');
  if (!file.sha256) hash.update(`blob ${file.bytes}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
