// Reads a Hugging Face config.json, once for everyone: the converter (parseModelConfig, which also
// refuses architectures and settings it cannot convert faithfully) and the memory estimate and fit
// check before a download (readModelShape). Runtime-free.
import type { Architecture, ModelShape } from '../common/manifest.js';
import { ConvertError } from './convertError.js';

export const SUPPORTED_ARCHITECTURES: Record<string, Architecture> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
  Phi3ForCausalLM: 'phi3',
  Gemma2ForCausalLM: 'gemma2',
  Gemma3ForCausalLM: 'gemma3',
  // The text tower of the multimodal checkpoints (config under text_config, weights under language_model).
  Gemma3ForConditionalGeneration: 'gemma3',
  SmolLM3ForCausalLM: 'smollm3',
  GraniteForCausalLM: 'granite',
  Olmo2ForCausalLM: 'olmo2',
};

export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  /**
   * Dynamic NTK: transformers rescales the base only for a forward pass longer than
   * max_position_embeddings, which is the package's whole context: within it the frequencies are
   * the default ones, exactly. (hearth does not extend the context past it.)
   */
  | { type: 'dynamic'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  /**
   * YaRN as transformers 5 computes it: the explicit factor, the correction range from
   * beta_fast/beta_slow over original_max_position_embeddings (floored/ceiled unless truncate is
   * false), and cos/sin multiplied by the attention factor.
   */
  | { type: 'yarn'; factor: number; originalMaxPositions: number; betaFast: number; betaSlow: number; truncate: boolean; attentionFactor: number }
  /**
   * Phi-3.5 / Phi-4-mini LongRoPE: frequencies divided by short_factor below
   * original_max_position_embeddings and by long_factor from it on (per position: see rope.ts),
   * cos/sin × the attention factor √(1 + ln(factor) / ln(original)), factor =
   * max_position_embeddings / original_max_position_embeddings unless given.
   */
  | { type: 'longrope'; shortFactor: number[]; longFactor: number[]; originalMaxPositions: number; attentionFactor: number };

/** One decoder layer's attention: its key span and its rotary table. */
export interface LayerAttention {
  /**
   * Sliding window span in tokens, the query's own position included (transformers masks keys at
   * or before query − window), or null for full attention.
   */
  slidingWindow: number | null;
  /**
   * The rotary table of the layer's q/k: 'global' (rope_theta + rope_scaling), 'local' (Gemma 3's
   * sliding layers), or null: no rotary at all (SmolLM3's no_rope_layers).
   */
  rope: 'global' | 'local' | null;
}

/**
 * How a family's decoder differs from Llama's, as data the graph, the weight reader and the
 * tensor plan read (no per-architecture branches there).
 */
export interface DecoderFeatures {
  /** Multiplier of the gathered token embeddings (Gemma: √hidden rounded to the checkpoint's dtype; Granite: embedding_multiplier), or null. */
  embeddingMultiplier: number | null;
  /** Gemma stores RMSNorm weights as offsets from 1 (the norm multiplies by 1 + w). */
  normWeightOffset: 0 | 1;
  /** 'pre': norm before attention and MLP (Llama). 'sandwich': also after each (Gemma 2/3). 'post': only after each (OLMo 2). */
  normPlacement: 'pre' | 'sandwich' | 'post';
  activation: 'silu' | 'gelu_tanh';
  /** RMSNorm of q and k before rotary: 'per-head' (Qwen3, Gemma 3: [headDim] weights), 'projection' (OLMo 2: over the whole q / k projection), or none. */
  qkNorm: 'per-head' | 'projection' | null;
  /** Attention score scale (Gemma: query_pre_attn_scalar^-0.5; Granite: attention_multiplier), or null for 1/√headDim. */
  attentionScale: number | null;
  /** cap · tanh(score / cap) before the softmax (Gemma 2's attn_logit_softcapping), or null. */
  attentionSoftcap: number | null;
  /** Granite's residual_multiplier: each block's output is scaled by it before the residual add, or null. */
  residualMultiplier: number | null;
  /** Granite's logits_scaling: logits are divided by it, or null. */
  logitsDivisor: number | null;
  /** cap · tanh(logits / cap) (Gemma 2's final_logit_softcapping), or null. */
  finalLogitSoftcap: number | null;
  /** Dimensions of each head that rotate (Phi-4-mini's partial_rotary_factor 0.75: the first 96 of 128); the rest pass through. */
  rotaryDim: number;
  /** The local layers' rotary base and scaling (Gemma 3: rope_local_base_freq, unscaled), or null when every layer uses the global table. */
  localRope: { theta: number; scaling: RopeScaling } | null;
  layers: LayerAttention[];
}

export interface ModelConfig {
  architecture: Architecture;
  hfArchitecture: string;
  shape: ModelShape;
  ropeScaling: RopeScaling;
  features: DecoderFeatures;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

type Json = Record<string, unknown>;

/**
 * transformers' config defaults where a family's Hub configs rely on them: Gemma 2 configs leave
 * out tie_word_embeddings (Gemma2Config: true); multimodal Gemma 3 checkpoints (gemma-3-4b-it and
 * up) leave most of Gemma3TextConfig's defaults out of text_config.
 */
const GEMMA2_DEFAULTS: Json = {
  tie_word_embeddings: true, head_dim: 256, query_pre_attn_scalar: 256, sliding_window: 4096, final_logit_softcapping: 30.0, attn_logit_softcapping: 50.0,
  hidden_activation: 'gelu_pytorch_tanh', rms_norm_eps: 1e-6, rope_theta: 10000,
};
const GEMMA3_TEXT_DEFAULTS: Json = {
  vocab_size: 262208, hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26, num_attention_heads: 8, num_key_value_heads: 4,
  head_dim: 256, hidden_activation: 'gelu_pytorch_tanh', max_position_embeddings: 131072, rms_norm_eps: 1e-6, rope_theta: 1_000_000,
  query_pre_attn_scalar: 256, sliding_window: 4096, rope_local_base_freq: 10_000, sliding_window_pattern: 6, tie_word_embeddings: true,
};

/**
 * The config's text model (multimodal checkpoints such as Gemma 3's nest it under `text_config`),
 * with the outer architectures list and dtype when the inner one has none, and the text model's
 * defaults (Gemma 3) where the config leaves them out.
 */
function textConfigOf(config: Json): Json {
  const inner = config.text_config && typeof config.text_config === 'object' && !Array.isArray(config.text_config) ? (config.text_config as Json) : null;
  const text = inner ? { architectures: config.architectures, torch_dtype: config.torch_dtype ?? config.dtype, ...inner } : config;
  const defaults = text.model_type === 'gemma3_text' ? GEMMA3_TEXT_DEFAULTS : text.model_type === 'gemma2' ? GEMMA2_DEFAULTS : null;
  return defaults ? { ...defaults, ...withoutUndefined(text) } : text;
}

function withoutUndefined(config: Json): Json {
  return Object.fromEntries(Object.entries(config).filter(([, value]) => value !== undefined));
}

/** The decoder's dimensions, with transformers' defaults where a key may be absent. Throws ConvertError naming the bad key. */
export function readModelShape(rawConfig: Json): ModelShape {
  const config = textConfigOf(rawConfig);
  const int = (key: string, fallback?: number): number => {
    const value = config[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      throw new ConvertError(`config.json: '${key}' must be a positive integer (found ${JSON.stringify(config[key])}).`);
    }
    return value;
  };
  const num = (key: string, fallback: number): number => {
    const value = config[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new ConvertError(`config.json: '${key}' must be a positive number (found ${JSON.stringify(config[key])}).`);
    return value;
  };
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  if (config.head_dim == null && hiddenSize % numHeads !== 0) {
    throw new ConvertError(`config.json is inconsistent: num_attention_heads (${numHeads}) does not divide hidden_size (${hiddenSize}). Check the checkpoint's config.json.`);
  }
  const headDim = config.head_dim == null ? hiddenSize / numHeads : int('head_dim');
  if (numHeads % numKvHeads !== 0) {
    throw new ConvertError(`config.json is inconsistent: num_key_value_heads (${numKvHeads}) does not divide num_attention_heads (${numHeads}).`);
  }
  return {
    vocabSize: int('vocab_size'),
    hiddenSize,
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: int('intermediate_size'),
    contextLength: int('max_position_embeddings', 2048),
    rmsNormEps: num('rms_norm_eps', 1e-6),
    ropeTheta: ropeTheta(config),
    // Refined by the checkpoint reader: a checkpoint without lm_head.weight is tied too.
    tiedEmbeddings: (config.tie_word_embeddings ?? rawConfig.tie_word_embeddings) === true,
  };
}

/** The architecture config.json declares (its first `architectures` entry, else model_type). */
export function declaredArchitecture(rawConfig: Json): string {
  const architectures = textConfigOf(rawConfig).architectures;
  return Array.isArray(architectures) && typeof architectures[0] === 'string' ? architectures[0] : String(textConfigOf(rawConfig).model_type ?? rawConfig.model_type ?? 'unknown');
}

export function parseModelConfig(rawConfig: Json): ModelConfig {
  const config = textConfigOf(rawConfig);
  const hfArchitecture = declaredArchitecture(rawConfig);
  const architecture = SUPPORTED_ARCHITECTURES[hfArchitecture];
  if (!architecture) {
    throw new ConvertError(`config.json declares architecture '${hfArchitecture}', which hearth cannot convert. Supported architectures: ${Object.keys(SUPPORTED_ARCHITECTURES).join(', ')}.`);
  }
  const shape = readModelShape(rawConfig);
  if (shape.headDim % 2 !== 0) throw new ConvertError(`config.json: head dimension ${shape.headDim} is odd; rotary embeddings need an even head dimension.`);
  const features = decoderFeatures(architecture, config, shape);
  const eos = config.eos_token_id;
  return {
    architecture,
    hfArchitecture,
    shape,
    ropeScaling: ropeScalingOf(config, shape, features.rotaryDim),
    features,
    bosTokenId: typeof config.bos_token_id === 'number' ? config.bos_token_id : null,
    eosTokenIds: Array.isArray(eos) ? eos.filter((id): id is number => typeof id === 'number') : typeof eos === 'number' ? [eos] : [],
  };
}

/** The parts of the features that add tensors to a package (engine/common/memoryEstimate.ts packageTensors). */
export interface TensorLayout {
  /** Rotating dimensions per head: the cos/sin tables are [contextLength, rotaryDim / 2]. */
  rotaryDim: number;
  qkNorm: boolean;
  /** OLMo 2's q/k norm weights span the whole projection (numHeads · headDim, numKvHeads · headDim), not one head. */
  qkNormOverProjection: boolean;
  normPlacement: DecoderFeatures['normPlacement'];
  localRotary: boolean;
}

export function tensorLayoutOf(features: DecoderFeatures): TensorLayout {
  return { rotaryDim: features.rotaryDim, qkNorm: features.qkNorm !== null, qkNormOverProjection: features.qkNorm === 'projection', normPlacement: features.normPlacement, localRotary: features.localRope !== null };
}

/**
 * The tensor layout of a Hub config.json, for estimates before a download: the converter's
 * features for the architectures it converts, Llama's layout for any other (whose estimate is
 * then approximate: it cannot be converted anyway).
 */
export function readTensorLayout(rawConfig: Json): TensorLayout {
  const shape = readModelShape(rawConfig);
  const llamaLayout: TensorLayout = { rotaryDim: shape.headDim, qkNorm: false, qkNormOverProjection: false, normPlacement: 'pre', localRotary: false };
  if (!SUPPORTED_ARCHITECTURES[declaredArchitecture(rawConfig)]) return llamaLayout;
  try {
    return tensorLayoutOf(parseModelConfig(rawConfig).features);
  } catch (error) {
    // A setting the converter refuses (it says so when asked to convert): estimate as Llama.
    if (error instanceof ConvertError) return llamaLayout;
    throw error;
  }
}

/** partial_rotary_factor: read for Phi-3 (its attention rotates the first dims and passes the rest), refused elsewhere. */
function rotaryDimOf(architecture: Architecture, config: Json, shape: ModelShape): number {
  const factor = config.partial_rotary_factor ?? (config.rope_parameters as Json | undefined)?.partial_rotary_factor;
  if (factor == null || factor === 1) return shape.headDim;
  if (architecture !== 'phi3') throw new ConvertError(`config.json sets partial_rotary_factor ${String(factor)}; hearth supports partial rotary embeddings for Phi-3 / Phi-4-mini only.`);
  const dim = typeof factor === 'number' ? Math.floor(shape.headDim * factor) : NaN;
  if (!(dim > 0 && dim <= shape.headDim && dim % 2 === 0)) throw new ConvertError(`config.json: partial_rotary_factor ${String(factor)} of head dimension ${shape.headDim} is not an even number of dimensions.`);
  return dim;
}

function ropeScalingOf(config: Json, shape: ModelShape, rotaryDim: number): RopeScaling {
  const scaling = parseRopeScaling(globalRopeParameters(config) ?? config.rope_scaling ?? config.rope_parameters, shape.contextLength, config);
  if (scaling.type === 'longrope' && (scaling.shortFactor.length !== rotaryDim / 2 || scaling.longFactor.length !== rotaryDim / 2)) {
    throw new ConvertError(`config.json: rope_scaling short_factor and long_factor must have ${rotaryDim / 2} entries (half the rotary dimension ${rotaryDim}); found ${scaling.shortFactor.length} and ${scaling.longFactor.length}.`);
  }
  return scaling;
}

const GEMMA = new Set<Architecture>(['gemma2', 'gemma3']);

/**
 * The family's features from its config, with transformers' defaults per family. Refuses what the
 * graph would get wrong (another activation, per-layer windows it cannot place).
 */
export function decoderFeatures(architecture: Architecture, config: Json, shape: ModelShape): DecoderFeatures {
  const gemma = GEMMA.has(architecture);
  // Gemma's MLP reads hidden_activation (Gemma 2 configs carry hidden_act too, which it ignores).
  const activationKey = gemma && config.hidden_activation != null ? 'hidden_activation' : 'hidden_act';
  const hiddenAct = config[activationKey] ?? (gemma ? 'gelu_pytorch_tanh' : 'silu');
  const expected = gemma ? 'gelu_pytorch_tanh' : 'silu';
  if (hiddenAct !== expected) throw new ConvertError(`config.json sets ${activationKey} '${String(hiddenAct)}'; hearth supports '${expected}' only for ${architecture}.`);
  const positive = (key: string): number | null => {
    const value = config[key];
    if (value == null) return null;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new ConvertError(`config.json: '${key}' must be a positive number or null (found ${JSON.stringify(value)}).`);
    return value;
  };
  const base: DecoderFeatures = {
    embeddingMultiplier: null,
    normWeightOffset: 0,
    normPlacement: 'pre',
    activation: 'silu',
    qkNorm: architecture === 'qwen3' ? 'per-head' : null,
    attentionScale: null,
    attentionSoftcap: null,
    rotaryDim: rotaryDimOf(architecture, config, shape),
    residualMultiplier: null,
    logitsDivisor: null,
    finalLogitSoftcap: null,
    localRope: null,
    layers: uniformLayers(architecture, config, shape),
  };
  if (architecture === 'olmo2') return { ...base, normPlacement: 'post', qkNorm: 'projection' };
  if (architecture === 'granite') {
    // GraniteConfig's defaults are 1.0 (no change) for each multiplier.
    return {
      ...base,
      embeddingMultiplier: positive('embedding_multiplier'),
      attentionScale: positive('attention_multiplier'),
      residualMultiplier: positive('residual_multiplier'),
      logitsDivisor: positive('logits_scaling'),
    };
  }
  if (!gemma) return base;
  return {
    ...base,
    embeddingMultiplier: roundToDtype(Math.sqrt(shape.hiddenSize), checkpointDtype(config)),
    normWeightOffset: 1,
    normPlacement: 'sandwich',
    activation: 'gelu_tanh',
    qkNorm: architecture === 'gemma3' ? 'per-head' : null,
    attentionScale: (positive('query_pre_attn_scalar') ?? shape.headDim) ** -0.5,
    attentionSoftcap: positive('attn_logit_softcapping'),
    finalLogitSoftcap: positive('final_logit_softcapping'),
    localRope: architecture === 'gemma3' ? { theta: positive('rope_local_base_freq') ?? localRopeTheta(config) ?? 10000, scaling: { type: 'default' } } : null,
    layers: gemmaLayers(architecture, config, shape),
  };
}

/**
 * Mistral, Phi-3 (and Llama configs that set it) apply sliding_window on every layer. Qwen2/3
 * apply it only with use_sliding_window, on the layers `layer_types` marks sliding_attention (by
 * default those from max_window_layers on), as Qwen2Config/Qwen3Config derive them. SmolLM3's
 * per-layer windows are refused. SmolLM3 skips rotary on the layers its no_rope_layers marks 0
 * (SmolLM3Config's default: every no_rope_layer_interval-th layer).
 */
function uniformLayers(architecture: Architecture, config: Json, shape: ModelShape): LayerAttention[] {
  if (architecture === 'smollm3' && config.use_sliding_window === true) {
    throw new ConvertError(`config.json enables use_sliding_window for some ${architecture} layers; hearth does not support per-layer sliding windows for it.`);
  }
  const window = config.sliding_window;
  const qwen = architecture === 'qwen2' || architecture === 'qwen3';
  const useWindow = architecture === 'mistral' || architecture === 'phi3' || architecture === 'llama' || (qwen && config.use_sliding_window === true);
  const slidingWindow = useWindow && typeof window === 'number' && window > 0 && window < shape.contextLength ? window : null;
  const slides = qwen ? qwenSlidingLayers(config, shape.numLayers) : null;
  const usesRope = architecture === 'smollm3' ? smolLm3RopeLayers(config, shape.numLayers) : null;
  return Array.from({ length: shape.numLayers }, (_, i) => ({
    slidingWindow: slides && !slides[i] ? null : slidingWindow,
    rope: usesRope && !usesRope[i] ? null : ('global' as const),
  }));
}

/** Qwen2/3: `layer_types`, or sliding from max_window_layers (default 28) on. */
function qwenSlidingLayers(config: Json, numLayers: number): boolean[] {
  if (Array.isArray(config.layer_types)) {
    const types = config.layer_types;
    if (types.length !== numLayers || !types.every((type) => type === 'sliding_attention' || type === 'full_attention')) {
      throw new ConvertError(`config.json: 'layer_types' must list 'sliding_attention' or 'full_attention' for each of the ${numLayers} layers.`);
    }
    return types.map((type) => type === 'sliding_attention');
  }
  const first = config.max_window_layers ?? 28;
  if (typeof first !== 'number' || !Number.isSafeInteger(first) || first < 0) throw new ConvertError(`config.json: 'max_window_layers' must be a non-negative integer (found ${JSON.stringify(first)}).`);
  return Array.from({ length: numLayers }, (_, i) => i >= first);
}

/** SmolLM3's no_rope_layers: 1 where the layer applies rotary, 0 where it does not. */
function smolLm3RopeLayers(config: Json, numLayers: number): boolean[] {
  const listed = config.no_rope_layers;
  if (listed == null) {
    const interval = config.no_rope_layer_interval ?? 4;
    if (typeof interval !== 'number' || !Number.isSafeInteger(interval) || interval <= 0) throw new ConvertError(`config.json: 'no_rope_layer_interval' must be a positive integer (found ${JSON.stringify(interval)}).`);
    return Array.from({ length: numLayers }, (_, i) => (i + 1) % interval !== 0);
  }
  if (!Array.isArray(listed) || listed.length !== numLayers || !listed.every((flag) => flag === 0 || flag === 1)) {
    throw new ConvertError(`config.json: 'no_rope_layers' must list 0 or 1 for each of the ${numLayers} layers (found ${JSON.stringify(listed)}).`);
  }
  return listed.map((flag) => flag === 1);
}

/**
 * Gemma's interleaved local (sliding) and global layers: `layer_types` when the config lists them,
 * else Gemma 2's alternation (even layers slide) or Gemma 3's `sliding_window_pattern` (every
 * pattern-th layer is global), as transformers derives them. Gemma 3's local layers use the local rotary table.
 */
function gemmaLayers(architecture: Architecture, config: Json, shape: ModelShape): LayerAttention[] {
  const window = config.sliding_window;
  if (typeof window !== 'number' || !Number.isSafeInteger(window) || window <= 0) throw new ConvertError(`config.json: 'sliding_window' must be a positive integer for ${architecture} (found ${JSON.stringify(window)}).`);
  let types: unknown[];
  if (Array.isArray(config.layer_types)) {
    types = config.layer_types;
    if (types.length !== shape.numLayers) throw new ConvertError(`config.json lists ${types.length} layer_types for ${shape.numLayers} layers.`);
  } else if (architecture === 'gemma2') {
    types = Array.from({ length: shape.numLayers }, (_, i) => (i % 2 === 0 ? 'sliding_attention' : 'full_attention'));
  } else {
    const pattern = config.sliding_window_pattern ?? 6;
    if (typeof pattern !== 'number' || !Number.isSafeInteger(pattern) || pattern <= 0) throw new ConvertError(`config.json: 'sliding_window_pattern' must be a positive integer (found ${JSON.stringify(pattern)}).`);
    types = Array.from({ length: shape.numLayers }, (_, i) => ((i + 1) % pattern === 0 ? 'full_attention' : 'sliding_attention'));
  }
  return types.map((type, i) => {
    if (type !== 'sliding_attention' && type !== 'full_attention') throw new ConvertError(`config.json: layer_types[${i}] is ${JSON.stringify(type)}; expected 'sliding_attention' or 'full_attention'.`);
    const sliding = type === 'sliding_attention';
    // A window as long as the context masks nothing: the layer attends fully.
    return { slidingWindow: sliding && window < shape.contextLength ? window : null, rope: sliding && architecture === 'gemma3' ? 'local' : 'global' };
  });
}

/** The dtype the checkpoint declares (torch_dtype; transformers ≥ 4.56 writes dtype), which transformers loads it in by default. */
function checkpointDtype(config: Json): string {
  const dtype = config.torch_dtype ?? config.dtype;
  return typeof dtype === 'string' ? dtype : 'float32';
}

/**
 * Gemma multiplies the embeddings by √hidden as a tensor of the model's dtype
 * (`torch.tensor(hidden_size**0.5, dtype=...)`), so a bfloat16 model uses √hidden rounded to
 * bfloat16 (e.g. 34 for hidden 1152, not 33.94): the constant the model was trained with.
 */
export function roundToDtype(value: number, dtype: string): number {
  const f32 = new Float32Array([value]);
  if (dtype === 'bfloat16') {
    const bits = new Uint32Array(f32.buffer);
    // Round to nearest even on the upper 16 bits.
    bits[0] = ((bits[0]! + 0x7fff + ((bits[0]! >>> 16) & 1)) >>> 16) << 16;
    return f32[0]!;
  }
  if (dtype === 'float16') {
    const exponent = Math.floor(Math.log2(Math.abs(value)));
    const step = 2 ** (exponent - 10);
    return Math.round(value / step) * step;
  }
  return f32[0]!;
}

/** transformers 5 nests Gemma 3's rope settings per layer type: `rope_parameters.{full_attention,sliding_attention}`. */
function globalRopeParameters(config: Json): Json | undefined {
  const nested = config.rope_parameters as Json | undefined;
  return nested && typeof nested.full_attention === 'object' ? (nested.full_attention as Json) : undefined;
}

function localRopeTheta(config: Json): number | undefined {
  const nested = config.rope_parameters as Json | undefined;
  const local = nested && typeof nested.sliding_attention === 'object' ? (nested.sliding_attention as Json) : undefined;
  return typeof local?.rope_theta === 'number' ? local.rope_theta : undefined;
}

/** transformers ≥ 5 moves rope_theta into `rope_parameters`; older configs keep it top-level. */
function ropeTheta(config: Json): number {
  const nested = (globalRopeParameters(config) ?? (config.rope_parameters as Json | undefined))?.rope_theta;
  const theta = config.rope_theta ?? nested ?? 10000;
  if (typeof theta !== 'number' || !Number.isFinite(theta) || theta <= 0) throw new ConvertError(`config.json: 'rope_theta' must be a positive number (found ${JSON.stringify(theta)}).`);
  return theta;
}

function parseRopeScaling(value: unknown, contextLength: number, config: Json): RopeScaling {
  if (value == null) return { type: 'default' };
  const scaling = value as Json;
  const type = scaling.rope_type ?? scaling.type;
  const factor = Number(scaling.factor);
  if (type === 'default') return { type: 'default' };
  if (type === 'linear' && factor > 0) return { type: 'linear', factor };
  if (type === 'dynamic' && factor > 0) return { type: 'dynamic', factor };
  if (type === 'llama3' && factor > 0) {
    return {
      type: 'llama3',
      factor,
      lowFreqFactor: Number(scaling.low_freq_factor ?? 1),
      highFreqFactor: Number(scaling.high_freq_factor ?? 4),
      originalMaxPositions: Number(scaling.original_max_position_embeddings ?? 8192),
    };
  }
  if (type === 'yarn' && factor > 0) {
    // transformers ≤ 4.5x replaced factor by max_position_embeddings / original_max_position_embeddings
    // when both were set; transformers 5 (and vLLM, llama.cpp) use the explicit factor: so does hearth.
    const mscale = (scale: number, m = 1) => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1);
    const { attention_factor: attentionFactor, mscale: m, mscale_all_dim: mAllDim } = scaling;
    const attention = typeof attentionFactor === 'number' ? attentionFactor
      : typeof m === 'number' && m && typeof mAllDim === 'number' && mAllDim ? mscale(factor, m) / mscale(factor, mAllDim)
      : mscale(factor);
    return {
      type: 'yarn',
      factor,
      originalMaxPositions: Number(scaling.original_max_position_embeddings ?? contextLength),
      betaFast: Number(scaling.beta_fast || 32),
      betaSlow: Number(scaling.beta_slow || 1),
      truncate: scaling.truncate !== false,
      attentionFactor: attention,
    };
  }
  if (type === 'longrope' || type === 'su') {
    const factors = (key: string) => {
      const list = scaling[key];
      if (!Array.isArray(list) || !list.every((f) => typeof f === 'number' && f > 0)) throw new ConvertError(`config.json: rope_scaling.${key} must be a list of positive numbers.`);
      return list as number[];
    };
    // Phi-3 keeps original_max_position_embeddings top-level; transformers 5 moves it into rope_parameters.
    const original = Number(scaling.original_max_position_embeddings ?? config.original_max_position_embeddings ?? contextLength);
    if (!(original > 0)) throw new ConvertError("config.json: 'original_max_position_embeddings' must be a positive integer for longrope.");
    const ratio = typeof scaling.factor === 'number' ? scaling.factor : contextLength / original;
    const attention = typeof scaling.attention_factor === 'number' ? scaling.attention_factor : ratio <= 1 ? 1 : Math.sqrt(1 + Math.log(ratio) / Math.log(original));
    return { type: 'longrope', shortFactor: factors('short_factor'), longFactor: factors('long_factor'), originalMaxPositions: original, attentionFactor: attention };
  }
  throw new ConvertError(
    `config.json sets rope_scaling ${JSON.stringify(value)}; hearth supports rope_scaling types 'linear', 'dynamic', 'llama3', 'yarn' and 'longrope' (or none).`,
  );
}
