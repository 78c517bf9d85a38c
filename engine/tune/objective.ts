// Does a measured level meet a latency objective, and which trial wins. Pure.
import type { LevelResult } from '../bench/types.js';

/** Upper bounds on p95 latencies, ms. An empty objective accepts any error-free level. */
export interface TuneObjective {
  ttftP95Ms?: number;
  itlP95Ms?: number;
  e2eP95Ms?: number;
}

export interface LevelVerdict {
  concurrency: number;
  meets: boolean;
  /** Why not, e.g. "ttft p95 812 ms > 500 ms". */
  violations: string[];
  throughputTokensPerSec: number;
}

export function judgeLevel(level: LevelResult, objective: TuneObjective): LevelVerdict {
  const violations: string[] = [];
  const check = (name: string, value: number | null, bound: number | undefined) => {
    if (bound === undefined) return;
    if (value === null) violations.push(`${name} not measured`);
    else if (value > bound) violations.push(`${name} ${value.toFixed(0)} ms > ${bound} ms`);
  };
  if (level.errors > 0) violations.push(`${level.errors} of ${level.requests} requests failed`);
  check('ttft p95', level.ttftMs.p95, objective.ttftP95Ms);
  check('itl p95', level.itlMs.p95, objective.itlP95Ms);
  check('e2e p95', level.e2eMs.p95, objective.e2eP95Ms);
  return { concurrency: level.concurrency, meets: violations.length === 0, violations, throughputTokensPerSec: level.throughputTokensPerSec };
}

/** The highest-throughput level that meets the objective, or null. */
export function bestMeetingLevel(levels: readonly LevelResult[], objective: TuneObjective): LevelResult | null {
  let best: LevelResult | null = null;
  for (const level of levels) {
    if (!judgeLevel(level, objective).meets) continue;
    if (!best || level.throughputTokensPerSec > best.throughputTokensPerSec) best = level;
  }
  return best;
}

export interface Scored<T> {
  item: T;
  /** Best level meeting the objective; null when none does. */
  level: LevelResult | null;
}

/**
 * The winner: highest throughput at a level that meets the objective. Ties (within 2 %, run-to-run
 * noise) go to `preferOnTie` when it expresses a preference (e.g. the smaller KV budget), else to
 * the lower TTFT p95 at that level, else to the earlier candidate.
 */
export function pickBest<T>(scored: readonly Scored<T>[], preferOnTie?: (a: T, b: T) => number): Scored<T> | null {
  let best: Scored<T> | null = null;
  for (const entry of scored) {
    if (!entry.level) continue;
    if (!best) {
      best = entry;
      continue;
    }
    const a = entry.level.throughputTokensPerSec;
    const b = best.level!.throughputTokensPerSec;
    const close = Math.abs(a - b) <= 0.02 * Math.max(a, b);
    const preference = close && preferOnTie ? preferOnTie(entry.item, best.item) : 0;
    const better = !close ? a > b : preference !== 0 ? preference < 0 : (entry.level.ttftMs.p95 ?? Infinity) < (best.level!.ttftMs.p95 ?? Infinity);
    if (better) best = entry;
  }
  return best;
}

export function describeObjective(objective: TuneObjective): string {
  const parts = [
    objective.ttftP95Ms !== undefined ? `p95 TTFT ≤ ${objective.ttftP95Ms} ms` : '',
    objective.itlP95Ms !== undefined ? `p95 ITL ≤ ${objective.itlP95Ms} ms` : '',
    objective.e2eP95Ms !== undefined ? `p95 end-to-end ≤ ${objective.e2eP95Ms} ms` : '',
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : 'no latency bound (highest error-free throughput)';
}
