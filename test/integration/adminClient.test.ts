// The renderer's typed client against a real engine host: both sides use the one route table
// (engine/common/adminRoutes.ts), so every call here goes through the host's registration of it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_ROUTES, adminPath, type AdminRouteName } from '../../engine/common/adminRoutes.js';
import { buildRoutes, type AdminApiContext } from '../../engine/host/adminApi.js';
import { startHost, type RunningHost } from '../../engine/host/host.js';
import { findRoute } from '../../engine/server/http.js';
import { AdminClient, AdminRequestError } from '../../renderer/src/api/client.js';
import { copyFixturePackage, ensureFixturePackage } from '../fixtures/packages.js';

const TOKEN = 'test-admin-token-route-table-0001';
let home: string;
let host: RunningHost;
let client: AdminClient;

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'hearth-admin-client-'));
  host = await startHost({ token: TOKEN, port: 0, rendererDir: null, env: { ...process.env, HEARTH_HOME: home }, dashboardIntervalMs: 200, log: () => {} });
  client = new AdminClient({ url: host.url, token: TOKEN });
});

after(async () => {
  await host?.close(1000);
  rmSync(home, { recursive: true, force: true });
});

test('the host registers every route of the table, and each path reaches its own handler', () => {
  // Handlers are looked up only when called, so an empty context is enough to match paths.
  const routes = buildRoutes({} as AdminApiContext);
  assert.deepEqual(routes.map((route) => route.name).sort(), Object.keys(ADMIN_ROUTES).sort());
  const sample: Record<string, string> = { name: 'tiny model', id: 'req-1' };
  for (const name of Object.keys(ADMIN_ROUTES) as AdminRouteName[]) {
    const spec = ADMIN_ROUTES[name];
    const params = Object.fromEntries([...spec.path.matchAll(/:(\w+)/g)].map((match) => [match[1]!, sample[match[1]!]!]));
    const path = adminPath(name, params as never).split('?')[0]!;
    const found = findRoute(routes, spec.method, path);
    assert.ok(found !== null && found !== 'wrong-method', `${spec.method} ${path} is routed`);
    assert.equal(found.route.name, name, `${spec.method} ${path} reaches '${name}', not a route declared before it`);
    assert.deepEqual(found.params, params);
  }
});

test('the typed client talks to the real host: status, library, serve, request log, bench, errors', async () => {
  const status = await client.status();
  assert.equal(status.dataDir, home);
  assert.equal(status.serve.state, 'stopped');
  assert.deepEqual((await client.library()).models, []);
  assert.equal((await client.serveStatus()).state, 'stopped');
  const log = await client.requests({ status: '4xx', text: '', limit: 5 });
  assert.deepEqual(log, { total: 0, entries: [], models: [] });
  assert.deepEqual((await client.latencyByDay({})).days, []);
  assert.deepEqual((await client.benchRuns()).runs, []);
  assert.deepEqual((await client.pulls()).pulls, []);

  // Path params are encoded, and the host's errors arrive as AdminRequestError with its message.
  const missingRow = await client.request('no such/row').catch((error: unknown) => error);
  assert.ok(missingRow instanceof AdminRequestError);
  assert.equal(missingRow.status, 404);
  assert.match(missingRow.message, /No request 'no such\/row' in the log/);
  const missingModel = await client.deleteModel('no-such-model', 'int4').catch((error: unknown) => error);
  assert.ok(missingModel instanceof AdminRequestError);
  assert.equal(missingModel.status, 404);

  // A body route: the host checks the body with the route's schema.
  const badStart = await client.startServe({ model: '', device: 'cpu', port: 0, corsOrigins: [], maxBatchSize: 1, contextLength: 0, kvCacheBytes: 0, contentLogging: false }).catch((error: unknown) => error);
  assert.ok(badStart instanceof AdminRequestError);
  assert.equal(badStart.status, 400);
  assert.match(badStart.message, /Pick a model to serve/);
  const noServer = await client.startBench({ concurrencyLevels: [1], promptTokens: 8, outputTokens: 4, requestsPerLevel: 1 }).catch((error: unknown) => error);
  assert.ok(noServer instanceof AdminRequestError);
  assert.equal(noServer.code, 'not_serving');

  // The CSV link carries the token in its query (a link cannot set headers).
  const csv = await fetch(client.csvUrl({ status: '2xx' }));
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
});

test('the Serve view\'s CPU int8 setting reaches the engine and the serving config it exports', async () => {
  // A copy: the int8 cache is written into the package folder.
  const packageDir = join(home, 'int4-package');
  copyFixturePackage((await ensureFixturePackage({ arch: 'llama', dtype: 'int4' })).packageDir, packageDir);
  const started = await client.startServe({ model: packageDir, device: 'cpu', port: 0, corsOrigins: [], maxBatchSize: 2, contextLength: 0, kvCacheBytes: 4 * 2 ** 20, contentLogging: false, cpuInt8MatMul: 'prompt' });
  try {
    assert.equal(started.state, 'ready', started.error ?? '');
    assert.equal(started.config?.cpuInt8MatMul, 'prompt');
    const info = (await (await fetch(`${started.baseUrl!.replace(/\/v1$/, '')}/info`)).json()) as { hearth: { accelerator: { cpuInt8MatMul: string } } };
    assert.equal(info.hearth.accelerator.cpuInt8MatMul, 'prompt');
  } finally {
    await client.stopServe();
  }
  const bad = await client.startServe({ model: packageDir, device: 'cpu', port: 0, corsOrigins: [], maxBatchSize: 2, contextLength: 0, kvCacheBytes: 0, contentLogging: false, cpuInt8MatMul: 'some' as never }).catch((error: unknown) => error);
  assert.ok(bad instanceof AdminRequestError);
  assert.match(bad.message, /'cpuInt8MatMul' must be one of off, prompt, all/);
});

test('conversations: saved, listed newest first, searched, renamed, deleted; they survive a host restart', async () => {
  const first = await client.createConversation({ systemPrompt: 'Be brief.', messages: [{ role: 'user', content: 'What is a llama?' }, { role: 'assistant', content: 'A camelid.', model: 'tiny', timings: { ttftMs: 12, totalMs: 40, completionTokens: 3, tokensPerSec: 75, finishReason: 'length' } }] });
  assert.equal(first.title, 'What is a llama?', 'titled by its first message');
  const second = await client.createConversation({ messages: [{ role: 'user', content: 'Tell me about alpacas' }] });
  assert.deepEqual((await client.conversations()).conversations.map((conversation) => conversation.id), [second.id, first.id]);
  assert.deepEqual((await client.conversations('camelid')).conversations.map((conversation) => conversation.id), [first.id], 'search reads the messages');
  assert.deepEqual((await client.conversations('100%')).conversations, [], 'LIKE wildcards in a search are literal');
  const renamed = await client.updateConversation(first.id, { title: 'Llamas' });
  assert.equal(renamed.title, 'Llamas');
  const longer = await client.updateConversation(first.id, { messages: [...first.messages, { role: 'user', content: 'And their wool?' }] });
  assert.equal(longer.title, 'Llamas', 'a renamed conversation keeps its name');
  assert.equal(longer.messages.length, 3);
  const bad = await client.updateConversation(first.id, { messages: [{ role: 'robot' as 'user', content: 'x' }] }).catch((error: unknown) => error);
  assert.ok(bad instanceof AdminRequestError);
  assert.equal(bad.status, 400);
  assert.match(bad.message, /'role' must be 'user' or 'assistant'/);

  // A restart of the host (same data directory) keeps them.
  await host.close(1000);
  host = await startHost({ token: TOKEN, port: 0, rendererDir: null, env: { ...process.env, HEARTH_HOME: home }, dashboardIntervalMs: 200, log: () => {} });
  client = new AdminClient({ url: host.url, token: TOKEN });
  const reopened = await client.conversation(first.id);
  assert.equal(reopened.title, 'Llamas');
  assert.equal(reopened.systemPrompt, 'Be brief.');
  assert.deepEqual(reopened.messages.map((message) => message.content), ['What is a llama?', 'A camelid.', 'And their wool?']);
  assert.equal(reopened.messages[1]!.model, 'tiny');
  assert.deepEqual(reopened.messages[1]!.timings, { ttftMs: 12, totalMs: 40, completionTokens: 3, tokensPerSec: 75, finishReason: 'length' }, 'the timings line reads as it did, max tokens and all');
  assert.deepEqual(await client.deleteConversation(second.id), { deleted: second.id });
  const gone = await client.conversation(second.id).catch((error: unknown) => error);
  assert.ok(gone instanceof AdminRequestError);
  assert.equal(gone.status, 404);
  assert.deepEqual((await client.conversations()).conversations.map((conversation) => conversation.id), [first.id]);
});
