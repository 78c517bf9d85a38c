// Percentiles of latency samples. Linear interpolation between closest ranks (NumPy's default,
// what vLLM's and TGI's benchmark scripts report), so p50 of [1, 2, 3, 4] is 2.5, not 2 or 3.
// The one definition: the benchmark, the dashboard and the request log's daily figures use it, so
// the same requests give the same p95 everywhere.

export interface LatencySummary {
  count: number;
  meanMs: number | null;
  minMs: number | null;
  maxMs: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** The q-th percentile (0 ≤ q ≤ 100) of values sorted ascending; null for no values. */
export function percentileOfSorted(sortedValues: readonly number[], q: number): number | null {
  if (!(q >= 0 && q <= 100)) throw new RangeError(`percentile must be within 0..100, got ${q}`);
  const n = sortedValues.length;
  if (n === 0) return null;
  if (n === 1) return sortedValues[0]!;
  const rank = (q / 100) * (n - 1);
  const lower = Math.floor(rank);
  const upper = Math.ceil(rank);
  const fraction = rank - lower;
  return sortedValues[lower]! + (sortedValues[upper]! - sortedValues[lower]!) * fraction;
}

/** p50, p95 and p99 of `values` (any order); null when empty. */
export function percentilesOf(values: readonly number[]): { p50: number | null; p95: number | null; p99: number | null } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentileOfSorted(sorted, 50), p95: percentileOfSorted(sorted, 95), p99: percentileOfSorted(sorted, 99) };
}

export function percentile(values: readonly number[], q: number): number | null {
  return percentileOfSorted([...values].sort((a, b) => a - b), q);
}

/** Count, mean, min, max, p50/p95/p99 of latency samples in ms (non-finite samples are a bug). */
export function summarizeLatencies(valuesMs: readonly number[]): LatencySummary {
  for (const value of valuesMs) {
    if (!Number.isFinite(value)) throw new Error(`latency sample ${value} is not a finite number: this is a bug in the benchmark`);
  }
  const sorted = [...valuesMs].sort((a, b) => a - b);
  const count = sorted.length;
  return {
    count,
    meanMs: count ? sorted.reduce((sum, value) => sum + value, 0) / count : null,
    minMs: count ? sorted[0]! : null,
    maxMs: count ? sorted[count - 1]! : null,
    p50: percentileOfSorted(sorted, 50),
    p95: percentileOfSorted(sorted, 95),
    p99: percentileOfSorted(sorted, 99),
  };
}
