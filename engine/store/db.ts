// One SQLite database per data directory (request log, model registry, benchmark runs).
// Each feature owns a namespace of migrations, so features evolve their schema independently.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type Db = Database.Database;

/** A migration: SQL text or a function, applied once, in order, inside a transaction. */
export type Migration = string | ((db: Db) => void);

export interface OpenDbOptions {
  /** Path of a separately built better-sqlite3 `.node` binary (Electron's ABI). */
  nativeBinding?: string;
  readonly?: boolean;
}

export function openDb(file: string, options: OpenDbOptions = {}): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file, { nativeBinding: options.nativeBinding, readonly: options.readonly ?? false });
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  return db;
}

/**
 * Applies the migrations of `namespace` that this database has not seen yet.
 * Returns the schema version after migrating. A database newer than the code is refused,
 * because old code writing into a newer schema could lose data.
 */
export function migrate(db: Db, namespace: string, migrations: readonly Migration[]): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_versions (
    namespace TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL
  )`);
  const row = db.prepare('SELECT version FROM schema_versions WHERE namespace = ?').get(namespace) as
    | { version: number }
    | undefined;
  const current = row?.version ?? 0;
  if (current > migrations.length) {
    throw new Error(
      `The database's '${namespace}' schema is version ${current}, newer than this Hearth understands ` +
        `(${migrations.length}). Upgrade Hearth, or point HEARTH_HOME at another data directory.`,
    );
  }
  for (let version = current + 1; version <= migrations.length; version++) {
    const step = migrations[version - 1]!;
    db.transaction(() => {
      if (typeof step === 'string') db.exec(step);
      else step(db);
      db.prepare(
        `INSERT INTO schema_versions (namespace, version, updated_at) VALUES (?, ?, datetime('now'))
         ON CONFLICT(namespace) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`,
      ).run(namespace, version);
    })();
  }
  return migrations.length;
}
