// Black-box tests of the engine host: the real host (SQLite in a temp HEARTH_HOME), the real
// engine and OpenAI server on the generated tiny fixture package, real HTTP clients.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  AdminError,
  AdminStatus,
  BenchRun,
  BenchRunListResponse,
  ExportBundleResponse,
  ExportDefaults,
  SizingResponse,
  DashboardSnapshot,
  LatencyByDayResponse,
  RequestListResponse,
  RequestLogEntry,
  ServeStatus,
} from '../common/adminApi.js';
import { ensureFixturePackage } from '../../test/fixtures/packages.js';
import { pollUntil, waitFor } from '../../test/fixtures/poll.js';
import { startHost, type RunningHost } from './host.js';
import { sseData, sseEvents } from '../common/sse.js';

const TOKEN = 'test-admin-token-0123456789';
let home: string;
let rendererDir: string;
let host: RunningHost;
let packageDir: string;

async function api<T>(path: string, init: RequestInit = {}, token: string | null = TOKEN): Promise<{ status: number; body: T }> {
  const response = await fetch(`${host.url}${path}`, {
    ...init,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });
  const text = await response.text();
  return { status: response.status, body: (text && response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T };
}

/** Reads a benchmark run until it is no longer running (done, failed or cancelled). */
async function benchRunEnded(runId: string): Promise<BenchRun> {
  return pollUntil(`bench run ${runId}`, async () => (await api<BenchRun>(`/api/bench/runs/${runId}`)).body, (run) => run.state !== 'running');
}

before(async () => {
  packageDir = (await ensureFixturePackage({ arch: 'llama', dtype: 'fp32', shape: 'tiny' })).packageDir;
  home = mkdtempSync(join(tmpdir(), 'hearth-host-test-'));
  rendererDir = mkdtempSync(join(tmpdir(), 'hearth-renderer-test-'));
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Hearth</title>');
  writeFileSync(join(rendererDir, 'app.js'), 'console.log(1)');
  host = await startHost({ token: TOKEN, port: 0, rendererDir, env: { ...process.env, HEARTH_HOME: home }, dashboardIntervalMs: 200, log: () => {} });
});

after(async () => {
  await host?.close(1000);
  rmSync(home, { recursive: true, force: true });
  rmSync(rendererDir, { recursive: true, force: true });
});

test('every /api route needs the admin token; the UI shell does not', async () => {
  const missing = await api<AdminError>('/api/status', {}, null);
  assert.equal(missing.status, 401);
  assert.match(missing.body.error.message, /admin token/);
  assert.equal((await api('/api/status', {}, 'wrong-token-wrong-token-00')).status, 401);
  assert.equal((await api('/api/library', {}, null)).status, 401);
  assert.equal((await api(`/api/status?token=${TOKEN}`, {}, null)).status, 200, 'query token (EventSource) works');
  const page = await api<string>('/', {}, null);
  assert.equal(page.status, 200);
  assert.match(page.body, /<title>Hearth<\/title>/);
  assert.equal((await api<string>('/app.js', {}, null)).status, 200);
  assert.equal((await api<string>('/models/anything', {}, null)).status, 200, 'client-side routes fall back to index.html');
  assert.equal((await api<string>('/..%2f..%2fetc%2fpasswd.txt', {}, null)).status, 404, 'no reads outside the renderer folder');
});

test('the Electron renderer (app://hearth) may call cross-origin; other origins are refused (403)', async () => {
  const preflight = await fetch(`${host.url}/api/status`, { method: 'OPTIONS', headers: { origin: 'app://hearth', 'access-control-request-headers': 'authorization' } });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), 'app://hearth');
  assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/);
  const allowed = await fetch(`${host.url}/api/status`, { headers: { origin: 'app://hearth', authorization: `Bearer ${TOKEN}` } });
  assert.equal(allowed.headers.get('access-control-allow-origin'), 'app://hearth');
  const other = await fetch(`${host.url}/api/status`, { headers: { origin: 'https://evil.example', authorization: `Bearer ${TOKEN}` } });
  assert.equal(other.status, 403);
  assert.equal(other.headers.get('access-control-allow-origin'), null);
  assert.equal((await fetch(`${host.url}/api/status`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } })).status, 403);
});

test('status reports the data dir and the serving state', async () => {
  const { status, body } = await api<AdminStatus>('/api/status');
  assert.equal(status, 200);
  assert.equal(body.dataDir, home);
  assert.equal(body.serve.state, 'stopped');
});

test('admin bodies are checked by their schemas: a 400 names the field and what is allowed', async () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['/api/bench/runs', { concurrencyLevels: [0], promptTokens: 8, outputTokens: 8, requestsPerLevel: 1 }, /'concurrencyLevels' must be a list of whole numbers between 1 and 1024/],
    ['/api/bench/runs', { concurrencyLevels: [1], promptTokens: 8, outputTokens: 1.5, requestsPerLevel: 1 }, /'outputTokens' must be a whole number of at least 1/],
    ['/api/export/bundle', { config: {}, target: 'tpu' }, /'target' must be 'gpu' or 'cpu'/],
    ['/api/export/sizing', { config: {}, gpus: 'T4', prices: [] }, /'gpus'/],
    ['/api/serve/start', { settings: { model: 'x', device: 'tpu' } }, /'device' must be one of auto, cpu, cuda, dml, coreml, webgpu/],
    ['/api/serve/start', {}, /'settings'/],
  ];
  for (const [route, body, message] of cases) {
    const response = await api<AdminError>(route, { method: 'POST', body: JSON.stringify(body) });
    assert.equal(response.status, 400, `${route} ${JSON.stringify(body)}`);
    assert.match(response.body.error.message, message);
  }
});

test('bad serve settings and unknown models get messages that say what to do', async () => {
  const bad = await api<AdminError>('/api/serve/start', { method: 'POST', body: JSON.stringify({ settings: { model: 'x', port: -1 } }) });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /'port'/);
  const unknown = await api<ServeStatus>('/api/serve/start', { method: 'POST', body: JSON.stringify({ settings: { model: 'no-such-model', device: 'cpu', port: 0 } }) });
  assert.equal(unknown.body.state, 'failed');
  assert.match(unknown.body.error ?? '', /No model named 'no-such-model' in the library.*Models tab/);
  const taken = Number(new URL(host.url).port);
  const portInUse = await api<ServeStatus>('/api/serve/start', { method: 'POST', body: JSON.stringify({ settings: { model: packageDir, device: 'cpu', port: taken } }) });
  assert.equal(portInUse.body.state, 'failed');
  assert.match(portInUse.body.error ?? '', new RegExp(`Port ${taken} .*already in use.*Pick another port`));
  const proxy = await api<AdminError>('/api/proxy/v1/models');
  assert.equal(proxy.status, 503);
  assert.match(proxy.body.error.message, /Start one on the Serve tab/);
});

test('serve the fixture, chat through the proxy, and see it in the dashboard and the request log', async () => {
  const started = await api<ServeStatus>('/api/serve/start', {
    method: 'POST',
    body: JSON.stringify({ settings: { model: packageDir, device: 'cpu', port: 0, maxBatchSize: 4, contextLength: 0, kvCacheBytes: 0, corsOrigins: [], contentLogging: true } }),
  });
  assert.equal(started.status, 200);
  assert.equal(started.body.state, 'ready', started.body.error ?? '');
  assert.match(started.body.baseUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  assert.equal(started.body.config?.batching.maxBatchSize, 4);
  assert.equal(started.body.config?.model.package, packageDir);

  // Starting twice is a conflict, not a second model.
  const again = await api<AdminError>('/api/serve/start', { method: 'POST', body: JSON.stringify({ settings: { model: packageDir, device: 'cpu', port: 0 } }) });
  assert.equal(again.status, 409);

  // A streamed chat through the proxy (as the playground sends it).
  const response = await fetch(`${host.url}/api/proxy/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: started.body.servedName, messages: [{ role: 'user', content: 'hello there' }], stream: true, max_tokens: 6, stream_options: { include_usage: true } }),
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
  const payloads: string[] = [];
  for await (const data of sseData(response.body!)) payloads.push(data);
  const chunks = payloads.filter((data) => data.startsWith('{'));
  assert.ok(chunks.length >= 2, 'several chunks streamed');
  assert.equal(payloads.at(-1), '[DONE]');
  const chatId = JSON.parse(chunks[0]!).id as string;

  // An error request: its message must reach the log.
  const failed = await api<{ error: { message: string } }>('/api/proxy/v1/chat/completions', {
    method: 'POST',
    body: JSON.stringify({ model: started.body.servedName, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1_000_000 }),
  });
  assert.equal(failed.status, 400);
  assert.match(failed.body.error.message, /maximum context length/);

  // The request log: list, filters, detail, CSV, latency by day.
  const list = await api<RequestListResponse>('/api/requests');
  assert.equal(list.body.total, 2);
  assert.deepEqual(list.body.models, [started.body.servedName]);
  const ok = await api<RequestListResponse>('/api/requests?status=2xx');
  assert.deepEqual(ok.body.entries.map((entry) => entry.id), [chatId]);
  const errors = await api<RequestListResponse>('/api/requests?status=4xx');
  assert.equal(errors.body.entries.length, 1);
  assert.match(errors.body.entries[0]!.error ?? '', /maximum context length/);
  const searched = await api<RequestListResponse>('/api/requests?text=hello%20there');
  assert.deepEqual(searched.body.entries.map((entry) => entry.id), [chatId], 'text search finds the logged prompt');
  assert.equal((await api<RequestListResponse>(`/api/requests?sinceMs=${Date.now() + 60_000}`)).body.total, 0);
  const detail = await api<RequestLogEntry>(`/api/requests/${chatId}`);
  assert.equal(detail.body.status, 200);
  assert.equal(detail.body.completionTokens, 6);
  assert.match(detail.body.prompt ?? '', /hello there/);
  assert.equal((await api<AdminError>('/api/requests/nope')).status, 404);
  assert.equal((await api<AdminError>('/api/requests?status=abc')).status, 400);
  const csv = await fetch(`${host.url}/api/requests.csv?token=${TOKEN}&status=2xx`);
  assert.match(csv.headers.get('content-disposition') ?? '', /attachment/);
  const csvLines = (await csv.text()).trim().split('\r\n');
  assert.equal(csvLines[0]!.split(',')[0], 'id');
  assert.ok(csvLines.some((line) => line.startsWith(chatId)));
  const byDay = await api<LatencyByDayResponse>('/api/requests/latency-by-day');
  assert.equal(byDay.body.days.length, 1);
  assert.equal(byDay.body.days[0]!.requests, 2);
  assert.equal(byDay.body.days[0]!.errors, 1);

  // The dashboard moves: tokens were generated and both requests are counted.
  const dashboard = await pollUntil('both requests on the dashboard', async () => (await api<DashboardSnapshot>('/api/dashboard')).body, (snapshot) => snapshot.requestsTotal === 2, { timeoutMs: 5000 });
  assert.equal(dashboard.requestsTotal, 2);
  assert.equal(dashboard.requestsFailed, 1);
  assert.ok(dashboard.tokensGenerated >= 6);
  assert.ok(dashboard.history.some((tick) => tick.tokensPerSec > 0) || dashboard.tokensGenerated > 0);
  assert.notEqual(dashboard.ttftMs.p50, null);
  assert.equal(dashboard.maxBatchSize, 4);
  assert.equal(dashboard.memory.source === 'system' || dashboard.memory.source === 'nvidia-smi', true);
  assert.ok(dashboard.memory.engine.weightsBytes > 0);

  // Live events: the stream starts with the serve status and carries dashboard ticks.
  const controller = new AbortController();
  const events = await fetch(`${host.url}/api/events?token=${TOKEN}`, { signal: controller.signal });
  assert.match(events.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = events.body!.getReader();
  let seen = '';
  while (!(seen.includes('event: serve') && seen.includes('event: dashboard'))) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += new TextDecoder().decode(value);
  }
  controller.abort();
  assert.match(seen, /event: serve\ndata: \{"state":"ready"/);

  // Concurrent load: the dashboard's batch size is the engine's rows per step, so several
  // requests decoding together read above 1 (and never above the configured 4). Every tick is
  // read from the event stream, so a busy window between two polls is not missed.
  const loadEvents = new AbortController();
  const tickStream = await fetch(`${host.url}/api/events?token=${TOKEN}`, { signal: loadEvents.signal });
  const ticks: DashboardSnapshot[] = [];
  const collecting = (async () => {
    try {
      for await (const { event, data } of sseEvents(tickStream.body!)) {
        if (event === 'dashboard') ticks.push(JSON.parse(data) as DashboardSnapshot);
      }
    } catch {
      // aborted below
    }
  })();
  const answers = await Promise.all(
    Array.from({ length: 4 }, async (_, i) => {
      const answer = await api<{ usage: { completion_tokens: number } }>('/api/proxy/v1/chat/completions', {
        method: 'POST',
        body: JSON.stringify({ model: started.body.servedName, messages: [{ role: 'user', content: `count to ${i + 3}` }], max_tokens: 96, ignore_eos: true }),
      });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body.usage.completion_tokens;
    }),
  );
  assert.deepEqual(answers, [96, 96, 96, 96]);
  // Two more ticks, so the window holding the load's last steps has been published.
  const ticksAtEnd = ticks.length;
  await waitFor(() => ticks.length >= ticksAtEnd + 2);
  loadEvents.abort();
  await collecting;
  const busy = ticks.filter((tick) => tick.stepsInWindow > 0);
  assert.ok(busy.length > 0, 'the engine steps reached the dashboard');
  const peak = Math.max(...busy.map((tick) => tick.peakBatchSize));
  const bestMean = Math.max(...busy.map((tick) => tick.batchSize));
  assert.ok(peak > 1 && peak <= 4, `peak rows per step ${peak} (expected 2..4 with 4 concurrent requests, max batch 4)`);
  assert.ok(bestMean > 1 && bestMean <= peak, `mean rows per step ${bestMean}`);
  const quiet = ticks.at(-1)!;
  assert.deepEqual([quiet.stepsInWindow, quiet.batchSize, quiet.runningRequests], [0, 0, 0], 'an idle window reads zero');

  // Benchmark a tiny sweep against the served model; the run is stored and readable.
  const bench = await api<{ runId: string }>('/api/bench/runs', {
    method: 'POST',
    body: JSON.stringify({ concurrencyLevels: [1, 2], promptTokens: 8, outputTokens: 4, requestsPerLevel: 2, label: 'api test' }),
  });
  assert.equal(bench.status, 202);
  const run = await benchRunEnded(bench.body.runId);
  assert.equal(run.state, 'done', run.error ?? '');
  assert.deepEqual(run.levels.map((level) => level.concurrency), [1, 2]);
  assert.ok(run.levels.every((level) => level.throughputTokensPerSec > 0 && level.errors === 0));
  const runs = await api<BenchRunListResponse>('/api/bench/runs');
  assert.deepEqual(runs.body.runs.map((entry) => [entry.runId, entry.label, entry.state]), [[bench.body.runId, 'api test', 'done']]);
  assert.equal((await api<AdminError>('/api/bench/runs', { method: 'POST', body: JSON.stringify({ concurrencyLevels: [0], promptTokens: 8, outputTokens: 4, requestsPerLevel: 1 }) })).status, 400);

  // A long sweep stopped from the UI ends as cancelled, keeps what it measured, and is not stored.
  const long = await api<{ runId: string }>('/api/bench/runs', {
    method: 'POST',
    body: JSON.stringify({ concurrencyLevels: [1, 2, 4], promptTokens: 8, outputTokens: 32, requestsPerLevel: 400, label: 'stopped' }),
  });
  assert.equal(long.status, 202);
  const stopping = await api<BenchRun>(`/api/bench/runs/${long.body.runId}/cancel`, { method: 'POST' });
  assert.equal(stopping.status, 200);
  const cancelledRun = await benchRunEnded(long.body.runId);
  assert.equal(cancelledRun.state, 'cancelled');
  assert.ok(cancelledRun.levels.length < 3, 'it stopped before the sweep finished');
  assert.equal((await api<AdminError>(`/api/bench/runs/${long.body.runId}/cancel`, { method: 'POST' })).status, 200, 'stopping a stopped run is harmless');
  assert.equal((await api<AdminError>('/api/bench/runs/nope/cancel', { method: 'POST' })).status, 404);

  // Export: defaults carry the served config; sizing per GPU; a bundle on disk.
  const defaults = await api<ExportDefaults>('/api/export/defaults');
  assert.equal(defaults.body.config?.model.package, packageDir);
  assert.ok(defaults.body.gpus.some((gpu) => gpu.name === 'T4'));
  const sizing = await api<SizingResponse>('/api/export/sizing', {
    method: 'POST',
    body: JSON.stringify({ config: defaults.body.config, gpus: [{ name: 'Tiny', memoryBytes: 1024 }, ...defaults.body.gpus], prices: defaults.body.prices, targetRequestsPerSec: 5 }),
  });
  assert.equal(sizing.status, 200);
  const byGpu = new Map(sizing.body.rows.map((row) => [row.gpu, row]));
  assert.equal(byGpu.get('Tiny')?.fits, false);
  assert.equal(byGpu.get('T4')?.fits, true);
  assert.ok((byGpu.get('T4')?.replicas ?? 0) >= 1, 'replicas planned from the stored benchmark');
  assert.ok((byGpu.get('T4')?.usdPerMonth ?? 0) > 0);
  const outDir = join(home, 'bundle');
  const bundle = await api<ExportBundleResponse>('/api/export/bundle', { method: 'POST', body: JSON.stringify({ config: defaults.body.config, outDir, target: 'cpu', bakeModel: false }) });
  assert.equal(bundle.status, 200);
  assert.equal(bundle.body.outDir, outDir);
  assert.ok(bundle.body.files.includes('Dockerfile'));
  assert.ok(existsSync(join(outDir, 'Dockerfile')));
  assert.equal(bundle.body.engine, 'hearth', 'the engine defaults to Hearth');
  assert.deepEqual(defaults.body.engines.map((engine) => engine.name), ['hearth', 'vllm', 'tgi']);
  // vLLM needs the Hub checkpoint; this package was converted from a local folder: a 400 that says so.
  const local = await api<AdminError>('/api/export/bundle', { method: 'POST', body: JSON.stringify({ config: defaults.body.config, outDir: join(home, 'bundle-vllm'), target: 'gpu', engine: 'vllm', bakeModel: false }) });
  assert.equal(local.status, 400);
  assert.match(local.body.error.message, /^vLLM serves the original checkpoint from the Hugging Face Hub/);
  assert.match(local.body.error.message, /hearth pull/);
  const unknown = await api<AdminError>('/api/export/bundle', { method: 'POST', body: JSON.stringify({ config: defaults.body.config, outDir: join(home, 'bundle-x'), target: 'gpu', engine: 'sglang', bakeModel: false }) });
  assert.equal(unknown.status, 400);
  assert.match(unknown.body.error.message, /'engine' must be 'hearth', 'vllm' or 'tgi'/);
  const occupied = await api<AdminError>('/api/export/bundle', { method: 'POST', body: JSON.stringify({ config: defaults.body.config, outDir: rendererDir, target: 'cpu', bakeModel: false }) });
  assert.equal(occupied.status, 400);
  assert.match(occupied.body.error.message, /pick another output folder/);

  // Reload with new settings, then stop.
  const reloaded = await api<ServeStatus>('/api/serve/reload', {
    method: 'POST',
    body: JSON.stringify({ settings: { model: packageDir, device: 'cpu', port: 0, maxBatchSize: 2, contentLogging: false } }),
  });
  assert.equal(reloaded.body.state, 'ready');
  assert.equal(reloaded.body.config?.batching.maxBatchSize, 2);
  const stopped = await api<ServeStatus>('/api/serve/stop', { method: 'POST' });
  assert.equal(stopped.body.state, 'stopped');
  assert.equal((await api('/api/proxy/v1/models')).status, 503);
});
