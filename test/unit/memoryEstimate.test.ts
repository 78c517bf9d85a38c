import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Int8MatMulMode } from '../../engine/common/accelerator.js';
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

test('int8 matmuls (hearth serve --cpu-int8-matmul / --cpu-int8-prefill): the layers load as a byte a weight plus a column scale; the package and the rest are unchanged', () => {
  const shape = modelShapeFromHfConfig(smolConfig);
  const int4 = weightsBytes(shape, 'int4');
  const int8 = weightsBytes(shape, 'int4', undefined, 'all');
  assert.equal(int8.storedBytes, int4.storedBytes, 'what is on disk does not change');
  const perLayer = [[576, 576 + 2 * 192], [576, 576], [576, 2 * 1536], [1536, 576]].reduce((sum, [k, n]) => sum + k! * n! + 4 * n!, 0);
  const layerLoaded = (tensors: ReturnType<typeof packageTensors>) => tensors.filter((t) => t.part === 'layers').reduce((sum, t) => sum + t.loadedBytes, 0);
  const norms = 30 * 2 * 576 * 4;
  assert.equal(layerLoaded(packageTensors(shape, 'int4', undefined, 'all')), 30 * perLayer + norms);
  assert.equal(int8.loadedBytes - int4.loadedBytes, layerLoaded(packageTensors(shape, 'int4', undefined, 'all')) - layerLoaded(packageTensors(shape, 'int4')), 'only the layers change');
  assert.ok(int8.loadedBytes > int4.loadedBytes);
  // fp32 and fp16 packages have no int4 matmuls: nothing changes.
  assert.deepEqual(weightsBytes(shape, 'fp16', undefined, 'all'), weightsBytes(shape, 'fp16'));
  const estimate = (int8MatMul: Int8MatMulMode) => estimateMemory({ shape, dtype: 'int4', contextTokens: 1024, numSequences: 2, int8MatMul }).totalBytes;
  assert.equal(estimate('all') - estimate('off'), int8.loadedBytes - int4.loadedBytes);
  // Prompt tokens only (--cpu-int8-prefill): the int4 layers stay loaded beside the int8 copy, and
  // the prompt session packs its own lm_head (a tied model's: from the int4 embedding).
  const prompt = weightsBytes(shape, 'int4', undefined, 'prompt');
  assert.equal(prompt.storedBytes, int4.storedBytes);
  const lmHeadLoaded = (tensors: ReturnType<typeof packageTensors>) => tensors.filter((t) => t.part === 'lmHead').reduce((sum, t) => sum + t.loadedBytes, 0);
  assert.ok(lmHeadLoaded(packageTensors(shape, 'int4')) > 0);
  assert.equal(prompt.loadedBytes - int4.loadedBytes, 30 * perLayer + lmHeadLoaded(packageTensors(shape, 'int4')));
  const untied = { ...shape, tiedEmbeddings: false };
  assert.equal(lmHeadLoaded(packageTensors(untied, 'int4', undefined, 'prompt')), 2 * lmHeadLoaded(packageTensors(untied, 'int4')));
  assert.equal(estimate('prompt') - estimate('off'), prompt.loadedBytes - int4.loadedBytes);
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

// google/gemma-3-1b-it's config.json (the fields that matter) and google/gemma-2-2b's.
const gemma3Config = {
  architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', vocab_size: 262144, hidden_size: 1152, intermediate_size: 6912, num_hidden_layers: 26,
  num_attention_heads: 4, num_key_value_heads: 1, head_dim: 256, max_position_embeddings: 32768, query_pre_attn_scalar: 256, rope_theta: 1000000,
  rope_local_base_freq: 10000, sliding_window: 512, sliding_window_pattern: 6, hidden_activation: 'gelu_pytorch_tanh', torch_dtype: 'bfloat16',
};
const gemma2Config = {
  architectures: ['Gemma2ForCausalLM'], model_type: 'gemma2', vocab_size: 256000, hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26,
  num_attention_heads: 8, num_key_value_heads: 4, head_dim: 256, max_position_embeddings: 8192, query_pre_attn_scalar: 256, sliding_window: 4096,
  attn_logit_softcapping: 50.0, final_logit_softcapping: 30.0, hidden_act: 'gelu_pytorch_tanh', hidden_activation: 'gelu_pytorch_tanh', torch_dtype: 'float32',
};

test('Gemma: parameters counted exactly (four norms a layer, Gemma 3 q/k norms, a 256k vocabulary tied by default)', () => {
  // The parameter counts of the Hub checkpoints' safetensors.
  const gemma3 = modelShapeFromHfConfig(gemma3Config);
  assert.equal(gemma3.tiedEmbeddings, true, 'Gemma3TextConfig ties by default');
  assert.equal(weightsBytes(gemma3, 'fp32').numParams, 999_885_952);
  const gemma2 = modelShapeFromHfConfig(gemma2Config);
  assert.equal(gemma2.tiedEmbeddings, true, 'Gemma2Config ties by default (its config.json leaves the key out)');
  assert.equal(weightsBytes(gemma2, 'fp32').numParams, 2_614_341_888);
});

test('Gemma 3: a 256k tied table is stored once (int4 blocks, the lm_head reads them), and both rotary table pairs are counted', () => {
  const shape = modelShapeFromHfConfig(gemma3Config);
  const int4 = weightsBytes(shape, 'int4');
  assert.equal(int4.embeddingBytes, linearWeightBytes(1152, 262144, 'int4'));
  assert.equal(int4.lmHeadBytes, 0, 'nothing more stored for the tied lm_head');
  const names = packageTensors(shape, 'int4').map((tensor) => tensor.name);
  assert.deepEqual(names.filter((name) => name.startsWith('rotary')), ['rotary.cos_cache', 'rotary.sin_cache', 'rotary.local.cos_cache', 'rotary.local.sin_cache']);
  assert.deepEqual(names.filter((name) => name.startsWith('layers.0.') && !name.includes('proj')), [
    'layers.0.input_layernorm', 'layers.0.q_norm', 'layers.0.k_norm', 'layers.0.post_attention_layernorm', 'layers.0.pre_feedforward_layernorm', 'layers.0.post_feedforward_layernorm',
  ]);
  // Four [32768, 128] float32 tables (64 MiB) and the final norm.
  assert.equal(int4.otherBytes, 4 * 32768 * 128 * 4 + 1152 * 4);
  const fp32 = weightsBytes(shape, 'fp32');
  assert.equal(fp32.embeddingBytes, 262144 * 1152 * 4);
  assert.equal(fp32.lmHeadBytes, 0);
  // Loaded: Gemm prepacks its own copy of the tied fp32 table.
  assert.equal(fp32.loadedBytes - fp32.loadedAsStoredBytes, 262144 * 1152 * 4);
  // Soft-capping and the √hidden multiplier are graph constants: Gemma 2's estimate has no term for them.
  const gemma2 = weightsBytes(modelShapeFromHfConfig(gemma2Config), 'fp16');
  assert.equal(gemma2.otherBytes, 2 * 8192 * 128 * 4 + 2304 * 4, 'one rotary table pair: every Gemma 2 layer shares rope_theta');
});

test('Gemma 3 multimodal config: the text tower is sized from text_config with Gemma3TextConfig\'s defaults', () => {
  // google/gemma-3-4b-it: text_config leaves heads, head_dim, vocab and context to the defaults.
  const shape = modelShapeFromHfConfig({
    architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3', torch_dtype: 'bfloat16',
    text_config: { hidden_size: 2560, intermediate_size: 10240, model_type: 'gemma3_text', num_hidden_layers: 34, rope_scaling: { factor: 8.0, rope_type: 'linear' }, sliding_window: 1024 },
    vision_config: { hidden_size: 1152, model_type: 'siglip_vision_model' },
  });
  assert.deepEqual(
    [shape.vocabSize, shape.numHeads, shape.numKvHeads, shape.headDim, shape.contextLength, shape.tiedEmbeddings, shape.qkNorm, shape.localRotary, shape.normPlacement],
    [262208, 8, 4, 256, 131072, true, true, true, 'sandwich'],
  );
  // 34 × (q, k, v, o, gate/up/down, 4 norms, q/k norms) + the 262208 × 2560 table + the final norm:
  // 3.88 B, the 4.3 B model less its ≈ 0.42 B vision tower.
  assert.equal(weightsBytes(shape, 'fp32').numParams, 34 * (2560 * 2048 * 2 + 2560 * 1024 * 2 + 3 * 2560 * 10240 + 4 * 2560 + 2 * 256) + 262208 * 2560 + 2560);
});

test('OLMo 2: two norms a layer (after attention and MLP), q/k norms the size of the projections, untied', () => {
  // allenai/OLMo-2-0425-1B's config.json: 1.48 B parameters.
  const shape = modelShapeFromHfConfig({
    architectures: ['Olmo2ForCausalLM'], model_type: 'olmo2', vocab_size: 100352, hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16,
    num_attention_heads: 16, num_key_value_heads: 16, max_position_embeddings: 4096, rope_theta: 500000, tie_word_embeddings: false,
  });
  assert.equal(weightsBytes(shape, 'fp32').numParams, 1_484_916_736);
  const layer0 = packageTensors(shape, 'fp32').filter((tensor) => tensor.name.startsWith('layers.0.'));
  assert.deepEqual(layer0.map((tensor) => [tensor.name, tensor.bytes]), [
    ['layers.0.qkv_proj', 2048 * 6144 * 4], ['layers.0.q_norm', 2048 * 4], ['layers.0.k_norm', 2048 * 4], ['layers.0.o_proj', 2048 * 2048 * 4],
    ['layers.0.post_attention_layernorm', 2048 * 4], ['layers.0.gate_up_proj', 2048 * 16384 * 4], ['layers.0.down_proj', 8192 * 2048 * 4], ['layers.0.post_feedforward_layernorm', 2048 * 4],
  ]);
});

test('Phi-4-mini: one cos/sin row per position (short below the original context, long after), partial rotary their width', () => {
  const longrope = { long_factor: Array.from({ length: 48 }, () => 2), short_factor: Array.from({ length: 48 }, () => 1), type: 'longrope' };
  const phi4 = modelShapeFromHfConfig({
    architectures: ['Phi3ForCausalLM'], model_type: 'phi3', vocab_size: 200064, hidden_size: 3072, intermediate_size: 8192, num_hidden_layers: 32,
    num_attention_heads: 24, num_key_value_heads: 8, max_position_embeddings: 131072, original_max_position_embeddings: 4096, partial_rotary_factor: 0.75,
    rope_scaling: longrope, tie_word_embeddings: true,
  });
  assert.equal(phi4.rotaryDim, 96);
  const tables = packageTensors(phi4, 'int4').filter((tensor) => tensor.name.startsWith('rotary'));
  assert.deepEqual(tables.map((tensor) => tensor.bytes), [131072 * 48 * 4, 131072 * 48 * 4]);
});
