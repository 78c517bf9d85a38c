// What committing each request-log row at once costs, against the old 1 s buffering.
//
//   node --import tsx scripts/bench-request-log.ts [--rows 20000] [--rate 300,1000] [--seconds 5] [--json]
//
// On a SQLite file in a temp dir (WAL, synchronous=NORMAL, as engine/store/db.ts opens it), with
// rows shaped like the server's (no prompt/response text: content logging is off by default):
// - burst: --rows rows recorded back to back: rows/s and µs per row, immediate vs buffered
//   (buffered = queued, committed in one transaction by flush(), as the 1 s timer did);
// - paced: rows recorded at each --rate rows/s for --seconds: the time record() holds the event
//   loop per row (p50, p99, max, ms) and the share of one core spent writing rows. For buffered,
//   the flush's cost is included (spread over its rows) and its worst single flush is reported.
// Figures depend on the disk and the machine; run on an idle one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { RequestLogEntry } from '../engine/common/requestLog.js';
import { RequestLog } from '../engine/store/requestLog.js';
import { percentile } from '../engine/common/percentiles.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '300,1000' },
    seconds: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
});
const numBurstRows = Number(values.rows);
const rates = values.rate.split(',').map(Number);
const seconds = Number(values.seconds);

let sequence = 0;
function entry(): RequestLogEntry {
  sequence++;
  return {
    id: `chatcmpl-${sequence.toString(16).padStart(24, '0')}`,
    timeMs: Date.now(),
    endpoint: '/v1/chat/completions',
    model: 'smollm2-135m-instruct',
    status: 200,
    finishReason: 'length',
    promptTokens: 32,
    completionTokens: 64,
    queueMs: 1.5,
    ttftMs: 42.1,
    totalMs: 812.3,
    tokensPerSec: 78.4,
    clientIp: '127.0.0.1',
    userAgent: 'OpenAI/JS 4.104.0',
    error: null,
    prompt: null,
    response: null,
    stream: sequence % 2 === 0,
  };
}

type Mode = 'immediate' | 'buffered';

/** The rows really reached the database (a closed log would drop them silently). */
function sanity(log: RequestLog, atLeast: number): void {
  const n = log.count();
  if (n < atLeast) throw new Error(`benchmark bug: ${n} rows in the log, expected at least ${atLeast}`);
}

async function withLog<T>(mode: Mode, run: (log: RequestLog) => T | Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-reqlog-'));
  // A buffered log's timer is set far out: the benchmark calls flush() itself, at the old interval.
  const log = new RequestLog({ file: join(dir, 'hearth.db'), flushIntervalMs: mode === 'buffered' ? 3_600_000 : 0, pruneIntervalMs: 0 });
  try {
    return await run(log);
  } finally {
    log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function burst(mode: Mode) {
  return withLog(mode, (log) => {
    for (let i = 0; i < 500; i++) log.record(entry()); // warm up statements and the page cache
    log.flush();
    sanity(log, 500);
    const startMs = performance.now();
    for (let i = 0; i < numBurstRows; i++) log.record(entry());
    log.flush();
    const elapsedMs = performance.now() - startMs;
    return { mode, rows: numBurstRows, rowsPerSec: Math.round((numBurstRows * 1000) / elapsedMs), usPerRow: Number(((elapsedMs * 1000) / numBurstRows).toFixed(2)) };
  });
}

async function paced(mode: Mode, ratePerSec: number) {
  const spent = { busyMs: 0 };
  return withLog(mode, async (log) => {
    const recordMs: number[] = [];
    let worstFlushMs = 0;
    const intervalMs = 1000 / ratePerSec;
    const startMs = performance.now();
    let nextFlushMs = startMs + 1000;
    const total = Math.round(ratePerSec * seconds);
    for (let i = 0; i < total; i++) {
      const dueMs = startMs + i * intervalMs;
      const waitMs = dueMs - performance.now();
      if (waitMs > 1) await new Promise((resolve) => setTimeout(resolve, waitMs));
      const t0 = performance.now();
      log.record(entry());
      const t1 = performance.now();
      recordMs.push(t1 - t0);
      spent.busyMs += t1 - t0;
      if (mode === 'buffered' && t1 >= nextFlushMs) {
        log.flush();
        const flushMs = performance.now() - t1;
        worstFlushMs = Math.max(worstFlushMs, flushMs);
        spent.busyMs += flushMs;
        nextFlushMs += 1000;
      }
    }
    const flushStart = performance.now();
    log.flush();
    spent.busyMs += performance.now() - flushStart;
    sanity(log, total);
    const wallMs = performance.now() - startMs;
    recordMs.sort((a, b) => a - b);
    return {
      mode,
      targetRowsPerSec: ratePerSec,
      achievedRowsPerSec: Math.round((total * 1000) / wallMs),
      recordP50Ms: Number(percentile(recordMs, 50)!.toFixed(4)),
      recordP99Ms: Number(percentile(recordMs, 99)!.toFixed(4)),
      recordMaxMs: Number(recordMs.at(-1)!.toFixed(3)),
      worstFlushMs: mode === 'buffered' ? Number(worstFlushMs.toFixed(3)) : null,
      usPerRowIncludingFlush: Number(((spent.busyMs * 1000) / total).toFixed(2)),
      coreSharePercent: Number(((spent.busyMs / wallMs) * 100).toFixed(2)),
    };
  });
}

const results = {
  burst: [await burst('immediate'), await burst('buffered')],
  paced: [] as Awaited<ReturnType<typeof paced>>[],
};
for (const rate of rates) for (const mode of ['immediate', 'buffered'] as const) results.paced.push(await paced(mode, rate));

if (values.json) {
  console.log(JSON.stringify(results, null, 2));
} else {
  console.log(`request log on ${tmpdir()} (WAL, synchronous=NORMAL)`);
  console.log('burst:');
  for (const r of results.burst) console.log(`  ${r.mode.padEnd(9)}  ${r.rowsPerSec} rows/s  ${r.usPerRow} µs/row  (${r.rows} rows)`);
  console.log(`paced (${seconds} s each):`);
  for (const r of results.paced) {
    console.log(
      `  ${r.mode.padEnd(9)}  ${r.targetRowsPerSec} rows/s target, ${r.achievedRowsPerSec} achieved: record() p50 ${r.recordP50Ms} ms, p99 ${r.recordP99Ms} ms, ` +
        `max ${r.recordMaxMs} ms${r.worstFlushMs !== null ? `, worst flush ${r.worstFlushMs} ms` : ''}; ${r.usPerRowIncludingFlush} µs/row incl. flush, ${r.coreSharePercent}% of a core`,
    );
  }
}
