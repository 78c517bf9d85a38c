// The GPU sizing math against what the engine actually uses. Sizing reuses the engine's own
// estimator (engine/common/memoryEstimate.ts) and the engine's own batching resolver, so the KV
// figures must agree exactly; the total must agree (±15 %, the fit check's bound) with the
// resident memory a fresh process gains when it loads the package and fills its batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { engineTarget, sizeConfig, sizeDeployment, DEFAULT_GPUS, DEFAULT_PRICES, HOURS_PER_MONTH, GPU_MEMORY_UTILIZATION, GPU_RUNTIME_OVERHEAD_BYTES, replicasFor, kvCacheTokensOf } from '../../engine/export/index.js';
import { estimateMemory, int4LayoutOf, weightsBytes } from '../../engine/common/memoryEstimate.js';
import { completeServingConfig } from '../../engine/export/configInput.js';
import { kvBytesPerToken, loadEngine } from '../../engine/runtime/index.js';
import { measureEngineMemory } from '../fixtures/engineMemory.js';

test('sizing uses the engine\'s KV figures exactly (tiny fixture, fp32 and int4)', async () => {
  for (const dtype of ['fp32', 'int4'] as const) {
    const { packageDir, manifest } = await ensureFixturePackage({ shape: 'tiny', dtype });
    const batching = { maxBatchSize: 8, maxBatchTotalTokens: 1024, kvCacheBytes: 256 * 1024, maxPrefillTokens: 64 };
    const { config } = completeServingConfig({ batching }, manifest, packageDir);
    const engine = await loadEngine({ packageDir, device: 'cpu', cpuThreads: 1, batching });
    try {
      const sizing = sizeConfig({ config, target: 'cpu' }, manifest);
      const snapshot = engine.snapshot();
      assert.equal(sizing.kvBytesPerToken, engine.config.kvCacheBytesPerToken, `${dtype}: bytes per token`);
      assert.equal(sizing.kvCacheTokens, engine.config.kvCacheCapacityTokens, `${dtype}: KV capacity in tokens`);
      assert.equal(sizing.estimate.kvCacheBytes, snapshot.kvCacheBytes, `${dtype}: KV bytes`);
      assert.equal(sizing.estimate.packageBytes, snapshot.weightsBytes, `${dtype}: weights as stored`);
      assert.deepEqual(config.batching, Object.fromEntries(Object.keys(config.batching).map((key) => [key, engine.config[key as keyof typeof engine.config]])), 'the completed config is what the engine resolves');
    } finally {
      await engine.shutdown(1000);
    }
  }
});

test('the sizing estimate is within ±15 % of the memory the engine takes on a SmolLM2-shaped int4 fixture', { timeout: 300_000 }, async () => {
  // SmolLM2-135M's width, vocabulary and tied embeddings with 6 of its 30 layers; the batch is
  // filled the way a busy server fills it (engineMemoryChild: prompts of half the context).
  const { packageDir, manifest } = await ensureFixturePackage({ shape: 'smollm2-135m', numLayers: 6, dtype: 'int4' });
  const contextTokens = 512;
  const numSequences = 2;
  const batching = { maxBatchSize: numSequences, maxTotalTokens: contextTokens, maxInputTokens: contextTokens - 1, kvCacheBytes: contextTokens * numSequences * kvBytesPerToken(manifest) };
  const { config } = completeServingConfig({ batching }, manifest, packageDir);
  const sizing = sizeConfig({ config, target: 'cpu' }, manifest);
  const measured = await measureEngineMemory(packageDir, contextTokens, numSequences);
  const measuredBytes = measured.peakRssBytes - measured.baselineRssBytes;
  const ratio = sizing.estimate.totalBytes / measuredBytes;
  console.log(`# sizing estimate ${(sizing.estimate.totalBytes / 2 ** 20).toFixed(1)} MiB vs measured RSS gain ${(measuredBytes / 2 ** 20).toFixed(1)} MiB (ratio ${ratio.toFixed(2)})`);
  assert.equal(sizing.estimate.kvCacheBytes, measured.snapshot.kvCacheBytes);
  assert.equal(sizing.estimate.packageBytes, measured.snapshot.weightsBytes);
  assert.ok(Math.abs(ratio - 1) <= 0.15, `estimate ${sizing.estimate.totalBytes} B vs measured ${measuredBytes} B (ratio ${ratio.toFixed(2)})`);
});

test('fits, max concurrency, monthly cost and replicas follow from the estimate and the tables', async () => {
  const { manifest } = await ensureFixturePackage({ shape: 'tiny' });
  // A SmolLM2-135M-shaped model (fp32, 8k context) on the default GPU table.
  const model = { ...manifest, name: 'smollm2', dtype: 'fp32' as const, weightsBytes: 538_090_408, shape: { ...manifest.shape, vocabSize: 49152, hiddenSize: 576, numLayers: 30, numHeads: 9, numKvHeads: 3, headDim: 64, intermediateSize: 1536, contextLength: 8192, tiedEmbeddings: true } };
  const batching = { maxBatchSize: 64, maxBatchTotalTokens: 64 * 8192, maxPrefillTokens: 256, maxQueuedTokens: 65536, maxConcurrentRequests: 128, maxInputTokens: 8191, maxTotalTokens: 8192, kvCacheBytes: 0, prefixCacheBytes: 0 };
  const sizing = sizeDeployment({ model, batching, gpus: DEFAULT_GPUS, prices: DEFAULT_PRICES, throughput: { tokensPerSec: 512, tokensPerRequest: 256 }, targetRequestsPerSec: 10 });
  const perToken = 2 * 30 * 3 * 64 * 4;
  assert.equal(sizing.kvBytesPerToken, perToken);
  assert.equal(sizing.kvCacheTokens, kvCacheTokensOf(batching, perToken));
  assert.equal(sizing.estimate.kvCacheBytes, 64 * 8192 * perToken, '64 sequences × 8k context × 46 KB = 24 GB of KV');
  const row = (name: string) => sizing.rows.find((r) => r.gpu === name)!;
  // Fit is the estimate against 92 % of each GPU's memory; the KV cache alone (24 GB) rules out a T4.
  for (const r of sizing.rows) assert.equal(r.fits, sizing.estimate.totalBytes <= Math.floor(r.memoryBytes * GPU_MEMORY_UTILIZATION), r.gpu);
  assert.equal(row('T4').fits, false);
  const fitting = sizing.rows.filter((r) => r.fits).sort((a, b) => a.deploymentUsdPerMonth! - b.deploymentUsdPerMonth!);
  assert.equal(sizing.recommended, fitting[0]?.gpu ?? null, 'the cheapest deployment that fits');
  // Max concurrency: the most full-context sequences whose estimate fits — one more would not.
  const estimateFor = (numSequences: number) => estimateMemory({ shape: model.shape, dtype: model.dtype, contextTokens: 8192, numSequences, maxPrefillTokens: 256, runtimeOverheadBytes: GPU_RUNTIME_OVERHEAD_BYTES, knownWeightsBytes: model.weightsBytes }).totalBytes;
  for (const r of sizing.rows) {
    const usable = Math.floor(r.memoryBytes * GPU_MEMORY_UTILIZATION);
    assert.ok(r.maxConcurrency > 0, `${r.gpu} holds at least one sequence`);
    assert.ok(estimateFor(r.maxConcurrency) <= usable && estimateFor(r.maxConcurrency + 1) > usable, r.gpu);
  }
  assert.ok(row('T4').maxConcurrency < row('L4').maxConcurrency && row('L4').maxConcurrency < row('A100-80GB').maxConcurrency);
  for (const r of sizing.rows) {
    assert.equal(r.usdPerMonth, r.usdPerHour! * HOURS_PER_MONTH);
    if (r.fits) assert.equal(r.replicas, replicasFor(10, 512 / 256));
  }
  assert.equal(replicasFor(10, 2), Math.ceil(10 / 1.6));
  assert.equal(replicasFor(0.1, 2), 1, 'at least one replica');
  // An edited price table changes the cost, not the fit.
  const cheaper = sizeDeployment({ model, batching, gpus: DEFAULT_GPUS, prices: [{ gpu: 'A100-40GB', usdPerHour: 1 }], throughput: { tokensPerSec: 512 } });
  assert.equal(cheaper.rows.find((r) => r.gpu === 'A100-40GB')!.usdPerMonth, HOURS_PER_MONTH);
  assert.equal(cheaper.rows.find((r) => r.gpu === 'T4')!.usdPerHour, null);
});

test('a config with CPU int8 matmuls sizes Hearth\'s CPU pods for the int8 weights, and nothing else', async () => {
  const { packageDir, manifest } = await ensureFixturePackage({ shape: 'smollm2-135m', numLayers: 6, dtype: 'int4' });
  const { config } = completeServingConfig({ batching: { maxBatchSize: 2, maxTotalTokens: 512, kvCacheBytes: 1024 * kvBytesPerToken(manifest) } }, manifest, packageDir);
  const plain = sizeConfig({ config, target: 'cpu' }, manifest);
  assert.equal(plain.cpuInt8MatMulBytes, 0);
  for (const [value, mode] of [[true, 'all'], ['prompt', 'prompt']] as const) {
    const sized = sizeConfig({ config: { ...config, cpuInt8MatMul: value }, target: 'cpu' }, manifest);
    const layout = int4LayoutOf(manifest);
    assert.equal(sized.cpuInt8MatMulBytes, weightsBytes(manifest.shape, 'int4', layout, mode).loadedBytes - weightsBytes(manifest.shape, 'int4', layout).loadedBytes);
    assert.ok(sized.cpuInt8MatMulBytes > 0, mode);
    assert.deepEqual(sized.estimate, plain.estimate, 'the GPU rows and the estimate other engines use are unchanged');
    const hearth = engineTarget('hearth').hostMemory(sized.estimate, 'cpu', sized.cpuInt8MatMulBytes);
    assert.equal(hearth.requestBytes - engineTarget('hearth').hostMemory(plain.estimate, 'cpu', 0).requestBytes, Math.ceil((plain.estimate.totalBytes + sized.cpuInt8MatMulBytes) * 1.1) - Math.ceil(plain.estimate.totalBytes * 1.1));
    assert.deepEqual(engineTarget('vllm').hostMemory(sized.estimate, 'cpu', sized.cpuInt8MatMulBytes), engineTarget('vllm').hostMemory(plain.estimate, 'cpu', 0));
    assert.ok(sized.notes.some((note) => note.includes(`cpuInt8MatMul '${mode}'`)));
  }
  // An fp32 package has nothing to expand.
  const fp32 = await ensureFixturePackage({ shape: 'tiny', dtype: 'fp32' });
  const fp32Config = completeServingConfig({}, fp32.manifest, fp32.packageDir).config;
  assert.equal(sizeConfig({ config: { ...fp32Config, cpuInt8MatMul: 'prompt' }, target: 'cpu' }, fp32.manifest).cpuInt8MatMulBytes, 0);
});
