// The desktop host serving the library (the Serve view's library mode) through the renderer's
// typed AdminClient: a real host, real engines, two models chatted with by name, explicit load and
// unload (refused under a running stream, which runs to its end), the dashboard per model and in
// total, and what "the model" means for the benchmark (named, loaded first) and export (a loaded
// model's own config).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { DashboardSnapshot, ServeSettings } from '../../engine/common/adminApi.js';
import { startHost, type RunningHost } from '../../engine/host/host.js';
import { AdminClient, AdminRequestError } from '../../renderer/src/api/client.js';
import { addToLibrary } from '../fixtures/library.js';
import { ensureFixturePackage } from '../fixtures/packages.js';

const TOKEN = 'test-admin-token-library-serve-01';
let home: string;
let host: RunningHost;
let client: AdminClient;
let openai: OpenAI;
let alphaDir: string;

const settings: ServeSettings = {
  model: '',
  device: 'cpu',
  port: 0,
  corsOrigins: [],
  maxBatchSize: 4,
  contextLength: 0,
  kvCacheBytes: 8 * 2 ** 20,
  contentLogging: false,
  library: { maxLoadedModels: 2, memoryBudgetBytes: 0, idleUnloadSeconds: -1 },
};
const user = (content: string) => [{ role: 'user' as const, content }];
/** Polls an async condition until it holds or `timeoutMs` passed. */
async function poll(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const giveUpAt = Date.now() + timeoutMs;
  while (Date.now() < giveUpAt) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}
const rejection = (promise: Promise<unknown>) => promise.then(() => assert.fail('expected a refusal'), (error: unknown) => error as AdminRequestError);

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'hearth-host-library-'));
  const env = { ...process.env, HEARTH_HOME: home };
  const [llama, qwen] = await Promise.all([
    ensureFixturePackage({ arch: 'llama', dtype: 'fp32', shape: 'tiny' }),
    ensureFixturePackage({ arch: 'qwen3', dtype: 'fp32', shape: 'tiny' }),
  ]);
  alphaDir = addToLibrary(env, 'alpha', 'fp32', llama.packageDir);
  addToLibrary(env, 'beta', 'fp32', qwen.packageDir);
  host = await startHost({ token: TOKEN, port: 0, rendererDir: null, env, dashboardIntervalMs: 100, log: () => {} });
  client = new AdminClient({ url: host.url, token: TOKEN });
});

after(async () => {
  await host?.close(2000);
  rmSync(home, { recursive: true, force: true });
});

test('library routes answer 409 until the library is served; a library server names no single model', async () => {
  const early = await rejection(client.servedModels());
  assert.equal(early.status, 409);
  assert.equal(early.code, 'not_serving_library');

  const status = await client.startServe(settings);
  assert.equal(status.state, 'ready', status.error ?? '');
  assert.ok(status.baseUrl);
  assert.equal(status.servedName, null);
  assert.equal(status.manifest, null);
  assert.equal(status.config, null, 'no single serving config: Export asks for a loaded model');
  assert.equal((await client.exportDefaults()).config, null);
  openai = new OpenAI({ baseURL: status.baseUrl, apiKey: 'unused', maxRetries: 0 });
  const models = await client.servedModels();
  assert.deepEqual(models.models.map((model) => [model.id, model.state]).sort(), [['alpha:fp32', 'unloaded'], ['beta:fp32', 'unloaded']]);
  assert.equal(models.maxLoadedModels, 2);
  assert.equal(models.usedBytes, 0);
});

test('two models by name at one port; the served models list both with their memory; the dashboard has a row each and their total', async () => {
  for (const name of ['alpha', 'beta', 'alpha']) {
    const answer = await openai.chat.completions.create({ model: name, messages: user('hi'), max_tokens: 4, temperature: 0 });
    assert.equal(answer.model, name);
  }
  // The playground's path (the host's proxy) reaches the same server.
  const proxied = await fetch(client.proxyUrl('/v1/chat/completions'), {
    method: 'POST',
    headers: { ...client.authHeaders(), 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'beta', messages: user('hi'), max_tokens: 3 }),
  });
  assert.equal(proxied.status, 200);
  const models = await client.servedModels();
  const loaded = models.models.filter((model) => model.state === 'ready');
  assert.deepEqual(loaded.map((model) => model.id).sort(), ['alpha:fp32', 'beta:fp32']);
  for (const model of loaded) assert.ok((model.memoryBytes ?? 0) > 0, `${model.id} reports its memory`);
  assert.equal(models.usedBytes, loaded.reduce((sum, model) => sum + model.memoryBytes!, 0));

  let last: DashboardSnapshot | null = null;
  const rows = (snapshot: DashboardSnapshot) => Object.fromEntries(snapshot.models.map((row) => [row.id, row]));
  const counted = await poll(async () => {
    last = await client.dashboard();
    const byId = rows(last);
    return byId['alpha:fp32']?.requestsTotal === 2 && byId['beta:fp32']?.requestsTotal === 2;
  });
  assert.ok(counted, `the dashboard counts each model's requests (last: ${JSON.stringify(last && rows(last))})`);
  last = last!;
  const byId = rows(last);
  assert.equal(last.requestsTotal, 4, 'the total is every model together');
  assert.ok(byId['alpha:fp32']!.memoryBytes > 0 && byId['beta:fp32']!.memoryBytes > 0);
  assert.ok(byId['alpha:fp32']!.tokensGenerated >= 8, 'alpha generated its tokens (and its warm-up one)');
  assert.equal(last.tokensGenerated, byId['alpha:fp32']!.tokensGenerated + byId['beta:fp32']!.tokensGenerated, 'total tokens are the models together');
  assert.ok(last.memory.engine.weightsBytes > 0);
});

test('unload is refused while a stream runs (which runs to its end), then unloads; load waits for ready; errors as a request', async () => {
  const stream = await openai.chat.completions.create({
    model: 'beta', messages: user('A long story'), max_tokens: 100, temperature: 0, stream: true, stream_options: { include_usage: true },
    ...({ ignore_eos: true } as object),
  });
  const iterator = stream[Symbol.asyncIterator]();
  assert.equal((await iterator.next()).done, false, 'the stream started');
  const busy = await rejection(client.unloadServedModel('beta'));
  assert.equal(busy.status, 409);
  assert.equal(busy.code, 'model_busy');
  let generated = 0;
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) generated = next.value.usage?.completion_tokens ?? generated;
  assert.equal(generated, 100, 'the stream was not cut');

  // The stream's lease ends once its response closed.
  assert.ok(await poll(async () => (await client.servedModels()).models.find((model) => model.id === 'beta:fp32')?.activeRequests === 0));
  assert.deepEqual(await client.unloadServedModel('beta'), { unloaded: 'beta:fp32' });
  assert.equal((await client.servedModels()).models.find((model) => model.id === 'beta:fp32')!.state, 'unloaded', 'gone when the answer came');

  const reloaded = await client.loadServedModel('beta:fp32');
  assert.equal(reloaded.state, 'ready');
  assert.ok((reloaded.memoryBytes ?? 0) > 0);
  assert.ok(reloaded.contextLength > 0);
  const inUse = await rejection(client.deleteModel('beta'));
  assert.equal(inUse.status, 409, 'a loaded model is not deleted under the server');
  assert.match(inUse.message, /'beta:fp32' is loaded by the library server/);
  const unknown = await rejection(client.loadServedModel('nope'));
  assert.equal(unknown.status, 404);
  assert.match(unknown.message, /'nope' does not exist.*'alpha', 'beta'/);
});

test('the benchmark names a library model (loaded first) and records its config; export takes a loaded model\'s config', async () => {
  const unnamed = await rejection(client.startBench({ concurrencyLevels: [1], promptTokens: 8, outputTokens: 4, requestsPerLevel: 1 }));
  assert.equal(unnamed.status, 400);
  assert.match(unnamed.message, /name the model to benchmark in 'model' \(loaded now: .*'alpha:fp32'/);

  await client.unloadServedModel('alpha');
  const { runId } = await client.startBench({ concurrencyLevels: [1], promptTokens: 8, outputTokens: 4, requestsPerLevel: 2, model: 'alpha' });
  let run = await client.benchRun(runId);
  await poll(async () => (run = await client.benchRun(runId)).state !== 'running', 30_000);
  assert.equal(run.state, 'done', run.error ?? '');
  assert.equal(run.model, 'alpha:fp32');
  assert.equal(run.levels[0]!.errors, 0);
  assert.equal(run.config?.model.package, alphaDir, "the run records the measured model's own config");
  assert.equal(run.config?.batching.maxBatchSize, 4);

  const config = await client.servedModelConfig('alpha:fp32');
  assert.equal(config.model.package, alphaDir);
  assert.equal(config.model.servedName, 'alpha');
  const sizing = await client.sizing({ config, gpus: [{ name: 'L4', memoryBytes: 24e9 }], prices: [] });
  assert.ok(sizing.rows[0]!.weightsBytes > 0);
  const notLoaded = await rejection(client.servedModelConfig('beta:int4'));
  assert.equal(notLoaded.status, 404);
});

test('stopping the library server unloads every model; one model serves again as before', async () => {
  await client.stopServe();
  assert.equal((await rejection(client.servedModels())).code, 'not_serving_library');
  const single = await client.startServe({ ...settings, model: 'alpha', library: undefined });
  assert.equal(single.state, 'ready', single.error ?? '');
  assert.ok(single.servedName);
  assert.equal((await rejection(client.servedModels())).status, 409, 'one model: no library routes');
  const answer = await new OpenAI({ baseURL: single.baseUrl!, apiKey: 'unused', maxRetries: 0 }).chat.completions.create({ model: single.servedName, messages: user('hi'), max_tokens: 2 });
  assert.equal(answer.model, single.servedName);
  let sample: DashboardSnapshot | null = null;
  assert.ok(await poll(async () => (sample = await client.dashboard()).model === single.servedName), 'a sample of the new server');
  assert.deepEqual(sample!.models, [], 'one model: no per-model rows');
  await client.stopServe();
});
