// Requests: the request log with filters, text search, a detail panel, CSV export and a
// latency-by-day view to spot drift.
import { useEffect, useMemo, useState } from 'react';
import type { RequestLogEntry, RequestLogFilter } from '../../../engine/common/adminApi.js';
import { LineChart } from '../components/LineChart.js';
import { Card, Empty, ErrorBox, Loading } from '../components/States.js';
import { formatMs, formatRate, formatTime } from '../components/format.js';
import { useAsync } from '../components/useAsync.js';
import { useHost } from '../hostContext.js';
import type { ViewProps } from './viewProps.js';

const RANGES = { all: 0, hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000 } as const;
type Range = keyof typeof RANGES;
const PAGE_SIZE = 50;

export function RequestsView(_props: ViewProps) {
  const { client, requestsVersion } = useHost();
  const [status, setStatus] = useState('');
  const [model, setModel] = useState('');
  const [range, setRange] = useState<Range>('all');
  const [textInput, setTextInput] = useState('');
  const [text, setText] = useState('');
  const [page, setPage] = useState(0);
  const [selected, setSelected] = useState<string | null>(null);

  // Debounce typing so a search runs once the user pauses.
  useEffect(() => {
    const timer = setTimeout(() => setText(textInput.trim()), 250);
    return () => clearTimeout(timer);
  }, [textInput]);
  useEffect(() => setPage(0), [status, model, range, text]);

  const filter = useMemo<RequestLogFilter>(() => {
    const f: RequestLogFilter = {};
    if (status) f.status = /^\d+$/.test(status) ? Number(status) : (status as '2xx' | '4xx' | '5xx');
    if (model) f.model = model;
    if (text) f.text = text;
    if (RANGES[range] > 0) f.sinceMs = Date.now() - RANGES[range];
    return f;
  }, [status, model, range, text]);

  const list = useAsync(() => client.requests({ ...filter, limit: PAGE_SIZE, offset: page * PAGE_SIZE }), [client, filter, page], requestsVersion);
  // Drift is read across all served traffic of a model: the status and text filters would hide it.
  const dayFilter = useMemo<RequestLogFilter>(() => ({ model: filter.model, sinceMs: filter.sinceMs }), [filter.model, filter.sinceMs]);
  const byDay = useAsync(() => client.latencyByDay(dayFilter), [client, dayFilter], requestsVersion);

  return (
    <div className="view" data-testid="view-requests">
      <h1>Requests</h1>
      <Card title="Request log" actions={<a className="button" href={client.csvUrl(filter)} download data-testid="csv-export">Export CSV</a>}>
        <div className="filters">
          <select value={status} onChange={(event) => setStatus(event.target.value)} aria-label="Status" data-testid="filter-status">
            <option value="">all statuses</option>
            <option value="2xx">2xx ok</option>
            <option value="4xx">4xx client errors</option>
            <option value="5xx">5xx server errors</option>
            <option value="499">499 client went away</option>
          </select>
          <select value={model} onChange={(event) => setModel(event.target.value)} aria-label="Model">
            <option value="">all models</option>
            {(list.data?.models ?? []).map((name) => <option key={name} value={name}>{name}</option>)}
          </select>
          <select value={range} onChange={(event) => setRange(event.target.value as Range)} aria-label="Time range">
            <option value="all">all time</option>
            <option value="hour">last hour</option>
            <option value="day">last 24 hours</option>
            <option value="week">last 7 days</option>
          </select>
          <input value={textInput} onChange={(event) => setTextInput(event.target.value)} placeholder="Search prompts, responses, errors, ids" aria-label="Search" data-testid="filter-text" />
        </div>
        {list.loading && !list.data ? (
          <Loading what="requests" />
        ) : list.error ? (
          <ErrorBox error={list.error} onRetry={list.reload} />
        ) : list.data!.entries.length === 0 ? (
          <Empty title={list.data!.total === 0 && !text && !status && !model ? 'No requests yet.' : 'No requests match these filters.'}>
            {list.data!.total === 0 && !text && !status && !model ? 'Send a message in the Playground, or call the endpoint from the Serve tab.' : 'Clear a filter or search for something else.'}
          </Empty>
        ) : (
          <>
            <table className="table clickable" data-testid="requests-table">
              <thead>
                <tr><th>Time</th><th>Status</th><th>Model</th><th>Tokens in/out</th><th>TTFT</th><th>Total</th><th>Tokens/s</th><th>Note</th></tr>
              </thead>
              <tbody>
                {list.data!.entries.map((entry) => (
                  <tr key={entry.id} onClick={() => setSelected(entry.id)} className={entry.id === selected ? 'selected' : undefined} data-testid="request-row">
                    <td>{formatTime(entry.timeMs)}</td>
                    <td><span className={`badge status-${Math.floor(entry.status / 100)}xx`}>{entry.status}</span></td>
                    <td>{entry.model ?? '—'}</td>
                    <td>{entry.promptTokens ?? '—'} / {entry.completionTokens ?? '—'}</td>
                    <td>{formatMs(entry.ttftMs)}</td>
                    <td>{formatMs(entry.totalMs)}</td>
                    <td>{formatRate(entry.tokensPerSec, '')}</td>
                    <td className="ellipsis">{entry.error ?? entry.finishReason ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <div className="row-between small muted">
              <span data-testid="requests-total">{list.data!.total} requests</span>
              <span className="row">
                <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>Newer</button>
                <button type="button" disabled={(page + 1) * PAGE_SIZE >= list.data!.total} onClick={() => setPage(page + 1)}>Older</button>
              </span>
            </div>
          </>
        )}
      </Card>
      {selected && <RequestDetail id={selected} onClose={() => setSelected(null)} />}
      <Card title="Latency by day" testId="latency-by-day">
        {byDay.loading && !byDay.data ? (
          <Loading what="daily latency" />
        ) : byDay.error ? (
          <ErrorBox error={byDay.error} onRetry={byDay.reload} />
        ) : byDay.data!.days.length === 0 ? (
          <Empty title="No days to show yet." />
        ) : (
          <>
            {byDay.data!.days.length < 2 && <div className="muted small">One day of traffic so far: the chart appears from the second day.</div>}
            {byDay.data!.days.length >= 2 && <LineChart
              series={[
                { name: 'p50 total', color: '#4f7cff', points: byDay.data!.days.map((day, i) => ({ x: i, y: day.p50TotalMs ?? 0 })) },
                { name: 'p95 total', color: '#e5534b', points: byDay.data!.days.map((day, i) => ({ x: i, y: day.p95TotalMs ?? 0 })) },
                { name: 'p50 TTFT', color: '#2bb673', dashed: true, points: byDay.data!.days.map((day, i) => ({ x: i, y: day.p50TtftMs ?? 0 })) },
                { name: 'p95 TTFT', color: '#f2a93b', dashed: true, points: byDay.data!.days.map((day, i) => ({ x: i, y: day.p95TtftMs ?? 0 })) },
              ]}
              xTicksAtData
              formatX={(x) => byDay.data!.days[x]?.day.slice(5) ?? ''}
              yLabel="ms"
              height={180}
            />}
            <table className="table compact">
              <thead><tr><th>Day (UTC)</th><th>Requests</th><th>Errors</th><th>p50 total</th><th>p95 total</th><th>p50 TTFT</th><th>p95 TTFT</th></tr></thead>
              <tbody>
                {byDay.data!.days.map((day) => (
                  <tr key={day.day}>
                    <td>{day.day}</td><td>{day.requests}</td><td>{day.errors}</td>
                    <td>{formatMs(day.p50TotalMs)}</td><td>{formatMs(day.p95TotalMs)}</td><td>{formatMs(day.p50TtftMs)}</td><td>{formatMs(day.p95TtftMs)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </Card>
    </div>
  );
}

function RequestDetail({ id, onClose }: { id: string; onClose: () => void }) {
  const { client } = useHost();
  const detail = useAsync(() => client.request(id), [client, id]);
  return (
    <Card title={`Request ${id}`} actions={<button type="button" onClick={onClose}>Close</button>} testId="request-detail">
      {detail.loading && !detail.data ? <Loading what="the request" /> : detail.error ? <ErrorBox error={detail.error} onRetry={detail.reload} /> : <DetailBody entry={detail.data!} />}
    </Card>
  );
}

function DetailBody({ entry }: { entry: RequestLogEntry }) {
  return (
    <div className="detail">
      <dl className="kv-list">
        <dt>Time</dt><dd>{formatTime(entry.timeMs)}</dd>
        <dt>Endpoint</dt><dd>{entry.endpoint}{entry.stream ? ' (streamed)' : ''}</dd>
        <dt>Status</dt><dd>{entry.status}{entry.finishReason ? ` · finish: ${entry.finishReason}` : ''}</dd>
        <dt>Model</dt><dd>{entry.model ?? '—'}</dd>
        <dt>Tokens</dt><dd>{entry.promptTokens ?? '—'} prompt · {entry.completionTokens ?? '—'} completion</dd>
        <dt>Timing</dt><dd>queue {formatMs(entry.queueMs)} · TTFT {formatMs(entry.ttftMs)} · total {formatMs(entry.totalMs)} · {formatRate(entry.tokensPerSec)}</dd>
        <dt>Client</dt><dd>{entry.clientIp ?? '—'} · {entry.userAgent ?? '—'}</dd>
      </dl>
      {entry.error && <div className="state state-error" data-testid="request-error">{entry.error}</div>}
      <h3>Prompt</h3>
      {entry.prompt !== null ? <pre className="code" data-testid="request-prompt">{entry.prompt}</pre> : <p className="muted">Not logged (content logging is off on the Serve tab).</p>}
      <h3>Response</h3>
      {entry.response !== null ? <pre className="code" data-testid="request-response">{entry.response}</pre> : <p className="muted">{entry.status >= 400 ? 'No response: the request failed.' : 'Not logged (content logging is off on the Serve tab).'}</p>}
    </div>
  );
}
