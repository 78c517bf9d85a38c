// The engine targets as pure functions: the edge cases where a tuned Hearth setting cannot go to
// vLLM or TGI unchanged (the engines' own argument checks), the refusals, and that the Hearth
// target is what the bundle always ran. No files, no model: a SmolLM2-135M-shaped manifest sized
// by the real sizing code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BatchingConfig } from '../../common/batching.js';
import type { ServingConfig } from '../../common/servingConfig.js';
import { ExportError } from '../errors.js';
import { DEFAULT_GPUS, DEFAULT_PRICES, findGpu } from '../gpuCatalog.js';
import { sizeDeployment } from '../sizing.js';
import { gcloudList } from '../bundle/vertex.js';
import { ENGINE_TARGETS, engineTarget, type EngineInput, type FlagMapping } from './index.js';
import { tgiMapping } from './tgi.js';
import { vllmMapping } from './vllm.js';

const SHAPE = { vocabSize: 49152, hiddenSize: 576, numLayers: 30, numHeads: 9, numKvHeads: 3, headDim: 64, intermediateSize: 1536, contextLength: 8192, rmsNormEps: 1e-5, ropeTheta: 100000, tiedEmbeddings: true };
const BATCHING: BatchingConfig = { maxBatchSize: 32, maxBatchTotalTokens: 32 * 2048, maxPrefillTokens: 512, maxQueuedTokens: 65536, maxConcurrentRequests: 128, maxInputTokens: 1536, maxTotalTokens: 2048, kvCacheBytes: 0, prefixCacheBytes: 64 * 2 ** 20 };

function input(change: { batching?: Partial<BatchingConfig>; dtype?: 'fp16' | 'fp32' | 'int4'; device?: 'gpu' | 'cpu'; hub?: EngineInput['hub']; corsOrigins?: string[]; contentLogging?: boolean } = {}): EngineInput {
  const batching = { ...BATCHING, ...change.batching };
  const dtype = change.dtype ?? 'fp16';
  const sizing = sizeDeployment({ model: { name: 'smollm2', dtype, shape: SHAPE, weightsBytes: 269_060_552 }, batching, gpus: DEFAULT_GPUS, prices: DEFAULT_PRICES });
  const config = {
    version: 1,
    model: { package: '/models/smollm2', servedName: 'smollm2' },
    server: { host: '127.0.0.1', port: 8000, corsOrigins: change.corsOrigins ?? [], vertex: false, maxBodyBytes: 4 * 2 ** 20 },
    device: 'cuda',
    cpuThreads: 0,
    batching,
    logging: { contentLogging: change.contentLogging ?? false, retentionDays: 30, retentionMaxRows: 100000 },
  } as unknown as ServingConfig;
  return {
    appName: 'hearth-smollm2',
    modelName: 'smollm2',
    config,
    sizing,
    gpu: findGpu(DEFAULT_GPUS, 'L4'),
    device: change.device ?? 'gpu',
    bakeModel: false,
    port: 8080,
    builtImage: 'hearth-smollm2:0.1.0-gpu',
    shutdownGraceSeconds: 25,
    containerDataDir: '/var/lib/hearth',
    containerConfigPath: '/etc/hearth/tuned.json',
    hub: change.hub === undefined ? { repo: 'HuggingFaceTB/SmolLM2-135M-Instruct', commit: 'c'.repeat(40), from: 'library' } : change.hub,
  };
}

const value = (mapping: FlagMapping[], flag: string) => mapping.filter((entry) => entry.flag === flag).map((entry) => entry.value);

test('vLLM: the step token budget is raised to --max-num-seqs, which vLLM requires; optional flags follow the config', () => {
  assert.deepEqual(value(vllmMapping(input()), '--max-num-batched-tokens'), ['512']);
  const raised = vllmMapping(input({ batching: { maxPrefillTokens: 16, maxBatchSize: 64 } }));
  assert.deepEqual(value(raised, '--max-num-batched-tokens'), ['64']);
  assert.match(raised.find((entry) => entry.flag === '--max-num-batched-tokens')!.note!, /raised from 16/);
  assert.deepEqual(value(vllmMapping(input({ batching: { prefixCacheBytes: 0 } })), '--enable-prefix-caching'), []);
  assert.deepEqual(value(vllmMapping(input({ contentLogging: true })), '--disable-log-requests'), []);
  assert.deepEqual(value(vllmMapping(input({ corsOrigins: ['https://a.example', 'https://b.example'] })), '--allowed-origins'), ['["https://a.example","https://b.example"]']);
});

test('TGI: input below total, a whole prompt per prefill within the batch budget, one flag per CORS origin; a KV budget under one sequence is refused', () => {
  const same = tgiMapping(input({ batching: { maxInputTokens: 2048 } }));
  assert.deepEqual(value(same, '--max-input-tokens'), ['2047']);
  assert.deepEqual(value(same, '--max-batch-prefill-tokens'), ['2047']);
  const budget = tgiMapping(input({ batching: { maxPrefillTokens: 100_000 } }));
  assert.deepEqual(value(budget, '--max-batch-prefill-tokens'), [String(32 * 2048)]);
  assert.deepEqual(value(tgiMapping(input({ corsOrigins: ['https://a.example', 'https://b.example'] })), '--cors-allow-origin'), ['https://a.example', 'https://b.example']);
  assert.throws(() => tgiMapping(input({ batching: { maxBatchTotalTokens: 1024 } })), (error: unknown) => error instanceof ExportError && /less than one full 2048-token sequence/.test((error as Error).message));
});

test('both engines refuse what they cannot serve, naming the way out', () => {
  for (const mapping of [vllmMapping, tgiMapping]) {
    assert.throws(() => mapping(input({ hub: null })), /converted from a local folder.*hearth pull/s);
    assert.throws(() => mapping(input({ dtype: 'int4' })), /int4 is its own ONNX quantization.*--dtype fp16/s);
    assert.throws(() => mapping(input({ device: 'cpu' })), /--target gpu/);
  }
  assert.equal(value(vllmMapping(input({ dtype: 'fp32' })), '--dtype')[0], 'float32');
  assert.throws(() => tgiMapping(input({ dtype: 'fp32' })), /TGI's --dtype does not take fp32/);
  assert.throws(() => engineTarget('sglang'), /unknown engine 'sglang'; choose one of hearth, vllm, tgi/);
});

test('the Hearth target runs the bundle\'s own image as before: hearth serve --config, its uid, its queue gauge', () => {
  const container = ENGINE_TARGETS.hearth.container(input({ hub: null }));
  assert.deepEqual(container.args, ['--config', '/etc/hearth/tuned.json', '--device', 'cuda', '--shutdown-grace-ms', '20000']);
  assert.equal(container.image, 'hearth-smollm2:0.1.0-gpu');
  assert.equal(container.buildTarget, 'gpu-volume');
  assert.equal(container.runAsUser, 10001);
  assert.equal(container.queueMetric, 'hearth_queue_size');
  assert.equal(container.modelsMountPath, '/models');
});

test('gcloud list flags: commas by default, the alternate delimiter when a value holds one', () => {
  assert.equal(gcloudList(['--port', '8080']), '--port,8080');
  assert.equal(gcloudList(['--allowed-origins', '["a","b"]']), '^;^--allowed-origins;["a","b"]');
  assert.throws(() => gcloudList(['a,b;c']), /both ',' and ';'/);
});
