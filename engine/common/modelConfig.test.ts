import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseModelConfig } from './modelConfig.js';

const llama = {
  architectures: ['LlamaForCausalLM'], hidden_size: 64, intermediate_size: 128, num_attention_heads: 4, num_key_value_heads: 2,
  num_hidden_layers: 2, vocab_size: 512, max_position_embeddings: 256, rms_norm_eps: 1e-5, rope_theta: 10000,
};

describe('parseModelConfig', () => {
  it('reads the shape and defaults', () => {
    const config = parseModelConfig(llama);
    assert.equal(config.architecture, 'llama');
    assert.equal(config.shape.headDim, 16);
    assert.equal(config.shape.tiedEmbeddings, false);
    assert.deepEqual(config.ropeScaling, { type: 'default' });
    assert.equal(config.slidingWindow, null);
  });

  it('takes head_dim from the config when given (Qwen3)', () => {
    const config = parseModelConfig({ ...llama, architectures: ['Qwen3ForCausalLM'], num_attention_heads: 6, head_dim: 32 });
    assert.equal(config.shape.headDim, 32);
  });

  it('reads Llama-3 rope scaling', () => {
    const config = parseModelConfig({ ...llama, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } });
    assert.deepEqual(config.ropeScaling, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
  });

  it('reads transformers 5 rope_parameters (theta and scaling)', () => {
    const config = parseModelConfig({ ...llama, rope_theta: undefined, rope_parameters: { rope_type: 'llama3', rope_theta: 500000, factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } });
    assert.equal(config.shape.ropeTheta, 500000);
    assert.equal(config.ropeScaling.type, 'llama3');
    const plain = parseModelConfig({ ...llama, rope_theta: undefined, rope_parameters: { rope_type: 'default', rope_theta: 100000 } });
    assert.equal(plain.shape.ropeTheta, 100000);
    assert.deepEqual(plain.ropeScaling, { type: 'default' });
  });

  it('keeps a Mistral sliding window only when it is shorter than the context', () => {
    assert.equal(parseModelConfig({ ...llama, architectures: ['MistralForCausalLM'], sliding_window: 64 }).slidingWindow, 64);
    assert.equal(parseModelConfig({ ...llama, architectures: ['MistralForCausalLM'], sliding_window: 4096 }).slidingWindow, null);
  });

  for (const [label, config, message] of [
    ['rope scaling it cannot reproduce', { ...llama, rope_scaling: { type: 'yarn', factor: 4 } }, /rope_scaling .*yarn/],
    ['partial rotary embeddings', { ...llama, partial_rotary_factor: 0.5 }, /partial_rotary_factor/],
    ['KV heads that do not divide the heads', { ...llama, num_key_value_heads: 3 }, /num_key_value_heads \(3\) does not divide num_attention_heads \(4\)/],
    ['a missing hidden size', { ...llama, hidden_size: undefined }, /'hidden_size' must be a positive integer/],
    ['per-layer Qwen sliding windows', { ...llama, architectures: ['Qwen2ForCausalLM'], use_sliding_window: true, sliding_window: 32 }, /per-layer sliding windows/],
    ['another activation', { ...llama, hidden_act: 'gelu' }, /hidden_act 'gelu'/],
  ] as const) {
    it(`refuses ${label}`, () => {
      assert.throws(() => parseModelConfig(config as Record<string, unknown>), message);
    });
  }
});

describe('parseModelConfig: Gemma', () => {
  // google/gemma-2-2b's config.json.
  const gemma2 = {
    architectures: ['Gemma2ForCausalLM'], model_type: 'gemma2', attention_bias: false, attn_logit_softcapping: 50.0, final_logit_softcapping: 30.0, head_dim: 256,
    hidden_act: 'gelu_pytorch_tanh', hidden_activation: 'gelu_pytorch_tanh', hidden_size: 2304, intermediate_size: 9216, max_position_embeddings: 8192,
    num_attention_heads: 8, num_hidden_layers: 26, num_key_value_heads: 4, query_pre_attn_scalar: 256, rms_norm_eps: 1e-6, rope_theta: 10000.0,
    sliding_window: 4096, torch_dtype: 'float32', vocab_size: 256000, bos_token_id: 2, eos_token_id: [1, 107],
  };
  // google/gemma-3-1b-it's.
  const gemma3 = {
    architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', attn_logit_softcapping: null, final_logit_softcapping: null, head_dim: 256,
    hidden_activation: 'gelu_pytorch_tanh', hidden_size: 1152, intermediate_size: 6912, max_position_embeddings: 32768, num_attention_heads: 4,
    num_hidden_layers: 26, num_key_value_heads: 1, query_pre_attn_scalar: 256, rms_norm_eps: 1e-6, rope_local_base_freq: 10000, rope_scaling: null,
    rope_theta: 1000000, sliding_window: 512, sliding_window_pattern: 6, torch_dtype: 'bfloat16', vocab_size: 262144, eos_token_id: [1, 106],
  };

  it('Gemma 2: alternating sliding layers from layer 0, both soft-caps, query_pre_attn_scalar, √hidden, tied by default', () => {
    const { architecture, shape, features } = parseModelConfig(gemma2);
    assert.equal(architecture, 'gemma2');
    assert.equal(shape.tiedEmbeddings, true);
    assert.deepEqual(features.layers.slice(0, 3), [{ slidingWindow: 4096 - 0 === 4096 ? null : 4096, rope: 'global' }, { slidingWindow: null, rope: 'global' }, { slidingWindow: null, rope: 'global' }]);
    assert.equal(features.attentionScale, 1 / 16);
    assert.equal(features.attentionSoftcap, 50);
    assert.equal(features.finalLogitSoftcap, 30);
    assert.equal(features.embeddingMultiplier, 48);
    assert.equal(features.normWeightOffset, 1);
    assert.equal(features.activation, 'gelu_tanh');
    // With a context longer than the window, the even layers slide.
    const longer = parseModelConfig({ ...gemma2, sliding_window: 1024 }).features.layers;
    assert.deepEqual(longer.slice(0, 4).map((layer) => layer.slidingWindow), [1024, null, 1024, null]);
  });

  it('Gemma 3: every sliding_window_pattern-th layer global, local layers on rope_local_base_freq, √1152 rounded to bfloat16 (34)', () => {
    const { architecture, features, shape } = parseModelConfig(gemma3);
    assert.equal(architecture, 'gemma3');
    assert.equal(shape.ropeTheta, 1000000);
    assert.deepEqual(features.localRope, { theta: 10000, scaling: { type: 'default' } });
    assert.deepEqual(features.layers.slice(0, 7).map((layer) => layer.slidingWindow), [512, 512, 512, 512, 512, null, 512]);
    assert.deepEqual(features.layers.slice(0, 7).map((layer) => layer.rope), ['local', 'local', 'local', 'local', 'local', 'global', 'local']);
    assert.equal(features.embeddingMultiplier, 34);
    assert.equal(parseModelConfig({ ...gemma3, torch_dtype: 'float32' }).features.embeddingMultiplier, Math.fround(Math.sqrt(1152)));
    assert.equal(features.qkNorm, 'per-head');
    assert.equal(features.attentionSoftcap, null);
    const listed = parseModelConfig({ ...gemma3, num_hidden_layers: 3, layer_types: ['full_attention', 'sliding_attention', 'full_attention'] }).features.layers;
    assert.deepEqual(listed.map((layer) => layer.slidingWindow), [null, 512, null]);
  });

  it('Gemma 3 multimodal: the text tower of Gemma3ForConditionalGeneration, with the global layers\' rope scaling', () => {
    const config = parseModelConfig({
      architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3', torch_dtype: 'bfloat16', eos_token_id: [1, 106],
      text_config: { hidden_size: 2560, intermediate_size: 10240, model_type: 'gemma3_text', num_hidden_layers: 34, rope_scaling: { factor: 8.0, rope_type: 'linear' }, sliding_window: 1024 },
    });
    assert.equal(config.architecture, 'gemma3');
    assert.deepEqual(config.ropeScaling, { type: 'linear', factor: 8 });
    assert.deepEqual(config.features.localRope, { theta: 10000, scaling: { type: 'default' } });
    assert.equal(config.features.attentionScale, 1 / 16);
    assert.equal(config.features.embeddingMultiplier, 50.5); // √2560 = 50.596 in bfloat16
  });

  it('refuses another Gemma activation and names the supported architectures for an unknown one', () => {
    assert.throws(() => parseModelConfig({ ...gemma2, hidden_activation: 'gelu' }), /hidden_activation 'gelu'.*gelu_pytorch_tanh/);
    assert.throws(() => parseModelConfig({ ...gemma2, architectures: ['GemmaForCausalLM'] }), /'GemmaForCausalLM'.*Supported architectures: .*Gemma2ForCausalLM, Gemma3ForCausalLM, Gemma3ForConditionalGeneration/);
  });
});
