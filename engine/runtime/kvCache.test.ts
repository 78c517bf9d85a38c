import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvCacheManager, STRIDE_STEP_TOKENS, applyCacheOp, strideFor } from './kvCache.js';

const KV_HEADS = 2;
const HEAD_DIM = 3;

/** A physical cache that stores, per (owner, head, position, dim), a value identifying it. */
class PhysicalCache {
  readonly buffer: Float32Array;
  stride = STRIDE_STEP_TOKENS;
  constructor(capacityTokens: number) {
    this.buffer = new Float32Array(capacityTokens * KV_HEADS * HEAD_DIM);
  }
  apply(kv: KvCacheManager) {
    for (const op of kv.takeOps()) {
      if (op.kind !== "move" && op.kind !== "restride") throw new Error(`unexpected ${op.kind} op`);
      applyCacheOp(this.buffer, op, KV_HEADS, HEAD_DIM, this.stride);
      if (op.kind === 'restride') this.stride = op.toStride;
    }
    assert.equal(this.stride, kv.stride);
  }
  value(ownerTag: number, head: number, position: number, dim: number) {
    return ownerTag * 1e5 + head * 1e4 + position * 10 + dim;
  }
  write(row: number, ownerTag: number, from: number, to: number) {
    for (let head = 0; head < KV_HEADS; head++)
      for (let position = from; position < to; position++)
        for (let dim = 0; dim < HEAD_DIM; dim++)
          this.buffer[((row * KV_HEADS + head) * this.stride + position) * HEAD_DIM + dim] = this.value(ownerTag, head, position, dim);
  }
  check(row: number, ownerTag: number, length: number) {
    for (let head = 0; head < KV_HEADS; head++)
      for (let position = 0; position < length; position++)
        for (let dim = 0; dim < HEAD_DIM; dim++) {
          const got = this.buffer[((row * KV_HEADS + head) * this.stride + position) * HEAD_DIM + dim];
          assert.equal(got, this.value(ownerTag, head, position, dim), `row ${row} owner ${ownerTag} head ${head} pos ${position}`);
        }
  }
}

test('allocate hands out rows 0..n-1 and answers no room when full', () => {
  const kv = new KvCacheManager(256);
  assert.equal(kv.allocate('a', 10, 0), 0);
  assert.equal(kv.allocate('b', 10, 10), 1);
  assert.equal(kv.allocate('c', 10, 10), 2);
  assert.equal(kv.allocate('d', 10, 10), 3);
  assert.equal(kv.allocate('e', 10, 10), null, '5 rows × 64 > 256');
  // A long sequence needs a wider stride: only 2 rows of 128 fit.
  const kv2 = new KvCacheManager(256);
  assert.equal(kv2.allocate('a', 100, 0), 0);
  assert.equal(kv2.allocate('b', 100, 100), 1);
  assert.equal(kv2.allocate('c', 1, 100), null);
});

test('free compacts by moving the last row into the hole', () => {
  const kv = new KvCacheManager(1024);
  for (const id of ['a', 'b', 'c']) kv.allocate(id, 5, 5);
  kv.takeOps();
  kv.setCachedTokens('a', 5);
  kv.setCachedTokens('b', 6);
  kv.setCachedTokens('c', 7);
  kv.free('a');
  assert.deepEqual(kv.takeOps(), [{ kind: 'move', fromRow: 2, toRow: 0, numTokens: 7 }]);
  assert.equal(kv.rowOf('c'), 0);
  assert.equal(kv.rowOf('b'), 1);
  assert.equal(kv.numRows, 2);
  kv.free('b'); // last row: no move
  assert.deepEqual(kv.takeOps(), []);
});

test('resize grows and shrinks the stride in steps and refuses what does not fit', () => {
  const kv = new KvCacheManager(512);
  kv.allocate('a', 1, 0);
  kv.allocate('b', 1, 1);
  assert.equal(kv.resize(64), true);
  assert.equal(kv.stride, 64);
  assert.equal(kv.resize(65), true);
  assert.equal(kv.stride, 128);
  assert.deepEqual(kv.takeOps(), [{ kind: 'restride', fromStride: 64, toStride: 128, rowLengths: [0, 0] }]);
  assert.equal(kv.resize(257), false, '2 × 320 > 512');
  assert.equal(kv.stride, 128);
  assert.equal(kv.resize(10), true);
  assert.equal(kv.stride, 64);
  assert.equal(strideFor(0), 64);
  assert.equal(strideFor(129), 192);
});

test('restride and moves keep every row’s data intact (random workload against a physical buffer)', () => {
  const capacity = 1024;
  const kv = new KvCacheManager(capacity);
  const cache = new PhysicalCache(capacity);
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const live = new Map<string, { tag: number; length: number; target: number }>();
  let nextTag = 1;
  for (let iteration = 0; iteration < 400; iteration++) {
    if (random() < 0.3 && live.size < 8) {
      const id = `r${nextTag}`;
      const target = 1 + Math.floor(random() * 250);
      const maxLive = Math.max(0, ...[...live.values()].map((entry) => entry.length));
      if (kv.allocate(id, 1, maxLive) !== null) live.set(id, { tag: nextTag, length: 0, target });
      nextTag++;
    }
    if (random() < 0.15 && live.size > 0) {
      const ids = [...live.keys()];
      const id = ids[Math.floor(random() * ids.length)]!;
      kv.free(id);
      live.delete(id);
    }
    // Grow every live sequence by a chunk, shrinking targets that no longer fit.
    const growth = new Map<string, number>();
    for (const [id, entry] of live) growth.set(id, Math.min(entry.target, entry.length + 1 + Math.floor(random() * 40)));
    let maxAfter = Math.max(0, ...growth.values());
    while (!kv.resize(maxAfter)) {
      const id = [...live.keys()].at(-1)!;
      kv.free(id);
      live.delete(id);
      growth.delete(id);
      maxAfter = Math.max(0, ...growth.values());
    }
    cache.apply(kv);
    for (const [id, entry] of live) {
      const row = kv.rowOf(id)!;
      cache.check(row, entry.tag, entry.length);
      const after = growth.get(id)!;
      cache.write(row, entry.tag, entry.length, after);
      entry.length = after;
      kv.setCachedTokens(id, after);
    }
    assert.ok(kv.reservedTokens <= capacity);
  }
  cache.apply(kv);
  for (const [id, entry] of live) cache.check(kv.rowOf(id)!, entry.tag, entry.length);
});
