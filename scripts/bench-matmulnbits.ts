// One MatMulNBits at each width of a fixture shape's decoder (fused qkv, o, fused gate/up, down,
// lm_head), on the CPU provider, by accuracy_level, block size and zero points, and as the int8
// matmul `hearth serve --cpu-int8-matmul` runs instead (engine/runtime/int8MatMul.ts): microseconds
// per call (min and median of --reps) and what one step's matmuls would cost (every layer + the
// lm_head). What the converter writes is block 32 with zero points, accuracy_level 4. --rows 256
// is a prefill chunk (hearth serve's default maxPrefillTokens).
//
//   node --import tsx scripts/bench-matmulnbits.ts --shape qwen2.5-0.5b [--rows 1] [--threads 2] [--reps 100]
//
// Weights are synthetic (speed does not depend on their values). Figures are only meaningful on
// an idle machine; compare configurations from one run.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../engine/convert/onnx/graphBuilder.js';
import { OPSETS } from '../engine/convert/decoderGraph.js';
import { int8MatMulVariant } from '../engine/runtime/int8MatMul.js';
import { FIXTURE_SHAPES, type FixtureShapeName } from '../test/fixtures/generateCheckpoint.js';

const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: 'qwen2.5-0.5b' },
    rows: { type: 'string', default: '1' },
    threads: { type: 'string', default: '2' },
    reps: { type: 'string', default: '100' },
  },
});
const shape = FIXTURE_SHAPES[values.shape as FixtureShapeName];
if (!shape) throw new Error(`--shape must be one of ${Object.keys(FIXTURE_SHAPES).join(', ')}`);
const rows = Number(values.rows);
const reps = Number(values.reps);
const headDim = shape.hiddenSize / shape.numHeads;
const h = shape.hiddenSize;
const widths: Array<{ name: string; inFeatures: number; outFeatures: number; perStep: number }> = [
  { name: 'qkv', inFeatures: h, outFeatures: (shape.numHeads + 2 * shape.numKvHeads) * headDim, perStep: shape.numLayers },
  { name: 'o', inFeatures: shape.numHeads * headDim, outFeatures: h, perStep: shape.numLayers },
  { name: 'gate_up', inFeatures: h, outFeatures: 2 * shape.intermediateSize, perStep: shape.numLayers },
  { name: 'down', inFeatures: shape.intermediateSize, outFeatures: h, perStep: shape.numLayers },
  { name: 'lm_head', inFeatures: h, outFeatures: shape.vocabSize, perStep: 1 },
];
const configs = [
  { accuracyLevel: 0, blockSize: 32, zeroPoints: true },
  { accuracyLevel: 4, blockSize: 32, zeroPoints: true },
  { accuracyLevel: 4, blockSize: 32, zeroPoints: false },
  { accuracyLevel: 4, blockSize: 64, zeroPoints: true },
  { accuracyLevel: 4, blockSize: 128, zeroPoints: true },
  { accuracyLevel: 4, blockSize: 32, zeroPoints: true, int8: true },
];
const label = (c: (typeof configs)[number]) => ('int8' in c ? 'int8 (from b32)' : `acc${c.accuracyLevel} b${c.blockSize}${c.zeroPoints ? ' zp' : ''}`);

async function timeOne(inFeatures: number, outFeatures: number, config: (typeof configs)[number]): Promise<{ minUs: number; medianUs: number }> {
  const blocks = Math.ceil(inFeatures / config.blockSize);
  const g = new GraphBuilder(null);
  const x = g.input('x', 'float32', [rows, inFeatures]);
  g.output('y', 'float32', [rows, outFeatures]);
  const codes = g.constant('codes', 'uint8', [outFeatures, blocks, config.blockSize / 2], Uint8Array.from({ length: outFeatures * blocks * (config.blockSize / 2) }, (_, i) => (i * 37) & 255));
  const scales = g.constant('scales', 'float32', [outFeatures, blocks], new Uint8Array(Float32Array.from({ length: outFeatures * blocks }, (_, i) => 0.01 + (i % 7) * 1e-3).buffer));
  const inputs = [x, codes, scales];
  if (config.zeroPoints) inputs.push(g.constant('zero_points', 'uint8', [outFeatures, Math.ceil(blocks / 2)], new Uint8Array(outFeatures * Math.ceil(blocks / 2)).fill(0x78)));
  g.op('MatMulNBits', inputs, { domain: 'com.microsoft', attributes: { K: inFeatures, N: outFeatures, bits: 4, block_size: config.blockSize, accuracy_level: config.accuracyLevel }, output: 'y' });
  let model = g.encodeModel(OPSETS, 'bench-matmulnbits');
  if ('int8' in config) model = int8MatMulVariant(model, -1, () => { throw new Error('inline weights only (bug)'); })!.model;
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: Number(values.threads) });
  try {
    const feeds = { x: new ort.Tensor('float32', Float32Array.from({ length: rows * inFeatures }, (_, i) => Math.sin(i)), [rows, inFeatures]) };
    for (let i = 0; i < 5; i++) await session.run(feeds);
    const times: number[] = [];
    const count = outFeatures > 100_000 ? Math.max(10, Math.floor(reps / 4)) : reps;
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      await session.run(feeds);
      times.push((performance.now() - started) * 1000);
    }
    times.sort((a, b) => a - b);
    return { minUs: times[0]!, medianUs: times[Math.floor(times.length / 2)]! };
  } finally {
    await session.release();
  }
}

console.log(`${values.shape}: ${rows} row(s), ${values.threads} threads; µs per call, min / median of ${reps}`);
console.log(`${'width'.padEnd(24)}${configs.map((c) => label(c).padStart(18)).join('')}`);
const stepMs = configs.map(() => 0);
for (const width of widths) {
  const cells: string[] = [];
  for (const [index, config] of configs.entries()) {
    const { minUs, medianUs } = await timeOne(width.inFeatures, width.outFeatures, config);
    stepMs[index]! += (medianUs * width.perStep) / 1000;
    cells.push(`${minUs.toFixed(0)} / ${medianUs.toFixed(0)}`.padStart(18));
  }
  console.log(`${`${width.name} ${width.inFeatures}→${width.outFeatures}`.padEnd(24)}${cells.join('')}`);
}
console.log(`${'step (medians) ms'.padEnd(24)}${stepMs.map((ms) => ms.toFixed(1).padStart(18)).join('')}`);
