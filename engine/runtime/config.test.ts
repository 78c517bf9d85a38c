import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelManifest } from '../common/manifest.js';
import { DEFAULTS, kvBytesPerToken, resolveBatchingConfig } from './config.js';
import { EngineConfigError } from './errors.js';
import { autoCandidates } from './executionProviders.js';

const manifest = {
  shape: { contextLength: 8192 },
  graph: { kvDtype: 'float32', numLayers: 30, numKvHeads: 3, headDim: 64, maxPositions: 8192 },
} as unknown as ModelManifest;
const GiB = 2 ** 30;

test('KV capacity in tokens comes from the byte budget (rounded down to the stride step)', () => {
  assert.equal(kvBytesPerToken(manifest), 30 * 2 * 3 * 64 * 4);
  const config = resolveBatchingConfig({ kvCacheBytes: 1 * GiB }, manifest, { freeBytes: 16 * GiB });
  assert.equal(config.kvCacheCapacityTokens, Math.floor(GiB / 46080 / 64) * 64);
  assert.equal(config.kvCacheBytes, config.kvCacheCapacityTokens * 46080);
  assert.equal(config.maxTotalTokens, 8192);
  assert.equal(config.maxInputTokens, 8191);
  assert.equal(config.maxBatchTotalTokens, config.kvCacheCapacityTokens);
});

test('no budget: a share of free memory, capped at what every row could use', () => {
  const small = resolveBatchingConfig({}, manifest, { freeBytes: 8 * GiB });
  assert.equal(small.kvCacheCapacityTokens, Math.floor((8 * GiB * DEFAULTS.freeMemoryFraction) / 46080 / 64) * 64);
  const capped = resolveBatchingConfig({ maxBatchSize: 2, maxTotalTokens: 1000 }, manifest, { freeBytes: 64 * GiB });
  assert.equal(capped.kvCacheCapacityTokens, 2 * 1024);
  assert.equal(capped.maxTotalTokens, 1000);
});

test('a small budget lowers the default maxTotalTokens; explicit impossible settings are rejected with what to do', () => {
  const tight = resolveBatchingConfig({ kvCacheBytes: 46080 * 1000 }, manifest, { freeBytes: GiB });
  assert.equal(tight.kvCacheCapacityTokens, 960);
  assert.equal(tight.maxTotalTokens, 960);
  assert.throws(() => resolveBatchingConfig({ kvCacheBytes: 46080 * 1000, maxTotalTokens: 4096 }, manifest, { freeBytes: GiB }), /raise kvCacheBytes to at least/);
  assert.throws(() => resolveBatchingConfig({ maxTotalTokens: 9000 }, manifest, { freeBytes: GiB }), /context length 8192/);
  assert.throws(() => resolveBatchingConfig({ maxInputTokens: 100, maxTotalTokens: 100 }, manifest, { freeBytes: GiB }), EngineConfigError);
  assert.throws(() => resolveBatchingConfig({ maxBatchSize: 0 } as never, manifest, { freeBytes: GiB }), /maxBatchSize/);
  assert.throws(() => resolveBatchingConfig({ bogus: 1 } as never, manifest, { freeBytes: GiB }), EngineConfigError);
  assert.throws(() => resolveBatchingConfig({ kvCacheBytes: 1000 }, manifest, { freeBytes: GiB }), /fewer than 64 tokens/);
});

test('auto device: accelerators by platform, only those the build has', () => {
  assert.deepEqual(autoCandidates('linux', new Set(['cpu', 'webgpu'])), ['webgpu']);
  assert.deepEqual(autoCandidates('linux', new Set(['cpu', 'cuda'])), ['cuda']);
  assert.deepEqual(autoCandidates('linux', new Set(['cpu', 'cuda', 'webgpu'])), ['webgpu', 'cuda']);
  assert.deepEqual(autoCandidates('win32', new Set(['cpu', 'dml', 'webgpu'])), ['webgpu', 'dml']);
  assert.deepEqual(autoCandidates('darwin', new Set(['cpu', 'coreml'])), ['coreml']);
});

test('a settings file written before the rename (maxWaitingTokens, TGI\'s name for another knob) still loads as maxQueuedTokens', () => {
  assert.equal(resolveBatchingConfig({ maxWaitingTokens: 1234 } as never, manifest, { freeBytes: GiB }).maxQueuedTokens, 1234);
  assert.equal(resolveBatchingConfig({ maxWaitingTokens: 1, maxQueuedTokens: 99 } as never, manifest, { freeBytes: GiB }).maxQueuedTokens, 99, 'the new name wins');
  assert.throws(() => resolveBatchingConfig({ maxWaitingToken: 5 } as never, manifest, { freeBytes: GiB }), /Invalid batching settings/);
});

test('the prefix cache holds at least one full-length conversation by default, at most 512 MiB, and can be turned off', () => {
  const perToken = kvBytesPerToken(manifest);
  const small = resolveBatchingConfig({ kvCacheBytes: 4096 * perToken }, manifest, { freeBytes: GiB });
  assert.equal(small.prefixCacheTokens, small.maxTotalTokens, 'a quarter of a 4096-token cache would not hold one 4096-token conversation');
  const large = resolveBatchingConfig({ kvCacheBytes: 16 * GiB }, manifest, { freeBytes: 64 * GiB });
  assert.equal(large.prefixCacheTokens, Math.floor((512 * 2 ** 20) / perToken));
  assert.equal(resolveBatchingConfig({ prefixCacheBytes: 0 }, manifest, { freeBytes: GiB }).prefixCacheTokens, 0);
});
