import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeLevel } from '../bench/summarize.js';
import type { RequestSample } from '../bench/types.js';
import { bestMeetingLevel, judgeLevel, pickBest } from './objective.js';
import { batchSizeCandidates, budgetCandidates, candidateFor, prefillCandidates } from './candidates.js';

function level(concurrency: number, ttftMs: number, itlMs: number, wallMs: number, errors = 0) {
  const samples: RequestSample[] = Array.from({ length: concurrency }, (_, i) => ({
    ok: i >= errors, status: i >= errors ? 200 : 429, error: i >= errors ? undefined : 'HTTP 429', clientWaitMs: 0,
    ttftMs, e2eMs: ttftMs + 9 * itlMs, itlMs: Array(9).fill(itlMs), promptTokens: 8, completionTokens: 10,
  }));
  return summarizeLevel({ mode: 'batched', concurrency, maxTokens: 10, wallMs, samples });
}

test('a level meets the objective only when every bound holds and nothing failed', () => {
  assert.deepEqual(judgeLevel(level(4, 100, 20, 1000), { ttftP95Ms: 200, itlP95Ms: 50 }).violations, []);
  assert.deepEqual(judgeLevel(level(4, 300, 20, 1000), { ttftP95Ms: 200 }).violations, ['ttft p95 300 ms > 200 ms']);
  assert.match(judgeLevel(level(4, 100, 80, 1000), { ttftP95Ms: 200, itlP95Ms: 50 }).violations.join(), /itl p95 80 ms > 50 ms/);
  assert.match(judgeLevel(level(4, 100, 20, 1000, 1), {}).violations.join(), /1 of 4 requests failed/);
});

test('the best level is the fastest that meets the objective, not the fastest overall', () => {
  const levels = [level(1, 50, 10, 1000), level(4, 150, 20, 1000), level(16, 900, 40, 1000)];
  assert.equal(bestMeetingLevel(levels, { ttftP95Ms: 200 })!.concurrency, 4);
  assert.equal(bestMeetingLevel(levels, {})!.concurrency, 16);
  assert.equal(bestMeetingLevel(levels, { ttftP95Ms: 10 }), null);
});

test('the winner has the highest throughput; near-ties (≤ 2 %) go to the lower TTFT', () => {
  const fast = level(16, 400, 20, 1000); // 160 tok/s
  const slow = level(4, 100, 20, 1000); // 40 tok/s
  assert.equal(pickBest([{ item: 'slow', level: slow }, { item: 'fast', level: fast }, { item: 'none', level: null }])!.item, 'fast');
  const almost = level(16, 200, 20, 1010); // 158.4 tok/s, within 2 %, lower TTFT
  assert.equal(pickBest([{ item: 'fast', level: fast }, { item: 'almost', level: almost }])!.item, 'almost');
  assert.equal(pickBest([{ item: 'none', level: null }]), null);
  // A tie preference (e.g. the smaller KV budget) beats the TTFT tie-break.
  assert.equal(pickBest([{ item: 'fast', level: fast }, { item: 'almost', level: almost }], (a, b) => (a === 'fast' ? -1 : b === 'fast' ? 1 : 0))!.item, 'fast');
});

test('candidates hold their batch of benchmark requests and at least one full-length sequence', () => {
  const limits = { maxTotalTokens: 2048, tokensPerRequest: 192 };
  assert.deepEqual(candidateFor(64, 256, limits), { maxBatchSize: 64, maxPrefillTokens: 256, maxBatchTotalTokens: 12288 });
  assert.equal(candidateFor(4, 256, limits).maxBatchTotalTokens, 2048, 'never below one full-length sequence');
  assert.deepEqual(batchSizeCandidates(limits, 16).map((c) => c.maxBatchSize), [4, 16], 'batch sizes above the highest load collapse onto it');
  const winner = candidateFor(16, 256, limits);
  assert.deepEqual(prefillCandidates(winner, limits).map((c) => [c.maxBatchSize, c.maxPrefillTokens]), [[16, 128], [16, 512]]);
  assert.deepEqual(budgetCandidates(candidateFor(64, 256, limits), limits), [{ maxBatchSize: 64, maxPrefillTokens: 256, maxBatchTotalTokens: 6144 }]);
  assert.deepEqual(budgetCandidates(candidateFor(4, 256, limits), limits), [], 'no budget below one full-length sequence');
});
