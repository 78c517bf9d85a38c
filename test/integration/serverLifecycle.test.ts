// Server lifecycle and access on the real engine: 503 while loading and /health transitions,
// 429 with Retry-After under a tiny concurrency limit, 401 with an API key, CORS, Vertex AI's
// routes, graceful close (finish in-flight work, or cancel it at the deadline).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEngine, type LoadedEngine } from '../../engine/runtime/index.js';
import { createServer, type CreateServerOptions, type HearthServer } from '../../engine/server/index.js';
import { RequestLog } from '../../engine/store/requestLog.js';
import { postJson, readSse, tinyPackage, waitFor } from './serverHarness.js';

let engine: LoadedEngine;
let packageDir: string;
let model: string;
let dir: string;
let requestLog: RequestLog;
const servers: HearthServer[] = [];

before(async () => {
  const fixture = await tinyPackage();
  packageDir = fixture.packageDir;
  model = fixture.manifest.name;
  // One admitted request at a time, so a second one is refused with 429.
  engine = await loadEngine({ packageDir, device: 'cpu', batching: { maxConcurrentRequests: 1 }, log: () => {} });
  dir = mkdtempSync(join(tmpdir(), 'hearth-lifecycle-test-'));
  requestLog = new RequestLog({ file: join(dir, 'hearth.db') });
});
after(async () => {
  for (const server of servers) await server.close(1000);
  await engine?.shutdown(1000);
  requestLog?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(options: Partial<CreateServerOptions> = {}): Promise<HearthServer> {
  const server = await createServer({ engine, port: 0, requestLog, log: () => {}, ...options });
  servers.push(server);
  await server.ready;
  return server;
}

const chatBody = (extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, ...extra });

describe('loading and health', () => {
  test('503 while the model loads; /health turns 200 after the warm-up token', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let loaded: LoadedEngine | null = null;
    const server = await createServer({
      engine: gate.then(async () => (loaded = await loadEngine({ packageDir, device: 'cpu', log: () => {} }))),
      port: 0,
      log: () => {},
    });
    try {
      const health = await fetch(`${server.url}/health`);
      assert.equal(health.status, 503);
      assert.equal(((await health.json()) as any).status, 'loading');
      const { status, headers, json } = await postJson(`${server.url}/v1/chat/completions`, chatBody());
      assert.equal(status, 503);
      assert.equal(json.error.code, 'model_loading');
      assert.ok(Number(headers.get('retry-after')) > 0);
      assert.equal((await fetch(`${server.url}/v1/models`)).status, 503);
      release();
      await server.ready;
      assert.equal((await fetch(`${server.url}/health`)).status, 200);
      assert.equal((await postJson(`${server.url}/v1/chat/completions`, chatBody())).status, 200);
    } finally {
      await server.close(1000);
      await (loaded as LoadedEngine | null)?.shutdown(1000);
    }
  });

  test('without warm-up, /health stays 503 until the first token', async () => {
    const fresh = await loadEngine({ packageDir, device: 'cpu', log: () => {} });
    const server = await createServer({ engine: fresh, port: 0, warmUp: false, log: () => {} });
    try {
      await server.ready;
      const before = await fetch(`${server.url}/health`);
      assert.equal(before.status, 503);
      assert.equal(((await before.json()) as any).status, 'warming_up');
      assert.equal((await postJson(`${server.url}/v1/completions`, { prompt: 'a', max_tokens: 1 })).status, 200);
      const afterFirst = await fetch(`${server.url}/health`);
      assert.equal(afterFirst.status, 200);
      assert.equal(((await afterFirst.json()) as any).status, 'ok');
    } finally {
      await server.close(1000);
      await fresh.shutdown(1000);
    }
  });

  test('a model that fails to load: 503 with the reason', async () => {
    const server = await createServer({ engine: Promise.reject(new Error('manifest.json is missing')), port: 0, log: () => {} });
    try {
      await assert.rejects(server.ready, /manifest.json is missing/);
      const health = await fetch(`${server.url}/health`);
      assert.equal(health.status, 503);
      const { status, json } = await postJson(`${server.url}/v1/chat/completions`, chatBody());
      assert.equal(status, 503);
      assert.match(json.error.message, /manifest.json is missing/);
    } finally {
      await server.close(1000);
    }
  });
});

describe('admission and access', () => {
  test('429 with Retry-After when over the concurrency limit; never queued unboundedly', async () => {
    const server = await serve();
    const controller = new AbortController();
    const running = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody({ max_tokens: undefined, stream: true, ignore_eos: true })),
      signal: controller.signal,
    });
    assert.equal(running.status, 200, 'the first request is admitted (its first token arrived)');
    try {
      const { status, headers, json } = await postJson(`${server.url}/v1/chat/completions`, chatBody());
      assert.equal(status, 429);
      assert.equal(json.error.type, 'rate_limit_error');
      assert.ok(Number(headers.get('retry-after')) >= 1);
      const tgi = await postJson(`${server.url}/generate`, { inputs: 'x' });
      assert.equal(tgi.status, 429);
      assert.equal(tgi.json.error_type, 'overloaded');
    } finally {
      controller.abort();
    }
    assert.ok(await waitFor(() => engine.snapshot().runningSize === 0 && engine.snapshot().queueSize === 0));
    assert.equal((await postJson(`${server.url}/v1/chat/completions`, chatBody())).status, 200, 'admitted again once the slot is free');
  });

  test('401 without or with a wrong API key; health and metrics stay open', async () => {
    const server = await serve({ apiKey: 'sk-test-key' });
    const missing = await postJson(`${server.url}/v1/chat/completions`, chatBody());
    assert.equal(missing.status, 401);
    assert.equal(missing.json.error.code, 'missing_api_key');
    const wrong = await postJson(`${server.url}/v1/chat/completions`, chatBody(), { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error.code, 'invalid_api_key');
    assert.equal((await fetch(`${server.url}/v1/models`)).status, 401);
    const ok = await postJson(`${server.url}/v1/chat/completions`, chatBody(), { authorization: 'Bearer sk-test-key' });
    assert.equal(ok.status, 200);
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
    assert.equal((await fetch(`${server.url}/metrics`)).status, 200);
    requestLog.flush();
    assert.ok(!requestLog.exportCsv().includes('sk-test-key'), 'the key never reaches the log');
  });

  test('CORS is off by default and on only for configured origins; other origins get 403', async () => {
    const closed = await serve();
    const plain = await fetch(`${closed.url}/v1/models`, { headers: { origin: 'http://app.example' } });
    assert.equal(plain.status, 403);
    assert.equal(plain.headers.get('access-control-allow-origin'), null);
    const open = await serve({ corsOrigins: ['http://app.example'] });
    const preflight = await fetch(`${open.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://app.example');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/);
    const other = await fetch(`${open.url}/v1/models`, { headers: { origin: 'http://evil.example' } });
    assert.equal(other.status, 403);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });

  test('binds 127.0.0.1 by default', async () => {
    const server = await serve();
    assert.equal(server.host, '127.0.0.1');
    assert.equal((server.httpServer.address() as { address: string }).address, '127.0.0.1');
  });
});

describe('graceful close', () => {
  test('in-flight streams finish within the deadline; new connections are refused', async () => {
    const server = await createServer({ engine, port: 0, requestLog, log: () => {} });
    await server.ready;
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody({ max_tokens: 40, stream: true, ignore_eos: true, temperature: 0 })),
    });
    const closing = server.close(30_000);
    const events = await readSse(response);
    assert.equal(events.at(-1).choices[0].finish_reason, 'length', 'the stream ran to completion');
    await closing;
    await assert.rejects(fetch(`${server.url}/health`));
  });

  test('work still running at the deadline is cancelled and logged as cancelled', async () => {
    const server = await createServer({ engine, port: 0, requestLog, log: () => {} });
    await server.ready;
    const sinceMs = Date.now();
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'deadline-test' },
      body: JSON.stringify(chatBody({ max_tokens: undefined, stream: true, ignore_eos: true })),
    });
    await server.close(0);
    await response.text().catch(() => '');
    assert.ok(await waitFor(() => engine.snapshot().runningSize === 0));
    requestLog.flush();
    const row = requestLog.list({ sinceMs }).find((r) => r.userAgent === 'deadline-test');
    assert.ok(row, 'the cancelled request has a log row');
    assert.equal(row.finishReason, 'cancelled');
  });
});
