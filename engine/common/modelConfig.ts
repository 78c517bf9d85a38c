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
};

export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

export interface ModelConfig {
  architecture: Architecture;
  hfArchitecture: string;
  shape: ModelShape;
  ropeScaling: RopeScaling;
  /** Mistral-style sliding window attention span in tokens, or null for full attention. */
  slidingWindow: number | null;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

type Json = Record<string, unknown>;

/**
 * The config's text model (multimodal checkpoints such as Gemma 3's nest it under `text_config`),
 * with the outer architectures list when the inner one has none.
 */
function textConfigOf(config: Json): Json {
  const inner = config.text_config;
  return inner && typeof inner === 'object' && !Array.isArray(inner) ? { architectures: config.architectures, ...(inner as Json) } : config;
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
  const partialRotary = config.partial_rotary_factor;
  if (partialRotary != null && partialRotary !== 1) {
    throw new ConvertError(`config.json sets partial_rotary_factor ${String(partialRotary)}; hearth supports full rotary embeddings only.`);
  }
  const hiddenAct = config.hidden_act ?? 'silu';
  if (hiddenAct !== 'silu') throw new ConvertError(`config.json sets hidden_act '${String(hiddenAct)}'; hearth supports 'silu' only.`);
  // Mistral and Phi-3 apply sliding_window whenever it is set; Qwen2/3 only with
  // use_sliding_window, and then only on some layers, which the graph does not model.
  const window = config.sliding_window;
  if ((architecture === 'qwen2' || architecture === 'qwen3') && config.use_sliding_window === true) {
    throw new ConvertError('config.json enables use_sliding_window for some Qwen layers; hearth does not support per-layer sliding windows.');
  }
  const useWindow = architecture === 'mistral' || architecture === 'phi3' || architecture === 'llama';
  const slidingWindow = useWindow && typeof window === 'number' && window > 0 && window < shape.contextLength ? window : null;
  const eos = config.eos_token_id;
  return {
    architecture,
    hfArchitecture,
    shape,
    ropeScaling: parseRopeScaling(config.rope_scaling ?? config.rope_parameters),
    slidingWindow,
    bosTokenId: typeof config.bos_token_id === 'number' ? config.bos_token_id : null,
    eosTokenIds: Array.isArray(eos) ? eos.filter((id): id is number => typeof id === 'number') : typeof eos === 'number' ? [eos] : [],
  };
}

/** transformers ≥ 5 moves rope_theta into `rope_parameters`; older configs keep it top-level. */
function ropeTheta(config: Json): number {
  const nested = (config.rope_parameters as Json | undefined)?.rope_theta;
  const theta = config.rope_theta ?? nested ?? 10000;
  if (typeof theta !== 'number' || !Number.isFinite(theta) || theta <= 0) throw new ConvertError(`config.json: 'rope_theta' must be a positive number (found ${JSON.stringify(theta)}).`);
  return theta;
}

function parseRopeScaling(value: unknown): RopeScaling {
  if (value == null) return { type: 'default' };
  const scaling = value as Json;
  const type = scaling.rope_type ?? scaling.type;
  const factor = Number(scaling.factor);
  if (type === 'default') return { type: 'default' };
  if (type === 'linear' && factor > 0) return { type: 'linear', factor };
  if (type === 'llama3' && factor > 0) {
    return {
      type: 'llama3',
      factor,
      lowFreqFactor: Number(scaling.low_freq_factor ?? 1),
      highFreqFactor: Number(scaling.high_freq_factor ?? 4),
      originalMaxPositions: Number(scaling.original_max_position_embeddings ?? 8192),
    };
  }
  throw new ConvertError(`config.json sets rope_scaling ${JSON.stringify(value)}; hearth supports rope_scaling types 'linear' and 'llama3' (or none).`);
}
