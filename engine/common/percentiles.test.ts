import { test } from 'node:test';
import assert from 'node:assert/strict';
import { percentile, percentileOfSorted, summarizeLatencies } from './percentiles.js';

test('percentiles interpolate linearly between closest ranks (NumPy default)', () => {
  assert.equal(percentile([1, 2, 3, 4], 50), 2.5);
  assert.equal(percentile([4, 3, 2, 1], 50), 2.5, 'input order does not matter');
  // 1..100: rank = q/100 × 99
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.ok(Math.abs(percentile(hundred, 95)! - 95.05) < 1e-9);
  assert.ok(Math.abs(percentile(hundred, 99)! - 99.01) < 1e-9);
  assert.equal(percentile(hundred, 0), 1);
  assert.equal(percentile(hundred, 100), 100);
  assert.equal(percentileOfSorted([7], 99), 7);
  assert.equal(percentileOfSorted([], 50), null);
  assert.throws(() => percentile([1], 101), RangeError);
});

test('a single slow outlier shows in p99 but not p50', () => {
  const samples = [...Array.from({ length: 99 }, () => 10), 1000];
  const summary = summarizeLatencies(samples);
  assert.equal(summary.p50, 10);
  assert.equal(summary.p95, 10);
  assert.ok(summary.p99! > 10 && summary.p99! < 1000, `p99 ${summary.p99}`);
  assert.equal(summary.maxMs, 1000);
  assert.equal(summary.count, 100);
  assert.ok(Math.abs(summary.meanMs! - 19.9) < 1e-9);
});

test('empty samples summarize to nulls; NaN is refused as a bug', () => {
  const empty = summarizeLatencies([]);
  assert.deepEqual([empty.count, empty.p50, empty.p95, empty.p99, empty.meanMs], [0, null, null, null, null]);
  assert.throws(() => summarizeLatencies([1, Number.NaN]), /bug/);
});
