// The standard Hugging Face cache layout, shared with huggingface_hub (Python), transformers,
// @huggingface/hub and every other tool that honours HF_HOME / HF_HUB_CACHE:
//
//   <cache>/models--<org>--<name>/
//     blobs/<etag>                    file contents; etag = LFS sha256, or git blob sha1 for small files
//     blobs/<etag>.incomplete         a partial download (huggingface_hub resumes these too)
//     snapshots/<commit>/<path>       relative symlink → ../../blobs/<etag> (a copy where symlinks fail)
//     refs/<revision>                 the commit a branch/tag pointed to when last resolved
//
// Files other tools downloaded are reused without touching the network; files Hearth downloads
// land in the same places, so those tools reuse them too.
import { existsSync, mkdirSync, readFileSync, renameSync, copyFileSync, symlinkSync, unlinkSync, writeFileSync, lstatSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';

export function hfHomeDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
}

export function hfHubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE ?? join(hfHomeDir(env), 'hub');
}

const REPO_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const COMMIT_SHA = /^[0-9a-f]{40}$/;

/** Throws unless `repo` is `org/name` with Hub-legal characters (it becomes a folder name). */
export function assertRepoId(repo: string): void {
  if (!REPO_ID.test(repo) || repo.includes('..')) {
    throw new Error(`'${repo}' is not a Hub model id: expected <org>/<name>, e.g. HuggingFaceTB/SmolLM2-135M-Instruct.`);
  }
}

export class HfCacheRepo {
  readonly root: string;

  constructor(
    readonly cacheDir: string,
    readonly repo: string,
  ) {
    assertRepoId(repo);
    this.root = join(cacheDir, `models--${repo.split('/').join('--')}`);
  }

  blobPath(etag: string): string {
    if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(etag)) throw new Error(`'${etag}' is not a sha1/sha256 etag (bug)`);
    return join(this.root, 'blobs', etag);
  }

  incompletePath(etag: string): string {
    return `${this.blobPath(etag)}.incomplete`;
  }

  snapshotDir(commit: string): string {
    if (!COMMIT_SHA.test(commit)) throw new Error(`'${commit}' is not a commit sha (bug)`);
    return join(this.root, 'snapshots', commit);
  }

  /** Path of a repo file inside a snapshot; refuses paths that would leave the snapshot. */
  snapshotPath(commit: string, path: string): string {
    const dir = this.snapshotDir(commit);
    const full = resolve(dir, path);
    if (!full.startsWith(dir + sep)) throw new Error(`The Hub listed a file path '${path}' that escapes the snapshot folder; refusing it.`);
    return full;
  }

  /** Commit a ref pointed to when a tool last resolved it, or undefined. */
  readRef(revision: string): string | undefined {
    if (COMMIT_SHA.test(revision)) return revision;
    const file = join(this.root, 'refs', revision);
    if (!isInside(file, join(this.root, 'refs'))) return undefined;
    if (!existsSync(file)) return undefined;
    const commit = readFileSync(file, 'utf8').trim();
    return COMMIT_SHA.test(commit) ? commit : undefined;
  }

  writeRef(revision: string, commit: string): void {
    if (COMMIT_SHA.test(revision)) return;
    const file = join(this.root, 'refs', revision);
    if (!isInside(file, join(this.root, 'refs'))) return;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, commit);
  }

  /** The snapshot file when it resolves to a complete blob of `bytes` bytes, else undefined. */
  cachedFile(commit: string, path: string, bytes: number): string | undefined {
    const file = this.snapshotPath(commit, path);
    try {
      return statSync(file).size === bytes ? file : undefined;
    } catch {
      return undefined;
    }
  }

  /** A complete blob another tool (or an earlier pull of another revision) downloaded. */
  cachedBlob(etag: string, bytes: number): string | undefined {
    const file = this.blobPath(etag);
    try {
      return statSync(file).size === bytes ? file : undefined;
    } catch {
      return undefined;
    }
  }

  /** Bytes of a partial download on disk (0 when none). */
  incompleteBytes(etag: string): number {
    try {
      return statSync(this.incompletePath(etag)).size;
    } catch {
      return 0;
    }
  }

  /** Moves a finished `.incomplete` into place as the blob. */
  commitBlob(etag: string): string {
    const blob = this.blobPath(etag);
    renameSync(this.incompletePath(etag), blob);
    return blob;
  }

  /** Makes snapshots/<commit>/<path> point at the blob, as huggingface_hub does (relative symlink). */
  linkSnapshot(commit: string, path: string, etag: string): string {
    const link = this.snapshotPath(commit, path);
    const blob = this.blobPath(etag);
    mkdirSync(dirname(link), { recursive: true });
    try {
      if (lstatSync(link)) unlinkSync(link);
    } catch {
      // absent: nothing to replace
    }
    try {
      symlinkSync(relative(dirname(link), blob), link);
    } catch {
      // Windows without developer mode cannot symlink; huggingface_hub then copies too.
      copyFileSync(blob, link);
    }
    return link;
  }
}

function isInside(file: string, dir: string): boolean {
  return resolve(file).startsWith(resolve(dir) + sep);
}
