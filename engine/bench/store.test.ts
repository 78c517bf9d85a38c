import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../store/db.js';
import { summarizeLevel } from './summarize.js';
import { deleteRun, getRun, listRuns, migrateBench, saveRun } from './store.js';
import { batchingGains, compareRuns } from './compare.js';
import { formatComparison, formatRun } from './format.js';
import type { BenchMode, BenchRun, RequestSample } from './types.js';
import { DEFAULT_BENCH_SETTINGS } from './types.js';

function level(mode: BenchMode, concurrency: number, tokensPerRequest: number, wallMs: number) {
  const samples: RequestSample[] = Array.from({ length: concurrency }, () => ({
    ok: true, status: 200, clientWaitMs: 0, ttftMs: 50, e2eMs: 50 + 10 * (tokensPerRequest - 1), itlMs: Array(tokensPerRequest - 1).fill(10), promptTokens: 16, completionTokens: tokensPerRequest,
  }));
  return summarizeLevel({ mode, concurrency, maxTokens: tokensPerRequest, wallMs, samples });
}

function fakeRun(runId: string, startedAtMs: number, batchedWallMs: number): BenchRun {
  return {
    runId, label: `run ${runId}`, startedAtMs, finishedAtMs: startedAtMs + 1000, machine: 'test machine',
    settings: { ...DEFAULT_BENCH_SETTINGS, baseUrl: 'http://127.0.0.1:1', concurrencyLevels: [1, 4], modes: ['batched', 'sequential'] },
    server: { model: 'tiny', device: 'cpu', batching: { maxBatchSize: 8 }, info: { model_id: 'tiny' } },
    measuredPromptTokens: 16, ignoreEosHonoured: true,
    levels: [level('batched', 1, 8, 100), level('batched', 4, 8, batchedWallMs), level('sequential', 1, 8, 100), level('sequential', 4, 8, 400)],
    notes: [],
  };
}

test('runs round-trip through SQLite, list newest first, resolve by prefix, and compare side by side', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-store-'));
  try {
    const file = join(dir, 'hearth.db');
    let db = openDb(file, { readonly: false });
    migrateBench(db);
    saveRun(db, fakeRun('20260101-000000-aaaa', 1000, 200));
    saveRun(db, fakeRun('20260102-000000-bbbb', 2000, 100));
    db.close();

    db = openDb(file, { readonly: false }); // survives reopening
    migrateBench(db);
    const runs = listRuns(db);
    assert.deepEqual(runs.map((run) => run.runId), ['20260102-000000-bbbb', '20260101-000000-aaaa']);
    assert.equal(runs[0]!.peakThroughputTokensPerSec, 320, '32 tokens in 100 ms');
    const a = getRun(db, '20260101');
    assert.equal(a.runId, '20260101-000000-aaaa');
    assert.equal(a.levels.length, 4);
    assert.equal(a.levels[1]!.throughputTokensPerSec, 160);
    assert.deepEqual(a.server.batching, { maxBatchSize: 8 });
    assert.equal(getRun(db, 'latest').runId, '20260102-000000-bbbb');
    assert.throws(() => getRun(db, '2026'), /matches several runs/);
    assert.throws(() => getRun(db, 'nope'), /hearth bench --list/);

    const comparison = compareRuns(a, getRun(db, 'latest'));
    const row = comparison.rows.find((r) => r.mode === 'batched' && r.concurrency === 4)!;
    assert.equal(row.throughputTokensPerSec.ratio, 2);
    assert.equal(comparison.caveats.length, 0);
    assert.match(formatComparison(comparison), /\+100%/);
    assert.match(formatRun(a), /batched\s+4\s+4\/4\s+160\.0/);

    const gains = batchingGains(a);
    assert.deepEqual(gains.map((gain) => [gain.concurrency, gain.speedup]), [[1, 1], [4, 2]]);

    assert.equal(deleteRun(db, a.runId), true);
    assert.equal(listRuns(db).length, 1);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM bench_levels').get() as { n: number }).n, 4, 'levels are deleted with their run');
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
