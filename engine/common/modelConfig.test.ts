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
    assert.equal(config.features.layers.every((layer) => layer.slidingWindow === null), true);
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

  it('reads YaRN as Qwen3 spells it: the explicit factor, default betas, attention factor 0.1 ln(factor) + 1', () => {
    const config = parseModelConfig({ ...llama, max_position_embeddings: 40960, rope_scaling: { rope_type: 'yarn', factor: 4.0, original_max_position_embeddings: 32768 } });
    assert.deepEqual(config.ropeScaling, { type: 'yarn', factor: 4, originalMaxPositions: 32768, betaFast: 32, betaSlow: 1, truncate: true, attentionFactor: 0.1 * Math.log(4) + 1 });
    const deepseek = parseModelConfig({ ...llama, rope_scaling: { type: 'yarn', factor: 40, mscale: 1.0, mscale_all_dim: 1.0, original_max_position_embeddings: 4096, beta_fast: 32, beta_slow: 1 } });
    assert.equal(deepseek.ropeScaling.type === 'yarn' && deepseek.ropeScaling.attentionFactor, 1);
  });

  it('Qwen2/3 slide only with use_sliding_window, from max_window_layers on or where layer_types says', () => {
    const qwen = { ...llama, architectures: ['Qwen2ForCausalLM'], num_hidden_layers: 4, sliding_window: 32 };
    const windows = (config: Record<string, unknown>) => parseModelConfig(config).features.layers.map((layer) => layer.slidingWindow);
    assert.deepEqual(windows({ ...qwen, use_sliding_window: false, max_window_layers: 2 }), [null, null, null, null]);
    assert.deepEqual(windows({ ...qwen, use_sliding_window: true, max_window_layers: 2 }), [null, null, 32, 32]);
    assert.deepEqual(windows({ ...qwen, use_sliding_window: true }), [null, null, null, null], 'max_window_layers defaults to 28');
    assert.deepEqual(windows({ ...qwen, architectures: ['Qwen3ForCausalLM'], use_sliding_window: true, layer_types: ['sliding_attention', 'full_attention', 'full_attention', 'sliding_attention'] }), [32, null, null, 32]);
    assert.throws(() => windows({ ...qwen, use_sliding_window: true, layer_types: ['full_attention'] }), /layer_types' must list/);
  });

  it('keeps a Mistral sliding window only when it is shorter than the context', () => {
    assert.equal(parseModelConfig({ ...llama, architectures: ['MistralForCausalLM'], sliding_window: 64 }).features.layers[1]!.slidingWindow, 64);
    assert.equal(parseModelConfig({ ...llama, architectures: ['MistralForCausalLM'], sliding_window: 4096 }).features.layers[1]!.slidingWindow, null);
  });

  for (const [label, config, message] of [
    ['rope scaling it does not know', { ...llama, rope_scaling: { type: 'ntk-by-parts', factor: 4 } }, /rope_scaling .*ntk-by-parts.*supports rope_scaling types 'linear', 'dynamic', 'llama3', 'yarn' and 'longrope'/],
    ['partial rotary embeddings', { ...llama, partial_rotary_factor: 0.5 }, /partial_rotary_factor/],
    ['KV heads that do not divide the heads', { ...llama, num_key_value_heads: 3 }, /num_key_value_heads \(3\) does not divide num_attention_heads \(4\)/],
    ['a missing hidden size', { ...llama, hidden_size: undefined }, /'hidden_size' must be a positive integer/],
    ['another activation', { ...llama, hidden_act: 'gelu' }, /hidden_act 'gelu'/],
  ] as const) {
    it(`refuses ${label}`, () => {
      assert.throws(() => parseModelConfig(config as Record<string, unknown>), message);
    });
  }
});

describe('parseModelConfig: SmolLM3', () => {
  const smollm3 = { ...llama, architectures: ['SmolLM3ForCausalLM'], model_type: 'smollm3', num_hidden_layers: 8, use_sliding_window: false, sliding_window: null };

  it('skips rotary where no_rope_layers is 0, or on every no_rope_layer_interval-th layer when the list is absent (SmolLM3Config)', () => {
    const listed = parseModelConfig({ ...smollm3, no_rope_layers: [1, 0, 1, 1, 1, 1, 1, 0] }).features.layers.map((layer) => layer.rope);
    assert.deepEqual(listed, ['global', null, 'global', 'global', 'global', 'global', 'global', null]);
    const derived = parseModelConfig({ ...smollm3, no_rope_layer_interval: 4 }).features.layers.map((layer) => layer.rope);
    assert.deepEqual(derived, ['global', 'global', 'global', null, 'global', 'global', 'global', null]);
  });

  it('refuses a malformed no_rope_layers and per-layer sliding windows', () => {
    assert.throws(() => parseModelConfig({ ...smollm3, no_rope_layers: [1, 0] }), /no_rope_layers' must list 0 or 1 for each of the 8 layers/);
    assert.throws(() => parseModelConfig({ ...smollm3, use_sliding_window: true, sliding_window: 32 }), /use_sliding_window .*smollm3/);
  });
});

describe('parseModelConfig: Granite', () => {
  it('reads the four multipliers (granite-3.3-2b-instruct\'s values), each null at GraniteConfig\'s default when absent', () => {
    const granite = { ...llama, architectures: ['GraniteForCausalLM'], model_type: 'granite', embedding_multiplier: 12.0, attention_multiplier: 0.015625, residual_multiplier: 0.22, logits_scaling: 8.0 };
    const { architecture, features } = parseModelConfig(granite);
    assert.equal(architecture, 'granite');
    assert.deepEqual([features.embeddingMultiplier, features.attentionScale, features.residualMultiplier, features.logitsDivisor], [12, 0.015625, 0.22, 8]);
    const bare = parseModelConfig({ ...llama, architectures: ['GraniteForCausalLM'] }).features;
    assert.deepEqual([bare.embeddingMultiplier, bare.attentionScale, bare.residualMultiplier, bare.logitsDivisor], [null, null, null, null]);
    assert.throws(() => parseModelConfig({ ...granite, logits_scaling: 0 }), /'logits_scaling' must be a positive number/);
  });
});

describe('parseModelConfig: OLMo 2', () => {
  it('norms after attention and MLP only, q/k norms over the whole projections', () => {
    const { architecture, features } = parseModelConfig({ ...llama, architectures: ['Olmo2ForCausalLM'], model_type: 'olmo2' });
    assert.equal(architecture, 'olmo2');
    assert.equal(features.normPlacement, 'post');
    assert.equal(features.qkNorm, 'projection');
  });
});

describe('parseModelConfig: Phi-3.5 / Phi-4-mini rotary', () => {
  const factors = (n: number, value: number) => Array.from({ length: n }, () => value);
  // microsoft/Phi-3.5-mini-instruct's rotary settings (head_dim 96: 48 factors each).
  const phi35 = {
    ...llama, architectures: ['Phi3ForCausalLM'], hidden_size: 3072, num_attention_heads: 32, num_key_value_heads: 32, max_position_embeddings: 131072,
    original_max_position_embeddings: 4096, rope_scaling: { long_factor: factors(48, 2), short_factor: factors(48, 1), type: 'longrope' }, sliding_window: 262144,
  };

  it('LongRoPE: factor = max / original positions, attention factor √(1 + ln 32 / ln 4096)', () => {
    const { ropeScaling, features } = parseModelConfig(phi35);
    assert.equal(ropeScaling.type, 'longrope');
    assert.ok(ropeScaling.type === 'longrope' && Math.abs(ropeScaling.attentionFactor - Math.sqrt(1 + Math.log(32) / Math.log(4096))) < 1e-15);
    assert.equal(ropeScaling.type === 'longrope' && ropeScaling.originalMaxPositions, 4096);
    assert.equal(features.rotaryDim, 96);
  });

  it('Phi-4-mini: partial_rotary_factor 0.75 rotates 96 of 128 dims; the factors must cover them', () => {
    const phi4 = { ...phi35, hidden_size: 3072, num_attention_heads: 24, num_key_value_heads: 8, partial_rotary_factor: 0.75 };
    assert.equal(parseModelConfig(phi4).features.rotaryDim, 96);
    assert.throws(() => parseModelConfig({ ...phi4, rope_scaling: { ...phi35.rope_scaling, long_factor: factors(64, 2) } }), /must have 48 entries/);
    assert.throws(() => parseModelConfig({ ...llama, architectures: ['Qwen3ForCausalLM'], partial_rotary_factor: 0.5 }), /partial rotary embeddings for Phi-3/);
  });
});
