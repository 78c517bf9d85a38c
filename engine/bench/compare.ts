// Side-by-side comparison of two runs, and of batched against sequential serving. Pure.
import type { BenchMode, BenchRun, LevelResult } from './types.js';

export interface ComparedMetric {
  a: number | null;
  b: number | null;
  /** b / a; null when either is missing or a is 0. */
  ratio: number | null;
}

export interface ComparisonRow {
  mode: BenchMode;
  concurrency: number;
  throughputTokensPerSec: ComparedMetric;
  ttftP50Ms: ComparedMetric;
  ttftP95Ms: ComparedMetric;
  itlP95Ms: ComparedMetric;
  e2eP95Ms: ComparedMetric;
  errors: ComparedMetric;
}

export interface RunComparison {
  runA: { runId: string; label: string };
  runB: { runId: string; label: string };
  rows: ComparisonRow[];
  /** Differences in settings that make the runs not strictly comparable. */
  caveats: string[];
}

function metric(a: number | null | undefined, b: number | null | undefined): ComparedMetric {
  const left = a ?? null;
  const right = b ?? null;
  return { a: left, b: right, ratio: left !== null && right !== null && left !== 0 ? right / left : null };
}

const levelKey = (level: Pick<LevelResult, 'mode' | 'concurrency'>) => `${level.mode}:${level.concurrency}`;

export function compareRuns(runA: BenchRun, runB: BenchRun): RunComparison {
  const byKeyA = new Map(runA.levels.map((level) => [levelKey(level), level]));
  const byKeyB = new Map(runB.levels.map((level) => [levelKey(level), level]));
  const keys = [...new Set([...byKeyA.keys(), ...byKeyB.keys()])];
  const rows = keys
    .map((key) => {
      const a = byKeyA.get(key);
      const b = byKeyB.get(key);
      const any = (a ?? b)!;
      return {
        mode: any.mode,
        concurrency: any.concurrency,
        throughputTokensPerSec: metric(a?.throughputTokensPerSec, b?.throughputTokensPerSec),
        ttftP50Ms: metric(a?.ttftMs.p50, b?.ttftMs.p50),
        ttftP95Ms: metric(a?.ttftMs.p95, b?.ttftMs.p95),
        itlP95Ms: metric(a?.itlMs.p95, b?.itlMs.p95),
        e2eP95Ms: metric(a?.e2eMs.p95, b?.e2eMs.p95),
        errors: metric(a?.errors, b?.errors),
      };
    })
    .sort((x, y) => x.mode.localeCompare(y.mode) || x.concurrency - y.concurrency);
  const caveats: string[] = [];
  const sa = runA.settings;
  const sb = runB.settings;
  if (sa.promptTokens !== sb.promptTokens || sa.maxTokens !== sb.maxTokens) {
    caveats.push(`different request shapes: ${sa.promptTokens}→${sa.maxTokens} vs ${sb.promptTokens}→${sb.maxTokens} tokens`);
  }
  if (sa.endpoint !== sb.endpoint) caveats.push(`different endpoints: ${sa.endpoint} vs ${sb.endpoint}`);
  if (runA.server.model !== runB.server.model) caveats.push(`different models: ${runA.server.model} vs ${runB.server.model}`);
  if (runA.machine !== runB.machine) caveats.push('measured on different machines');
  return { runA: { runId: runA.runId, label: runA.label }, runB: { runId: runB.runId, label: runB.label }, rows, caveats };
}

export interface BatchingGain {
  concurrency: number;
  batchedTokensPerSec: number;
  sequentialTokensPerSec: number;
  /** batched / sequential throughput. */
  speedup: number;
  batchedTtftP95Ms: number | null;
  sequentialTtftP95Ms: number | null;
}

/** For each concurrency measured in both modes (in one run, or batched from `batched` and sequential from `sequential`). */
export function batchingGains(batched: BenchRun, sequential: BenchRun = batched): BatchingGain[] {
  const sequentialLevels = new Map(sequential.levels.filter((level) => level.mode === 'sequential').map((level) => [level.concurrency, level]));
  return batched.levels
    .filter((level) => level.mode === 'batched' && sequentialLevels.has(level.concurrency))
    .map((level) => {
      const seq = sequentialLevels.get(level.concurrency)!;
      return {
        concurrency: level.concurrency,
        batchedTokensPerSec: level.throughputTokensPerSec,
        sequentialTokensPerSec: seq.throughputTokensPerSec,
        speedup: seq.throughputTokensPerSec > 0 ? level.throughputTokensPerSec / seq.throughputTokensPerSec : Number.POSITIVE_INFINITY,
        batchedTtftP95Ms: level.ttftMs.p95,
        sequentialTtftP95Ms: seq.ttftMs.p95,
      };
    });
}
