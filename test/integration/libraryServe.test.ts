// `hearth serve --library` (engine/server/modelPool.ts through startServedLibrary): several
// library models at one port, loaded on demand by name, evicted least-recently-used within
// --max-loaded-models, never under a running stream, unloaded by keep_alive; over real HTTP with
// the openai client and real engines.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startServedLibrary, type ServedLibrary } from '../../engine/server/servedModel.js';
import { servingProcesses } from '../../engine/hub/library.js';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { addToLibrary } from '../fixtures/library.js';
import { waitFor } from './serverHarness.js';

let home: string;
let env: NodeJS.ProcessEnv;
let served: ServedLibrary;
let client: OpenAI;

const user = (content: string) => [{ role: 'user' as const, content }];
const metric = async (line: RegExp): Promise<number> => {
  const text = await (await fetch(`${served.url}/metrics`)).text();
  const match = line.exec(text);
  return match ? Number(match[1]) : 0;
};
const loadedIds = () => served.pool.loadedStatus().filter((model) => model.state === 'ready').map((model) => model.id).sort();

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'hearth-library-serve-'));
  env = { ...process.env, HEARTH_HOME: home };
  const llama = await ensureFixturePackage({ arch: 'llama', dtype: 'fp32', shape: 'tiny' });
  const qwen = await ensureFixturePackage({ arch: 'qwen3', dtype: 'fp32', shape: 'tiny' });
  const mistral = await ensureFixturePackage({ arch: 'mistral', dtype: 'int4', shape: 'tiny' });
  addToLibrary(env, 'alpha', 'fp32', llama.packageDir);
  addToLibrary(env, 'beta', 'fp32', qwen.packageDir);
  addToLibrary(env, 'gamma', 'int4', mistral.packageDir);
  const broken = addToLibrary(env, 'broken', 'fp32', llama.packageDir);
  writeFileSync(join(broken, 'model.onnx'), 'not an onnx graph');
  served = await startServedLibrary({
    env,
    engine: { device: 'cpu', batching: { kvCacheBytes: 8 * 2 ** 20 } },
    server: { port: 0 },
    maxLoadedModels: 2,
    idleUnloadSeconds: -1,
    log: () => {},
  });
  client = new OpenAI({ baseURL: `${served.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  await served?.close(2000);
  rmSync(home, { recursive: true, force: true });
});

test('/v1/models lists the library with each variant and whether it is loaded; nothing loads before a request', async () => {
  const models = await client.models.list();
  const byId = new Map(models.data.map((model) => [model.id, model as unknown as { status: { loaded: boolean }; variants: { id: string; state: string }[] }]));
  assert.deepEqual([...byId.keys()].sort(), ['alpha', 'beta', 'broken', 'gamma']);
  assert.deepEqual(byId.get('gamma')!.variants.map((variant) => [variant.id, variant.state]), [['gamma:int4', 'unloaded']]);
  assert.equal(byId.get('alpha')!.status.loaded, false);
  assert.deepEqual(loadedIds(), []);
  const health = (await (await fetch(`${served.url}/health`)).json()) as { status: string };
  assert.equal(health.status, 'ok');
});

test('two models answered alternately at one port; a third beyond --max-loaded-models evicts the least recently used', async () => {
  for (const name of ['alpha', 'beta', 'alpha', 'beta']) {
    const completion = await client.chat.completions.create({ model: name, messages: user('hi'), max_tokens: 4, temperature: 0 });
    assert.equal(completion.model, name);
    assert.equal(completion.choices[0]!.message.role, 'assistant');
  }
  assert.deepEqual(loadedIds(), ['alpha:fp32', 'beta:fp32']);
  // alpha was used before beta: it goes.
  const variant = await client.completions.create({ model: 'gamma:int4', prompt: 'Once', max_tokens: 4, temperature: 0 });
  assert.equal(variant.model, 'gamma:int4');
  assert.deepEqual(loadedIds(), ['beta:fp32', 'gamma:int4']);
  assert.equal(await metric(/^hearth_model_unloads_total\{model="alpha:fp32",reason="capacity"\} (\d+)/m), 1);
  assert.equal(await metric(/^hearth_model_loads_total\{model="alpha:fp32"\} (\d+)/m), 1, 'alpha was loaded once for both of its requests');
  assert.ok((await metric(/^hearth_model_requests_total\{model="beta:fp32",endpoint="\/v1\/chat\/completions",status="200"\} (\d+)/m)) >= 2);
  assert.equal(servingProcesses(join(home, 'models', 'alpha'), env).length, 0, "an unloaded model's serving mark is gone");
});

test('a model with a running request is never evicted, even when least recently used; a stream runs to its end', async () => {
  // Loaded now: beta and gamma. Hold gamma as a running request holds it (a lease), stream from
  // it, then use beta so that gamma is the least recently used: alpha must evict beta instead.
  const running = await served.pool.acquire('gamma');
  try {
    // ignore_eos (vLLM's extension): generate exactly max_tokens.
    const stream = await client.chat.completions.create({
      model: 'gamma', messages: user('Tell me a long story'), max_tokens: 120, temperature: 0, stream: true, stream_options: { include_usage: true },
      ...({ ignore_eos: true } as object),
    });
    const iterator = stream[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).done, false, 'the stream started');
    await client.chat.completions.create({ model: 'beta', messages: user('warm'), max_tokens: 1 });
    assert.equal(served.pool.loadedStatus().at(-1)!.id, 'gamma:int4', 'gamma is the least recently used');
    const other = await client.chat.completions.create({ model: 'alpha', messages: user('hi'), max_tokens: 2 });
    assert.equal(other.model, 'alpha');
    let finish: string | null = null;
    let generated = 0;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      finish = next.value.choices[0]?.finish_reason ?? finish;
      generated = next.value.usage?.completion_tokens ?? generated;
    }
    assert.equal(finish, 'length', 'the stream ran to max_tokens');
    assert.equal(generated, 120, 'every token arrived');
    assert.deepEqual(loadedIds(), ['alpha:fp32', 'gamma:int4']);
    assert.equal(await metric(/^hearth_model_unloads_total\{model="beta:fp32",reason="capacity"\} (\d+)/m), 1);
    assert.equal(await metric(/^hearth_model_unloads_total\{model="gamma:int4",reason="capacity"\} (\d+)/m), 0);
  } finally {
    running.release();
  }
});

test('concurrent first requests for a model trigger one load', async () => {
  const before = await metric(/^hearth_model_loads_total\{model="beta:fp32"\} (\d+)/m);
  const answers = await Promise.all([1, 2, 3].map((seed) => client.chat.completions.create({ model: 'beta', messages: user(`hi ${seed}`), max_tokens: 2, seed })));
  assert.equal(answers.length, 3);
  assert.equal(await metric(/^hearth_model_loads_total\{model="beta:fp32"\} (\d+)/m), before + 1);
});

test("keep_alive 0 unloads the model as soon as its request ends; a negative keep_alive keeps it", async () => {
  await client.chat.completions.create({ model: 'beta', messages: user('hi'), max_tokens: 2, ...({ keep_alive: -1 } as object) });
  assert.ok(loadedIds().includes('beta:fp32'), `beta stays loaded (loaded: ${loadedIds()})`);
  await client.chat.completions.create({ model: 'beta', messages: user('hi'), max_tokens: 2, ...({ keep_alive: 0 } as object) });
  // Gone from the pool once its engine has shut down (it stops serving at once).
  assert.ok(await waitFor(() => !served.pool.loadedStatus().some((model) => model.id === 'beta:fp32'), 10_000), 'beta unloaded after its keep_alive: 0 request');
  assert.ok((await metric(/^hearth_model_unloads_total\{model="beta:fp32",reason="idle"\} (\d+)/m)) >= 1);
  const bad = await fetch(`${served.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'beta', messages: user('hi'), keep_alive: 'soon' }),
  });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: { message: string } }).error.message, /keep_alive/);
});

test('errors: an unknown model is a 404 listing what exists; a model that fails to load fails only its own requests', async () => {
  const unknown = await client.chat.completions.create({ model: 'nope', messages: user('hi') }).catch((error: unknown) => error);
  assert.ok(unknown instanceof OpenAI.NotFoundError);
  assert.match(unknown.message, /'nope' does not exist.*'alpha'.*'beta'/);
  const broken = await client.chat.completions.create({ model: 'broken', messages: user('hi') }).catch((error: unknown) => error);
  assert.ok(broken instanceof OpenAI.APIError);
  assert.equal(broken.status, 503);
  assert.match(broken.message, /'broken:fp32' failed to load.*Other models keep serving/);
  const fine = await client.chat.completions.create({ model: 'alpha', messages: user('hi'), max_tokens: 2 });
  assert.equal(fine.model, 'alpha');
  assert.equal(await metric(/^hearth_model_load_failures_total\{model="broken:fp32"\} (\d+)/m), 1);
  const unnamed = await fetch(`${served.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'hi' }) });
  assert.equal(unnamed.status, 400);
  assert.match(((await unnamed.json()) as { error: { message: string } }).error.message, /Name the model/);
});

test('a model bigger than the whole memory budget is a 503 with the numbers and what to change', async () => {
  const small = await startServedLibrary({ env, engine: { device: 'cpu' }, server: { port: 0 }, memoryBudgetBytes: 2 ** 20, log: () => {} });
  try {
    const response = await fetch(`${small.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'alpha', prompt: 'hi' }) });
    assert.equal(response.status, 503);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'model_too_large');
    assert.match(error.message, /'alpha:fp32' needs about \d+ MiB .* memory budget of 1 MiB\. Raise --memory-budget/);
  } finally {
    await small.close(1000);
  }
});

test('explicit load and unload (POST /models/load, /models/unload): a load waits for ready, an unload is refused under a running stream, which runs to its end', async () => {
  const post = (path: string, body: unknown) => fetch(`${served.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const loaded = await post('/models/load', { model: 'gamma' });
  assert.equal(loaded.status, 200);
  const status = (await loaded.json()) as { id: string; state: string; memoryBytes: number; activeRequests: number };
  assert.equal(status.id, 'gamma:int4');
  assert.equal(status.state, 'ready', 'the answer comes once the model is ready');
  assert.ok(status.memoryBytes > 0);
  const list = (await (await fetch(`${served.url}/models`)).json()) as { data: Array<{ id: string; memoryBytes: number }>; usedBytes: number; maxLoadedModels: number };
  assert.ok(list.data.some((model) => model.id === 'gamma:int4'));
  assert.equal(list.usedBytes, list.data.reduce((sum, model) => sum + model.memoryBytes, 0));
  assert.equal(list.maxLoadedModels, 2);

  const stream = await client.chat.completions.create({
    model: 'gamma', messages: user('Tell me a long story'), max_tokens: 120, temperature: 0, stream: true, stream_options: { include_usage: true },
    ...({ ignore_eos: true } as object),
  });
  const iterator = stream[Symbol.asyncIterator]();
  assert.equal((await iterator.next()).done, false, 'the stream started');
  const refused = await post('/models/unload', { model: 'gamma' });
  assert.equal(refused.status, 409);
  const { error } = (await refused.json()) as { error: { code: string; message: string } };
  assert.equal(error.code, 'model_busy');
  assert.match(error.message, /'gamma:int4' has 1 running request/);
  let generated = 0;
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) generated = next.value.usage?.completion_tokens ?? generated;
  assert.equal(generated, 120, 'the refused unload did not cut the stream');

  // The stream's lease is released once its response closed.
  assert.ok(await waitFor(() => served.pool.loadedStatus().find((model) => model.id === 'gamma:int4')?.activeRequests === 0));
  const unloaded = await post('/models/unload', { model: 'gamma:int4' });
  assert.equal(unloaded.status, 200);
  assert.deepEqual(await unloaded.json(), { unloaded: 'gamma:int4' });
  assert.ok(!served.pool.loadedStatus().some((model) => model.id === 'gamma:int4'), 'gone when the answer comes');
  assert.equal(await metric(/^hearth_model_unloads_total\{model="gamma:int4",reason="explicit"\} (\d+)/m), 1);
  assert.deepEqual(await (await post('/models/unload', { model: 'gamma' })).json(), { unloaded: null }, 'unloading what is not loaded is a no-op');

  assert.equal((await post('/models/load', { model: 'nope' })).status, 404);
  const broken = await post('/models/load', { model: 'broken' });
  assert.equal(broken.status, 503);
  assert.match(((await broken.json()) as { error: { message: string } }).error.message, /failed to load/);
  assert.equal((await post('/models/load', {})).status, 400);
});
