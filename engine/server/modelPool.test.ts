// The pool's rules with loads it controls (each load waits on a gate the test opens), so the
// orderings that real loads race through are pinned down: one load for concurrent requests, no
// eviction of a busy model, a failed load that fails only its requests and can be retried, pins.
// libraryServe.test.ts runs the same pool with real engines over HTTP.
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from './errors.js';
import { ModelPool, type LoadedModel, type PoolModel } from './modelPool.js';
import type { ServedEngine } from './servedEngine.js';

const MODELS: PoolModel[] = ['a', 'b', 'c'].map((name) => ({ name, dtype: 'int4', packageDir: `/models/${name}`, contextLength: 256 }));

function gatedPool(options: { maxLoadedModels?: number; memoryBudgetBytes?: number; pinned?: string[]; failing?: Set<string>; idleUnloadSeconds?: number } = {}) {
  const loads: string[] = [];
  const unloads: string[] = [];
  const gates = new Map<string, () => void>();
  const pool = new ModelPool({
    catalog: () => MODELS,
    resolve: (requested) => MODELS.find((model) => model.name === requested.split(':')[0]),
    estimateBytes: () => 100,
    load: async (model) => {
      loads.push(model.name);
      await new Promise<void>((resolve) => gates.set(model.name, resolve));
      if (options.failing?.has(model.name)) throw new Error(`${model.name} is broken`);
      return { engine: { name: model.name } as unknown as ServedEngine, unload: async () => void unloads.push(model.name) } satisfies LoadedModel;
    },
    maxLoadedModels: options.maxLoadedModels ?? 2,
    memoryBudgetBytes: options.memoryBudgetBytes ?? 1000,
    idleUnloadSeconds: options.idleUnloadSeconds ?? -1,
    pinned: options.pinned,
  });
  /** Opens the gate of `name`'s load once it has started. */
  const finishLoad = async (name: string) => {
    while (!gates.has(name)) await new Promise((resolve) => setImmediate(resolve));
    gates.get(name)!();
    gates.delete(name);
  };
  return { pool, loads, unloads, finishLoad };
}

test('concurrent requests for a model that is loading share its one load', async () => {
  const { pool, loads, finishLoad } = gatedPool();
  const leases = [pool.acquire('a'), pool.acquire('a'), pool.acquire('a:int4')];
  await finishLoad('a');
  const [first, second, third] = await Promise.all(leases);
  assert.deepEqual(loads, ['a']);
  assert.equal(first!.engine, second!.engine);
  assert.equal(pool.loadedStatus()[0]!.activeRequests, 3);
  for (const lease of [first!, second!, third!]) lease.release();
  assert.equal(pool.loadedStatus()[0]!.activeRequests, 0);
});

test('a busy model is never evicted: with every loaded model busy, a new one is a 503 that says so; once one is idle, it goes', async () => {
  const { pool, unloads, finishLoad } = gatedPool({ maxLoadedModels: 2 });
  const a = pool.acquire('a');
  await finishLoad('a');
  const b = pool.acquire('b');
  await finishLoad('b');
  const [leaseA, leaseB] = await Promise.all([a, b]);
  const refused = await pool.acquire('c').catch((error: unknown) => error);
  assert.ok(refused instanceof ApiError);
  assert.equal(refused.status, 503);
  assert.equal(refused.code, 'model_capacity');
  assert.match(refused.message, /none of them is idle: .*a:int4 \(1 running/);
  assert.deepEqual(unloads, []);
  leaseB!.release();
  const c = pool.acquire('c');
  await finishLoad('c');
  (await c).release();
  assert.deepEqual(unloads, ['b'], 'the idle one went, the busy one stayed');
  leaseA!.release();
});

test('a failed load fails only its own requests, leaves no slot, and the next request loads again', async () => {
  const failing = new Set(['b']);
  const { pool, loads, finishLoad } = gatedPool({ failing });
  const waiting = [pool.acquire('b'), pool.acquire('b')].map((lease) => lease.catch((error: unknown) => error));
  await finishLoad('b');
  for (const error of await Promise.all(waiting)) {
    assert.ok(error instanceof ApiError);
    assert.equal(error.code, 'model_load_failed');
    assert.match(error.message, /'b:int4' failed to load: b is broken/);
  }
  assert.deepEqual(pool.loadedStatus(), []);
  const a = pool.acquire('a');
  await finishLoad('a');
  (await a).release();
  failing.delete('b');
  const b = pool.acquire('b');
  await finishLoad('b');
  (await b).release();
  assert.deepEqual(loads, ['b', 'a', 'b']);
});

test('pinned models are never evicted; an unknown model is a 404 naming the library', async () => {
  const { pool, unloads, finishLoad } = gatedPool({ maxLoadedModels: 2, pinned: ['a'] });
  for (const name of ['a', 'b', 'c']) {
    const lease = pool.acquire(name);
    await finishLoad(name);
    (await lease).release();
  }
  assert.deepEqual(unloads, ['b'], 'a is pinned, so b made room for c');
  assert.deepEqual(pool.loadedStatus().map((status) => [status.name, status.pinned]).sort(), [['a', true], ['c', false]]);
  const unknown = await pool.acquire('zzz').catch((error: unknown) => error);
  assert.ok(unknown instanceof ApiError);
  assert.equal(unknown.status, 404);
  assert.match(unknown.message, /It serves 'a', 'b', 'c'/);
});

test('the idle timeout unloads a model that stayed idle that long; a request before it restarts the count; a request\'s keep_alive replaces it', async (t) => {
  t.after(() => mock.timers.reset());
  mock.timers.enable({ apis: ['setTimeout'] });
  const { pool, unloads, finishLoad } = gatedPool({ idleUnloadSeconds: 300 });
  const first = pool.acquire('a');
  await finishLoad('a');
  (await first).release();
  mock.timers.tick(299_000);
  assert.deepEqual(unloads, [], 'idle for 299 s of 300: still loaded');
  (await pool.acquire('a')).release(); // used again: the count starts over
  mock.timers.tick(299_000);
  assert.deepEqual(unloads, [], '299 s after its last use');
  mock.timers.tick(1_000);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(unloads, ['a'], 'unloaded 300 s after its last request');
  assert.deepEqual(pool.loadedStatus(), []);

  // keep_alive 60 on a request: that model's own timeout from then on.
  const again = pool.acquire('a');
  await finishLoad('a');
  (await again).release(60);
  mock.timers.tick(59_000);
  assert.deepEqual(unloads, ['a']);
  mock.timers.tick(1_000);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(unloads, ['a', 'a'], 'unloaded after its request\'s keep_alive of 60 s');
});
