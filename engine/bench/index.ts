// `hearth bench`: a load generator against a running OpenAI-compatible server (streaming SSE).
// Clean functions for the CLI (engine/cli/commands/bench.ts), auto-tune (engine/tune) and the
// desktop host's admin API (Benchmark view):
//
//   const run = await runBenchmark({ ...DEFAULT_BENCH_SETTINGS, baseUrl }, { onLevel, signal });
//   const db = openDb(databasePath(), { readonly: false }); migrateBench(db); saveRun(db, run);
//   listRuns(db) · getRun(db, idOrPrefixOr'latest') · deleteRun(db, id)
//   compareRuns(runA, runB)  → rows per (mode, concurrency) with ratios B/A
//   batchingGains(run)       → batched vs sequential speedup per concurrency
//   formatRun / formatComparison / formatGains → terminal tables
//
// Not a timed test: numbers depend on the machine and on what else runs on it.
export * from './types.js';
export { summarizeLatencies, percentile, percentileOfSorted } from '../common/percentiles.js';
export { runBenchmark, describeMachine, validateSettings, type SweepHooks } from './sweep.js';
export { runLevel, type LevelOptions } from './loadGenerator.js';
export { summarizeLevel } from './summarize.js';
export { describeServer, probePrompt, batchingFromInfo } from './serverProbe.js';
export { migrateBench, saveRun, getRun, listRuns, deleteRun, BENCH_MIGRATIONS, type RunListEntry } from './store.js';
export { compareRuns, batchingGains, type RunComparison, type ComparisonRow, type BatchingGain } from './compare.js';
export { formatRun, formatComparison, formatGains, formatRunList, renderTable } from './format.js';
