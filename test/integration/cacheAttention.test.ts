// The CPU variant of the decoder graph (engine/runtime/cacheAttention.ts): attention in standard
// ops reading past_* in place, against the package's GroupQueryAttention graph on the same feeds,
// for every run shape of the graph contract; a mixed-length batch against its rows run alone; and
// the engine on the CPU provider running it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import type { SamplingParams } from '../../engine/common/engineApi.js';
import type { ModelManifest } from '../../engine/common/manifest.js';
import { kvBytesPerToken, loadEngine, type StepStats } from '../../engine/runtime/index.js';
import { attentionMasks, cacheAttention, IN_PLACE_INPUT, inPlaceAttentionVariant, queryLayout, type QueryLayout } from '../../engine/runtime/cacheAttention.js';
import { OPSETS } from '../../engine/convert/decoderGraph.js';
import { GraphBuilder } from '../../engine/convert/onnx/graphBuilder.js';
import { onnx } from '../../engine/convert/onnx/proto.js';
import { HostKvCache } from '../../engine/runtime/hostKvCache.js';
import { TransferMeter } from '../../engine/runtime/decoderFeeds.js';
import { KvCacheManager, STRIDE_STEP_TOKENS, strideFor } from '../../engine/runtime/kvCache.js';
import { collectStream } from '../fixtures/engineStreams.js';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { referenceGreedy } from '../fixtures/referenceModel.js';

const GREEDY: SamplingParams = { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1 };

interface Row {
  tokenIds: number[];
  /** Positions already in the cache (their K/V are random: only the first `past` may be read). */
  past: number;
}

interface Sessions {
  manifest: ModelManifest;
  gqa: ort.InferenceSession;
  variant: ort.InferenceSession;
  variantBytes: Uint8Array;
}

async function openSessions(options: Parameters<typeof ensureFixturePackage>[0]): Promise<Sessions> {
  const { packageDir, manifest } = await ensureFixturePackage(options);
  const modelPath = join(packageDir, manifest.files.model);
  const variantBytes = inPlaceAttentionVariant(readFileSync(modelPath), manifest.graph);
  assert.ok(variantBytes, 'the fixture graph has a CPU variant');
  const threads = { intraOpNumThreads: 1, interOpNumThreads: 1 };
  return {
    manifest,
    variantBytes,
    gqa: await ort.InferenceSession.create(modelPath, threads),
    variant: await ort.InferenceSession.create(variantBytes, { ...threads, extra: { session: { model_external_initializers_file_folder_path: dirname(modelPath) } } }),
  };
}

/** The caches past_* read: [B, kvH, P, D] per layer, every position random (garbage past each row's own past). */
function randomCache(manifest: ModelManifest, numRows: number, pastTokens: number, seed: number): Float32Array[] {
  const { numLayers, numKvHeads, headDim } = manifest.graph;
  let state = seed;
  const next = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  return Array.from({ length: 2 * numLayers }, () => Float32Array.from({ length: numRows * numKvHeads * pastTokens * headDim }, next));
}

/** One run: logits and new_* of each row (only its own tokens), as plain arrays. */
async function runRows(session: ort.InferenceSession, manifest: ModelManifest, rows: Row[], pastTokens: number, caches: Float32Array[], inPlace = true) {
  const { numLayers, numKvHeads, headDim } = manifest.graph;
  const numRows = rows.length;
  const sequenceLength = Math.max(...rows.map((row) => row.tokenIds.length));
  const ids = new BigInt64Array(numRows * sequenceLength);
  const positions = new BigInt64Array(numRows * sequenceLength);
  rows.forEach((row, r) => {
    for (let s = 0; s < sequenceLength; s++) {
      ids[r * sequenceLength + s] = BigInt(row.tokenIds[Math.min(s, row.tokenIds.length - 1)]!);
      positions[r * sequenceLength + s] = BigInt(row.past + Math.min(s, row.tokenIds.length - 1));
    }
  });
  const seqlensK = Int32Array.from(rows, (row) => row.past + row.tokenIds.length - 1);
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', ids, [numRows, sequenceLength]),
    position_ids: new ort.Tensor('int64', positions, [numRows, sequenceLength]),
    seqlens_k: new ort.Tensor('int32', seqlensK, [numRows]),
    total_sequence_length: new ort.Tensor('int32', Int32Array.of(Math.max(...seqlensK) + 1), []),
    last_token_index: new ort.Tensor('int64', BigInt64Array.from(rows, (row) => BigInt(row.tokenIds.length - 1)), [numRows]),
  };
  if (session.inputNames.includes(IN_PLACE_INPUT)) feeds[IN_PLACE_INPUT] = new ort.Tensor('bool', Uint8Array.of(inPlace ? 1 : 0), []);
  const dims = [numRows, numKvHeads, pastTokens, headDim];
  for (let layer = 0; layer < numLayers; layer++) {
    feeds[`past_key.${layer}`] = new ort.Tensor('float32', caches[2 * layer]!, dims);
    feeds[`past_value.${layer}`] = new ort.Tensor('float32', caches[2 * layer + 1]!, dims);
  }
  const fetches = ['logits', ...Array.from({ length: numLayers }, (_, layer) => [`new_key.${layer}`, `new_value.${layer}`]).flat()];
  const outputs = await session.run(feeds, fetches);
  const vocab = manifest.shape.vocabSize;
  const perToken = numKvHeads * headDim;
  return rows.map((row, r) => ({
    logits: Array.from((outputs.logits!.data as Float32Array).subarray(r * vocab, (r + 1) * vocab)),
    newKv: fetches.slice(1).map((name) => Array.from((outputs[name]!.data as Float32Array).subarray(r * sequenceLength * perToken, (r * sequenceLength + row.tokenIds.length) * perToken))),
  }));
}

function assertClose(actual: number[], expected: number[], tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  assert.ok(worst <= tolerance, `${what}: max |diff| ${worst} > ${tolerance}`);
}

/** Both graphs on the same feeds: same logits and new K/V per row. */
async function assertSameAsGqa(sessions: Sessions, rows: Row[], pastTokens: number, what: string): Promise<void> {
  const caches = randomCache(sessions.manifest, rows.length, pastTokens, 7);
  const expected = await runRows(sessions.gqa, sessions.manifest, rows, pastTokens, caches);
  for (const inPlace of [true, false]) {
    const actual = await runRows(sessions.variant, sessions.manifest, rows, pastTokens, caches, inPlace);
    const label = `${what} (${inPlace ? 'in place' : 'GroupQueryAttention branch'})`;
    rows.forEach((_, r) => {
      assertClose(actual[r]!.logits, expected[r]!.logits, 1e-4, `${label}, row ${r} logits`);
      actual[r]!.newKv.forEach((values, i) => assertClose(values, expected[r]!.newKv[i]!, 1e-5, `${label}, row ${r} new K/V ${i}`));
    });
  }
}

for (const arch of ['llama', 'qwen3'] as const) {
  let sessions: Sessions;
  before(async () => {
    sessions = await openSessions({ arch, dtype: 'fp32' });
  });

  test(`${arch}: the CPU variant switches each layer's attention, has no present outputs and one input more`, () => {
    const graph = onnx.ModelProto.decode(sessions.variantBytes).graph!;
    assert.equal(graph.node!.filter((node) => node.opType === 'GroupQueryAttention').length, 0, 'every GroupQueryAttention sits in an If branch');
    assert.equal(graph.node!.filter((node) => node.opType === 'If').length, sessions.manifest.graph.numLayers);
    assert.deepEqual(sessions.variant.outputNames, sessions.gqa.outputNames.filter((name) => !name.startsWith('present_')));
    assert.deepEqual(sessions.variant.inputNames, [...sessions.gqa.inputNames, IN_PLACE_INPUT]);
  });

  test(`${arch}: every run shape gives GroupQueryAttention's logits and new K/V`, async () => {
    // First prompt, right-padded rows, no past (P = 0, as the host cache feeds it), and over a stride of garbage.
    await assertSameAsGqa(sessions, [{ tokenIds: [3, 14, 15, 92, 65], past: 0 }, { tokenIds: [35, 89], past: 0 }], 0, 'first prompt, P = 0');
    await assertSameAsGqa(sessions, [{ tokenIds: [3, 14, 15, 92, 65], past: 0 }, { tokenIds: [35, 89], past: 0 }], 64, 'first prompt, P = 64');
    // Decode: rows of different pasts in one P, the rest of each row garbage.
    await assertSameAsGqa(sessions, [{ tokenIds: [7], past: 40 }, { tokenIds: [8], past: 3 }, { tokenIds: [9], past: 63 }], 64, 'decode');
    // Continued prefill: one row, past > 0.
    await assertSameAsGqa(sessions, [{ tokenIds: [11, 12, 13, 14], past: 21 }], 64, 'continued prefill');
  });

  test(`${arch}: a mixed-length decode batch gives each row what it gets alone in a cache of its own length`, async () => {
    const { manifest } = sessions;
    const { numLayers, numKvHeads, headDim } = manifest.graph;
    const rows: Row[] = [{ tokenIds: [5], past: 120 }, { tokenIds: [6], past: 2 }, { tokenIds: [7], past: 17 }];
    const stride = 128;
    const batchCaches = randomCache(manifest, rows.length, stride, 11);
    const batched = await runRows(sessions.variant, manifest, rows, stride, batchCaches);
    for (const [r, row] of rows.entries()) {
      // The row's own positions copied out of the batch cache into a [1, kvH, past, D] one.
      const alone = Array.from({ length: 2 * numLayers }, (_, i) => {
        const out = new Float32Array(numKvHeads * row.past * headDim);
        for (let h = 0; h < numKvHeads; h++) {
          const from = ((r * numKvHeads + h) * stride) * headDim;
          out.set(batchCaches[i]!.subarray(from, from + row.past * headDim), h * row.past * headDim);
        }
        return out;
      });
      const [single] = await runRows(sessions.variant, manifest, [row], row.past, alone);
      assertClose(batched[r]!.logits, single!.logits, 1e-4, `row ${r} logits`);
    }
  });
}

/** One layer's attention: GroupQueryAttention, or cacheAttention with its queries laid out as `layout`. */
function attentionGraph(numHeads: number, numKvHeads: number, headDim: number, layout: QueryLayout | 'gqa'): Uint8Array {
  const g = new GraphBuilder(null);
  const q = g.input('q', 'float32', ['batch', 'sequence_length', numHeads * headDim]);
  const k = g.input('k', 'float32', ['batch', 'sequence_length', numKvHeads * headDim]);
  const v = g.input('v', 'float32', ['batch', 'sequence_length', numKvHeads * headDim]);
  const pastKey = g.input('past_key', 'float32', ['batch', numKvHeads, 'past', headDim]);
  const pastValue = g.input('past_value', 'float32', ['batch', numKvHeads, 'past', headDim]);
  const seqlensK = g.input('seqlens_k', 'int32', ['batch']);
  const total = g.input('total_sequence_length', 'int32', []);
  g.output('out', 'float32', ['batch', 'sequence_length', numHeads * headDim]);
  if (layout === 'gqa') {
    g.node('GroupQueryAttention', [q, k, v, pastKey, pastValue, seqlensK, total], {
      domain: 'com.microsoft', attributes: { num_heads: numHeads, kv_num_heads: numKvHeads }, outputs: ['out', g.fresh('present_key'), g.fresh('present_value')],
    });
  } else {
    const masks = attentionMasks(g, q, pastKey, seqlensK, layout, numHeads / numKvHeads);
    g.op('Identity', [cacheAttention(g, { q, k, v, pastKey, pastValue, numHeads, numKvHeads, headDim }, masks, layout)], { output: 'out' });
  }
  return g.encodeModel(OPSETS, 'cache-attention-test');
}

test('both query layouts of cacheAttention give GroupQueryAttention\'s output, for groups of 2, 3 and 7 query heads per KV head', async () => {
  // The fixture packages above are all G = 2 (per head); the layout rule picks grouped above G = 4 (Qwen2.5-0.5B's 7).
  assert.equal(queryLayout(4, 2), 'perHead');
  assert.equal(queryLayout(9, 3), 'perHead');
  assert.equal(queryLayout(14, 2), 'grouped');
  const headDim = 16;
  let state = 5;
  const random = (n: number) => Float32Array.from({ length: n }, () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1);
  for (const [numHeads, numKvHeads] of [[4, 2], [9, 3], [14, 2]] as const) {
    const sessions = Object.fromEntries(await Promise.all((['gqa', 'perHead', 'grouped'] as const).map(async (layout) =>
      [layout, await ort.InferenceSession.create(attentionGraph(numHeads, numKvHeads, headDim, layout), { intraOpNumThreads: 1 })] as const)));
    // [rows' pasts, new tokens, P]: decode over garbage past each row's length, continued prefill, a first prompt at P = 0.
    for (const [pasts, sequenceLength, P] of [[[40, 3, 63], 1, 64], [[21], 4, 64], [[0, 0], 5, 0]] as const) {
      const B = pasts.length;
      const feeds = {
        q: new ort.Tensor('float32', random(B * sequenceLength * numHeads * headDim), [B, sequenceLength, numHeads * headDim]),
        k: new ort.Tensor('float32', random(B * sequenceLength * numKvHeads * headDim), [B, sequenceLength, numKvHeads * headDim]),
        v: new ort.Tensor('float32', random(B * sequenceLength * numKvHeads * headDim), [B, sequenceLength, numKvHeads * headDim]),
        past_key: new ort.Tensor('float32', random(B * numKvHeads * P * headDim), [B, numKvHeads, P, headDim]),
        past_value: new ort.Tensor('float32', random(B * numKvHeads * P * headDim), [B, numKvHeads, P, headDim]),
        seqlens_k: new ort.Tensor('int32', Int32Array.from(pasts, (past) => past + sequenceLength - 1), [B]),
        total_sequence_length: new ort.Tensor('int32', Int32Array.of(Math.max(...pasts) + sequenceLength), []),
      };
      const expected = Array.from((await sessions.gqa!.run(feeds)).out!.data as Float32Array);
      for (const layout of ['perHead', 'grouped'] as const) {
        const actual = Array.from((await sessions[layout]!.run(feeds)).out!.data as Float32Array);
        assertClose(actual, expected, 1e-5, `G = ${numHeads / numKvHeads}, ${layout}, pasts ${pasts.join(',')} + ${sequenceLength} tokens at P = ${P}`);
      }
    }
  }
});

test('a graph whose attention uses a sliding window keeps GroupQueryAttention', async () => {
  const { packageDir, manifest } = await ensureFixturePackage({ arch: 'mistral', slidingWindow: 16, dtype: 'fp32' });
  assert.equal(inPlaceAttentionVariant(readFileSync(join(packageDir, manifest.files.model)), manifest.graph), null);
});

test('the host cache reads a long decode in place from the K/V its prefill stored, and gets what GroupQueryAttention gets', async () => {
  const { packageDir, manifest } = await ensureFixturePackage({ arch: 'llama', dtype: 'fp32', contextLength: 1024 });
  const modelPath = join(packageDir, manifest.files.model);
  const options = { intraOpNumThreads: 1, interOpNumThreads: 1, extra: { session: { model_external_initializers_file_folder_path: packageDir } } };
  const variant = await ort.InferenceSession.create(inPlaceAttentionVariant(readFileSync(modelPath), manifest.graph)!, options);
  const shipped = await ort.InferenceSession.create(modelPath, options);
  const prompt = Array.from({ length: 600 }, (_, i) => (i * 37 + 11) % manifest.shape.vocabSize);
  const flags: number[] = [];
  const spied = new Proxy(variant, {
    get(target, key) {
      if (key !== 'run') return Reflect.get(target, key);
      return (feeds: Record<string, ort.Tensor>, fetches: string[]) => {
        flags.push((feeds[IN_PLACE_INPUT]!.data as Uint8Array)[0]!);
        return target.run(feeds, fetches);
      };
    },
  });
  const logitsOf = async (session: ort.InferenceSession) => {
    const cache = new HostKvCache(session, manifest.graph, 2048, [], new TransferMeter(false), { cacheOpsMs: 0, scatterMs: 0 });
    await cache.applyCacheOps([{ kind: 'restride', fromStride: STRIDE_STEP_TOKENS, toStride: strideFor(602), rowLengths: [0] }], [{ offsetTokens: 0, strideTokens: strideFor(602) }]);
    await cache.run(0, { inputIds: [prompt], startPositions: [0] }, [prompt.length]);
    const first = await cache.run(0, { inputIds: [[5]], startPositions: [600] }, [1]);
    const second = await cache.run(0, { inputIds: [[6]], startPositions: [601] }, [1]);
    return [...Array.from(first.logits), ...Array.from(second.logits)];
  };
  const inPlace = await logitsOf(spied);
  assert.deepEqual(flags, [0, 1, 1], 'the prompt runs GroupQueryAttention, both decode steps read the cache in place');
  assertClose(inPlace, await logitsOf(shipped), 1e-4, 'decode logits at 600 tokens of context');
});

test('a decode batch of a long row (its own region) next to short ones (the block) runs one view per span and gives each row what it gets alone, also a step later', async () => {
  const { packageDir, manifest } = await ensureFixturePackage({ arch: 'llama', dtype: 'fp32', contextLength: 1024 });
  const options = { intraOpNumThreads: 1, interOpNumThreads: 1, extra: { session: { model_external_initializers_file_folder_path: packageDir } } };
  const variant = await ort.InferenceSession.create(inPlaceAttentionVariant(readFileSync(join(packageDir, manifest.files.model)), manifest.graph)!, options);
  const runs: number[][] = [];
  const spied = new Proxy(variant, {
    get(target, key) {
      if (key !== 'run') return Reflect.get(target, key);
      return (feeds: Record<string, ort.Tensor>, fetches: string[]) => {
        runs.push([feeds['past_key.0']!.dims[0]!, feeds['past_key.0']!.dims[2]!]);
        return target.run(feeds, fetches);
      };
    },
  });
  const lengths = [600, 10, 27, 33];
  const prompts = lengths.map((length, row) => Array.from({ length }, (_, i) => (i * 31 + row * 7 + 3) % manifest.shape.vocabSize));
  const newCache = (capacityTokens: number) => new HostKvCache(spied, manifest.graph, capacityTokens, [], new TransferMeter(false), { cacheOpsMs: 0, scatterMs: 0 });
  /** The manager lays the rows out; the cache applies its ops and placements, as the runner does. */
  const layOut = async (kv: KvCacheManager, cache: HostKvCache, ids: string[]) => {
    for (const [i, id] of ids.entries()) assert.notEqual(kv.allocate(id, lengths[i]! + 3), null);
    assert.ok(kv.resize(new Map(ids.map((id, i) => [id, lengths[i]! + 3]))));
    await cache.applyCacheOps(kv.takeOps(), kv.placements());
  };
  // Alone: each row in a cache of its own, two decode steps.
  const alone: number[][][] = [];
  for (const [row, prompt] of prompts.entries()) {
    const kv = new KvCacheManager(640);
    const cache = newCache(640);
    await layOut(kv, cache, [`r${row}`]);
    await cache.run(0, { inputIds: [prompt], startPositions: [0] }, [prompt.length]);
    const steps: number[][] = [];
    for (const [step, token] of [5, 6].entries()) steps.push(Array.from((await cache.run(0, { inputIds: [[token]], startPositions: [prompt.length + step] }, [1])).logits));
    alone.push(steps);
  }
  // Together: the long row gets a region (strideFor(603) = 640), the short ones the block at 64;
  // one stride would need 4 × 640 tokens, this cache holds 832.
  const kv = new KvCacheManager(832);
  const cache = newCache(832);
  await layOut(kv, cache, ['long', 's1', 's2', 's3']);
  assert.deepEqual(kv.owners(), ['s1', 's2', 's3', 'long']);
  const order = [1, 2, 3, 0]; // row of the cache → index into lengths
  for (const [row, index] of order.entries()) await cache.run(row, { inputIds: [prompts[index]!], startPositions: [0] }, [lengths[index]!]);
  runs.length = 0;
  for (const [step, token] of [5, 6].entries()) {
    const out = await cache.run(0, { inputIds: order.map(() => [token]), startPositions: order.map((index) => lengths[index]! + step) }, [1, 1, 1, 1]);
    const width = out.logitsWidth;
    order.forEach((index, row) => assertClose(Array.from(out.logits.subarray(row * width, (row + 1) * width)), alone[index]![step]!, 1e-4, `step ${step}, ${index === 0 ? 'long' : 'short'} row ${row}`));
  }
  assert.deepEqual(runs, [[3, 64], [1, 640], [3, 64], [1, 640]], 'per step: the short rows as one view at their stride, the long row in its region');
});

test('the engine on the CPU provider runs the variant; greedy output after a 600-token prompt equals the reference forward', async () => {
  const fixture = await ensureFixturePackage({ arch: 'llama', dtype: 'fp32', contextLength: 1024 });
  const engine = await loadEngine({ packageDir: fixture.packageDir, device: 'cpu' });
  try {
    assert.equal(engine.device?.attention, 'cache-in-place');
    const prompt = Array.from({ length: 600 }, (_, i) => (i * 53 + 7) % fixture.manifest.shape.vocabSize);
    const { ids } = await collectStream(engine.submit({
      requestId: 'long-prompt', promptTokenIds: prompt, sampling: GREEDY, maxNewTokens: 8, stopStrings: [], stopTokenIds: [], ignoreEos: true, arrivalTimeMs: Date.now(),
    }));
    assert.deepEqual(ids, referenceGreedy(fixture.checkpointDir, prompt, 8));
  } finally {
    await engine.shutdown(0);
  }
});

test('the engine at mixed lengths: a row turning long mid-generation, short rows joining and leaving, prefix hits from and into regions, preemption: every row generates what it does alone', async () => {
  const fixture = await ensureFixturePackage({ arch: 'llama', dtype: 'fp32', contextLength: 1024 });
  const vocabSize = fixture.manifest.shape.vocabSize;
  const bytesPerToken = kvBytesPerToken(fixture.manifest);
  const tokens = (salt: number, length: number) => Array.from({ length }, (_, j) => (5 + salt * 41 + j * 13) % vocabSize);
  const ask = (id: string, promptTokenIds: number[], maxNewTokens: number) => ({
    requestId: id, promptTokenIds, sampling: GREEDY, maxNewTokens, stopStrings: [], stopTokenIds: [], ignoreEos: true, arrivalTimeMs: Date.now(),
  });
  // The long one turns long (513 tokens > 4 × the short rows' stride) at its 33rd token, and its
  // region grows from 576 to 640 tokens at its 97th.
  const long = { id: 'long', prompt: tokens(1, 480), maxNewTokens: 100 };
  const chat = { id: 'chat', prompt: tokens(2, 40), maxNewTokens: 16 };
  const wave1 = [30, 37, 45].map((length, i) => ({ id: `w1-${i}`, prompt: tokens(10 + i, length), maxNewTokens: 40 }));
  // Joining once the long row has its region; they pass 64 tokens together, where 4 of them at
  // stride 128 next to the long row's 576 no longer fit 1024 tokens: the newest are preempted.
  const wave2 = [50, 53, 56, 58, 60].map((length, i) => ({ id: `w2-${i}`, prompt: tokens(20 + i, length), maxNewTokens: 24 }));

  // Alone: one request at a time, no prefix cache.
  const cold = await loadEngine({ packageDir: fixture.packageDir, device: 'cpu', batching: { prefixCacheBytes: 0 } });
  const alone = new Map<string, number[]>();
  let chatTurn2: { id: string; prompt: number[]; maxNewTokens: number };
  let longTurn2: { id: string; prompt: number[]; maxNewTokens: number };
  try {
    for (const r of [long, chat, ...wave1, ...wave2]) alone.set(r.id, (await collectStream(cold.submit(ask(r.id, r.prompt, r.maxNewTokens)))).ids);
    chatTurn2 = { id: 'chat-2', prompt: [...chat.prompt, ...alone.get('chat')!, ...tokens(3, 8)], maxNewTokens: 12 };
    longTurn2 = { id: 'long-2', prompt: [...long.prompt, ...alone.get('long')!, ...tokens(4, 8)], maxNewTokens: 12 };
    for (const r of [chatTurn2, longTurn2]) alone.set(r.id, (await collectStream(cold.submit(ask(r.id, r.prompt, r.maxNewTokens)))).ids);
  } finally {
    await cold.shutdown(0);
  }

  // Together, in a cache of 1024 tokens (one stride for all rows would hold the long row alone
  // once it passes 512 tokens).
  const engine = await loadEngine({ packageDir: fixture.packageDir, device: 'cpu', batching: { kvCacheBytes: 1024 * bytesPerToken, prefixCacheBytes: 4096 * bytesPerToken } });
  const steps: StepStats[] = [];
  let regionTaken: () => void;
  const longRowHasRegion = new Promise<void>((resolve) => (regionTaken = resolve));
  engine.onStep((stats) => {
    steps.push(stats);
    if (stats.numLongRows > 0) regionTaken();
  });
  try {
    const run = (r: { id: string; prompt: number[]; maxNewTokens: number }) => collectStream(engine.submit(ask(r.id, r.prompt, r.maxNewTokens)));
    const chat1 = await run(chat);
    assert.deepEqual(chat1.ids, alone.get('chat'));
    const firsts = [long, ...wave1].map(run);
    // (Or once the long one is done: then the assertions below say what went wrong.)
    await Promise.race([longRowHasRegion, firsts[0]]);
    const seconds = [...wave2, chatTurn2!].map(run);
    const results = await Promise.all([...firsts, ...seconds]);
    [long, ...wave1, ...wave2, chatTurn2!].forEach((r, i) => assert.deepEqual(results[i]!.ids, alone.get(r.id), `${r.id} generates what it does alone`));
    assert.ok(results.at(-1)!.done.cachedPromptTokens > 0, 'the second chat turn started from the first one');
    // The long row's K/V saved from its region; its next turn loads them into a region again.
    const long2 = await run(longTurn2!);
    assert.equal(long2.done.cachedPromptTokens, long.prompt.length + long.maxNewTokens - 1, 'the long conversation came back from the prefix cache');
    assert.deepEqual(long2.ids, alone.get('long-2'));
    assert.ok(steps.some((s) => s.numLongRows === 1 && s.runningSize >= 4), 'short rows ran next to the long row in its region (one stride: 4 × 576 > 1024)');
    assert.ok(steps.some((s) => s.numPreempted > 0), 'the cache preempted someone');
    assert.ok(steps.at(-1)!.numLongRows <= 1);
  } finally {
    await engine.shutdown(0);
  }
});
