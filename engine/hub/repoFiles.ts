// Resolving a repo@revision to a commit and its file list (sizes, LFS sha256), and choosing the
// files conversion needs: configs, tokenizer files, and the safetensors weights (the shards the
// index names, so a repo that also ships `consolidated.safetensors` is not downloaded twice).
import { listFiles, modelInfo } from '@huggingface/hub';
import type { RemoteFile } from './download.js';
import { assertRepoId } from './hfCache.js';
import { HubError, hubErrorFrom, type HubSettings } from './hubSettings.js';

export interface RepoSnapshot {
  repo: string;
  /** What the user asked for: a branch, tag or commit. */
  revision: string;
  commit: string;
  gated: false | 'auto' | 'manual';
  /** Every file of the commit (recursive). */
  files: RemoteFile[];
}

/** `org/name@rev` → { repo, revision } (revision defaults to main). */
export function parseRepoRef(ref: string): { repo: string; revision: string } {
  const at = ref.indexOf('@');
  const repo = at === -1 ? ref : ref.slice(0, at);
  const revision = at === -1 ? 'main' : ref.slice(at + 1);
  assertRepoId(repo);
  if (!revision || /\s|\.\./.test(revision)) throw new HubError(`'${revision}' is not a revision: use a branch, tag or commit sha, e.g. ${repo}@main.`, 'not-found');
  return { repo, revision };
}

export async function resolveRepo(settings: HubSettings, repo: string, revision: string): Promise<RepoSnapshot> {
  const common = { hubUrl: settings.endpoint, fetch: settings.fetch };
  let info;
  try {
    info = await modelInfo({ ...common, name: repo, revision, additionalFields: ['sha'] });
  } catch (error) {
    throw hubErrorFrom(error, repo, settings, `Looking up ${repo}@${revision}`);
  }
  const commit = info.sha;
  if (!commit) throw new HubError(`The Hub did not say which commit ${repo}@${revision} is; try a commit sha as the revision.`, 'http');
  const files: RemoteFile[] = [];
  try {
    for await (const entry of listFiles({ ...common, repo: { type: 'model', name: repo }, revision: commit, recursive: true })) {
      if (entry.type !== 'file') continue;
      files.push({ path: entry.path, bytes: entry.lfs?.size ?? entry.size, sha256: entry.lfs?.oid, gitOid: entry.oid ?? '' });
    }
  } catch (error) {
    throw hubErrorFrom(error, repo, settings, `Listing the files of ${repo}@${revision}`);
  }
  return { repo, revision, commit, gated: info.gated, files };
}

const CONFIG_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'chat_template.json',
];
export const SAFETENSORS_INDEX = 'model.safetensors.index.json';

/** Small files conversion reads (always fetched first; the index decides which shards follow). */
export function metadataFiles(files: RemoteFile[]): RemoteFile[] {
  return files.filter((file) => CONFIG_FILES.includes(file.path) || file.path === SAFETENSORS_INDEX);
}

/**
 * The safetensors files to download: the shards the index names, else `model.safetensors`, else
 * every top-level `*.safetensors`. Throws when the repo has no safetensors weights.
 */
export function weightFiles(files: RemoteFile[], index?: { weight_map?: Record<string, string> }): RemoteFile[] {
  const byPath = new Map(files.map((file) => [file.path, file]));
  if (index?.weight_map) {
    const shards = [...new Set(Object.values(index.weight_map))].sort();
    const missing = shards.filter((shard) => !byPath.has(shard));
    if (missing.length) throw new HubError(`${SAFETENSORS_INDEX} names shards the repo does not have: ${missing.join(', ')}.`, 'unsupported');
    return shards.map((shard) => byPath.get(shard)!);
  }
  const single = byPath.get('model.safetensors');
  if (single) return [single];
  const topLevel = files.filter((file) => !file.path.includes('/') && file.path.endsWith('.safetensors') && !file.path.startsWith('consolidated'));
  if (topLevel.length) return topLevel;
  const other = files.filter((file) => /\.(bin|pt|gguf|onnx)$/.test(file.path)).map((file) => file.path);
  throw new HubError(
    `This repo has no safetensors weights${other.length ? ` (it has ${other.slice(0, 3).join(', ')}${other.length > 3 ? ', …' : ''})` : ''}. ` +
      `Hearth converts safetensors checkpoints; pick a repo that ships *.safetensors (most recent models do).`,
    'unsupported',
  );
}

export function assertConvertible(files: RemoteFile[]): void {
  if (!files.some((file) => file.path === 'config.json')) {
    throw new HubError('This repo has no config.json at its top level, so it is not a transformers checkpoint Hearth can convert.', 'unsupported');
  }
}
