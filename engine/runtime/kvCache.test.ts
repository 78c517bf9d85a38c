import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvCacheManager, LONG_ROW_MIN_TOKENS, STRIDE_STEP_TOKENS, applyCacheOp, strideFor, viewSpans, type CacheOp, type Placement } from './kvCache.js';

const KV_HEADS = 2;
const HEAD_DIM = 3;

/**
 * A physical cache that stores, per (owner, head, position, dim), a value identifying it, and
 * applies the manager's ops as a runner does (entries as plain arrays, like hostKvCache.ts).
 */
class PhysicalCache {
  readonly buffer: Float32Array;
  private readonly entries = new Map<number, Float32Array>();
  placements: Placement[] = [];
  constructor(readonly capacityTokens: number) {
    this.buffer = new Float32Array(capacityTokens * KV_HEADS * HEAD_DIM);
  }
  /** Apply `ops` (by default the manager's pending ones) and take the manager's placements; returns the ops. */
  apply(kv: KvCacheManager, ops: CacheOp[] = kv.takeOps()): CacheOp[] {
    for (const op of ops) {
      if (op.kind === 'save') {
        const out = new Float32Array(KV_HEADS * op.numTokens * HEAD_DIM);
        for (let head = 0; head < KV_HEADS; head++) out.set(this.buffer.subarray(this.at(op.from, head, 0), this.at(op.from, head, op.numTokens)), head * op.numTokens * HEAD_DIM);
        this.entries.set(op.entryId, out);
      } else if (op.kind === 'load') {
        const entry = this.entries.get(op.entryId)!;
        const entryTokens = entry.length / (KV_HEADS * HEAD_DIM);
        for (let head = 0; head < KV_HEADS; head++) this.buffer.set(entry.subarray(head * entryTokens * HEAD_DIM, (head * entryTokens + op.numTokens) * HEAD_DIM), this.at(op.to, head, 0));
      } else if (op.kind === 'drop') {
        this.entries.delete(op.entryId);
      } else {
        applyCacheOp(this.buffer, op, KV_HEADS, HEAD_DIM);
      }
    }
    this.placements = kv.placements();
    // Every row inside the buffer, no two overlapping: the block at the front, regions at the back.
    const extents = this.placements.map((p) => [p.offsetTokens, p.offsetTokens + p.strideTokens] as const).sort((a, b) => a[0] - b[0]);
    extents.forEach(([from, to], i) => {
      assert.ok(from >= 0 && to <= this.capacityTokens, `row extent ${from}..${to} inside the buffer`);
      if (i > 0) assert.ok(from >= extents[i - 1]![1], `rows overlap at ${from}`);
    });
    return ops;
  }
  /** Parked rows are loaded and dropped within the step that parked them. */
  get numEntries() {
    return this.entries.size;
  }
  private at(p: Placement, head: number, position: number) {
    return (p.offsetTokens * KV_HEADS + head * p.strideTokens + position) * HEAD_DIM;
  }
  value(ownerTag: number, head: number, position: number, dim: number) {
    return ownerTag * 1e5 + head * 1e4 + position * 10 + dim;
  }
  write(row: number, ownerTag: number, from: number, to: number) {
    for (let head = 0; head < KV_HEADS; head++)
      for (let position = from; position < to; position++)
        for (let dim = 0; dim < HEAD_DIM; dim++) this.buffer[this.at(this.placements[row]!, head, position) + dim] = this.value(ownerTag, head, position, dim);
  }
  check(row: number, ownerTag: number, length: number) {
    for (let head = 0; head < KV_HEADS; head++)
      for (let position = 0; position < length; position++)
        for (let dim = 0; dim < HEAD_DIM; dim++) {
          const got = this.buffer[this.at(this.placements[row]!, head, position) + dim];
          assert.equal(got, this.value(ownerTag, head, position, dim), `row ${row} owner ${ownerTag} head ${head} pos ${position}`);
        }
  }
}

const needs = (entries: Record<string, number>) => new Map(Object.entries(entries));

test('allocate hands out block rows 0..n-1 and answers no room when full', () => {
  const kv = new KvCacheManager(256);
  assert.equal(kv.allocate('a', 10), 0);
  assert.equal(kv.allocate('b', 10), 1);
  assert.equal(kv.allocate('c', 10), 2);
  assert.equal(kv.allocate('d', 10), 3);
  assert.equal(kv.allocate('e', 10), null, '5 rows × 64 > 256');
  // Rows below LONG_ROW_MIN_TOKENS share the block's stride: only 2 rows of 128 fit.
  const kv2 = new KvCacheManager(256);
  assert.equal(kv2.allocate('a', 100), 0);
  assert.equal(kv2.resize(needs({ a: 100 })), true);
  assert.equal(kv2.allocate('b', 100), 1);
  assert.equal(kv2.allocate('c', 1), null);
  assert.deepEqual(kv2.placements(), [{ offsetTokens: 0, strideTokens: 128 }, { offsetTokens: 128, strideTokens: 128 }]);
});

test('the 4096-token cache admits a 2300-token row next to 28 short rows (14 once they pass 64 tokens); one stride admits none', () => {
  // The scheduler reserves a prompt + 1 token at admission. The long row's region is
  // strideFor(2301) = 2304 tokens at the back; the 1792 left hold 28 block rows at stride 64.
  const kv = new KvCacheManager(4096);
  assert.equal(kv.allocate('long', 2301), 0);
  assert.equal(kv.numLongRows, 1);
  assert.deepEqual(kv.placements(), [{ offsetTokens: 4096 - 2304, strideTokens: 2304 }]);
  for (let i = 0; i < 28; i++) assert.notEqual(kv.allocate(`short${i}`, 13), null, `short row ${i}`);
  assert.equal(kv.allocate('short28', 13), null, 'no room: 2304 + 29 × 64 > 4096');
  assert.equal(kv.reservedTokens, 4096);
  assert.equal(kv.rowOf('long'), 28, 'long rows are numbered after the block');
  assert.deepEqual(kv.placements()[27], { offsetTokens: 27 * 64, strideTokens: 64 });
  // The short rows grow past 64 tokens: the block's stride doubles, and 14 rows still fit.
  const tokens = Object.fromEntries(kv.owners().map((id) => [id, id === 'long' ? 2301 : 65]));
  assert.equal(kv.resize(needs(tokens)), false, '28 × 128 + 2304 > 4096: the scheduler preempts');
  for (let i = 27; i >= 14; i--) {
    kv.free(`short${i}`);
    delete tokens[`short${i}`];
  }
  assert.equal(kv.resize(needs(tokens)), true, '14 × 128 + 2304 = 4096');
  assert.equal(kv.stride, 128);
  // Before regions, every row took the long one's stride: 2 × 2304 > 4096.
  const oneStride = new KvCacheManager(4096, { maxLongRows: 0 });
  assert.equal(oneStride.allocate('long', 2301), 0);
  assert.equal(oneStride.resize(needs({ long: 2301 })), true);
  assert.equal(oneStride.allocate('short', 13), null);
});

test('free compacts the block by moving its last row into the hole', () => {
  const kv = new KvCacheManager(1024);
  for (const id of ['a', 'b', 'c']) kv.allocate(id, 5);
  kv.takeOps();
  kv.setCachedTokens('a', 5);
  kv.setCachedTokens('b', 6);
  kv.setCachedTokens('c', 7);
  kv.free('a');
  assert.deepEqual(kv.takeOps(), [{ kind: 'move', from: { offsetTokens: 128, strideTokens: 64 }, to: { offsetTokens: 0, strideTokens: 64 }, numTokens: 7 }]);
  assert.equal(kv.rowOf('c'), 0);
  assert.equal(kv.rowOf('b'), 1);
  assert.equal(kv.numRows, 2);
  kv.free('b'); // last row: no move
  assert.deepEqual(kv.takeOps(), []);
});

test('resize grows and shrinks the block stride in steps and refuses what does not fit', () => {
  const kv = new KvCacheManager(512);
  kv.allocate('a', 1);
  kv.allocate('b', 1);
  assert.equal(kv.resize(needs({ a: 64, b: 1 })), true);
  assert.equal(kv.stride, 64);
  assert.equal(kv.resize(needs({ a: 65, b: 1 })), true);
  assert.equal(kv.stride, 128);
  assert.deepEqual(kv.takeOps(), [{ kind: 'restride', fromStride: 64, toStride: 128, rowLengths: [0, 0] }]);
  assert.equal(kv.resize(needs({ a: 257, b: 257 })), false, '2 × 320 > 512, and neither row is long');
  assert.equal(kv.stride, 128);
  assert.deepEqual(kv.takeOps(), [], 'a refused resize changes nothing');
  assert.equal(kv.resize(needs({ a: 10, b: 1 })), true);
  assert.equal(kv.stride, 64);
  assert.equal(strideFor(0), 64);
  assert.equal(strideFor(129), 192);
});

test('a short row growing long is parked, leaves the block, and lands in a region of its own with its data', () => {
  const kv = new KvCacheManager(2048);
  const cache = new PhysicalCache(2048);
  kv.allocate('a', 480);
  kv.allocate('b', 10);
  kv.allocate('c', 10);
  assert.equal(kv.resize(needs({ a: 480, b: 10, c: 10 })), true);
  assert.equal(kv.numLongRows, 0, '480 < LONG_ROW_MIN_TOKENS: a stays in the block');
  cache.apply(kv);
  const tags = { a: 1, b: 2, c: 3 } as Record<string, number>;
  const lengths = { a: 480, b: 10, c: 10 } as Record<string, number>;
  for (const id of kv.owners()) {
    cache.write(kv.rowOf(id)!, tags[id]!, 0, lengths[id]!);
    kv.setCachedTokens(id, lengths[id]!);
  }
  // a's next token takes it to LONG_ROW_MIN_TOKENS + 1 > 4 × stride of the others.
  assert.equal(kv.resize(needs({ a: LONG_ROW_MIN_TOKENS + 1, b: 11, c: 11 })), true);
  const ops = kv.takeOps();
  assert.deepEqual(ops.map((op) => op.kind), ['save', 'move', 'restride', 'load', 'drop'], 'park a, c fills its hole, the block shrinks, a lands in its region');
  assert.ok(ops[0]!.kind === 'save' && ops[0]!.entryId < 0, 'parked in a scratch entry');
  assert.equal(kv.numLongRows, 1);
  assert.equal(kv.stride, 64);
  assert.deepEqual(kv.owners(), ['c', 'b', 'a']);
  assert.deepEqual(kv.placements(), [{ offsetTokens: 0, strideTokens: 64 }, { offsetTokens: 64, strideTokens: 64 }, { offsetTokens: 2048 - 576, strideTokens: 576 }]);
  cache.apply(kv, ops);
  assert.equal(cache.numEntries, 0, 'the parked copy is dropped');
  for (const id of ['a', 'b', 'c']) cache.check(kv.rowOf(id)!, tags[id]!, lengths[id]!);
  // The reservation fell from 3 × 512 to 2 × 64 + 576.
  assert.equal(kv.reservedTokens, 2 * 64 + 576);
});

test('a long row freed: the region below it moves up and the space is one span again; no room until then', () => {
  const capacity = 2048;
  const kv = new KvCacheManager(capacity);
  const cache = new PhysicalCache(capacity);
  assert.equal(kv.allocate('top', 700), 0);
  assert.equal(kv.allocate('bottom', 600), 1);
  assert.equal(kv.allocate('third', 600), 0, 'a third long row goes to the block (row 0, before the regions): at most MAX_LONG_ROWS regions');
  assert.deepEqual(kv.owners(), ['third', 'top', 'bottom']);
  assert.equal(kv.numLongRows, 2);
  assert.equal(kv.allocate('fourth', 600), null, 'no room: 704 + 640 + 2 × 640 > 2048');
  kv.free('third');
  assert.equal(kv.resize(needs({ top: 700, bottom: 600 })), true);
  cache.apply(kv);
  cache.write(kv.rowOf('top')!, 1, 0, 700);
  cache.write(kv.rowOf('bottom')!, 2, 0, 600);
  kv.setCachedTokens('top', 700);
  kv.setCachedTokens('bottom', 600);
  assert.deepEqual(kv.placements(), [{ offsetTokens: capacity - 704, strideTokens: 704 }, { offsetTokens: capacity - 704 - 640, strideTokens: 640 }]);
  assert.equal(kv.allocate('short', 800), null, 'no room for 832 more: 704 free');
  kv.free('top');
  const ops = kv.takeOps();
  assert.deepEqual(ops, [{ kind: 'move', from: { offsetTokens: capacity - 1344, strideTokens: 640 }, to: { offsetTokens: capacity - 640, strideTokens: 640 }, numTokens: 600 }]);
  cache.apply(kv, ops);
  cache.check(kv.rowOf('bottom')!, 2, 600);
  assert.notEqual(kv.allocate('short', 800), null, 'the freed region and the gap are one span: 832 + 640 ≤ 2048');
});

test('a growing region moves the one below it down and re-lays itself in place; data intact', () => {
  const capacity = 4096;
  const kv = new KvCacheManager(capacity);
  const cache = new PhysicalCache(capacity);
  kv.allocate('top', 600);
  kv.allocate('bottom', 900);
  kv.allocate('s', 5);
  assert.equal(kv.resize(needs({ top: 600, bottom: 900, s: 5 })), true);
  cache.apply(kv);
  const lengths: Record<string, number> = { top: 600, bottom: 900, s: 5 };
  const tags: Record<string, number> = { top: 1, bottom: 2, s: 3 };
  for (const id of kv.owners()) {
    cache.write(kv.rowOf(id)!, tags[id]!, 0, lengths[id]!);
    kv.setCachedTokens(id, lengths[id]!);
  }
  assert.equal(kv.resize(needs({ top: 1000, bottom: 901, s: 6 })), true);
  const ops = kv.takeOps();
  assert.deepEqual(ops.map((op) => op.kind), ['move', 'move'], 'bottom moves down first, then top grows into the room');
  cache.apply(kv, ops);
  for (const id of kv.owners()) cache.check(kv.rowOf(id)!, tags[id]!, lengths[id]!);
  assert.deepEqual(kv.placements().slice(1), [{ offsetTokens: capacity - 1024, strideTokens: 1024 }, { offsetTokens: capacity - 1024 - 960, strideTokens: 960 }]);
});

test('save and load address rows in the block and in regions alike', () => {
  const kv = new KvCacheManager(2048);
  kv.allocate('long', 700);
  kv.allocate('short', 10);
  kv.takeOps();
  kv.setCachedTokens('long', 650);
  kv.save('long', 7, 650);
  kv.load('short', 7, 40);
  assert.deepEqual(kv.takeOps(), [
    { kind: 'save', from: { offsetTokens: 2048 - 704, strideTokens: 704 }, numTokens: 650, entryId: 7 },
    { kind: 'load', entryId: 7, to: { offsetTokens: 0, strideTokens: 64 }, numTokens: 40 },
  ]);
  assert.throws(() => kv.setCachedTokens('short', 65), /resize first/);
});

test('restride, moves, parking and region moves keep every row’s data intact (random workload against a physical buffer)', () => {
  for (const maxLongRows of [0, 1, 2]) {
    const capacity = 3072;
    const kv = new KvCacheManager(capacity, { maxLongRows });
    const cache = new PhysicalCache(capacity);
    let seed = 7 + maxLongRows;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const live = new Map<string, { tag: number; length: number; target: number }>();
    let nextTag = 1;
    let sawLong = 0;
    let parked = 0;
    for (let iteration = 0; iteration < 500; iteration++) {
      if (random() < 0.3 && live.size < 10) {
        const id = `r${nextTag}`;
        // Mostly short rows, some long: they cross LONG_ROW_MIN_TOKENS as they grow.
        const target = random() < 0.25 ? 300 + Math.floor(random() * 900) : 1 + Math.floor(random() * 120);
        if (kv.allocate(id, 1) !== null) live.set(id, { tag: nextTag, length: 0, target });
        nextTag++;
      }
      if (random() < 0.1 && live.size > 0) {
        const ids = [...live.keys()];
        const id = ids[Math.floor(random() * ids.length)]!;
        kv.free(id);
        live.delete(id);
      }
      // Grow every live sequence by a chunk, dropping the newest while they do not fit.
      const growth = new Map<string, number>();
      for (const [id, entry] of live) growth.set(id, Math.min(entry.target, entry.length + 1 + Math.floor(random() * 40)));
      while (!kv.resize(growth)) {
        const id = [...live.keys()].at(-1)!;
        kv.free(id);
        live.delete(id);
        growth.delete(id);
      }
      const ops = cache.apply(kv);
      parked += ops.filter((op) => op.kind === 'save' && op.entryId < 0).length;
      assert.equal(cache.numEntries, 0);
      sawLong = Math.max(sawLong, kv.numLongRows);
      assert.ok(kv.numLongRows <= maxLongRows);
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
    assert.equal(sawLong, maxLongRows, `the workload used ${maxLongRows} regions at once`);
    if (maxLongRows > 0) assert.ok(parked > 0, 'and short rows turned long');
  }
});

test('viewSpans: the block is one view, each region its own; padding rows at a span’s ends are left out', () => {
  const block = (row: number) => ({ offsetTokens: row * 64, strideTokens: 64 });
  const placements = [block(0), block(1), block(2), { offsetTokens: 3000, strideTokens: 1024 }, { offsetTokens: 2000, strideTokens: 1000 }];
  assert.deepEqual(viewSpans(placements, [1, 1, 1, 1, 1]), [{ start: 0, end: 3 }, { start: 3, end: 4 }, { start: 4, end: 5 }]);
  assert.deepEqual(viewSpans(placements, [1, 0, 1, 0, 1]), [{ start: 0, end: 3 }, { start: 4, end: 5 }], 'a padding row inside the block rides along; a padding region does not run');
  assert.deepEqual(viewSpans(placements.slice(0, 3), [0, 1, 0]), [{ start: 1, end: 2 }]);
  assert.deepEqual(viewSpans([block(0), block(1)], [1, 1]), [{ start: 0, end: 2 }]);
});

test('a move between overlapping places keeps the data (growing in place, shifting, shrinking)', () => {
  const cases: Array<[Placement, Placement, number]> = [
    [{ offsetTokens: 100, strideTokens: 40 }, { offsetTokens: 60, strideTokens: 60 }, 40], // grow downwards over itself
    [{ offsetTokens: 100, strideTokens: 40 }, { offsetTokens: 130, strideTokens: 40 }, 33], // shift up
    [{ offsetTokens: 100, strideTokens: 40 }, { offsetTokens: 70, strideTokens: 40 }, 33], // shift down
    [{ offsetTokens: 100, strideTokens: 60 }, { offsetTokens: 110, strideTokens: 40 }, 25], // shrink over itself
    [{ offsetTokens: 0, strideTokens: STRIDE_STEP_TOKENS }, { offsetTokens: 200, strideTokens: 32 }, 20], // disjoint
  ];
  for (const [from, to, numTokens] of cases) {
    const buffer = new Float32Array(400 * KV_HEADS * HEAD_DIM);
    const at = (p: Placement, head: number, position: number, dim: number) => (p.offsetTokens * KV_HEADS + head * p.strideTokens + position) * HEAD_DIM + dim;
    const value = (head: number, position: number, dim: number) => 1 + head * 1e4 + position * 10 + dim;
    for (let head = 0; head < KV_HEADS; head++) for (let position = 0; position < numTokens; position++) for (let dim = 0; dim < HEAD_DIM; dim++) buffer[at(from, head, position, dim)] = value(head, position, dim);
    applyCacheOp(buffer, { kind: 'move', from, to, numTokens }, KV_HEADS, HEAD_DIM);
    for (let head = 0; head < KV_HEADS; head++)
      for (let position = 0; position < numTokens; position++)
        for (let dim = 0; dim < HEAD_DIM; dim++) assert.equal(buffer[at(to, head, position, dim)], value(head, position, dim), `${JSON.stringify([from, to])} head ${head} pos ${position}`);
  }
});
