import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeLevel } from './summarize.js';
import type { RequestSample } from './types.js';

const ok = (ttftMs: number, itlMs: number[], completionTokens: number): RequestSample => ({
  ok: true, status: 200, clientWaitMs: 0, ttftMs, e2eMs: ttftMs + itlMs.reduce((a, b) => a + b, 0), itlMs, promptTokens: 10, completionTokens,
});

test('a level: throughput counts successful tokens over wall time; errors are counted and sampled', () => {
  const samples: RequestSample[] = [
    ok(100, [10, 10, 10], 4),
    ok(200, [20, 20, 20], 4),
    { ok: false, status: 429, error: 'HTTP 429: overloaded', clientWaitMs: 0, ttftMs: null, e2eMs: 5, itlMs: [], promptTokens: null, completionTokens: 0 },
  ];
  const level = summarizeLevel({ mode: 'batched', concurrency: 3, maxTokens: 4, wallMs: 500, samples });
  assert.equal(level.requests, 3);
  assert.equal(level.errors, 1);
  assert.deepEqual(level.errorSamples, ['HTTP 429: overloaded']);
  assert.equal(level.completionTokens, 8);
  assert.equal(level.throughputTokensPerSec, 16, '8 tokens in 0.5 s');
  assert.equal(level.requestsPerSec, 4);
  assert.equal(level.ttftMs.p50, 150);
  assert.equal(level.itlMs.count, 6, 'ITL pools every gap of every request');
  assert.equal(level.itlMs.p50, 15);
  assert.equal(level.tpotMs.p50, 15, '(e2e − ttft) / (tokens − 1)');
  assert.equal(level.e2eMs.maxMs, 260);
  assert.equal(level.shortCompletions, 0);
});

test('requests that stop before max_tokens are reported as short', () => {
  const level = summarizeLevel({ mode: 'sequential', concurrency: 1, maxTokens: 8, wallMs: 100, samples: [ok(5, [1], 2)] });
  assert.equal(level.shortCompletions, 1);
});
