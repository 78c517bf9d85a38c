// The model library: what Hearth has pulled and converted, in the shared SQLite database
// (migration namespace 'models'). One row per library name; one variant row per converted dtype.
//
// Status of a model row:
//   downloading  a pull is fetching files (pid = the pulling process)
//   converting   files are complete and a variant is being converted (pid = the converting process)
//   ready        at least one variant is converted and usable
//   failed       the last pull/convert failed; `error` says why
//   interrupted  a pull or conversion died with its process (crash, kill, reboot). Pulling again
//                resumes from the bytes on disk; it is never shown as ready.
// `recoverInterrupted()` (run when the registry opens) turns rows whose process is gone into
// `interrupted`, so a crash is never mistaken for a model that is still downloading or ready.
//
// Library names are what users type (`hearth serve <name>`, `hearth rm <name>`); they become
// folder names under <dataDir>/models, so `assertSafeModelName` rejects anything that could
// escape that folder (separators, '..', absolute paths, control characters).
import { existsSync, rmSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { MODEL_DTYPES, type ModelDtype } from '../common/manifest.js';
import { dataDir } from './dataDir.js';
import { migrate, type Db } from './db.js';
import { isProcessAlive } from './processAlive.js';

export type ModelStatus = 'downloading' | 'converting' | 'ready' | 'failed' | 'interrupted';
export type VariantStatus = 'converting' | 'ready' | 'failed' | 'interrupted';

export interface ModelFileRecord {
  path: string;
  bytes: number;
  sha256?: string;
}

export interface ModelVariant {
  dtype: ModelDtype;
  /** The converted package directory. */
  path: string;
  status: VariantStatus;
  weightsBytes: number | null;
  error: string | null;
  createdAt: string;
}

export interface ModelRecord {
  name: string;
  repo: string;
  /** What the user asked for (branch, tag or commit). */
  revision: string;
  /** The commit it resolved to. */
  commit: string | null;
  status: ModelStatus;
  error: string | null;
  files: ModelFileRecord[];
  totalBytes: number;
  /** Where the checkpoint files are (the HF cache snapshot folder). */
  snapshotDir: string | null;
  pid: number | null;
  variants: ModelVariant[];
  createdAt: string;
  updatedAt: string;
  lastUsedAt: string | null;
}

const MIGRATIONS = [
  `CREATE TABLE models (
    name TEXT PRIMARY KEY,
    repo TEXT NOT NULL,
    revision TEXT NOT NULL,
    commit_sha TEXT,
    status TEXT NOT NULL CHECK (status IN ('downloading', 'converting', 'ready', 'failed', 'interrupted')),
    error TEXT,
    files_json TEXT NOT NULL DEFAULT '[]',
    total_bytes INTEGER NOT NULL DEFAULT 0,
    snapshot_dir TEXT,
    pid INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_used_at TEXT
  );
  CREATE TABLE model_variants (
    model_name TEXT NOT NULL REFERENCES models(name) ON DELETE CASCADE,
    dtype TEXT NOT NULL CHECK (dtype IN ('fp32', 'fp16', 'int4')),
    path TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('converting', 'ready', 'failed', 'interrupted')),
    weights_bytes INTEGER,
    error TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (model_name, dtype)
  );`,
];

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Throws a user-facing error unless `name` is a plain library name (it becomes a folder name). */
export function assertSafeModelName(name: string): void {
  if (!SAFE_NAME.test(name) || name.includes('..')) {
    throw new ModelNameError(
      `'${name}' is not a valid model name: use letters, digits, '.', '_' and '-' (no slashes or '..'), up to 128 characters, e.g. SmolLM2-135M-Instruct.`,
    );
  }
}

/** A variant cannot be deleted now: a server uses it, or a conversion is writing it. */
/** How a model imported from a local folder records its source in the `repo` column. */
const LOCAL_SOURCE_PREFIX = 'local:';

/** The folder a model was imported from (`hearth import`), or null for a Hub pull. */
export function localSource(model: Pick<ModelRecord, 'repo'>): string | null {
  return model.repo.startsWith(LOCAL_SOURCE_PREFIX) ? model.repo.slice(LOCAL_SOURCE_PREFIX.length) : null;
}

export class ModelInUseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelInUseError';
  }
}

export class ModelNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelNameError';
  }
}

/** The default library name for a repo: its name part (`org/SmolLM2-135M` → `SmolLM2-135M`). */
export function defaultModelName(repo: string): string {
  const name = repo.split('/').pop() ?? repo;
  return name.replace(/[^A-Za-z0-9._-]/g, '-').replace(/\.\.+/g, '.').replace(/^[^A-Za-z0-9]+/, '').slice(0, 128) || 'model';
}

interface ModelRow {
  name: string;
  repo: string;
  revision: string;
  commit_sha: string | null;
  status: ModelStatus;
  error: string | null;
  files_json: string;
  total_bytes: number;
  snapshot_dir: string | null;
  pid: number | null;
  created_at: string;
  updated_at: string;
  last_used_at: string | null;
}

interface VariantRow {
  model_name: string;
  dtype: ModelDtype;
  path: string;
  status: VariantStatus;
  weights_bytes: number | null;
  error: string | null;
  created_at: string;
}


export class ModelRegistry {
  /** <dataDir>/models: every converted package lives under it. */
  readonly modelsDir: string;

  constructor(
    private readonly db: Db,
    options: { dataDir?: string; isProcessAlive?: (pid: number) => boolean } = {},
  ) {
    migrate(db, 'models', MIGRATIONS);
    this.modelsDir = resolve(options.dataDir ?? dataDir(), 'models');
    this.isProcessAlive = options.isProcessAlive ?? isProcessAlive;
    this.recoverInterrupted();
  }

  private readonly isProcessAlive: (pid: number) => boolean;

  /** Where a variant of `name` is converted to: <dataDir>/models/<name>/<dtype>. */
  packageDir(name: string, dtype: ModelDtype): string {
    assertSafeModelName(name);
    const dir = resolve(this.modelsDir, name, dtype);
    if (!dir.startsWith(this.modelsDir + sep)) throw new ModelNameError(`'${name}' would leave the models folder; refusing it.`);
    return dir;
  }

  /**
   * Rows left 'downloading'/'converting' by a process that no longer exists become 'interrupted'
   * (and their half-converted variants too): resumable, never ready. Returns the names changed.
   */
  recoverInterrupted(): string[] {
    const stale = (this.db.prepare(`SELECT name, status, pid FROM models WHERE status IN ('downloading', 'converting')`).all() as Pick<ModelRow, 'name' | 'status' | 'pid'>[])
      .filter((row) => row.pid === null || !this.isProcessAlive(row.pid));
    const now = new Date().toISOString();
    for (const row of stale) {
      const what = row.status === 'downloading' ? 'download' : 'conversion';
      this.db
        .prepare(`UPDATE models SET status = 'interrupted', pid = NULL, updated_at = ?, error = ? WHERE name = ?`)
        .run(now, `The ${what} was interrupted (the process stopped). Pull again to resume from the files already on disk.`, row.name);
      this.db.prepare(`UPDATE model_variants SET status = 'interrupted', error = 'conversion interrupted' WHERE model_name = ? AND status = 'converting'`).run(row.name);
    }
    return stale.map((row) => row.name);
  }

  get(name: string): ModelRecord | undefined {
    const row = this.db.prepare('SELECT * FROM models WHERE name = ?').get(name) as ModelRow | undefined;
    return row && this.toRecord(row);
  }

  list(): ModelRecord[] {
    return (this.db.prepare('SELECT * FROM models ORDER BY COALESCE(last_used_at, updated_at) DESC').all() as ModelRow[]).map((row) => this.toRecord(row));
  }

  /** Starts (or restarts) a pull of `repo` under `name`, owned by this process. */
  beginDownload(input: { name: string; repo: string; revision: string; commit: string; files: ModelFileRecord[]; snapshotDir: string }): void {
    assertSafeModelName(input.name);
    const existing = this.get(input.name);
    if (existing && existing.repo !== input.repo) {
      throw new ModelNameError(`The library already has a model named '${input.name}' (from ${existing.repo}). Choose another name with --name, or remove it first (hearth rm ${input.name}).`);
    }
    if (existing && (existing.status === 'downloading' || existing.status === 'converting') && existing.pid !== null && existing.pid !== process.pid) {
      throw new ModelNameError(`'${input.name}' is being ${existing.status === 'downloading' ? 'downloaded' : 'converted'} by another Hearth process (pid ${existing.pid}). Wait for it to finish.`);
    }
    const now = new Date().toISOString();
    const totalBytes = input.files.reduce((sum, file) => sum + file.bytes, 0);
    this.db
      .prepare(
        `INSERT INTO models (name, repo, revision, commit_sha, status, error, files_json, total_bytes, snapshot_dir, pid, created_at, updated_at)
         VALUES (@name, @repo, @revision, @commit, 'downloading', NULL, @files, @totalBytes, @snapshotDir, @pid, @now, @now)
         ON CONFLICT(name) DO UPDATE SET revision = excluded.revision, commit_sha = excluded.commit_sha,
           status = 'downloading',
           error = NULL, files_json = excluded.files_json, total_bytes = excluded.total_bytes,
           snapshot_dir = excluded.snapshot_dir, pid = excluded.pid, updated_at = excluded.updated_at`,
      )
      .run({ ...input, files: JSON.stringify(input.files), totalBytes, pid: process.pid, now });
  }

  /**
   * Starts importing a local checkpoint folder as `name` (`hearth import`): recorded with its
   * folder and file hashes, no Hub repo or commit (see localSource). Re-importing the same folder
   * adds or replaces a variant; another folder under the same name is refused.
   */
  beginImport(input: { name: string; sourceDir: string; files: ModelFileRecord[] }): void {
    assertSafeModelName(input.name);
    const repo = `${LOCAL_SOURCE_PREFIX}${input.sourceDir}`;
    const existing = this.get(input.name);
    if (existing && existing.repo !== repo) {
      const from = localSource(existing) ?? existing.repo;
      throw new ModelNameError(`The library already has a model named '${input.name}' (from ${from}). Choose another name with --name, or remove it first (hearth rm ${input.name}).`);
    }
    const now = new Date().toISOString();
    const totalBytes = input.files.reduce((sum, file) => sum + file.bytes, 0);
    this.db
      .prepare(
        `INSERT INTO models (name, repo, revision, commit_sha, status, error, files_json, total_bytes, snapshot_dir, pid, created_at, updated_at)
         VALUES (@name, @repo, 'local', NULL, 'converting', NULL, @files, @totalBytes, @sourceDir, @pid, @now, @now)
         ON CONFLICT(name) DO UPDATE SET status = 'converting', error = NULL, files_json = excluded.files_json,
           total_bytes = excluded.total_bytes, pid = excluded.pid, updated_at = excluded.updated_at`,
      )
      .run({ name: input.name, repo, files: JSON.stringify(input.files), totalBytes, sourceDir: input.sourceDir, pid: process.pid, now });
  }

  /** Files are on disk; converting `dtype` into `path`. */
  beginConversion(name: string, dtype: ModelDtype, path: string): void {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      this.db.prepare(`UPDATE models SET status = 'converting', pid = ?, error = NULL, updated_at = ? WHERE name = ?`).run(process.pid, now, name);
      this.db
        .prepare(
          `INSERT INTO model_variants (model_name, dtype, path, status, weights_bytes, error, created_at) VALUES (?, ?, ?, 'converting', NULL, NULL, ?)
           ON CONFLICT(model_name, dtype) DO UPDATE SET path = excluded.path, status = 'converting', error = NULL, weights_bytes = NULL, created_at = excluded.created_at`,
        )
        .run(name, dtype, path, now);
    })();
  }

  markReady(name: string, dtype: ModelDtype, weightsBytes: number): void {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      this.db.prepare(`UPDATE model_variants SET status = 'ready', weights_bytes = ?, error = NULL WHERE model_name = ? AND dtype = ?`).run(weightsBytes, name, dtype);
      this.db.prepare(`UPDATE models SET status = 'ready', pid = NULL, error = NULL, updated_at = ? WHERE name = ?`).run(now, name);
    })();
  }

  /** The pull or conversion failed: keep the row (files may be resumable) with the error. */
  markFailed(name: string, error: string, dtype?: ModelDtype): void {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      if (dtype) this.db.prepare(`UPDATE model_variants SET status = 'failed', error = ? WHERE model_name = ? AND dtype = ?`).run(error, name, dtype);
      const hasReady = this.db.prepare(`SELECT 1 FROM model_variants WHERE model_name = ? AND status = 'ready'`).get(name);
      // A failed extra variant leaves the model usable through the variants that are ready.
      this.db.prepare(`UPDATE models SET status = ?, error = ?, pid = NULL, updated_at = ? WHERE name = ?`).run(hasReady ? 'ready' : 'failed', error, now, name);
    })();
  }

  touch(name: string): void {
    this.db.prepare(`UPDATE models SET last_used_at = ? WHERE name = ?`).run(new Date().toISOString(), name);
  }

  /**
   * A ready package for `name` (optionally `name:dtype`): the requested dtype, else the most
   * recently converted ready variant.
   */
  readyVariant(nameWithDtype: string): { model: ModelRecord; variant: ModelVariant } | undefined {
    const [name, dtype, ...rest] = nameWithDtype.split(':') as [string, string | undefined];
    assertSafeModelName(name);
    if (rest.length || (dtype !== undefined && !MODEL_DTYPES.includes(dtype as ModelDtype))) {
      throw new ModelNameError(`'${nameWithDtype}' is not a valid model name: use <name> or <name>:<dtype> with dtype ${MODEL_DTYPES.join(', ')}.`);
    }
    const model = this.get(name);
    if (!model) return undefined;
    const ready = model.variants.filter((variant) => variant.status === 'ready' && (!dtype || variant.dtype === dtype));
    ready.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    return ready[0] && { model, variant: ready[0] };
  }

  /** Deletes the rows of `name` and its converted packages (never files outside the models folder). */
  remove(name: string): ModelRecord | undefined {
    assertSafeModelName(name);
    const model = this.get(name);
    if (!model) return undefined;
    const dir = resolve(this.modelsDir, name);
    if (dir.startsWith(this.modelsDir + sep) && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    this.db.prepare('DELETE FROM models WHERE name = ?').run(name);
    return model;
  }

  /**
   * Deletes one converted variant: its package folder and its row. The model row and its
   * downloaded checkpoint files stay, so a later pull converts the dtype again without
   * re-downloading. `servingPids(packageDir)` lists the processes serving that folder (the
   * serving marks of engine/hub/library.ts, which this layer cannot import); any refuses it.
   */
  removeVariant(name: string, dtype: ModelDtype, servingPids: (packageDir: string) => readonly number[] = () => []): ModelVariant | undefined {
    assertSafeModelName(name);
    const model = this.get(name);
    const variant = model?.variants.find((candidate) => candidate.dtype === dtype);
    if (!model || !variant) return undefined;
    const dir = this.packageDir(name, dtype);
    const pids = [...new Set([dir, resolve(variant.path)].flatMap((path) => servingPids(path)))];
    if (pids.length > 0) {
      throw new ModelInUseError(
        `The ${dtype} variant of '${name}' is being served (pid ${pids.join(', ')}). Stop that server (the Serve tab, or that \`hearth serve\`) first, then delete the variant.`,
      );
    }
    if (variant.status === 'converting' && model.pid !== null && this.isProcessAlive(model.pid)) {
      throw new ModelInUseError(`The ${dtype} variant of '${name}' is being converted (pid ${model.pid}). Wait for the conversion to finish, then delete it.`);
    }
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM model_variants WHERE model_name = ? AND dtype = ?').run(name, dtype);
      const hasReady = this.db.prepare(`SELECT 1 FROM model_variants WHERE model_name = ? AND status = 'ready'`).get(name);
      if (!hasReady && model.status === 'ready') {
        // 'ready' promises a usable variant; with none left, say how to get one back.
        this.db
          .prepare(`UPDATE models SET status = 'failed', error = ?, updated_at = ? WHERE name = ?`)
          .run(`No converted variant left (the last one was deleted). Pull ${model.repo} again to convert one from the files already downloaded.`, new Date().toISOString(), name);
      }
    })();
    return variant;
  }

  private toRecord(row: ModelRow): ModelRecord {
    const variants = (this.db.prepare('SELECT * FROM model_variants WHERE model_name = ? ORDER BY created_at').all(row.name) as VariantRow[]).map((variant) => ({
      dtype: variant.dtype,
      path: variant.path,
      status: variant.status,
      weightsBytes: variant.weights_bytes,
      error: variant.error,
      createdAt: variant.created_at,
    }));
    return {
      name: row.name,
      repo: row.repo,
      revision: row.revision,
      commit: row.commit_sha,
      status: row.status,
      error: row.error,
      files: JSON.parse(row.files_json) as ModelFileRecord[],
      totalBytes: row.total_bytes,
      snapshotDir: row.snapshot_dir,
      pid: row.pid,
      variants,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      lastUsedAt: row.last_used_at,
    };
  }
}

/** Convenience for callers outside a test: the registry in the data directory's database. */
export async function openModelRegistry(env: NodeJS.ProcessEnv = process.env): Promise<{ registry: ModelRegistry; close(): void }> {
  const { openDb } = await import('./db.js');
  const { databasePath } = await import('./dataDir.js');
  const db = openDb(databasePath(env));
  return { registry: new ModelRegistry(db, { dataDir: dataDir(env) }), close: () => db.close() };
}
