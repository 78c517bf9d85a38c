// Memory a model needs when Hearth serves it: weights as the converter stores them, the KV cache
// for a context length × concurrent sequences, and the runtime's own overhead.
// Runtime-free and pure (no Node, no onnxruntime): `hearth fit` uses it before a download, the
// GUI shows it, and the export/sizing code uses it to pick a GPU.
//
// Typical use:
//   const shape = modelShapeFromHfConfig(configJson);          // config.json of a Hub repo
//   const estimate = estimateMemory({ shape, dtype: 'int4', contextTokens: 4096, numSequences: 4 });
//   const fit = checkFit(estimate, { availableBytes, device: 'cpu' });   // see fitVerdict.ts
//
// The weight layout mirrors engine/convert (see engine/convert/README.md): every linear layer of
// the decoder (attention q/k/v/o, MLP gate/up/down, lm_head) is stored in the package dtype; for
// int4 the linear layers become MatMulNBits (4-bit packed weights + one scale per block of
// `blockSize` input features + packed 4-bit zero points), while the token embedding stays in
// float (fp32 for fp32/int4 packages, fp16 for fp16 packages) because a Gather of 4-bit rows is
// not worth its accuracy cost. Norm weights and biases are small and stay in float.
import type { ModelDtype, ModelShape } from './manifest.js';

export type KvDtype = 'float32' | 'float16';

/** How an int4 package stores a MatMulNBits weight. Defaults match engine/convert. */
export interface Int4Layout {
  /** Input features sharing one scale/zero point. */
  blockSize: number;
  /** Bytes per scale (4 = fp32 scales, 2 = fp16 scales). */
  scaleBytes: number;
  /** Asymmetric quantization stores a 4-bit zero point per block. */
  hasZeroPoints: boolean;
  /** Float type of the parts that are not quantized (embedding, norms, biases). */
  floatBytes: number;
}

export const DEFAULT_INT4_LAYOUT: Int4Layout = { blockSize: 32, scaleBytes: 4, hasZeroPoints: true, floatBytes: 4 };

/** The parts of a model's shape the estimate needs (a subset of the manifest's ModelShape). */
export type EstimateShape = Pick<
  ModelShape,
  'vocabSize' | 'hiddenSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim' | 'intermediateSize' | 'tiedEmbeddings'
> & {
  /** Qwen2 has biases on q/k/v. */
  attentionBias?: boolean;
  /** Qwen3 normalises q and k per head (two extra headDim-sized weights per layer). */
  qkNorm?: boolean;
};

export interface WeightsBreakdown {
  embeddingBytes: number;
  /** 0 when the lm_head reuses the embedding matrix (tied, float packages). */
  lmHeadBytes: number;
  /** All decoder layers together. */
  layersBytes: number;
  /** Final norm. */
  otherBytes: number;
  totalBytes: number;
  /** Parameters in the checkpoint (tied embeddings counted once). */
  numParams: number;
}

/** Bytes of one element of a float dtype. */
export function floatBytesOf(dtype: ModelDtype | KvDtype): number {
  return dtype === 'fp16' || dtype === 'float16' ? 2 : 4;
}

/**
 * Bytes a [inFeatures → outFeatures] linear weight takes in a package of `dtype`.
 * For int4 this is MatMulNBits' packed weight + scales + packed zero points.
 */
export function linearWeightBytes(inFeatures: number, outFeatures: number, dtype: ModelDtype, int4: Int4Layout = DEFAULT_INT4_LAYOUT): number {
  if (dtype !== 'int4') return inFeatures * outFeatures * floatBytesOf(dtype);
  const blocksPerRow = Math.ceil(inFeatures / int4.blockSize);
  const packedWeightBytes = outFeatures * blocksPerRow * (int4.blockSize / 2);
  const scalesBytes = outFeatures * blocksPerRow * int4.scaleBytes;
  const zeroPointBytes = int4.hasZeroPoints ? outFeatures * Math.ceil(blocksPerRow / 2) : 0;
  return packedWeightBytes + scalesBytes + zeroPointBytes;
}

/** Weights bytes of a package in `dtype`, by part. */
export function weightsBytes(shape: EstimateShape, dtype: ModelDtype, int4: Int4Layout = DEFAULT_INT4_LAYOUT): WeightsBreakdown {
  const { vocabSize, hiddenSize, numLayers, numHeads, numKvHeads, headDim, intermediateSize } = shape;
  const floatBytes = dtype === 'int4' ? int4.floatBytes : floatBytesOf(dtype);
  const qDim = numHeads * headDim;
  const kvDim = numKvHeads * headDim;

  const linear = (inFeatures: number, outFeatures: number) => linearWeightBytes(inFeatures, outFeatures, dtype, int4);
  const attentionBytes = linear(hiddenSize, qDim) + 2 * linear(hiddenSize, kvDim) + linear(qDim, hiddenSize);
  const mlpBytes = 2 * linear(hiddenSize, intermediateSize) + linear(intermediateSize, hiddenSize);
  const biasElements = shape.attentionBias ? qDim + 2 * kvDim : 0;
  const normElements = 2 * hiddenSize + (shape.qkNorm ? 2 * headDim : 0);
  const layerBytes = attentionBytes + mlpBytes + (biasElements + normElements) * floatBytes;

  const embeddingBytes = vocabSize * hiddenSize * floatBytes;
  // A float package shares a tied matrix between Gather and the final MatMul; an int4 package
  // quantizes the lm_head, so it needs its own (4-bit) copy even when the checkpoint ties them.
  const lmHeadBytes = shape.tiedEmbeddings && dtype !== 'int4' ? 0 : linear(hiddenSize, vocabSize);
  const layersBytes = numLayers * layerBytes;
  const otherBytes = hiddenSize * floatBytes;

  const layerParams = qDim * hiddenSize * 2 + kvDim * hiddenSize * 2 + 3 * hiddenSize * intermediateSize + biasElements + normElements;
  const numParams = numLayers * layerParams + vocabSize * hiddenSize * (shape.tiedEmbeddings ? 1 : 2) + hiddenSize;
  return { embeddingBytes, lmHeadBytes, layersBytes, otherBytes, totalBytes: embeddingBytes + lmHeadBytes + layersBytes + otherBytes, numParams };
}

/** KV-cache bytes one token occupies (keys + values, all layers). */
export function kvBytesPerToken(shape: Pick<EstimateShape, 'numLayers' | 'numKvHeads' | 'headDim'>, kvDtype: KvDtype): number {
  return 2 * shape.numLayers * shape.numKvHeads * shape.headDim * floatBytesOf(kvDtype);
}

/** The KV dtype the engine uses for a package dtype: fp16 packages keep fp16 K/V, others fp32. */
export function kvDtypeFor(dtype: ModelDtype): KvDtype {
  return dtype === 'fp16' ? 'float16' : 'float32';
}

/**
 * Fixed memory of a loaded engine beyond weights and KV cache: the onnxruntime native library,
 * session state and arena, the tokenizer. Measured on CPU with onnxruntime-node 1.30
 * (test/integration/hubFitCheck.test.ts keeps this honest).
 */
export const RUNTIME_OVERHEAD_BYTES = 48 * 1024 * 1024;

/** Fraction of the weights the runtime keeps beside them (prepacked copies, transient buffers). */
export const WEIGHTS_OVERHEAD_FRACTION = 0.05;

export interface EstimateInput {
  shape: EstimateShape;
  dtype: ModelDtype;
  /** Longest sequence (prompt + completion) each concurrent sequence may reach. */
  contextTokens: number;
  /** Sequences served at once (the batch size / number of slots). */
  numSequences: number;
  /** Defaults to kvDtypeFor(dtype). */
  kvDtype?: KvDtype;
  /** Most prompt tokens prefilled in one step (activations scale with it). Default 512. */
  maxPrefillTokens?: number;
  int4Layout?: Int4Layout;
  /** Override the fixed runtime overhead (e.g. a GPU provider's workspace). */
  runtimeOverheadBytes?: number;
  /** Use the package's exact weights bytes (manifest.weightsBytes) instead of estimating them. */
  knownWeightsBytes?: number;
}

export interface MemoryEstimate {
  dtype: ModelDtype;
  kvDtype: KvDtype;
  contextTokens: number;
  numSequences: number;
  weights: WeightsBreakdown;
  weightsBytes: number;
  kvBytesPerToken: number;
  kvCacheBytes: number;
  /** Peak activations of one step (prefill chunk through the widest layer, plus logits). */
  activationBytes: number;
  overheadBytes: number;
  totalBytes: number;
}

/** Total memory to serve `shape` in `dtype` with `numSequences` × `contextTokens` of KV cache. */
export function estimateMemory(input: EstimateInput): MemoryEstimate {
  const kvDtype = input.kvDtype ?? kvDtypeFor(input.dtype);
  const weights = weightsBytes(input.shape, input.dtype, input.int4Layout);
  const weightsTotal = input.knownWeightsBytes ?? weights.totalBytes;
  const perToken = kvBytesPerToken(input.shape, kvDtype);
  const kvCacheBytes = perToken * input.contextTokens * input.numSequences;
  const activationBytes = activationBytesFor(input.shape, input.maxPrefillTokens ?? 512, input.numSequences);
  const overheadBytes = (input.runtimeOverheadBytes ?? RUNTIME_OVERHEAD_BYTES) + Math.round(weightsTotal * WEIGHTS_OVERHEAD_FRACTION);
  return {
    dtype: input.dtype,
    kvDtype,
    contextTokens: input.contextTokens,
    numSequences: input.numSequences,
    weights,
    weightsBytes: weightsTotal,
    kvBytesPerToken: perToken,
    kvCacheBytes,
    activationBytes,
    overheadBytes,
    totalBytes: weightsTotal + kvCacheBytes + activationBytes + overheadBytes,
  };
}

/**
 * fp32 activations of the largest step: a prefill chunk through the MLP (gate, up and their
 * product live at once) plus the attention scores of that chunk against itself, and the logits of
 * one token per sequence.
 */
export function activationBytesFor(shape: EstimateShape, maxPrefillTokens: number, numSequences: number): number {
  const tokens = Math.max(maxPrefillTokens, numSequences);
  const mlp = tokens * (3 * shape.intermediateSize + 2 * shape.hiddenSize);
  const attentionScores = shape.numHeads * maxPrefillTokens * maxPrefillTokens;
  const logits = numSequences * shape.vocabSize;
  return 4 * (mlp + attentionScores + logits);
}

/**
 * Reads the shape from a Hub `config.json` (Llama, Mistral, Qwen2/3, Phi-3 and lookalikes).
 * Throws with the missing field's name when the config is not a decoder-only transformer we know.
 */
export function modelShapeFromHfConfig(config: Record<string, unknown>): EstimateShape & { contextLength: number; modelType: string } {
  const text = (config.text_config && typeof config.text_config === 'object' ? config.text_config : config) as Record<string, unknown>;
  const num = (key: string, fallback?: number): number => {
    const value = text[key];
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    if (fallback !== undefined) return fallback;
    throw new Error(`config.json has no numeric '${key}': this does not look like a decoder-only language model Hearth can size.`);
  };
  const hiddenSize = num('hidden_size');
  const numHeads = num('num_attention_heads');
  const modelType = String(text.model_type ?? config.model_type ?? 'unknown');
  return {
    modelType,
    vocabSize: num('vocab_size'),
    hiddenSize,
    numLayers: num('num_hidden_layers'),
    numHeads,
    numKvHeads: num('num_key_value_heads', numHeads),
    headDim: num('head_dim', hiddenSize / numHeads),
    intermediateSize: num('intermediate_size'),
    contextLength: num('max_position_embeddings', 2048),
    tiedEmbeddings: Boolean(text.tie_word_embeddings ?? config.tie_word_embeddings ?? false),
    attentionBias: modelType === 'qwen2' ? true : Boolean(text.attention_bias ?? false),
    qkNorm: modelType === 'qwen3',
  };
}

export type FitKind = 'fits' | 'fits-reduced' | 'does-not-fit';

export interface FitVerdict {
  kind: FitKind;
  /** Memory the check compared against (GPU memory, or RAM on CPU). */
  availableBytes: number;
  /** What the requested context × sequences needs. */
  requested: MemoryEstimate;
  /** For 'fits-reduced': the largest setting that fits (fewer sequences first, then shorter context). */
  suggestion?: MemoryEstimate;
  /** One or two sentences with the numbers, for the terminal and the GUI. */
  message: string;
}

/** Smallest context the reduced-fit search proposes; below it a chat model is not useful. */
export const MIN_USEFUL_CONTEXT_TOKENS = 512;

/**
 * Compares an estimate with the available memory. When the requested setting does not fit, tries
 * fewer concurrent sequences (halving to 1), then a shorter context (halving to
 * MIN_USEFUL_CONTEXT_TOKENS), and proposes the first that fits.
 */
export function fitVerdict(input: EstimateInput, availableBytes: number): FitVerdict {
  const requested = estimateMemory(input);
  const needed = `${formatBytes(requested.totalBytes)} (weights ${formatBytes(requested.weightsBytes)} + KV cache ${formatBytes(requested.kvCacheBytes)} for ${input.numSequences} × ${input.contextTokens} tokens + runtime ${formatBytes(requested.activationBytes + requested.overheadBytes)})`;
  if (requested.totalBytes <= availableBytes) {
    return { kind: 'fits', availableBytes, requested, message: `Fits: needs ${needed} of ${formatBytes(availableBytes)} available.` };
  }
  for (const candidate of reducedSettings(input)) {
    const estimate = estimateMemory({ ...input, ...candidate });
    if (estimate.totalBytes <= availableBytes) {
      return {
        kind: 'fits-reduced',
        availableBytes,
        requested,
        suggestion: estimate,
        message:
          `Does not fit as asked: needs ${needed}, ${formatBytes(availableBytes)} available. ` +
          `Fits with ${candidate.numSequences} concurrent sequence${candidate.numSequences === 1 ? '' : 's'} × ${candidate.contextTokens} tokens of context (${formatBytes(estimate.totalBytes)}).`,
      };
    }
  }
  const floor = estimateMemory({ ...input, numSequences: 1, contextTokens: Math.min(input.contextTokens, MIN_USEFUL_CONTEXT_TOKENS) });
  return {
    kind: 'does-not-fit',
    availableBytes,
    requested,
    message:
      `Does not fit: needs ${needed}, ${formatBytes(availableBytes)} available; even 1 sequence × ${floor.contextTokens} tokens needs ${formatBytes(floor.totalBytes)}. ` +
      (input.dtype === 'int4' ? 'Pick a smaller model or a machine with more memory.' : 'Try --dtype int4, a smaller model, or a machine with more memory.'),
  };
}

function* reducedSettings(input: EstimateInput): Generator<{ numSequences: number; contextTokens: number }> {
  for (let numSequences = Math.floor(input.numSequences / 2); numSequences >= 1; numSequences = Math.floor(numSequences / 2)) {
    yield { numSequences, contextTokens: input.contextTokens };
  }
  for (let contextTokens = Math.floor(input.contextTokens / 2); contextTokens >= MIN_USEFUL_CONTEXT_TOKENS; contextTokens = Math.floor(contextTokens / 2)) {
    yield { numSequences: 1, contextTokens };
  }
}

/** 1536 → '1.5 KiB'; binary units, one decimal. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
