// Attention on the CPU provider, GroupQueryAttention (the package graph) against standard ops that
// read the KV cache in place (engine/runtime/cacheAttention.ts), for decode steps (S = 1) over rows
// of given lengths in a cache of P positions per row: the attention of all a fixture shape's
// layers (each its own past) as GroupQueryAttention and in both query layouts of cacheAttention
// (ms per step, and their largest difference), and with --package the whole decoder step of a
// package, as shipped and as the CPU variant, interleaved.
//
//   node --import tsx scripts/bench-attention.ts --shape smollm2-135m [--threads 2] [--reps 30] [--package DIR]
//
// Figures are only meaningful on an idle machine; compare variants of one run.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../engine/convert/onnx/graphBuilder.js';
import { OPSETS } from '../engine/convert/decoderGraph.js';
import { attentionMasks, cacheAttention, IN_PLACE_INPUT, inPlaceAttentionVariant, queryLayout, type QueryLayout } from '../engine/runtime/cacheAttention.js';
import type { ModelManifest } from '../engine/common/manifest.js';
import { FIXTURE_SHAPES, type FixtureShapeName } from '../test/fixtures/generateCheckpoint.js';

const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: 'smollm2-135m' },
    threads: { type: 'string', default: '2' },
    reps: { type: 'string', default: '30' },
    package: { type: 'string' },
  },
});
const shape = FIXTURE_SHAPES[values.shape as FixtureShapeName];
if (!shape) throw new Error(`--shape must be one of ${Object.keys(FIXTURE_SHAPES).join(', ')}`);
const { numHeads, numKvHeads } = shape;
const headDim = shape.hiddenSize / numHeads;
const reps = Number(values.reps);

type Variant = 'gqa' | QueryLayout;
const VARIANTS: Variant[] = ['gqa', 'perHead', 'grouped'];
const numLayers = shape.numLayers;

/** Every layer's attention of a decode step (q/k/v shared, a past of its own per layer, as the cache has: it does not fit in the CPU's caches at long context). */
function graph(variant: Variant): Uint8Array {
  const g = new GraphBuilder(null);
  const q = g.input('q', 'float32', ['batch', 'sequence_length', numHeads * headDim]);
  const k = g.input('k', 'float32', ['batch', 'sequence_length', numKvHeads * headDim]);
  const v = g.input('v', 'float32', ['batch', 'sequence_length', numKvHeads * headDim]);
  const seqlensK = g.input('seqlens_k', 'int32', ['batch']);
  const total = g.input('total_sequence_length', 'int32', []);
  let masks: ReturnType<typeof attentionMasks> | null = null;
  for (let layer = 0; layer < numLayers; layer++) {
    const pastKey = g.input(`past_key.${layer}`, 'float32', ['batch', numKvHeads, 'past', headDim]);
    const pastValue = g.input(`past_value.${layer}`, 'float32', ['batch', numKvHeads, 'past', headDim]);
    const out = `out.${layer}`;
    g.output(out, 'float32', ['batch', 'sequence_length', numHeads * headDim]);
    if (variant === 'gqa') {
      g.node('GroupQueryAttention', [q, k, v, pastKey, pastValue, seqlensK, total], {
        domain: 'com.microsoft', attributes: { num_heads: numHeads, kv_num_heads: numKvHeads }, outputs: [out, g.fresh('present_key'), g.fresh('present_value')],
      });
    } else {
      masks ??= attentionMasks(g, q, pastKey, seqlensK, variant, numHeads / numKvHeads);
      g.op('Identity', [cacheAttention(g, { q, k, v, pastKey, pastValue, numHeads, numKvHeads, headDim }, masks, variant)], { output: out });
    }
  }
  return g.encodeModel(OPSETS, 'bench-attention');
}

const sessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: Number(values.threads), interOpNumThreads: 1, logSeverityLevel: 3 as const, extra: { session: { intra_op: { allow_spinning: '0' } } } };
const sessions = Object.fromEntries(await Promise.all(VARIANTS.map(async (variant) => [variant, await ort.InferenceSession.create(graph(variant), sessionOptions)] as const))) as Record<Variant, ort.InferenceSession>;
const random = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));

function attentionFeeds(pastLengths: number[], P: number): Record<string, ort.Tensor> {
  const B = pastLengths.length;
  const feeds: Record<string, ort.Tensor> = {
    q: new ort.Tensor('float32', random(B * numHeads * headDim), [B, 1, numHeads * headDim]),
    k: new ort.Tensor('float32', random(B * numKvHeads * headDim), [B, 1, numKvHeads * headDim]),
    v: new ort.Tensor('float32', random(B * numKvHeads * headDim).map((x) => x * 0.5), [B, 1, numKvHeads * headDim]),
    seqlens_k: new ort.Tensor('int32', Int32Array.from(pastLengths), [B]),
    total_sequence_length: new ort.Tensor('int32', Int32Array.of(Math.max(...pastLengths) + 1), []),
  };
  for (let layer = 0; layer < numLayers; layer++) {
    feeds[`past_key.${layer}`] = new ort.Tensor('float32', random(B * numKvHeads * P * headDim), [B, numKvHeads, P, headDim]);
    feeds[`past_value.${layer}`] = new ort.Tensor('float32', random(B * numKvHeads * P * headDim).map((x) => x * 0.3 + 0.1), [B, numKvHeads, P, headDim]);
  }
  return feeds;
}

async function medianMs(variant: Variant, feeds: Record<string, ort.Tensor>): Promise<{ ms: number; out: Float32Array }> {
  let out: Float32Array = new Float32Array();
  const times: number[] = [];
  for (let i = 0; i < reps + 3; i++) {
    const started = performance.now();
    const result = await sessions[variant].run(feeds);
    if (i >= 3) times.push(performance.now() - started);
    out = result['out.0']!.data as Float32Array;
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)]!, out };
}

console.log(`${values.shape}: ${numHeads} heads, ${numKvHeads} KV heads (the layout rule picks ${queryLayout(numHeads, numKvHeads)}), head ${headDim}; ${values.threads} threads; attention of ${numLayers} layers, median ms of ${reps}, three interleaved rounds`);
const cases: Array<{ label: string; lengths: number[]; P: number }> = [
  { label: 'B=1, 32 tokens (P=64)', lengths: [32], P: 64 },
  { label: 'B=1, 100 tokens (P=128)', lengths: [100], P: 128 },
  { label: 'B=1, 240 tokens (P=256)', lengths: [240], P: 256 },
  { label: 'B=1, 2000 tokens (P=2048)', lengths: [2000], P: 2048 },
  { label: 'B=16, 100 tokens (P=128)', lengths: Array(16).fill(100), P: 128 },
  { label: 'B=16, 240 tokens (P=256)', lengths: Array(16).fill(240), P: 256 },
  { label: 'B=16, 1 at 2000 + 15 at 100 (P=2048)', lengths: [2000, ...Array(15).fill(100)], P: 2048 },
  { label: 'B=16, 2000 tokens (P=2048)', lengths: Array(16).fill(2000), P: 2048 },
];
for (const { label, lengths, P } of cases) {
  const feeds = attentionFeeds(lengths, P);
  const runs = new Map<Variant, number[]>(VARIANTS.map((variant) => [variant, []]));
  let maxDiff = 0;
  for (let round = 0; round < 3; round++) {
    const reference = await medianMs('gqa', feeds);
    runs.get('gqa')!.push(reference.ms);
    for (const variant of VARIANTS.slice(1)) {
      const { ms, out } = await medianMs(variant, feeds);
      runs.get(variant)!.push(ms);
      maxDiff = Math.max(maxDiff, out.reduce((max, x, i) => Math.max(max, Math.abs(x - reference.out[i]!)), 0));
    }
  }
  console.log(`${label.padEnd(40)} ${VARIANTS.map((variant) => `${variant} ${runs.get(variant)!.map((ms) => ms.toFixed(2)).join(' / ')}`).join('   ')}   max |diff| ${maxDiff.toExponential(1)}`);
}

if (values.package) {
  const manifest = JSON.parse(readFileSync(join(values.package, 'manifest.json'), 'utf8')) as ModelManifest;
  const modelPath = join(values.package, manifest.files.model);
  const options = {
    executionProviders: ['cpu'], intraOpNumThreads: Number(values.threads), interOpNumThreads: 1, graphOptimizationLevel: 'all' as const,
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' }, force_spinning_stop: '1', model_external_initializers_file_folder_path: dirname(modelPath) } },
  };
  const steps = {
    gqa: await ort.InferenceSession.create(modelPath, options),
    std: await ort.InferenceSession.create(inPlaceAttentionVariant(readFileSync(modelPath), manifest.graph)!, options),
  };
  const { numLayers, numKvHeads: kvH, headDim: D } = manifest.graph;
  const stepMs = async (variant: 'gqa' | 'std' | 'switch-gqa', pastLengths: number[], P: number): Promise<string> => {
    const B = pastLengths.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', new BigInt64Array(B).fill(5n), [B, 1]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(pastLengths, BigInt), [B, 1]),
      seqlens_k: new ort.Tensor('int32', Int32Array.from(pastLengths), [B]),
      total_sequence_length: new ort.Tensor('int32', Int32Array.of(Math.max(...pastLengths) + 1), []),
      last_token_index: new ort.Tensor('int64', new BigInt64Array(B), [B]),
    };
    for (let layer = 0; layer < numLayers; layer++) {
      // Its own buffer per layer (as the cache has), values irrelevant to speed.
      feeds[`past_key.${layer}`] = new ort.Tensor('float32', new Float32Array(B * kvH * P * D).fill(0.01), [B, kvH, P, D]);
      feeds[`past_value.${layer}`] = new ort.Tensor('float32', new Float32Array(B * kvH * P * D).fill(0.02), [B, kvH, P, D]);
    }
    if (variant !== 'gqa') feeds[IN_PLACE_INPUT] = new ort.Tensor('bool', Uint8Array.of(variant === 'std' ? 1 : 0), []);
    // What the host cache fetches.
    const fetches = ['logits', ...Array.from({ length: numLayers }, (_, layer) => [`new_key.${layer}`, `new_value.${layer}`]).flat()];
    const times: number[] = [];
    const cpuTimes: number[] = [];
    for (let i = 0; i < Math.ceil(reps / 3) + 2; i++) {
      const started = performance.now();
      const cpuStarted = process.cpuUsage();
      await steps[variant === 'gqa' ? 'gqa' : 'std'].run(feeds, fetches);
      const cpu = process.cpuUsage(cpuStarted);
      if (i >= 2) times.push(performance.now() - started);
      if (i >= 2) cpuTimes.push((cpu.user + cpu.system) / 1000);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return `${Math.min(...times).toFixed(1)}/${median(times).toFixed(1)} (cpu ${median(cpuTimes).toFixed(1)})`;
  };
  console.log(`\n${values.package}: whole decode step, wall min/median ms and median CPU ms of the process (threads not spinning, so CPU time is work done even on a loaded machine; as shipped = GroupQueryAttention; in place = the CPU variant's cacheAttention branch; variant, GQA branch = its other branch)`);
  for (const { label, lengths, P } of cases) {
    const cells: string[] = [];
    const names = { gqa: 'as shipped', std: 'in place', 'switch-gqa': 'variant, GQA branch' };
    for (const variant of ['gqa', 'std', 'switch-gqa', 'gqa', 'std', 'switch-gqa'] as const) cells.push(`${names[variant]} ${await stepMs(variant, lengths, P)}`);
    console.log(`${label.padEnd(40)} ${cells.join('   ')}`);
  }
}
