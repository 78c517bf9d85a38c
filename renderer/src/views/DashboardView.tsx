// Dashboard: live (≈1 s) memory, throughput, queue, batch, latency percentiles and KV usage.
import type { LatencyPercentiles, ModelDashboard } from '../../../engine/common/adminApi.js';
import { LineChart, StackedBar } from '../components/LineChart.js';
import { Card, Empty, Loading, Stat } from '../components/States.js';
import { formatBytes, formatMs, formatPercent, formatRate } from '../components/format.js';
import { useHost } from '../hostContext.js';
import type { ViewProps } from './viewProps.js';

const COLORS = { weights: '#4f7cff', kv: '#f2a93b', other: '#9a7fd1', free: '#e4e7ee' };

export function DashboardView({ go }: ViewProps) {
  const { dashboard, serve } = useHost();
  if (!dashboard) return <div className="view" data-testid="view-dashboard"><h1>Dashboard</h1><Loading what="live metrics" /></div>;
  const memory = dashboard.memory;
  const engineBytes = memory.engine.weightsBytes + memory.engine.kvCacheBytes + memory.engine.otherBytes;
  const start = dashboard.history[0]?.timeMs ?? dashboard.timeMs;
  return (
    <div className="view" data-testid="view-dashboard">
      <h1>Dashboard</h1>
      {serve.state !== 'ready' && (
        <Empty title={serve.state === 'starting' ? 'The model is loading…' : 'Not serving: the numbers below stay at zero.'}>
          {serve.state !== 'starting' && <button type="button" onClick={() => go('serve')}>Start serving</button>}
        </Empty>
      )}
      {serve.state === 'ready' && serve.settings?.library && <div className="muted small" data-testid="dash-scope">Library server: the figures are every loaded model together; each model has its row below.</div>}
      <div className="stats stats-big">
        <Stat label="Tokens/s" value={formatRate(dashboard.tokensPerSec)} testId="dash-tokens-per-sec" />
        <Stat label="Requests" value={dashboard.requestsTotal} testId="dash-requests" hint="Requests answered since serving started" />
        <Stat label="Failed" value={dashboard.requestsFailed} testId="dash-failed" />
        <Stat label="Running" value={dashboard.runningRequests} testId="dash-running" />
        <Stat label="Queued" value={dashboard.queuedRequests} testId="dash-queued" />
        <Stat
          label="Batch size (rows per step)"
          testId="dash-batch-size"
          hint="Rows the engine ran per model step (decoding sequences + prefill chunks) over the last second: mean, then the peak and the configured maximum"
          value={
            <>
              {dashboard.batchSize.toFixed(1)}{' '}
              <span className="muted small">
                peak <span data-testid="dash-batch-peak">{dashboard.peakBatchSize}</span> / max {dashboard.maxBatchSize || '—'}
              </span>
            </>
          }
        />
        <Stat label="Tokens generated" value={dashboard.tokensGenerated.toLocaleString()} testId="dash-tokens-total" />
      </div>
      {serve.state === 'ready' && serve.settings?.library && <PerModel models={dashboard.models} />}
      <div className="grid-2">
        <Card title="Tokens per second">
          <LineChart
            testId="chart-tokens"
            series={[{ name: 'tokens/s', color: '#4f7cff', points: dashboard.history.map((tick) => ({ x: (tick.timeMs - start) / 1000, y: tick.tokensPerSec })) }]}
            xLabel="seconds"
            yLabel="tok/s"
            formatX={(x) => `${Math.round(x)}`}
          />
        </Card>
        <Card title="Running and queued requests">
          <LineChart
            series={[
              { name: 'running', color: '#2bb673', points: dashboard.history.map((tick) => ({ x: (tick.timeMs - start) / 1000, y: tick.runningRequests })) },
              { name: 'queued', color: '#e5534b', points: dashboard.history.map((tick) => ({ x: (tick.timeMs - start) / 1000, y: tick.queuedRequests })) },
            ]}
            xLabel="seconds"
            yLabel="requests"
            formatX={(x) => `${Math.round(x)}`}
          />
        </Card>
        <Card title={memory.source === 'nvidia-smi' ? `GPU memory — ${memory.deviceName}` : 'System memory (no NVIDIA GPU: CPU execution)'} testId="dash-memory">
          <div className="muted small" data-testid="memory-source">Source: {memory.source === 'nvidia-smi' ? 'nvidia-smi' : 'operating system (system RAM)'}</div>
          {memory.accelerator && (
            <div className="muted small" data-testid="memory-device">
              {memory.accelerator.executionProvider === 'cpu'
                ? 'Engine on the CPU'
                : `Engine on ${memory.accelerator.adapter ? `${memory.accelerator.adapter.description || memory.accelerator.adapter.device}${memory.accelerator.adapter.software ? ' (software)' : ''}` : memory.accelerator.executionProvider} via ${memory.accelerator.executionProvider}: ` +
                  `weights ${formatBytes(memory.accelerator.deviceWeightsBytes)}, KV cache ${memory.accelerator.kvResidency === 'device' ? `${formatBytes(memory.accelerator.deviceKvCacheBytes)} on the device` : 'in host memory'}`}
            </div>
          )}
          <div className="big-number">{formatBytes(memory.usedBytes)} <span className="muted">used of {formatBytes(memory.totalBytes)}</span></div>
          <StackedBar
            total={memory.totalBytes}
            parts={[
              { label: 'weights', value: memory.engine.weightsBytes, color: COLORS.weights },
              { label: 'KV cache', value: memory.engine.kvCacheBytes, color: COLORS.kv },
              { label: 'other (engine)', value: memory.engine.otherBytes, color: COLORS.other },
              { label: 'everything else', value: Math.max(0, memory.usedBytes - engineBytes), color: '#c9cdd6' },
            ]}
          />
          <div className="legend">
            <span><i style={{ background: COLORS.weights }} /> weights {formatBytes(memory.engine.weightsBytes)}</span>
            <span><i style={{ background: COLORS.kv }} /> KV cache {formatBytes(memory.engine.kvCacheBytes)}</span>
            <span><i style={{ background: COLORS.other }} /> other engine {formatBytes(memory.engine.otherBytes)}</span>
            <span><i style={{ background: '#c9cdd6' }} /> rest of the machine</span>
          </div>
        </Card>
        <Card title="Latency and KV cache">
          <table className="table compact">
            <thead><tr><th /><th>p50</th><th>p95</th><th>p99</th></tr></thead>
            <tbody>
              <LatencyRow label="Time to first token" values={dashboard.ttftMs} testId="dash-ttft" />
              <LatencyRow label="Inter-token latency" values={dashboard.itlMs} testId="dash-itl" />
            </tbody>
          </table>
          <div className="muted small">Over requests finished in the last {Math.round(dashboard.windowMs / 1000)} s.</div>
          <div className="kv">
            <div className="row-between"><span>KV-cache usage</span><strong data-testid="dash-kv">{formatPercent(dashboard.kvCacheUsage)}</strong></div>
            <StackedBar total={1} parts={[{ label: 'used', value: dashboard.kvCacheUsage, color: COLORS.kv }]} />
            <div className="muted small">{dashboard.kvCacheCapacityTokens.toLocaleString()} tokens capacity</div>
          </div>
        </Card>
      </div>
    </div>
  );
}

/** A library server's loaded models, one row each. */
function PerModel({ models }: { models: ModelDashboard[] }) {
  return (
    <Card title="Per model" testId="dash-models">
      {models.length === 0 ? (
        <Empty title="No model is loaded.">A request naming a model loads it.</Empty>
      ) : (
        <table className="table compact">
          <thead>
            <tr><th>Model</th><th>State</th><th>Memory</th><th>Tokens/s</th><th>Running</th><th>Queued</th><th>Requests</th><th>Failed</th><th>TTFT p50</th><th>ITL p50</th><th>KV cache</th><th>Tokens</th></tr>
          </thead>
          <tbody>
            {models.map((model) => (
              <tr key={model.id} data-testid={`dash-model-${model.id}`}>
                <td>{model.id}</td>
                <td>{model.state}</td>
                <td>{formatBytes(model.memoryBytes)}</td>
                <td>{formatRate(model.tokensPerSec)}</td>
                <td>{model.runningRequests}</td>
                <td>{model.queuedRequests}</td>
                <td data-testid="dash-model-requests">{model.requestsTotal}</td>
                <td>{model.requestsFailed}</td>
                <td>{formatMs(model.ttftMs.p50)}</td>
                <td>{formatMs(model.itlMs.p50)}</td>
                <td>{formatPercent(model.kvCacheUsage)}</td>
                <td>{model.tokensGenerated.toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}

function LatencyRow({ label, values, testId }: { label: string; values: LatencyPercentiles; testId: string }) {
  return (
    <tr data-testid={testId}>
      <td>{label}</td>
      <td>{formatMs(values.p50)}</td>
      <td>{formatMs(values.p95)}</td>
      <td>{formatMs(values.p99)}</td>
    </tr>
  );
}
