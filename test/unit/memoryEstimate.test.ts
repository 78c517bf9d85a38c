import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  estimateMemory,
  fitVerdict,
  formatBytes,
  kvBytesPerToken,
  linearWeightBytes,
  modelShapeFromHfConfig,
  packageTensors,
  weightsBytes,
  LM_HEAD_PACKED_BYTES_PER_BLOCK,
} from '../../engine/common/memoryEstimate.js';

// config.json of HuggingFaceTB/SmolLM2-135M-Instruct (the fields that matter).
const smolConfig = {
  model_type: 'llama',
  vocab_size: 49152,
  hidden_size: 576,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  intermediate_size: 1536,
  max_position_embeddings: 8192,
  tie_word_embeddings: true,
};

test('reads the shape from a Hub config.json', () => {
  const shape = modelShapeFromHfConfig(smolConfig);
  assert.equal(shape.headDim, 64);
  assert.equal(shape.contextLength, 8192);
  assert.equal(shape.tiedEmbeddings, true);
  assert.throws(() => modelShapeFromHfConfig({ model_type: 'bert' }), /hidden_size/);
});

test('counts SmolLM2-135M parameters exactly and sizes fp32/fp16 weights from them', () => {
  const shape = modelShapeFromHfConfig(smolConfig);
  const fp32 = weightsBytes(shape, 'fp32');
  assert.equal(fp32.numParams, 134_515_008);
  const rotaryBytes = 2 * 8192 * 32 * 4; // cos + sin tables baked into the graph
  assert.equal(fp32.storedBytes >= 134_515_008 * 4 + rotaryBytes, true); // tied: stored once
  // Loaded: the tied table is also prepacked for the lm_head Gemm (one more vocab × hidden fp32).
  assert.equal(fp32.loadedBytes, 134_515_008 * 4 + rotaryBytes + 49152 * 576 * 4);
  // On disk every tensor starts on a 4 KiB boundary: a little more than loaded, never less.
  const fp32Unpacked = 134_515_008 * 4 + rotaryBytes;
  assert.ok(fp32.storedBytes >= fp32Unpacked && fp32.storedBytes < fp32Unpacked + 400 * 4096);
  const fp16 = weightsBytes(shape, 'fp16');
  // Loaded: fp16 linears are cast to fp32 at load, plus an fp32 copy of the tied lm_head beside the fp16 table.
  assert.equal(fp16.loadedBytes, fp32Unpacked + 49152 * 576 * 2);
  assert.ok(fp16.storedBytes < fp32.storedBytes * 0.55);
});

test('int4 counts MatMulNBits packed weights, scales and zero points; a tied embedding is stored once, in int4', () => {
  // 64 inputs, block 32 → 2 blocks per output row: 32 bytes of nibbles + 2 fp16 scales + 1 zero-point byte.
  assert.equal(linearWeightBytes(64, 10, 'int4'), 10 * (32 + 4 + 1));
  const shape = modelShapeFromHfConfig(smolConfig);
  const int4 = weightsBytes(shape, 'int4');
  assert.equal(int4.embeddingBytes, linearWeightBytes(576, 49152, 'int4')); // MatMulNBits blocks, read by GatherBlockQuantized
  assert.equal(int4.lmHeadBytes, 0, 'the tied lm_head reads the embedding blocks');
  // In memory the lm_head is MLAS's packed copy of those blocks, beside the embedding's mapped codes.
  const packedCopy = packageTensors(shape, 'int4').find((tensor) => tensor.part === 'lmHead')!;
  assert.deepEqual([packedCopy.bytes, packedCopy.loadedBytes], [0, 49152 * 18 * LM_HEAD_PACKED_BYTES_PER_BLOCK]);
  assert.ok(int4.storedBytes < weightsBytes(shape, 'fp16').storedBytes * 0.35);
  // Untied: the embedding and the lm_head each get their blocks.
  assert.equal(weightsBytes({ ...shape, tiedEmbeddings: false }, 'int4').lmHeadBytes, linearWeightBytes(576, 49152, 'int4'));
  // A hidden size with an odd number of blocks per row keeps an fp16 table and its own lm_head copy.
  const odd = weightsBytes({ ...shape, hiddenSize: 544, numHeads: 8, headDim: 68 }, 'int4');
  assert.equal(odd.embeddingBytes, 49152 * 544 * 2);
  assert.equal(odd.lmHeadBytes, linearWeightBytes(544, 49152, 'int4'));
});

test('KV cache scales with context × sequences', () => {
  const shape = modelShapeFromHfConfig(smolConfig);
  assert.equal(kvBytesPerToken(shape, 'float32'), 2 * 30 * 3 * 64 * 4);
  const estimate = estimateMemory({ shape, dtype: 'fp32', contextTokens: 2048, numSequences: 4 });
  assert.equal(estimate.kvCacheBytes, 46080 * 2048 * 4);
  assert.equal(estimate.totalBytes, estimate.weightsBytes + estimate.kvCacheBytes + estimate.activationBytes + estimate.overheadBytes);
});

test('verdict: fits, fits with fewer slots or a shorter context, does not fit', () => {
  const shape = modelShapeFromHfConfig(smolConfig);
  const input = { shape, dtype: 'fp32' as const, contextTokens: 8192, numSequences: 8 };
  const full = estimateMemory(input).totalBytes;
  assert.equal(fitVerdict(input, full).kind, 'fits');

  const reduced = fitVerdict(input, full - 1);
  assert.equal(reduced.kind, 'fits-reduced');
  assert.equal(reduced.suggestion!.numSequences, 4);
  assert.match(reduced.message, /Fits with 4 concurrent sequences × 8192 tokens/);

  const oneSlot = estimateMemory({ ...input, numSequences: 1 }).totalBytes;
  const shorter = fitVerdict(input, oneSlot - 1);
  assert.equal(shorter.kind, 'fits-reduced');
  assert.deepEqual([shorter.suggestion!.numSequences, shorter.suggestion!.contextTokens], [1, 4096]);

  const none = fitVerdict(input, 100 * 1024 * 1024);
  assert.equal(none.kind, 'does-not-fit');
  assert.match(none.message, /needs .*GiB.*100\.0 MiB available.*--dtype int4/);
});

test('formats bytes', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(3 * 1024 ** 3), '3.0 GiB');
});
