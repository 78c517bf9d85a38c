import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequestLog, type RequestLogEntry } from './requestLog.js';
import { openDb } from './db.js';

function entry(overrides: Partial<RequestLogEntry>): RequestLogEntry {
  return {
    id: 'req-1',
    timeMs: Date.UTC(2026, 0, 1, 12),
    endpoint: '/v1/chat/completions',
    model: 'tiny',
    status: 200,
    finishReason: 'stop',
    promptTokens: 10,
    completionTokens: 5,
    queueMs: 1,
    ttftMs: 10,
    totalMs: 50,
    tokensPerSec: 100,
    clientIp: '127.0.0.1',
    userAgent: 'test',
    error: null,
    prompt: null,
    response: null,
    stream: false,
    ...overrides,
  };
}

function withLog(fn: (log: RequestLog, file: string) => void, options: ConstructorParameters<typeof RequestLog>[0] = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-reqlog-'));
  const file = join(dir, 'hearth.db');
  const log = new RequestLog({ file, ...options });
  try {
    fn(log, file);
  } finally {
    log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('by default each row is committed as it is recorded (another connection sees it at once)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-reqlog-'));
  const file = join(dir, 'hearth.db');
  try {
    const log = new RequestLog({ file });
    const reader = openDb(file, { readonly: true });
    log.record(entry({ id: 'now', timeMs: Date.now() }));
    assert.equal((reader.prepare('SELECT COUNT(*) AS n FROM request_log').get() as { n: number }).n, 1);
    reader.close();
    log.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('with flushIntervalMs rows are buffered, then flushed; close flushes the rest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-reqlog-'));
  const file = join(dir, 'hearth.db');
  try {
    const log = new RequestLog({ file, flushIntervalMs: 60_000 });
    log.record(entry({ id: 'a', timeMs: Date.now() }));
    const reader = openDb(file, { readonly: true });
    const count = () => (reader.prepare('SELECT COUNT(*) AS n FROM request_log').get() as { n: number }).n;
    assert.equal(count(), 0, 'a row is not written on the request path');
    log.record(entry({ id: 'b', timeMs: Date.now() }));
    log.close();
    assert.equal(count(), 2, 'close flushes queued rows');
    reader.close();
    // Reopening migrates nothing and keeps the rows.
    const again = new RequestLog({ file });
    assert.equal(again.count(), 2);
    assert.equal(again.get('a')?.status, 200);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('list filters by status class, model, time range and text', () =>
  withLog((log) => {
    const t0 = Date.UTC(2026, 0, 1);
    log.record(entry({ id: 'ok-1', timeMs: t0 + 1, prompt: 'tell me about cats', response: 'Cats purr.' }));
    log.record(entry({ id: 'bad-1', timeMs: t0 + 2, status: 400, finishReason: null, error: "'temperature' must be ≥ 0" }));
    log.record(entry({ id: 'other', timeMs: t0 + 3, model: 'big', status: 429, error: 'overloaded 100%' }));
    log.record(entry({ id: 'late', timeMs: t0 + 86_400_000, status: 500, error: 'boom' }));
    assert.deepEqual(log.list().map((r) => r.id), ['late', 'other', 'bad-1', 'ok-1'], 'newest first');
    assert.deepEqual(log.list({ status: '4xx' }).map((r) => r.id), ['other', 'bad-1']);
    assert.deepEqual(log.list({ status: 500 }).map((r) => r.id), ['late']);
    assert.deepEqual(log.list({ model: 'big' }).map((r) => r.id), ['other']);
    assert.deepEqual(log.list({ sinceMs: t0 + 2, untilMs: t0 + 3 }).map((r) => r.id), ['other', 'bad-1']);
    assert.deepEqual(log.list({ text: 'CATS' }).map((r) => r.id), ['ok-1'], 'case-insensitive, searches prompt/response');
    assert.deepEqual(log.list({ text: '100%' }).map((r) => r.id), ['other'], '% is literal');
    assert.deepEqual(log.list({ text: '_' }).map((r) => r.id), [], '_ is literal');
    assert.deepEqual(log.list({ limit: 1, offset: 1 }).map((r) => r.id), ['other']);
    assert.equal(log.count({ status: '2xx' }), 1);
    assert.deepEqual(log.models(), ['big', 'tiny']);
    const row = log.get('bad-1')!;
    assert.equal(row.error, "'temperature' must be ≥ 0");
    assert.equal(row.finishReason, null);
    assert.equal(log.get('missing'), undefined);
  }));

test('CSV export quotes commas, quotes and newlines', () =>
  withLog((log) => {
    log.record(entry({ id: 'x', prompt: 'a, "b"\nc', response: 'plain' }));
    const csv = log.exportCsv();
    const [header, line] = csv.split('\r\n');
    assert.ok(header!.startsWith('id,time_ms,endpoint,model,status'));
    assert.ok(line!.includes('"a, ""b""\nc"') || csv.includes('"a, ""b""\nc"'));
    assert.ok(csv.endsWith('\r\n'));
  }));

test('latency by day gives p50/p95 of served requests per UTC day (linear between closest ranks, as the benchmark)', () =>
  withLog((log) => {
    const day1 = Date.UTC(2026, 0, 1, 10);
    const day2 = Date.UTC(2026, 0, 2, 10);
    for (let i = 1; i <= 20; i++) log.record(entry({ id: `d1-${i}`, timeMs: day1 + i, totalMs: i * 10, ttftMs: i }));
    log.record(entry({ id: 'd1-err', timeMs: day1, status: 400, totalMs: 1, ttftMs: null }));
    log.record(entry({ id: 'd2-1', timeMs: day2, totalMs: 7, ttftMs: 3 }));
    const days = log.latencyByDay();
    assert.deepEqual(days, [
      { day: '2026-01-01', requests: 21, errors: 1, p50TotalMs: 105, p95TotalMs: 190.5, p50TtftMs: 10.5, p95TtftMs: 19.05 },
      { day: '2026-01-02', requests: 1, errors: 0, p50TotalMs: 7, p95TotalMs: 7, p50TtftMs: 3, p95TtftMs: 3 },
    ]);
  }));

test('retention prunes by age and by row count', () => {
  const now = Date.UTC(2026, 5, 1);
  withLog(
    (log) => {
      log.record(entry({ id: 'old', timeMs: now - 10 * 86_400_000 }));
      for (let i = 0; i < 5; i++) log.record(entry({ id: `new-${i}`, timeMs: now - i }));
      log.flush();
      assert.equal(log.prune(), 3, 'one too old + two beyond the row cap');
      assert.deepEqual(log.list().map((r) => r.id), ['new-0', 'new-1', 'new-2']);
    },
    { retentionDays: 7, retentionMaxRows: 3, nowMs: () => now, pruneIntervalMs: 0 },
  );
});

