// fp16 and int4 packages: (1) the graph computes exactly what its stored weights say — checked
// against the float64 reference run on a copy of the checkpoint rounded the same way; (2) the
// end-to-end error against the fp32 package stays within documented tolerances.
//
// Tolerances (relative error = max |Δ logit| / max |reference logit|):
//   fp16 graph vs fp16-rounded reference      ≤ 1e-4
//   int4 graph (accuracy_level 0) vs int4-dequantized reference  ≤ 1e-4 (packing is exact)
//   int4 graph (default accuracy_level 4) vs the same reference   ≤ 1e-1 (the kernel quantizes
//                                              activations to int8; ≈4% measured on fixtures)
//   fp16 vs fp32 package                      max ≤ 5e-3, top-1 agreement 100%
//   int4 vs fp32 package                      mean ≤ 0.35, max ≤ 0.6, top-1 agreement ≥ 40%
// The int4 end-to-end figures are loose because the fixtures' weights are i.i.d. Gaussian, the
// worst case for 4-bit blocks (≈8% RMS weight error per matrix, compounding over a tiny model);
// trained weights quantize far better. These bounds still catch a broken packing or scale.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Architecture, ModelManifest } from '../../engine/common/manifest.js';
import { modelShapeFromHfConfig, weightsBytes } from '../../engine/common/memoryEstimate.js';
import { convertCheckpoint } from '../../engine/convert/convert.js';
import { DecoderRunner } from '../fixtures/decoderRunner.js';
import type { FixtureOptions } from '../fixtures/generateCheckpoint.js';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { maxRelativeError } from '../fixtures/parity.js';
import { argmax, ReferenceSession } from '../fixtures/referenceModel.js';
import { writeRoundedCheckpoint } from '../fixtures/roundedCheckpoint.js';

const PROMPT = [5, 17, 300, 42, 7, 99, 256, 3, 411];
const TEACHER_FORCED = Array.from({ length: 40 }, (_, i) => ((i * 7919 + 13) % 500) + 3);
const scratch = mkdtempSync(join(tmpdir(), 'hearth-convert-quantized-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

async function graphVsRoundedReference(dtype: 'fp16' | 'int4', tolerance: number, int4AccuracyLevel?: number, fixture: Omit<FixtureOptions, 'shape' | 'tokenizer' | 'chatTemplate'> = {}): Promise<{ manifest: ModelManifest; maxError: number }> {
  const arch = fixture.arch ?? 'llama';
  const variant = [arch, `h${fixture.hiddenSize ?? 'default'}`, fixture.multimodal ? 'multimodal' : '', fixture.ropeScaling ?? '', fixture.partialRotaryFactor ?? ''].filter(Boolean).join('-');
  const generated = await ensureFixturePackage({ ...fixture, arch, dtype });
  const { checkpointDir } = generated;
  let { packageDir, manifest } = generated;
  if (int4AccuracyLevel !== undefined) {
    packageDir = join(scratch, `package-int4-acc${int4AccuracyLevel}-${variant}`);
    manifest = await convertCheckpoint({ checkpointDir, outDir: packageDir, dtype, int4AccuracyLevel });
  }
  const roundedDir = join(scratch, `rounded-${dtype}-${variant}`);
  if (!existsSync(roundedDir)) writeRoundedCheckpoint(checkpointDir, roundedDir, dtype);
  const runner = await DecoderRunner.open(packageDir, manifest);
  try {
    const reference = new ReferenceSession(roundedDir);
    let tokens = PROMPT;
    let maxError = 0;
    for (let step = 0; step < 5; step++) {
      const [logits] = await runner.step([{ rowId: 0, tokenIds: tokens }]);
      const expected = reference.feed(tokens);
      const error = maxRelativeError(expected, logits!);
      assert.ok(error <= tolerance, `${dtype} step ${step}: relative error ${error.toExponential(2)} > ${tolerance}`);
      maxError = Math.max(maxError, error);
      tokens = [argmax(expected)];
    }
    return { manifest, maxError };
  } finally {
    await runner.release();
  }
}

async function teacherForcedLogits(dtype: 'fp32' | 'fp16' | 'int4', arch: Architecture): Promise<Float32Array[]> {
  const { packageDir, manifest } = await ensureFixturePackage({ arch, dtype });
  const runner = await DecoderRunner.open(packageDir, manifest);
  try {
    const out: Float32Array[] = [];
    for (const token of TEACHER_FORCED) out.push((await runner.step([{ rowId: 0, tokenIds: [token] }]))[0]!);
    return out;
  } finally {
    await runner.release();
  }
}

function compare(reference: Float32Array[], actual: Float32Array[]): { maxError: number; meanError: number; top1: number } {
  const errors = reference.map((logits, i) => maxRelativeError(logits, actual[i]!));
  const agree = reference.filter((logits, i) => argmax(logits) === argmax(actual[i]!)).length;
  return { maxError: Math.max(...errors), meanError: errors.reduce((a, b) => a + b, 0) / errors.length, top1: agree / reference.length };
}

describe('hearth convert: fp16 and int4 packages', () => {
  it('fp16 graph matches the reference on fp16-rounded weights (≤ 1e-4)', async () => {
    await graphVsRoundedReference('fp16', 1e-4);
  });

  it('int4 graph with fp32 activations matches the reference on int4-dequantized weights (≤ 1e-4)', async () => {
    // The embedding too: GatherBlockQuantized reads the same blocks as MatMulNBits.
    await graphVsRoundedReference('int4', 1e-4, 0);
  });

  it('int4 with tied embeddings: the lm_head reads the embedding blocks (≤ 1e-4, stored once)', async () => {
    const { manifest } = await graphVsRoundedReference('int4', 1e-4, 0, { arch: 'qwen2' });
    assert.equal(manifest.shape.tiedEmbeddings, true);
    // The estimate stores no lm_head for a tied int4 model; the converter writes exactly that.
    const { checkpointDir } = await ensureFixturePackage({ arch: 'qwen2', dtype: 'int4' });
    const shape = modelShapeFromHfConfig(JSON.parse(readFileSync(join(checkpointDir, 'config.json'), 'utf8')));
    assert.equal(weightsBytes(shape, 'int4').lmHeadBytes, 0);
    assert.equal(manifest.weightsBytes, weightsBytes(shape, 'int4').storedBytes);
  });

  it('int4 with a hidden size of an odd number of blocks keeps an fp16 embedding table (≤ 1e-4 of its reference)', async () => {
    const { manifest } = await graphVsRoundedReference('int4', 1e-4, 0, { hiddenSize: 96 });
    assert.equal(manifest.shape.hiddenSize, 96);
    const { checkpointDir } = await ensureFixturePackage({ arch: 'llama', dtype: 'int4', hiddenSize: 96 });
    const shape = modelShapeFromHfConfig(JSON.parse(readFileSync(join(checkpointDir, 'config.json'), 'utf8')));
    assert.equal(weightsBytes(shape, 'int4').embeddingBytes, shape.vocabSize * 96 * 2);
    assert.equal(manifest.weightsBytes, weightsBytes(shape, 'int4').storedBytes);
  });

  const families: [FixtureOptions, string][] = [
    [{ arch: 'smollm3' }, 'a no-rope layer'], [{ arch: 'granite' }, 'the four multipliers'], [{ arch: 'olmo2' }, 'post-norms, projection-wide q/k norms'],
    [{ arch: 'phi3', ropeScaling: 'longrope', partialRotaryFactor: 0.75 }, 'Phi-4-mini: LongRoPE, partial rotary'], [{ arch: 'qwen3', ropeScaling: 'yarn' }, 'YaRN'],
  ];
  for (const [fixture, what] of families) {
    it(`${fixture.arch!} (${what}): fp16 and int4 graphs match the references on rounded weights (≤ 1e-4)`, async (t) => {
      const fp16 = await graphVsRoundedReference('fp16', 1e-4, undefined, fixture);
      const int4 = await graphVsRoundedReference('int4', 1e-4, 0, fixture);
      t.diagnostic(`max relative error fp16 ${fp16.maxError.toExponential(2)}, int4 ${int4.maxError.toExponential(2)}`);
    });
  }

  it('int4 graph with int8 activations (default) stays within 1e-1 of that reference', async () => {
    await graphVsRoundedReference('int4', 1e-1);
  });

  // Gemma: the √hidden multiplier, (1 + w) norms, GeLU, soft-caps and per-layer windows and
  // rotary tables are the same nodes in every dtype; the weights are what is rounded.
  for (const fixture of [{ arch: 'gemma2' as const }, { arch: 'gemma3' as const }, { arch: 'gemma3' as const, multimodal: true }]) {
    const label = `${fixture.arch}${fixture.multimodal ? ' (multimodal text tower)' : ''}`;
    it(`${label}: fp16 graph matches the reference on fp16-rounded weights (≤ 1e-4)`, async (t) => {
      const { maxError } = await graphVsRoundedReference('fp16', 1e-4, undefined, fixture);
      t.diagnostic(`max relative error ${maxError.toExponential(2)}`);
    });
    it(`${label}: int4 graph with fp32 activations matches the reference on int4-dequantized weights, tied 4-bit table (≤ 1e-4)`, async (t) => {
      const { manifest, maxError } = await graphVsRoundedReference('int4', 1e-4, 0, fixture);
      assert.equal(manifest.shape.tiedEmbeddings, true);
      t.diagnostic(`max relative error ${maxError.toExponential(2)}`);
    });
  }

  for (const arch of ['llama', 'mistral', 'qwen2', 'qwen3', 'phi3', 'smollm3', 'granite', 'olmo2', 'gemma2', 'gemma3'] as const) {
    it(`${arch}: fp16 and int4 stay within their tolerances of the fp32 package`, async (t) => {
      const fp32 = await teacherForcedLogits('fp32', arch);
      const fp16 = compare(fp32, await teacherForcedLogits('fp16', arch));
      assert.ok(fp16.maxError <= 5e-3, `fp16 max relative error ${fp16.maxError}`);
      assert.equal(fp16.top1, 1, 'fp16 top-1 agreement');
      const int4 = compare(fp32, await teacherForcedLogits('int4', arch));
      assert.ok(int4.meanError <= 0.35, `int4 mean relative error ${int4.meanError}`);
      assert.ok(int4.maxError <= 0.6, `int4 max relative error ${int4.maxError}`);
      assert.ok(int4.top1 >= 0.4, `int4 top-1 agreement ${int4.top1}`);
      t.diagnostic(`fp16 max ${fp16.maxError.toExponential(2)}; int4 mean ${int4.meanError.toFixed(3)} max ${int4.maxError.toFixed(3)} top-1 ${int4.top1.toFixed(2)}`);
    });
  }

  it('stores int4 and fp16 packages at a fraction of the fp32 size', async () => {
    const [fp32, fp16, int4] = await Promise.all((['fp32', 'fp16', 'int4'] as const).map((dtype) => ensureFixturePackage({ arch: 'llama', dtype })));
    assert.ok(fp16.manifest.weightsBytes < fp32.manifest.weightsBytes * 0.6);
    assert.ok(int4.manifest.weightsBytes < fp32.manifest.weightsBytes * 0.45);
    assert.equal(int4.manifest.dtype, 'int4');
  });
});
