// Benchmark: configure a concurrency sweep against the running server, watch it run, plot
// throughput vs concurrency and latency percentiles, and compare two runs side by side.
import { useEffect, useState } from 'react';
import type { BenchRun, BenchRunSummary } from '../../../engine/common/adminApi.js';
import { LineChart, type Series } from '../components/LineChart.js';
import { Card, Empty, ErrorBox, Loading, ProgressBar } from '../components/States.js';
import { formatMs, formatRate, formatTime } from '../components/format.js';
import { useAsync } from '../components/useAsync.js';
import { useHost } from '../hostContext.js';
import { parseLevels } from './benchLevels.js';
import type { ViewProps } from './viewProps.js';

const RUN_COLORS = ['#4f7cff', '#e5534b'];

export function BenchmarkView({ go }: ViewProps) {
  const { client, serve, bench, dashboard } = useHost();
  const progressKey = Object.values(bench).map((p) => `${p.runId}:${p.state}:${p.levelsDone}`).join('|');
  const runs = useAsync(() => client.benchRuns(), [client], progressKey);
  const [levelsText, setLevelsText] = useState('1, 2, 4');
  const [promptTokens, setPromptTokens] = useState(32);
  const [outputTokens, setOutputTokens] = useState(16);
  const [requestsPerLevel, setRequestsPerLevel] = useState(8);
  const [label, setLabel] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [chosen, setChosen] = useState<string[]>([]);
  // A library server: the sweep measures one of its loaded models, named here.
  const libraryServed = serve.state === 'ready' && serve.settings?.library !== undefined;
  const loadedIds = (dashboard?.models ?? []).filter((model) => model.state === 'ready').map((model) => model.id);
  const [pickedModel, setPickedModel] = useState('');
  const benchModel = libraryServed ? (loadedIds.includes(pickedModel) ? pickedModel : (loadedIds[0] ?? '')) : undefined;

  useEffect(() => {
    // Show the newest one or two runs until the user picks.
    if (chosen.length === 0 && runs.data && runs.data.runs.length > 0) setChosen(runs.data.runs.slice(0, 2).map((run) => run.runId));
  }, [runs.data, chosen.length]);

  const levels = parseLevels(levelsText);
  const running = Object.values(bench).find((progress) => progress.state === 'running');
  const start = async () => {
    setError(null);
    if (!levels) return setError(new Error('Concurrency levels must be whole numbers ≥ 1, e.g. "1, 2, 4, 8".'));
    try {
      const { runId } = await client.startBench({ concurrencyLevels: levels, promptTokens, outputTokens, requestsPerLevel, label: label || undefined, model: benchModel });
      setChosen((current) => [runId, ...current].slice(0, 2));
      runs.reload();
    } catch (reason) {
      setError(reason);
    }
  };
  const toggle = (runId: string) =>
    setChosen((current) => (current.includes(runId) ? current.filter((id) => id !== runId) : [...current, runId].slice(-2)));

  return (
    <div className="view" data-testid="view-benchmark">
      <h1>Benchmark</h1>
      <Card title="Concurrency sweep" testId="bench-config">
        {serve.state !== 'ready' && (
          <Empty title="Start serving a model to benchmark it.">
            <button type="button" onClick={() => go('serve')}>Go to Serve</button>
          </Empty>
        )}
        <form className="form-grid" onSubmit={(event) => { event.preventDefault(); void start(); }}>
          {libraryServed && (
            <label>
              Model (loaded)
              <select value={benchModel} onChange={(event) => setPickedModel(event.target.value)} data-testid="bench-model">
                {loadedIds.map((id) => <option key={id} value={id}>{id}</option>)}
              </select>
              {loadedIds.length === 0 && <span className="muted small">No model is loaded: load one on the Serve tab.</span>}
            </label>
          )}
          <label>Concurrency levels<input value={levelsText} onChange={(event) => setLevelsText(event.target.value)} data-testid="bench-levels" />{!levels && <span className="error-text small">Use whole numbers, e.g. 1, 2, 4, 8</span>}</label>
          <label>Prompt tokens<input type="number" min={1} value={promptTokens} onChange={(event) => setPromptTokens(Number(event.target.value))} /></label>
          <label>Output tokens<input type="number" min={1} value={outputTokens} onChange={(event) => setOutputTokens(Number(event.target.value))} /></label>
          <label>Requests per level<input type="number" min={1} value={requestsPerLevel} onChange={(event) => setRequestsPerLevel(Number(event.target.value))} data-testid="bench-requests" /></label>
          <label>Label<input value={label} onChange={(event) => setLabel(event.target.value)} placeholder={`e.g. batch ${serve.settings?.maxBatchSize ?? 8}`} /></label>
          <div className="form-actions">
            <button type="submit" className="primary" disabled={serve.state !== 'ready' || running !== undefined || !levels || benchModel === ''} data-testid="bench-run">{running ? 'Running…' : 'Run benchmark'}</button>
          </div>
        </form>
        {running && (
          <div data-testid="bench-progress">
            <ProgressBar fraction={running.levelsTotal > 0 ? running.levelsDone / running.levelsTotal : null} label="benchmark progress" />
            <div className="muted small">
              {running.levelsDone} of {running.levelsTotal} levels done{' '}
              <button type="button" className="link small" onClick={() => void client.cancelBench(running.runId)} data-testid="bench-cancel">Cancel</button>
            </div>
          </div>
        )}
        {error !== null && <ErrorBox error={error} />}
      </Card>
      <Card title="Runs (pick two to compare)" testId="bench-runs">
        {runs.loading && !runs.data ? (
          <Loading what="benchmark runs" />
        ) : runs.error ? (
          <ErrorBox error={runs.error} onRetry={runs.reload} />
        ) : runs.data!.runs.length === 0 ? (
          <Empty title="No benchmark runs yet.">Configure a sweep above and press Run.</Empty>
        ) : (
          <RunList runs={runs.data!.runs} chosen={chosen} toggle={toggle} />
        )}
      </Card>
      {chosen.length > 0 && <Comparison runIds={chosen} refreshKey={progressKey} />}
    </div>
  );
}

function RunList({ runs, chosen, toggle }: { runs: BenchRunSummary[]; chosen: string[]; toggle: (id: string) => void }) {
  return (
    <table className="table clickable">
      <thead><tr><th /><th>Run</th><th>Started</th><th>Model</th><th>Device</th><th>State</th><th>Peak throughput</th></tr></thead>
      <tbody>
        {runs.map((run) => (
          <tr key={run.runId} onClick={() => toggle(run.runId)} className={chosen.includes(run.runId) ? 'selected' : undefined} data-testid="bench-run-row">
            <td><input type="checkbox" readOnly checked={chosen.includes(run.runId)} aria-label={`Compare ${run.label}`} /></td>
            <td><strong>{run.label}</strong></td>
            <td>{formatTime(run.startedAtMs)}</td>
            <td>{run.model}</td>
            <td>{run.device}</td>
            <td><span className={`badge badge-${run.state}`}>{run.state}</span></td>
            <td>{formatRate(run.peakThroughputTokensPerSec)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Comparison({ runIds, refreshKey }: { runIds: string[]; refreshKey: string }) {
  const { client } = useHost();
  const idsKey = runIds.join(',');
  const detail = useAsync(() => Promise.all(idsKey.split(',').filter(Boolean).map((id) => client.benchRun(id))), [client, idsKey], refreshKey);
  if (detail.loading && !detail.data) return <Loading what="run results" />;
  if (detail.error) return <ErrorBox error={detail.error} onRetry={detail.reload} />;
  const runs = detail.data!;
  const byRun = (pick: (run: BenchRun, index: number) => Series[]) => runs.flatMap(pick);
  return (
    <div className="grid-2" data-testid="bench-comparison">
      <Card title="Throughput vs concurrency">
        <LineChart
          testId="chart-throughput"
          series={byRun((run, i) => [{ name: run.label, color: RUN_COLORS[i]!, points: run.levels.map((level) => ({ x: level.concurrency, y: level.throughputTokensPerSec })) }])}
          xTicksAtData
          logX
          xLabel="concurrent requests"
          yLabel="tokens/s"
        />
      </Card>
      <Card title="Latency percentiles vs concurrency">
        <LineChart
          testId="chart-latency"
          series={byRun((run, i) => [
            { name: `${run.label} TTFT p50`, color: RUN_COLORS[i]!, points: run.levels.map((level) => ({ x: level.concurrency, y: level.ttftMs.p50 ?? 0 })) },
            { name: `${run.label} TTFT p95`, color: RUN_COLORS[i]!, dashed: true, points: run.levels.map((level) => ({ x: level.concurrency, y: level.ttftMs.p95 ?? 0 })) },
            { name: `${run.label} e2e p99`, color: i === 0 ? '#9a7fd1' : '#f2a93b', points: run.levels.map((level) => ({ x: level.concurrency, y: level.e2eMs.p99 ?? 0 })) },
          ])}
          xTicksAtData
          logX
          xLabel="concurrent requests"
          yLabel="ms"
          formatY={(y) => `${Math.round(y)}`}
        />
      </Card>
      <div className="side-by-side">
        {runs.map((run, i) => (
          <Card key={run.runId} title={run.label} testId="bench-run-detail">
            <div className="muted small"><i className="swatch" style={{ background: RUN_COLORS[i] }} /> {run.model} on {run.device} · prompt {run.sweep.promptTokens} / output {run.sweep.outputTokens} tokens · {run.sweep.requestsPerLevel} requests per level{run.config ? ` · max batch ${run.config.batching.maxBatchSize}` : ''}</div>
            {run.error && <ErrorBox error={new Error(run.error)} />}
            <table className="table compact">
              <thead><tr><th>Conc.</th><th>tok/s</th><th>req/s</th><th>TTFT p50/p95/p99</th><th>ITL p50/p95</th><th>E2E p50/p95/p99</th><th>Err</th></tr></thead>
              <tbody>
                {run.levels.map((level) => (
                  <tr key={level.concurrency}>
                    <td>{level.concurrency}</td>
                    <td>{formatRate(level.throughputTokensPerSec, '')}</td>
                    <td>{level.requestsPerSec.toFixed(2)}</td>
                    <td>{formatMs(level.ttftMs.p50)} / {formatMs(level.ttftMs.p95)} / {formatMs(level.ttftMs.p99)}</td>
                    <td>{formatMs(level.itlMs.p50)} / {formatMs(level.itlMs.p95)}</td>
                    <td>{formatMs(level.e2eMs.p50)} / {formatMs(level.e2eMs.p95)} / {formatMs(level.e2eMs.p99)}</td>
                    <td>{level.errors}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Card>
        ))}
      </div>
    </div>
  );
}
