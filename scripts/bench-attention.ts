// One layer's attention on the CPU provider, GroupQueryAttention (the package graph) against
// standard ops that read the KV cache in place (engine/runtime/cacheAttention.ts): ms per call at
// a fixture shape's heads, for a decode step (S = 1) over rows of the given lengths in a cache of
// P positions per row.
//
//   node --import tsx scripts/bench-attention.ts --shape smollm2-135m [--threads 2] [--reps 30]
//
// Figures are only meaningful on an idle machine; compare variants of one run.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../engine/convert/onnx/graphBuilder.js';
import { OPSETS } from '../engine/convert/decoderGraph.js';
import { cacheAttention } from '../engine/runtime/cacheAttention.js';
import { FIXTURE_SHAPES, type FixtureShapeName } from '../test/fixtures/generateCheckpoint.js';

const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: 'smollm2-135m' },
    threads: { type: 'string', default: '2' },
    reps: { type: 'string', default: '30' },
  },
});
const shape = FIXTURE_SHAPES[values.shape as FixtureShapeName];
if (!shape) throw new Error(`--shape must be one of ${Object.keys(FIXTURE_SHAPES).join(', ')}`);
const { numHeads, numKvHeads } = shape;
const headDim = shape.hiddenSize / numHeads;
const reps = Number(values.reps);

function graph(variant: 'gqa' | 'std'): Uint8Array {
  const g = new GraphBuilder(null);
  const q = g.input('q', 'float32', ['batch', 'sequence_length', numHeads * headDim]);
  const k = g.input('k', 'float32', ['batch', 'sequence_length', numKvHeads * headDim]);
  const v = g.input('v', 'float32', ['batch', 'sequence_length', numKvHeads * headDim]);
  const pastKey = g.input('past_key', 'float32', ['batch', numKvHeads, 'past', headDim]);
  const pastValue = g.input('past_value', 'float32', ['batch', numKvHeads, 'past', headDim]);
  const seqlensK = g.input('seqlens_k', 'int32', ['batch']);
  const total = g.input('total_sequence_length', 'int32', []);
  g.output('out', 'float32', ['batch', 'sequence_length', numHeads * headDim]);
  if (variant === 'gqa') {
    g.node('GroupQueryAttention', [q, k, v, pastKey, pastValue, seqlensK, total], {
      domain: 'com.microsoft', attributes: { num_heads: numHeads, kv_num_heads: numKvHeads }, outputs: ['out', g.fresh('present_key'), g.fresh('present_value')],
    });
  } else {
    g.op('Identity', [cacheAttention(g, { q, k, v, pastKey, pastValue, seqlensK, numHeads, numKvHeads, headDim })], { output: 'out' });
    void total;
  }
  return g.encodeModel(OPSETS, 'bench-attention');
}

const sessions = {
  gqa: await ort.InferenceSession.create(graph('gqa'), { executionProviders: ['cpu'], intraOpNumThreads: Number(values.threads) }),
  std: await ort.InferenceSession.create(graph('std'), { executionProviders: ['cpu'], intraOpNumThreads: Number(values.threads) }),
};
const random = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));

async function time(variant: 'gqa' | 'std', pastLengths: number[], P: number): Promise<{ ms: number; out: Float32Array }> {
  const B = pastLengths.length;
  const feeds = {
    q: new ort.Tensor('float32', random(B * numHeads * headDim), [B, 1, numHeads * headDim]),
    k: new ort.Tensor('float32', random(B * numKvHeads * headDim), [B, 1, numKvHeads * headDim]),
    v: new ort.Tensor('float32', random(B * numKvHeads * headDim).map((x) => x * 0.5), [B, 1, numKvHeads * headDim]),
    past_key: new ort.Tensor('float32', random(B * numKvHeads * P * headDim), [B, numKvHeads, P, headDim]),
    past_value: new ort.Tensor('float32', random(B * numKvHeads * P * headDim).map((x) => x * 0.3 + 0.1), [B, numKvHeads, P, headDim]),
    seqlens_k: new ort.Tensor('int32', Int32Array.from(pastLengths), [B]),
    total_sequence_length: new ort.Tensor('int32', Int32Array.of(Math.max(...pastLengths) + 1), []),
  };
  const session = sessions[variant];
  let out: Float32Array = new Float32Array();
  const times: number[] = [];
  for (let i = 0; i < reps + 3; i++) {
    const started = performance.now();
    const result = await session.run(feeds);
    if (i >= 3) times.push(performance.now() - started);
    out = result.out!.data as Float32Array;
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)]!, out };
}

console.log(`${values.shape}: ${numHeads} heads, ${numKvHeads} KV heads, head ${headDim}; ${values.threads} threads; one layer, median ms of ${reps}`);
const cases: Array<{ label: string; lengths: number[]; P: number }> = [
  { label: 'B=1, 32 tokens (P=64)', lengths: [32], P: 64 },
  { label: 'B=1, 2000 tokens (P=2048)', lengths: [2000], P: 2048 },
  { label: 'B=16, 100 tokens (P=128)', lengths: Array(16).fill(100), P: 128 },
  { label: 'B=16, 1 at 2000 + 15 at 100 (P=2048)', lengths: [2000, ...Array(15).fill(100)], P: 2048 },
  { label: 'B=16, 2000 tokens (P=2048)', lengths: Array(16).fill(2000), P: 2048 },
];
for (const { label, lengths, P } of cases) {
  const gqa = await time('gqa', lengths, P);
  const std = await time('std', lengths, P);
  const gqa2 = await time('gqa', lengths, P);
  const std2 = await time('std', lengths, P);
  const maxDiff = gqa.out.reduce((max, x, i) => Math.max(max, Math.abs(x - std.out[i]!)), 0);
  console.log(`${label.padEnd(40)} gqa ${gqa.ms.toFixed(3)} / ${gqa2.ms.toFixed(3)}   std ${std.ms.toFixed(3)} / ${std2.ms.toFixed(3)}   max |diff| ${maxDiff.toExponential(1)}`);
}
