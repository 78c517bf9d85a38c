// int8 matmuls on the CPU provider (engine/runtime/int8MatMul.ts, `hearth serve --cpu-int8-matmul`):
// the int4 → int8 weight expansion against the int4 weights it comes from; the variant graph
// against the float64 reference on the int4-rounded checkpoint (the bound the int4 graph with
// int8 activations has: convertQuantized.test.ts); and the engine running it, where batching,
// chunked prefill, preemption and prefix reuse must not change a greedy stream (one numeric path
// for prefill and decode).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readAt } from '../../engine/convert/halfGraph.js';
import { onnx } from '../../engine/convert/onnx/proto.js';
import { dequantizeInt4, quantizeInt4 } from '../../engine/convert/quantize.js';
import { kvBytesPerToken, loadEngine, type StepStats } from '../../engine/runtime/index.js';
import { MIN_PREFIX_REUSE_TOKENS } from '../../engine/runtime/prefixCache.js';
import { inPlaceAttentionVariant } from '../../engine/runtime/cacheAttention.js';
import { expandInt4ToInt8, INT8_CACHE_FILES, int8MatMulVariant, loadInt8MatMulVariant } from '../../engine/runtime/int8MatMul.js';
import { DecoderRunner } from '../fixtures/decoderRunner.js';
import { collectStream } from '../fixtures/engineStreams.js';
import { copyFixturePackage, ensureFixturePackage } from '../fixtures/packages.js';
import { maxRelativeError } from '../fixtures/parity.js';
import { argmax, ReferenceSession } from '../fixtures/referenceModel.js';
import { writeRoundedCheckpoint } from '../fixtures/roundedCheckpoint.js';
import { prompts, request } from './engineSuite.js';

const scratch = mkdtempSync(join(tmpdir(), 'hearth-int8-matmul-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of the int4 fixture package: the int8 cache is written into the package folder. */
async function int4PackageCopy(name: string) {
  const fixture = await ensureFixturePackage({ arch: 'llama', dtype: 'int4' });
  const packageDir = join(scratch, name);
  copyFixturePackage(fixture.packageDir, packageDir);
  return { ...fixture, packageDir };
}

function gaussian(count: number, seed: number): Float32Array {
  let state = seed;
  const uniform = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) + 1) / (2 ** 31 + 1);
  return Float32Array.from({ length: count }, () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()));
}

test('int4 blocks expand to int8 [K, N] within half an int8 step of the int4 weights, and nothing clips', () => {
  for (const [numOut, numIn, blockSize] of [[40, 96, 32], [24, 256, 64], [8, 80, 32]] as const) {
    const weights = gaussian(numOut * numIn, numOut + numIn);
    // One column with a large outlier: its scale must cover it, the others must not be coarsened by it.
    weights[3 * numIn + 5] = 12;
    const int4 = quantizeInt4(weights, numOut, numIn, blockSize);
    const rounded = dequantizeInt4(int4, numOut, numIn); // [N, K]
    const { values, columnScales } = expandInt4ToInt8(int4.codes, int4.scales, int4.zeroPoints, numIn, numOut, blockSize);
    assert.equal(values.length, numIn * numOut);
    for (let n = 0; n < numOut; n++) {
      const scale = columnScales[n]!;
      let largest = 0;
      for (let k = 0; k < numIn; k++) {
        const w4 = rounded[n * numIn + k]!;
        const w8 = values[k * numOut + n]!; // [K, N]: MatMulIntegerToFloat's B
        largest = Math.max(largest, Math.abs(w4));
        assert.ok(Math.abs(w8) <= 127, `[${numOut}x${numIn}] column ${n}: ${w8} is outside the symmetric range`);
        assert.ok(Math.abs(w8 * scale - w4) <= scale * 0.5 * (1 + 1e-5), `[${numOut}x${numIn}] (${k}, ${n}): ${w8} × ${scale} is more than half a step from ${w4}`);
      }
      assert.ok(127 * scale >= largest * (1 - 1e-6) && 127 * scale <= largest * 1.15, `column ${n}: 127 × scale ${127 * scale} against its largest |w| ${largest}`);
    }
    assert.ok(columnScales[3]! > 2.5 * columnScales[2]!, 'the outlier column has its own, coarser scale');
  }
});

for (const arch of ['llama', 'mistral', 'qwen2', 'qwen3', 'phi3', 'gemma2', 'gemma3', 'smollm3', 'granite', 'olmo2'] as const) {
  test(`${arch}: the int8 variant computes the int4-rounded model within the int8-activation bound (prefill and decode steps)`, async () => {
    const { packageDir, checkpointDir, manifest } = await ensureFixturePackage({ arch, dtype: 'int4' });
    const modelBytes = readFileSync(join(packageDir, manifest.files.model));
    const fd = openSync(join(packageDir, manifest.files.modelData), 'r');
    let variant: ReturnType<typeof int8MatMulVariant>;
    try {
      variant = int8MatMulVariant(modelBytes, manifest.shape.vocabSize, (offset, length) => readAt(fd, offset, length));
    } finally {
      closeSync(fd);
    }
    assert.ok(variant, 'an int4 package has int4 matmuls to expand');
    const ops = onnx.ModelProto.decode(variant.model).graph!.node!.map((node) => node.opType);
    const shipped = onnx.ModelProto.decode(modelBytes).graph!.node!.filter((node) => node.opType === 'MatMulNBits').length;
    assert.equal(ops.filter((op) => op === 'MatMulIntegerToFloat').length, variant.matrices);
    assert.equal(ops.filter((op) => op === 'MatMulNBits').length, 1, 'only the lm_head keeps MatMulNBits');
    assert.equal(shipped - variant.matrices, 1);
    assert.ok(variant.matrices >= 2 * manifest.shape.numLayers, `${variant.matrices} matrices for ${manifest.shape.numLayers} layers`);

    const roundedDir = join(scratch, `rounded-int4-${arch}`);
    if (!existsSync(roundedDir)) writeRoundedCheckpoint(checkpointDir, roundedDir, 'int4');
    const runner = await DecoderRunner.open(packageDir, manifest, variant.model);
    const shippedRunner = await DecoderRunner.open(packageDir, manifest);
    try {
      const reference = new ReferenceSession(roundedDir);
      let tokens = [5, 17, 300, 42, 7, 99, 256, 3, 411];
      const errors: number[] = [];
      const shippedErrors: number[] = [];
      for (let step = 0; step < 6; step++) {
        const [logits] = await runner.step([{ rowId: 0, tokenIds: tokens }]);
        const [shippedLogits] = await shippedRunner.step([{ rowId: 0, tokenIds: tokens }]);
        const expected = reference.feed(tokens);
        errors.push(maxRelativeError(expected, logits!));
        shippedErrors.push(maxRelativeError(expected, shippedLogits!));
        tokens = [argmax(expected)];
      }
      // The bound of convertQuantized.test.ts's INT8_ACTIVATIONS_BOUND; the error must also differ
      // from the shipped graph's (the variant ran) and be of its order.
      const worst = Math.max(...errors);
      assert.ok(worst <= 1e-1, `int8 matmuls: relative errors ${errors.map((e) => e.toExponential(2))}`);
      assert.ok(errors.some((error, i) => error !== shippedErrors[i]), 'the variant differs from the shipped graph');
      assert.ok(worst <= 4 * Math.max(...shippedErrors, 1e-3), `int8 matmuls ${worst.toExponential(2)} against the shipped int4 graph's ${Math.max(...shippedErrors).toExponential(2)}`);
    } finally {
      await runner.release();
      await shippedRunner.release();
    }
  });
}

test('fp32 packages have no int4 matmuls: no variant', async () => {
  const { packageDir, manifest } = await ensureFixturePackage({ arch: 'llama', dtype: 'fp32' });
  const bytes = readFileSync(join(packageDir, manifest.files.model));
  assert.equal(int8MatMulVariant(bytes, manifest.shape.vocabSize, () => { throw new Error('nothing to read'); }), null);
  // The engine says so and runs the package as stored.
  const lines: string[] = [];
  const engine = await loadEngine({ packageDir, device: 'cpu', cpuInt8MatMul: 'all', log: (line) => lines.push(line) });
  try {
    assert.equal(engine.snapshot().accelerator!.cpuInt8MatMul, 'off');
    assert.ok(lines.some((line) => line.includes('no int4 matmuls')), lines.join('\n'));
  } finally {
    await engine.shutdown(0);
  }
  assert.ok(inPlaceAttentionVariant(bytes, manifest.graph), 'its CPU variant still reads the cache in place');
});

test('the expansion is cached in the package folder: mapped by the next load, rebuilt when stale or incomplete', async () => {
  const { packageDir, manifest } = await int4PackageCopy('cache');
  const base = readFileSync(join(packageDir, manifest.files.model));
  // Temporaries of a writer that died (its pid is gone) are removed; a live one's are left alone.
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
  const abandoned = join(packageDir, `${INT8_CACHE_FILES.data}.tmp-${deadPid}`);
  const inProgress = join(packageDir, `${INT8_CACHE_FILES.data}.tmp-${process.ppid}`);
  for (const path of [abandoned, inProgress]) writeFileSync(path, 'partial');
  const progress: string[] = [];
  const load = (graph: Uint8Array = base) => loadInt8MatMulVariant(graph, packageDir, manifest.files.modelData, manifest.shape.vocabSize, (line) => progress.push(line), 0)!;
  const first = load();
  assert.equal(first.from, 'expanded');
  // Progress while expanding (reported every matrix here; every 5 s by default).
  assert.deepEqual(progress, Array.from({ length: first.matrices }, (_, i) => `int8 matmuls: expanding the int4 layers, ${i + 1}/${first.matrices} matrices`));
  progress.length = 0;
  assert.ok(!existsSync(abandoned), 'a dead writer\'s temporary is removed');
  assert.ok(existsSync(inProgress), 'a live writer\'s temporary is kept');
  rmSync(inProgress);
  for (const file of Object.values(INT8_CACHE_FILES)) assert.ok(existsSync(join(packageDir, file)), `${file} written`);
  const dataBytes = statSync(join(packageDir, INT8_CACHE_FILES.data)).size;
  assert.ok(dataBytes >= first.int8Bytes, 'the int8 weights are in the data file');
  assert.ok(first.model.byteLength < first.int8Bytes / 4, 'not in the graph');
  const again = load();
  assert.deepEqual([again.from, again.matrices, again.int8Bytes], ['cache', first.matrices, first.int8Bytes]);
  assert.deepEqual(progress, [], 'nothing to expand from the cache');
  assert.deepEqual(again.model, first.model);
  // Another base graph (the CPU variant with in-place attention) is another source: rebuilt.
  const inPlace = load(inPlaceAttentionVariant(base, manifest.graph)!);
  assert.equal(inPlace.from, 'expanded');
  assert.equal(load(inPlaceAttentionVariant(base, manifest.graph)!).from, 'cache');
  // A truncated data file is not used.
  truncateSync(join(packageDir, INT8_CACHE_FILES.data), dataBytes - 4096);
  assert.equal(load().from, 'expanded');
  assert.equal(statSync(join(packageDir, INT8_CACHE_FILES.data)).size, dataBytes);
  // The cached graph computes what the inline one does.
  const fd = openSync(join(packageDir, manifest.files.modelData), 'r');
  const inline = int8MatMulVariant(base, manifest.shape.vocabSize, (offset, length) => readAt(fd, offset, length))!;
  closeSync(fd);
  const cachedRunner = await DecoderRunner.open(packageDir, manifest, load().model);
  const inlineRunner = await DecoderRunner.open(packageDir, manifest, inline.model);
  try {
    const tokens = [5, 17, 300, 42, 7];
    const [cachedLogits] = await cachedRunner.step([{ rowId: 0, tokenIds: tokens }]);
    const [inlineLogits] = await inlineRunner.step([{ rowId: 0, tokenIds: tokens }]);
    assert.deepEqual(cachedLogits, inlineLogits);
  } finally {
    await cachedRunner.release();
    await inlineRunner.release();
  }
});

for (const mode of ['all', 'prompt'] as const) {
  test(`the engine with int8 matmuls (${mode === 'all' ? 'every token' : 'prompt tokens only'}): batching, chunked prefill, preemption and prefix reuse leave greedy streams unchanged`, async () => {
    const { packageDir, manifest } = await int4PackageCopy(`engine-${mode}`);
    const vocabSize = manifest.shape.vocabSize;
    const lines: string[] = [];
    const engine = await loadEngine({ packageDir, device: 'cpu', cpuInt8MatMul: mode, batching: { prefixCacheBytes: 0 }, log: (line) => lines.push(line) });
    const all = prompts(8, vocabSize);
    const alone: number[][] = [];
    const turn2Prompts: number[][] = [];
    const turn2: number[][] = [];
    const loadLine = mode === 'all' ? 'int8 matmuls for every token' : 'int8 matmuls for prompt tokens \\(generated tokens run int4\\)';
    try {
      const accelerator = engine.snapshot().accelerator!;
      assert.equal(accelerator.cpuInt8MatMul, mode, lines.join('\n'));
      assert.ok(lines.some((line) => new RegExp(`${loadLine}: \\d+ matrices, \\d+ MiB of int8, expanded and cached`).test(line)), lines.join('\n'));
      for (const prompt of all) alone.push((await collectStream(engine.submit(request(prompt, 30)))).ids);
      // Without a prefix cache: second turns prefilled cold (prompt + answer + new tokens).
      // (prompts 2, 3 and 5: 27, 40 and 26 tokens, so prompt + answer passes MIN_PREFIX_REUSE_TOKENS)
      for (const i of [2, 3, 5]) {
        turn2Prompts.push([...all[i]!, ...alone[i]!, ...all[1]!.slice(0, 6)]);
        turn2.push((await collectStream(engine.submit(request(turn2Prompts.at(-1)!, 16)))).ids);
      }
    } finally {
      await engine.shutdown(0);
    }
    // Prefill in chunks of 8 next to decoding rows, a cache tight enough to preempt, and a prefix
    // cache: the answers' K/V (decoded) is reused where the cold run prefilled it ('all': one path),
    // or only the first turn's prompt is ('prompt': the answer's tokens were generated, on int4).
    const perToken = kvBytesPerToken(manifest);
    const tightLines: string[] = [];
    const tight = await loadEngine({ packageDir, device: 'cpu', cpuInt8MatMul: mode, batching: { maxPrefillTokens: 8, kvCacheBytes: 192 * perToken, prefixCacheBytes: 512 * perToken }, log: (line) => tightLines.push(line) });
    assert.ok(tightLines.some((line) => new RegExp(`${loadLine}: .*mapped from the package folder's cache`).test(line)), tightLines.join('\n'));
    const steps: StepStats[] = [];
    tight.onStep((stats) => steps.push(stats));
    try {
      const batched = await Promise.all(all.map((prompt) => collectStream(tight.submit(request(prompt, 30)))));
      assert.deepEqual(batched.map((result) => result.ids), alone, 'batched = alone');
      assert.ok(steps.some((s) => s.numPreempted > 0), 'the tight cache preempted someone');
      assert.ok(steps.some((s) => s.numPrefillTokens > 0 && s.numDecodeTokens > 0), 'prefill chunks ran next to decode');
      const seconds = await Promise.all(turn2Prompts.map((prompt) => collectStream(tight.submit(request(prompt, 16)))));
      const firstTurns = [2, 3, 5].map((i) => all[i]!.length);
      if (mode === 'all') assert.ok(seconds.every((result, i) => result.done.cachedPromptTokens > firstTurns[i]!), `every second turn reused its first turn and some of its answer: ${seconds.map((r) => r.done.cachedPromptTokens)}`);
      else assert.deepEqual(seconds.map((result) => result.done.cachedPromptTokens), firstTurns.map((n) => (n >= MIN_PREFIX_REUSE_TOKENS ? n : 0)), 'a second turn reuses its first turn\'s prompt, not the answer');
      assert.deepEqual(seconds.map((result) => result.ids), turn2, 'same greedy ids with reuse as without');
    } finally {
      await tight.shutdown(0);
    }
  });
}

test('int8 matmuls for prompt tokens only: the first token comes from the int8 prefill, the next ones from int4 decode steps', async () => {
  const { packageDir, manifest } = await int4PackageCopy('paths');
  const prompt = prompts(4, manifest.shape.vocabSize)[3]!;
  const logprobs: Record<string, number[]> = {};
  for (const mode of ['off', 'all', 'prompt'] as const) {
    const engine = await loadEngine({ packageDir, device: 'cpu', cpuInt8MatMul: mode });
    try {
      const result = await collectStream(engine.submit(request(prompt, 3, { topLogprobs: 0 })));
      logprobs[mode] = result.tokens.map((token) => token.logprob!.logprob);
    } finally {
      await engine.shutdown(0);
    }
  }
  const [off, int8, prompt8] = [logprobs.off!, logprobs.all!, logprobs.prompt!];
  assert.equal(prompt8[0], int8[0], 'the prompt ran on the int8 graph');
  assert.notEqual(prompt8[0], off[0]);
  for (const i of [1, 2]) {
    assert.notEqual(prompt8[i], int8[i], `token ${i} was decoded on the int4 graph, not the int8 one`);
    assert.notEqual(prompt8[i], off[i], `token ${i} read the int8 prompt's K/V`);
  }
});
