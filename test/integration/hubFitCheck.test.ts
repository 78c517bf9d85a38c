// The fit check against reality: the weights estimate against the bytes the converter writes, and
// the total estimate against the memory the real engine takes when it loads the same fixture and
// fills its KV cache (RSS gained by a fresh child process, peak), within ±15 %.
// The full 30-layer SmolLM2-135M matrix is scripts/fit-check-memory.ts (slower; run it by hand).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelDtype } from '../../engine/common/manifest.js';
import { estimateMemory, formatBytes, modelShapeFromHfConfig, weightsBytes } from '../../engine/common/memoryEstimate.js';
import { ensureFixturePackage, type FixturePackageOptions } from '../fixtures/packages.js';
import { measureEngineMemory } from '../fixtures/engineMemory.js';

test('weights estimate from config.json equals the bytes the converter writes, for every architecture and dtype', async () => {
  for (const arch of ['llama', 'mistral', 'qwen2', 'qwen3', 'phi3'] as const) {
    for (const dtype of ['fp32', 'fp16', 'int4'] as const) {
      const { manifest, checkpointDir } = await ensureFixturePackage({ arch, dtype });
      const shape = modelShapeFromHfConfig(JSON.parse(readFileSync(join(checkpointDir, 'config.json'), 'utf8')));
      assert.equal(weightsBytes(shape, dtype).storedBytes, manifest.weightsBytes, `${arch} ${dtype}`);
    }
  }
});

// The child fills the cache with prompts of half the context, so with 512-token contexts every
// prefill step is a full 256-token chunk (the engine's default), the load a busy server sees.
const cases: { fixture: FixturePackageOptions; dtype: ModelDtype; contextTokens: number; numSequences: number }[] = [
  { fixture: {}, dtype: 'fp32', contextTokens: 256, numSequences: 4 },
  { fixture: {}, dtype: 'int4', contextTokens: 256, numSequences: 4 },
  // SmolLM2-135M's width, vocabulary and tied embeddings with 6 of its 30 layers: weights and KV
  // cache large enough to matter next to the fixed overhead, small enough for a test.
  { fixture: { shape: 'smollm2-135m', numLayers: 6 }, dtype: 'int4', contextTokens: 512, numSequences: 2 },
  { fixture: { shape: 'smollm2-135m', numLayers: 6 }, dtype: 'fp16', contextTokens: 512, numSequences: 2 },
  { fixture: { shape: 'smollm2-135m', numLayers: 6 }, dtype: 'fp32', contextTokens: 512, numSequences: 1 },
];

for (const { fixture, dtype, contextTokens, numSequences } of cases) {
  test(`fit estimate within ±15 % of the engine's measured memory: ${fixture.shape ?? 'tiny'}${fixture.numLayers ? ` (${fixture.numLayers} layers)` : ''} ${dtype}, ${numSequences} × ${contextTokens} tokens`, async () => {
    const { packageDir, checkpointDir, manifest } = await ensureFixturePackage({ ...fixture, dtype });
    const shape = modelShapeFromHfConfig(JSON.parse(readFileSync(join(checkpointDir, 'config.json'), 'utf8')));
    const estimate = estimateMemory({ shape, dtype, contextTokens, numSequences });
    const measured = await measureEngineMemory(packageDir, contextTokens, numSequences);

    // The engine's own accounting agrees with the estimate's parts exactly.
    assert.equal(measured.snapshot.weightsBytes, manifest.weightsBytes);
    assert.equal(estimate.packageBytes, manifest.weightsBytes);
    assert.equal(measured.snapshot.kvCacheBytes, estimate.kvCacheBytes);

    const measuredBytes = measured.peakRssBytes - measured.baselineRssBytes;
    const ratio = estimate.totalBytes / measuredBytes;
    const line = `estimate ${formatBytes(estimate.totalBytes)} vs measured ${formatBytes(measuredBytes)} (ratio ${ratio.toFixed(3)})`;
    console.log(`# ${line}`);
    assert.ok(Math.abs(ratio - 1) <= 0.15, line);
  });
}
