// Plain-text tables for the terminal.
import type { BatchingGain, ComparedMetric, RunComparison } from './compare.js';
import type { RunListEntry } from './store.js';
import type { BenchRun } from './types.js';

export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

const ms = (value: number | null) => (value === null ? '-' : value >= 100 ? value.toFixed(0) : value.toFixed(1));
const num = (value: number | null, digits = 1) => (value === null ? '-' : value.toFixed(digits));

export function formatRun(run: BenchRun): string {
  const s = run.settings;
  const head = [
    `run ${run.runId}  ${run.label}`,
    `server ${s.baseUrl}  model ${run.server.model}${run.server.device ? `  device ${run.server.device}` : ''}`,
    `prompt ${run.measuredPromptTokens ?? `~${s.promptTokens}`} tokens, max_tokens ${s.maxTokens}${run.ignoreEosHonoured ? ' (ignore_eos)' : ''}, /v1/${s.endpoint === 'chat' ? 'chat/completions' : 'completions'} streamed${s.responseFormat ? `, response_format ${String(s.responseFormat.type)}` : ''}`,
    `machine ${run.machine}`,
  ];
  if (run.server.batching) {
    const b = run.server.batching;
    head.push(`batching maxBatchSize=${b.maxBatchSize ?? '?'} maxBatchTotalTokens=${b.maxBatchTotalTokens ?? '?'} maxPrefillTokens=${b.maxPrefillTokens ?? '?'}`);
  }
  const rows = run.levels.map((level) => [
    level.mode,
    String(level.concurrency),
    `${level.requests - level.errors}/${level.requests}`,
    num(level.throughputTokensPerSec),
    num(level.requestsPerSec, 2),
    ms(level.ttftMs.p50), ms(level.ttftMs.p95), ms(level.ttftMs.p99),
    ms(level.itlMs.p50), ms(level.itlMs.p95), ms(level.itlMs.p99),
    ms(level.e2eMs.p50), ms(level.e2eMs.p95), ms(level.e2eMs.p99),
  ]);
  const table = renderTable(
    ['mode', 'conc', 'ok', 'tok/s', 'req/s', 'ttft p50', 'p95', 'p99', 'itl p50', 'p95', 'p99', 'e2e p50', 'p95', 'p99'],
    rows,
  );
  const errors = run.levels.filter((level) => level.errors > 0).map((level) => `  ${level.mode} ×${level.concurrency}: ${level.errors} errors, e.g. ${level.errorSamples.join('; ')}`);
  return [...head, '', table, '(latencies in ms)', ...(errors.length ? ['errors:', ...errors] : []), ...run.notes.map((note) => `note: ${note}`)].join('\n');
}

export function formatGains(gains: BatchingGain[]): string {
  if (gains.length === 0) return '';
  const rows = gains.map((gain) => [String(gain.concurrency), num(gain.sequentialTokensPerSec), num(gain.batchedTokensPerSec), `${num(gain.speedup, 2)}×`, ms(gain.sequentialTtftP95Ms), ms(gain.batchedTtftP95Ms)]);
  return ['batching vs sequential serving:', renderTable(['conc', 'seq tok/s', 'batched tok/s', 'speedup', 'seq ttft p95', 'batched ttft p95'], rows)].join('\n');
}

const pair = (metric: ComparedMetric, format: (value: number | null) => string) =>
  [format(metric.a), format(metric.b), metric.ratio === null ? '-' : `${metric.ratio >= 1 ? '+' : ''}${((metric.ratio - 1) * 100).toFixed(0)}%`];

export function formatComparison(comparison: RunComparison): string {
  const rows = comparison.rows.map((row) => [
    row.mode,
    String(row.concurrency),
    ...pair(row.throughputTokensPerSec, (value) => num(value)),
    ...pair(row.ttftP95Ms, ms),
    ...pair(row.itlP95Ms, ms),
    ...pair(row.e2eP95Ms, ms),
    `${row.errors.a ?? '-'}/${row.errors.b ?? '-'}`,
  ]);
  return [
    `A = ${comparison.runA.runId}  ${comparison.runA.label}`,
    `B = ${comparison.runB.runId}  ${comparison.runB.label}`,
    '',
    renderTable(['mode', 'conc', 'tok/s A', 'B', 'Δ', 'ttft p95 A', 'B', 'Δ', 'itl p95 A', 'B', 'Δ', 'e2e p95 A', 'B', 'Δ', 'errors A/B'], rows),
    ...comparison.caveats.map((caveat) => `caveat: ${caveat}`),
  ].join('\n');
}

export function formatRunList(runs: RunListEntry[]): string {
  if (runs.length === 0) return 'No benchmark runs stored yet. Run `hearth bench --url http://127.0.0.1:8000`.';
  return renderTable(
    ['run', 'started', 'model', 'device', 'levels', 'peak tok/s', 'label'],
    runs.map((run) => [run.runId, new Date(run.startedAtMs).toISOString().slice(0, 19).replace('T', ' '), run.model, run.device ?? '-', String(run.levels), num(run.peakThroughputTokensPerSec), run.label]),
  );
}
