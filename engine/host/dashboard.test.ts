import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EngineSnapshot } from '../common/engineApi.js';
import type { RequestLogEntry } from '../common/requestLog.js';
import type { MemoryReading } from '../common/adminApi.js';
import { DASHBOARD_HISTORY_TICKS, DashboardSampler, interTokenLatencyMs } from './dashboard.js';
import { percentileOfSorted, percentilesOf as percentiles } from '../common/percentiles.js';

const memory: MemoryReading = { source: 'system', deviceName: 'x', usedBytes: 1, totalBytes: 2, engine: { weightsBytes: 0, kvCacheBytes: 0, otherBytes: 0 }, accelerator: null };

function snapshot(tokensGenerated: number, extra: Partial<EngineSnapshot> = {}): EngineSnapshot {
  return {
    state: 'ready', model: 'm', device: 'cpu', queueSize: 1, runningSize: 3, kvCacheUsage: 0.25, kvCacheCapacityTokens: 1024,
    kvCacheBytes: 10, weightsBytes: 20, tokensGenerated, hasGenerated: true, accelerator: null,
    config: { maxBatchSize: 8, maxBatchTotalTokens: 1024, maxPrefillTokens: 256, maxQueuedTokens: 1, maxConcurrentRequests: 8, maxInputTokens: 255, maxTotalTokens: 256, kvCacheBytes: 10, prefixCacheBytes: 0 },
    ...extra,
  };
}

function entry(partial: Partial<RequestLogEntry>): RequestLogEntry {
  return {
    id: 'r', timeMs: 0, endpoint: '/v1/chat/completions', model: 'm', status: 200, finishReason: 'stop', promptTokens: 5, completionTokens: 11,
    queueMs: 0, ttftMs: 100, totalMs: 200, tokensPerSec: null, clientIp: null, userAgent: null, error: null, prompt: null, response: null, stream: true,
    ...partial,
  };
}

test('dashboard percentiles are the benchmark\'s (linear between closest ranks) and null when empty', () => {
  assert.deepEqual(percentiles([]), { p50: null, p95: null, p99: null });
  const values = Array.from({ length: 100 }, (_, i) => 100 - i);
  const sorted = [...values].sort((a, b) => a - b);
  assert.deepEqual(percentiles(values), { p50: percentileOfSorted(sorted, 50), p95: percentileOfSorted(sorted, 95), p99: percentileOfSorted(sorted, 99) });
  assert.equal(percentiles([1, 2, 3, 4]).p50, 2.5);
});

test('inter-token latency spreads generation time over the tokens after the first', () => {
  assert.equal(interTokenLatencyMs(entry({ ttftMs: 100, totalMs: 200, completionTokens: 11 })), 10);
  assert.equal(interTokenLatencyMs(entry({ completionTokens: 1 })), null);
  assert.equal(interTokenLatencyMs(entry({ ttftMs: null })), null);
});

test('tokens/s comes from the change in tokens generated between ticks', () => {
  const sampler = new DashboardSampler();
  const base = { serveState: 'ready' as const, model: 'm', memory, recentRequests: [], requestsTotal: 0, requestsFailed: 0 };
  assert.equal(sampler.tick({ ...base, timeMs: 1000, engine: snapshot(100) }).tokensPerSec, 0, 'no baseline yet');
  const second = sampler.tick({ ...base, timeMs: 3000, engine: snapshot(160) });
  assert.equal(second.tokensPerSec, 30);
  assert.equal(second.runningRequests, 3);
  assert.equal(second.queuedRequests, 1);
  assert.equal(second.batchSize, 0, 'no engine step recorded: not the running count (3)');
  assert.equal(second.maxBatchSize, 8);
  assert.equal(second.kvCacheUsage, 0.25);
  // A restarted server counts from zero again: never a negative rate.
  assert.equal(sampler.tick({ ...base, timeMs: 4000, engine: snapshot(5) }).tokensPerSec, 0);
});

test('batch size is rows per engine step over the steps since the previous tick', () => {
  const sampler = new DashboardSampler();
  const base = { serveState: 'ready' as const, model: 'm', memory, recentRequests: [], requestsTotal: 0, requestsFailed: 0, engine: snapshot(0) };
  for (const rows of [1, 4, 4, 3]) sampler.recordStep(rows);
  const first = sampler.tick({ ...base, timeMs: 1000 });
  assert.deepEqual([first.batchSize, first.peakBatchSize, first.stepsInWindow], [3, 4, 4]);
  assert.equal(first.runningRequests, 3, 'running stays the engine snapshot');
  // Each tick starts a new window: an idle second reads zero, not the last busy one.
  const idle = sampler.tick({ ...base, timeMs: 2000 });
  assert.deepEqual([idle.batchSize, idle.peakBatchSize, idle.stepsInWindow], [0, 0, 0]);
  sampler.recordStep(2);
  sampler.recordStep(1);
  const third = sampler.tick({ ...base, timeMs: 3000 });
  assert.deepEqual([third.batchSize, third.peakBatchSize, third.stepsInWindow], [1.5, 2, 2]);
  // A new server forgets steps recorded for the old one.
  sampler.recordStep(8);
  sampler.reset();
  assert.equal(sampler.tick({ ...base, timeMs: 4000 }).peakBatchSize, 0);
  // Without an engine there is no batch, whatever was recorded.
  sampler.recordStep(5);
  const stopped = sampler.tick({ ...base, timeMs: 5000, serveState: 'stopped', engine: null });
  assert.deepEqual([stopped.batchSize, stopped.peakBatchSize, stopped.stepsInWindow], [0, 0, 0]);
});

test('latency percentiles use only served requests, and history is capped', () => {
  const sampler = new DashboardSampler();
  let last;
  for (let i = 0; i < DASHBOARD_HISTORY_TICKS + 10; i++) {
    last = sampler.tick({
      timeMs: i * 1000,
      serveState: 'ready',
      model: 'm',
      engine: snapshot(i * 10),
      memory,
      recentRequests: [entry({ ttftMs: 40 }), entry({ ttftMs: 60 }), entry({ status: 400, ttftMs: 1 })],
      requestsTotal: 3,
      requestsFailed: 1,
    });
  }
  assert.equal(last!.history.length, DASHBOARD_HISTORY_TICKS);
  assert.equal(last!.ttftMs.p50, 50, 'the 400 is not counted');
  assert.ok(Math.abs(last!.ttftMs.p99! - 59.8) < 1e-9);
  assert.equal(last!.requestsFailed, 1);
  assert.equal(last!.tokensPerSec, 10);
});

test('without an engine the dashboard reads zero, not stale numbers', () => {
  const sampler = new DashboardSampler();
  const sample = sampler.tick({ timeMs: 0, serveState: 'stopped', model: null, engine: null, memory, recentRequests: [], requestsTotal: 0, requestsFailed: 0 });
  assert.equal(sample.runningRequests, 0);
  assert.equal(sample.kvCacheCapacityTokens, 0);
  assert.equal(sample.ttftMs.p50, null);
});

test('a library server: a row per model with its own tokens/s and latencies; the total counts on when a model unloads and reloads', () => {
  const sampler = new DashboardSampler();
  const base = { serveState: 'ready' as const, model: null, memory, requestsTotal: 0, requestsFailed: 0 };
  const model = (id: string, tokens: number) => ({ id, state: 'ready' as const, memoryBytes: 100, activeRequests: 1, engine: snapshot(tokens), requestsTotal: 2, requestsFailed: 0 });
  const recentRequests = [entry({ model: 'a:int4', ttftMs: 40 }), entry({ model: 'b:fp32', ttftMs: 400 })];
  sampler.tick({ ...base, timeMs: 1000, engine: null, recentRequests, models: [model('a:int4', 10), model('b:fp32', 5)] });
  const second = sampler.tick({ ...base, timeMs: 2000, engine: null, recentRequests, models: [model('a:int4', 30), model('b:fp32', 8)] });
  const rows = Object.fromEntries(second.models.map((row) => [row.id, row]));
  assert.equal(rows['a:int4']!.tokensPerSec, 20);
  assert.equal(rows['b:fp32']!.tokensPerSec, 3);
  assert.equal(second.tokensPerSec, 23, 'the total is the models together');
  assert.equal(second.tokensGenerated, 38);
  assert.equal(rows['a:int4']!.ttftMs.p50, 40, "each row's latencies are its own requests'");
  assert.equal(rows['b:fp32']!.ttftMs.p50, 400);
  // b unloaded; then reloaded, its own count restarting from 0.
  const third = sampler.tick({ ...base, timeMs: 3000, engine: null, recentRequests, models: [model('a:int4', 40)] });
  assert.equal(third.tokensGenerated, 48, "b's tokens still count");
  assert.equal(third.tokensPerSec, 10);
  const fourth = sampler.tick({ ...base, timeMs: 4000, engine: null, recentRequests, models: [model('a:int4', 40), model('b:fp32', 2)] });
  assert.equal(fourth.tokensGenerated, 50);
  assert.equal(fourth.tokensPerSec, 2);
  assert.deepEqual(sampler.tick({ ...base, timeMs: 5000, engine: snapshot(1), recentRequests: [] }).models, [], 'one model: no rows');
});
