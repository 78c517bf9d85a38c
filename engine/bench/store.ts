// Benchmark runs in the shared SQLite database (namespace 'bench'), so runs survive restarts and
// any two can be compared. The levels' headline figures get their own columns for plotting
// queries; the full result (all percentiles, error samples) is kept as JSON beside them.
import { migrate, type Db, type Migration } from '../store/db.js';
import type { BenchRun, LevelResult } from './types.js';

export const BENCH_MIGRATIONS: readonly Migration[] = [
  `CREATE TABLE bench_runs (
     run_id TEXT PRIMARY KEY,
     label TEXT NOT NULL,
     started_at_ms INTEGER NOT NULL,
     finished_at_ms INTEGER NOT NULL,
     model TEXT NOT NULL,
     device TEXT,
     base_url TEXT NOT NULL,
     machine TEXT NOT NULL,
     settings_json TEXT NOT NULL,
     server_json TEXT NOT NULL,
     measured_prompt_tokens INTEGER,
     ignore_eos_honoured INTEGER NOT NULL,
     notes_json TEXT NOT NULL
   );
   CREATE INDEX bench_runs_started ON bench_runs (started_at_ms);
   CREATE TABLE bench_levels (
     run_id TEXT NOT NULL REFERENCES bench_runs (run_id) ON DELETE CASCADE,
     position INTEGER NOT NULL,
     mode TEXT NOT NULL,
     concurrency INTEGER NOT NULL,
     requests INTEGER NOT NULL,
     errors INTEGER NOT NULL,
     throughput_tokens_per_sec REAL NOT NULL,
     ttft_p95_ms REAL,
     itl_p95_ms REAL,
     e2e_p95_ms REAL,
     result_json TEXT NOT NULL,
     PRIMARY KEY (run_id, position)
   );`,
];

export function migrateBench(db: Db): void {
  migrate(db, 'bench', BENCH_MIGRATIONS);
}

export function saveRun(db: Db, run: BenchRun): void {
  const insertRun = db.prepare(
    `INSERT INTO bench_runs (run_id, label, started_at_ms, finished_at_ms, model, device, base_url, machine,
       settings_json, server_json, measured_prompt_tokens, ignore_eos_honoured, notes_json)
     VALUES (@runId, @label, @startedAtMs, @finishedAtMs, @model, @device, @baseUrl, @machine,
       @settingsJson, @serverJson, @measuredPromptTokens, @ignoreEosHonoured, @notesJson)`,
  );
  const insertLevel = db.prepare(
    `INSERT INTO bench_levels (run_id, position, mode, concurrency, requests, errors, throughput_tokens_per_sec,
       ttft_p95_ms, itl_p95_ms, e2e_p95_ms, result_json)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  db.transaction(() => {
    insertRun.run({
      runId: run.runId,
      label: run.label,
      startedAtMs: run.startedAtMs,
      finishedAtMs: run.finishedAtMs,
      model: run.server.model,
      device: run.server.device,
      baseUrl: run.settings.baseUrl,
      machine: run.machine,
      settingsJson: JSON.stringify(run.settings),
      serverJson: JSON.stringify(run.server),
      measuredPromptTokens: run.measuredPromptTokens,
      ignoreEosHonoured: run.ignoreEosHonoured ? 1 : 0,
      notesJson: JSON.stringify(run.notes),
    });
    run.levels.forEach((level, position) => {
      insertLevel.run(run.runId, position, level.mode, level.concurrency, level.requests, level.errors,
        level.throughputTokensPerSec, level.ttftMs.p95, level.itlMs.p95, level.e2eMs.p95, JSON.stringify(level));
    });
  })();
}

interface RunRow {
  run_id: string;
  label: string;
  started_at_ms: number;
  finished_at_ms: number;
  machine: string;
  settings_json: string;
  server_json: string;
  measured_prompt_tokens: number | null;
  ignore_eos_honoured: number;
  notes_json: string;
}

function runFromRow(db: Db, row: RunRow): BenchRun {
  const levels = (db.prepare('SELECT result_json FROM bench_levels WHERE run_id = ? ORDER BY position').all(row.run_id) as { result_json: string }[])
    .map((level) => JSON.parse(level.result_json) as LevelResult);
  return {
    runId: row.run_id,
    label: row.label,
    startedAtMs: row.started_at_ms,
    finishedAtMs: row.finished_at_ms,
    machine: row.machine,
    settings: JSON.parse(row.settings_json),
    server: JSON.parse(row.server_json),
    measuredPromptTokens: row.measured_prompt_tokens,
    ignoreEosHonoured: row.ignore_eos_honoured === 1,
    levels,
    notes: JSON.parse(row.notes_json),
  };
}

/**
 * The run whose id is `idOrPrefix`, or starts with it, or the `latest` run. Throws with the
 * candidates when a prefix is ambiguous, and says how to list runs when nothing matches.
 */
export function getRun(db: Db, idOrPrefix: string): BenchRun {
  if (idOrPrefix === 'latest' || idOrPrefix === 'last') {
    const row = db.prepare('SELECT * FROM bench_runs ORDER BY started_at_ms DESC LIMIT 1').get() as RunRow | undefined;
    if (!row) throw new Error('there are no stored benchmark runs yet; run `hearth bench` first');
    return runFromRow(db, row);
  }
  const rows = db.prepare("SELECT * FROM bench_runs WHERE run_id = ? OR run_id LIKE ? ESCAPE '\\' ORDER BY started_at_ms DESC LIMIT 6")
    .all(idOrPrefix, `${idOrPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`) as RunRow[];
  const exact = rows.find((row) => row.run_id === idOrPrefix);
  if (exact) return runFromRow(db, exact);
  if (rows.length === 0) throw new Error(`no benchmark run '${idOrPrefix}'; list them with \`hearth bench --list\``);
  if (rows.length > 1) throw new Error(`'${idOrPrefix}' matches several runs (${rows.map((row) => row.run_id).join(', ')}); give more of the id`);
  return runFromRow(db, rows[0]!);
}

export interface RunListEntry {
  runId: string;
  label: string;
  startedAtMs: number;
  model: string;
  device: string | null;
  peakThroughputTokensPerSec: number | null;
  levels: number;
}

export function listRuns(db: Db, limit = 50): RunListEntry[] {
  const rows = db.prepare(
    `SELECT r.run_id, r.label, r.started_at_ms, r.model, r.device,
            MAX(l.throughput_tokens_per_sec) AS peak, COUNT(l.position) AS levels
       FROM bench_runs r LEFT JOIN bench_levels l ON l.run_id = r.run_id
      GROUP BY r.run_id ORDER BY r.started_at_ms DESC LIMIT ?`,
  ).all(limit) as { run_id: string; label: string; started_at_ms: number; model: string; device: string | null; peak: number | null; levels: number }[];
  return rows.map((row) => ({
    runId: row.run_id,
    label: row.label,
    startedAtMs: row.started_at_ms,
    model: row.model,
    device: row.device,
    peakThroughputTokensPerSec: row.peak,
    levels: row.levels,
  }));
}

/** Removes a run and its levels; false when there was no such run. */
export function deleteRun(db: Db, runId: string): boolean {
  return db.prepare('DELETE FROM bench_runs WHERE run_id = ?').run(runId).changes > 0;
}
