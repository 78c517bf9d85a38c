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
// The weight layout mirrors engine/convert (decoderGraph.ts): every linear layer (fused qkv, o,
// fused gate_up, down, lm_head) is stored in the package dtype. int4 linears are MatMulNBits
// (4-bit codes + one fp16 scale per block of 32 input features + packed 4-bit zero points); the
// token embedding table is fp32 in fp32 packages, fp16 in fp16 packages and int4 blocks in the
// MatMulNBits layout in int4 packages (read by GatherBlockQuantized; fp16 where a row has an odd
// number of blocks, see quantizedEmbedding); norms and biases stay fp32. A tied lm_head shares the
// embedding: Gemm transB over the float table, MatMulNBits over the int4 blocks (an int4 package
// whose table had to stay fp16 quantizes its own lm_head copy).
//
// Stored bytes (the package on disk) and loaded bytes (memory once onnxruntime has the session)
// differ for fp16: the converter casts fp16 weights to fp32 in the graph, and onnxruntime folds
// those casts at load time, so an fp16 package holds fp32 linears in memory (the fp16 embedding
// table stays fp16: only the gathered rows are cast).
import type { Int8MatMulMode } from './accelerator.js';
import type { ModelDtype, ModelShape } from './manifest.js';
import { readModelShape, readTensorLayout, type TensorLayout } from './modelConfig.js';

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

export const DEFAULT_INT4_LAYOUT: Int4Layout = { blockSize: 32, scaleBytes: 2, hasZeroPoints: true, floatBytes: 4 };

/**
 * Block sizes `hearth convert --int4-block-size` offers. 32 (the default) has the least rounding
 * error; 64 stores 4.3 instead of 4.6 bits a weight and, once MLAS has repacked it (a float scale
 * and a block sum per block), holds 5 instead of 6 bits in memory, which a memory-bound decode step
 * reads faster (engine/convert/README.md has the error and speed figures).
 */
export const INT4_BLOCK_SIZES = [32, 64, 128] as const;

/** Why `blockSize` is not one of INT4_BLOCK_SIZES, or null (the converter and the CLI both ask). */
export function int4BlockSizeProblem(blockSize: number): string | null {
  return (INT4_BLOCK_SIZES as readonly number[]).includes(blockSize) ? null : `must be one of ${INT4_BLOCK_SIZES.join(', ')}`;
}

/** The int4 layout a package was converted with (`quantization.int4BlockSize`; packages without it are block 32). */
export function int4LayoutOf(manifest: { quantization?: { int4BlockSize: number } }): Int4Layout {
  return { ...DEFAULT_INT4_LAYOUT, blockSize: manifest.quantization?.int4BlockSize ?? DEFAULT_INT4_LAYOUT.blockSize };
}

/**
 * Memory one 32-weight block of an int4 lm_head takes once onnxruntime has loaded it on the CPU
 * (accuracy_level 4): MLAS repacks the codes with a float scale and a block sum per block and
 * releases the stored codes; the stored scales stay mapped beside it. Measured on ORT 1.30, AVX2,
 * for vocabulary-sized weights: 28.2 and 27.8 bytes a block at [576 → 49152] and [896 → 151936].
 * (Projection-sized weights measured at or below their stored size, so they count as stored.)
 */
export const LM_HEAD_PACKED_BYTES_PER_BLOCK = 28;

/** The same for other block sizes: the measured 32-weight figure with the codes' extra bytes (blockSize / 2 a block). */
export function lmHeadPackedBytesPerBlock(blockSize: number): number {
  return LM_HEAD_PACKED_BYTES_PER_BLOCK + (blockSize - DEFAULT_INT4_LAYOUT.blockSize) / 2;
}

/** Bytes per element of a float embedding table as the converter stores it. */
export function embeddingElementBytes(dtype: ModelDtype): number {
  return dtype === 'fp32' ? 4 : 2;
}

/**
 * Whether the converter stores the embedding as int4 blocks (MatMulNBits layout). Only
 * int4 packages, and only when a row has an even number of blocks: WebGPU's GatherBlockQuantized
 * reads the packed zero points as one flat nibble array, which matches MatMulNBits' per-row packing
 * only then (hidden sizes that are multiples of 64: every common model). Otherwise the table is fp16.
 */
export function quantizedEmbedding(dtype: ModelDtype, hiddenSize: number, int4: Int4Layout = DEFAULT_INT4_LAYOUT): boolean {
  return embeddingInt4Layout(dtype, hiddenSize, int4) !== null;
}

/**
 * The blocks the int4 embedding (and a tied lm_head, which reads the same bytes) is stored in:
 * the package's, or block 32 where a row is an odd number of the package's blocks (hidden 576 at
 * block 64: SmolLM2), so a larger block never costs a float16 table; null: a float16 table.
 */
export function embeddingInt4Layout(dtype: ModelDtype, hiddenSize: number, int4: Int4Layout = DEFAULT_INT4_LAYOUT): Int4Layout | null {
  if (dtype !== 'int4') return null;
  for (const blockSize of [int4.blockSize, DEFAULT_INT4_LAYOUT.blockSize]) if (hiddenSize % (2 * blockSize) === 0) return { ...int4, blockSize };
  return null;
}

/** The parts of a model's shape the estimate needs (a subset of the manifest's ModelShape). */
export type EstimateShape = Pick<
  ModelShape,
  'vocabSize' | 'hiddenSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim' | 'intermediateSize' | 'tiedEmbeddings'
> & {
  /** Qwen2 has biases on q/k/v. */
  attentionBias?: boolean;
  /** Qwen3 and Gemma 3 normalise q and k per head (two extra headDim-sized weights per layer). */
  qkNorm?: boolean;
  /** OLMo 2: the q/k norms span the whole projections (qDim and kvDim elements, not headDim). */
  qkNormOverProjection?: boolean;
  /**
   * 'sandwich' (Gemma 2/3): norms after attention and around the MLP too (two more hidden-sized
   * weights per layer); 'post' (OLMo 2): only after attention and after the MLP.
   */
  normPlacement?: TensorLayout['normPlacement'];
  /** Gemma 3's second rotary table pair (its local layers' base). */
  localRotary?: boolean;
  /** Rotating dimensions per head (default headDim; Phi-4-mini's partial rotary). */
  rotaryDim?: number;
  /** Positions of the rotary cos/sin tables the converter bakes in (config max_position_embeddings). */
  contextLength?: number;
};

export interface WeightsBreakdown {
  embeddingBytes: number;
  /** 0 when the lm_head reuses the embedding matrix (tied, fp32 packages). */
  lmHeadBytes: number;
  /** All decoder layers together. */
  layersBytes: number;
  /** Final norm. */
  otherBytes: number;
  /** Bytes of the package's weights on disk (manifest.weightsBytes, model.onnx.data). */
  storedBytes: number;
  /** Bytes of weights in memory once loaded (differs from storedBytes for fp16; see top of file). */
  loadedBytes: number;
  /** Part of loadedBytes read as stored (not produced by a folded cast or a prepacked copy). */
  loadedAsStoredBytes: number;
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

/** model.onnx.data aligns every tensor to this (so onnxruntime can map it). */
export const PACKAGE_ALIGNMENT_BYTES = 4096;

export interface PackageTensor {
  name: string;
  /** Bytes as stored. */
  bytes: number;
  /** Bytes once loaded (fp16 linears are cast to fp32 at load). */
  loadedBytes: number;
  part: 'embedding' | 'lmHead' | 'layers' | 'other';
}

/**
 * The plan of the weight tensors engine/convert writes, in the order it writes them. The converter
 * checks every package against it (assertFollowsPlan in engine/convert/convert.ts), so estimates
 * made from it before a download describe exactly the package that will be written.
 */
export function packageTensors(shape: EstimateShape, dtype: ModelDtype, int4: Int4Layout = DEFAULT_INT4_LAYOUT, int8MatMul: Int8MatMulMode = 'off'): PackageTensor[] {
  const { vocabSize, hiddenSize: h, numLayers, numHeads, numKvHeads, headDim, intermediateSize } = shape;
  const qDim = numHeads * headDim;
  const kvDim = numKvHeads * headDim;
  const tensors: PackageTensor[] = [];
  const fp32 = (name: string, elements: number, part: PackageTensor['part']) => tensors.push({ name, bytes: elements * 4, loadedBytes: elements * 4, part });
  // int4 codes in memory: as stored for the projections and the embedding (GatherBlockQuantized
  // reads them in place), MLAS's packed copy for the lm_head (see LM_HEAD_PACKED_BYTES_PER_BLOCK).
  // With int8 matmuls for every token (engine/runtime/int8MatMul.ts) a layer's int4 tensors are not
  // loaded; its int8 copy is, a byte a weight plus an fp32 scale per output column. For prompt
  // tokens only, both are.
  const linear = (name: string, inFeatures: number, outFeatures: number, part: PackageTensor['part'], layout: Int4Layout = int4) => {
    if (dtype === 'int4' && int8MatMul === 'all' && part === 'layers') {
      const blocks = outFeatures * Math.ceil(inFeatures / layout.blockSize);
      tensors.push({ name: `${name}.q4`, bytes: blocks * (layout.blockSize / 2), loadedBytes: inFeatures * outFeatures + 4 * outFeatures, part });
      tensors.push({ name: `${name}.scales`, bytes: blocks * layout.scaleBytes, loadedBytes: 0, part });
      if (layout.hasZeroPoints) tensors.push({ name: `${name}.zero_points`, bytes: outFeatures * Math.ceil(blocks / outFeatures / 2), loadedBytes: 0, part });
    } else if (dtype === 'int4') {
      const blocks = outFeatures * Math.ceil(inFeatures / layout.blockSize);
      const codesBytes = blocks * (layout.blockSize / 2);
      const parts = [
        [`${name}.q4`, codesBytes, part === 'lmHead' ? blocks * lmHeadPackedBytesPerBlock(layout.blockSize) : codesBytes],
        // fp16 scales are cast to fp32 at load (a folded copy).
        [`${name}.scales`, blocks * layout.scaleBytes, blocks * 4],
        ...(layout.hasZeroPoints ? [[`${name}.zero_points`, outFeatures * Math.ceil(blocks / outFeatures / 2)] as const] : []),
      ] as const;
      for (const [partName, bytes, loadedBytes = bytes] of parts) tensors.push({ name: partName, bytes, loadedBytes, part });
      if (int8MatMul === 'prompt' && part === 'layers') tensors.push({ name: `${name}.int8`, bytes: 0, loadedBytes: inFeatures * outFeatures + 4 * outFeatures, part });
    } else {
      const elements = inFeatures * outFeatures;
      tensors.push({ name, bytes: elements * floatBytesOf(dtype), loadedBytes: elements * 4, part });
    }
  };

  const embeddingElements = vocabSize * h;
  const embeddingLayout = embeddingInt4Layout(dtype, h, int4);
  if (embeddingLayout) linear('model.embed_tokens', h, vocabSize, 'embedding', embeddingLayout);
  else tensors.push({ name: 'model.embed_tokens.weight', bytes: embeddingElements * embeddingElementBytes(dtype), loadedBytes: embeddingElements * embeddingElementBytes(dtype), part: 'embedding' });
  const rotaryHalf = (shape.rotaryDim ?? headDim) / 2;
  const rotaryElements = (shape.contextLength ?? 0) * rotaryHalf;
  if (rotaryElements) {
    fp32('rotary.cos_cache', rotaryElements, 'other');
    fp32('rotary.sin_cache', rotaryElements, 'other');
    if (shape.localRotary) {
      fp32('rotary.local.cos_cache', rotaryElements, 'other');
      fp32('rotary.local.sin_cache', rotaryElements, 'other');
    }
  }
  const placement = shape.normPlacement ?? 'pre';
  const [qNormElements, kNormElements] = shape.qkNormOverProjection ? [qDim, kvDim] : [headDim, headDim];
  for (let i = 0; i < numLayers; i++) {
    if (placement !== 'post') fp32(`layers.${i}.input_layernorm`, h, 'layers');
    linear(`layers.${i}.qkv_proj`, h, qDim + 2 * kvDim, 'layers');
    if (shape.attentionBias) fp32(`layers.${i}.qkv_proj.bias`, qDim + 2 * kvDim, 'layers');
    if (shape.qkNorm) {
      fp32(`layers.${i}.q_norm`, qNormElements, 'layers');
      fp32(`layers.${i}.k_norm`, kNormElements, 'layers');
    }
    linear(`layers.${i}.o_proj`, qDim, h, 'layers');
    // Llama's post_attention_layernorm is the MLP's input norm; Gemma's and OLMo 2's normalise the
    // attention output; Gemma's MLP has its own pre- and post-feed-forward norms, OLMo 2's a post one.
    fp32(`layers.${i}.post_attention_layernorm`, h, 'layers');
    if (placement === 'sandwich') fp32(`layers.${i}.pre_feedforward_layernorm`, h, 'layers');
    linear(`layers.${i}.gate_up_proj`, h, 2 * intermediateSize, 'layers');
    linear(`layers.${i}.down_proj`, intermediateSize, h, 'layers');
    if (placement !== 'pre') fp32(`layers.${i}.post_feedforward_layernorm`, h, 'layers');
  }
  fp32('model.norm', h, 'other');
  if (shape.tiedEmbeddings && embeddingLayout) {
    // The tied lm_head is a MatMulNBits over the embedding's blocks: nothing more is stored, but
    // MatMulNBits packs its own copy at load.
    const blocks = vocabSize * Math.ceil(h / embeddingLayout.blockSize);
    tensors.push({ name: 'lm_head (MatMulNBits packed copy)', bytes: 0, loadedBytes: blocks * lmHeadPackedBytesPerBlock(embeddingLayout.blockSize), part: 'lmHead' });
  } else if (dtype === 'int4') {
    linear('lm_head', h, vocabSize, 'lmHead');
  } else if (!shape.tiedEmbeddings) {
    // Its own float table, [vocab, hidden] as stored (Gemm transB), in the package dtype.
    const elements = vocabSize * h;
    tensors.push({ name: 'lm_head.weight', bytes: elements * floatBytesOf(dtype), loadedBytes: elements * 4, part: 'lmHead' });
  } else if (dtype === 'fp16') {
    // Tied fp16: Gemm reads Cast(embedding table); the folded cast is an fp32 copy in memory.
    tensors.push({ name: 'lm_head (folded cast)', bytes: 0, loadedBytes: embeddingElements * 4, part: 'lmHead' });
  } else {
    // Tied fp32: Gemm prepacks its B operand; the table stays for Gather, so the packed copy is extra.
    tensors.push({ name: 'lm_head (prepacked Gemm copy)', bytes: 0, loadedBytes: embeddingElements * 4, part: 'lmHead' });
  }
  if (dtype === 'int4' && int8MatMul === 'prompt') {
    // The prompt session packs its own lm_head (the embedding it maps from the same file).
    const lmHeadLoaded = tensors.filter((tensor) => tensor.part === 'lmHead').reduce((sum, tensor) => sum + tensor.loadedBytes, 0);
    tensors.push({ name: 'lm_head (the prompt session\'s copy)', bytes: 0, loadedBytes: lmHeadLoaded, part: 'lmHead' });
  }
  return tensors;
}

/** Weights bytes of a package in `dtype`, by part (parts are stored bytes, without alignment). */
export function weightsBytes(shape: EstimateShape, dtype: ModelDtype, int4: Int4Layout = DEFAULT_INT4_LAYOUT, int8MatMul: Int8MatMulMode = 'off'): WeightsBreakdown {
  const tensors = packageTensors(shape, dtype, int4, int8MatMul);
  const sum = (part: PackageTensor['part']) => tensors.filter((t) => t.part === part).reduce((total, t) => total + t.bytes, 0);
  // model.onnx.data size: each tensor starts at the next aligned offset.
  let storedBytes = 0;
  for (const tensor of tensors) {
    if (tensor.bytes === 0) continue;
    storedBytes = Math.ceil(storedBytes / PACKAGE_ALIGNMENT_BYTES) * PACKAGE_ALIGNMENT_BYTES + tensor.bytes;
  }
  const loadedBytes = tensors.reduce((total, t) => total + t.loadedBytes, 0);
  const loadedAsStoredBytes = tensors.filter((t) => t.loadedBytes === t.bytes).reduce((total, t) => total + t.bytes, 0);

  const { vocabSize, hiddenSize, numLayers, numHeads, numKvHeads, headDim, intermediateSize } = shape;
  const qDim = numHeads * headDim;
  const kvDim = numKvHeads * headDim;
  const biasElements = shape.attentionBias ? qDim + 2 * kvDim : 0;
  const qkNormElements = !shape.qkNorm ? 0 : shape.qkNormOverProjection ? qDim + kvDim : 2 * headDim;
  const normElements = (shape.normPlacement === 'sandwich' ? 4 : 2) * hiddenSize + qkNormElements;
  const layerParams = qDim * hiddenSize * 2 + kvDim * hiddenSize * 2 + 3 * hiddenSize * intermediateSize + biasElements + normElements;
  const numParams = numLayers * layerParams + vocabSize * hiddenSize * (shape.tiedEmbeddings ? 1 : 2) + hiddenSize;
  return {
    embeddingBytes: sum('embedding'),
    lmHeadBytes: sum('lmHead'),
    layersBytes: sum('layers'),
    otherBytes: sum('other'),
    storedBytes,
    loadedBytes,
    loadedAsStoredBytes,
    numParams,
  };
}

/** KV-cache bytes one token occupies (keys + values, all layers). */
export function kvBytesPerToken(shape: Pick<EstimateShape, 'numLayers' | 'numKvHeads' | 'headDim'>, kvDtype: KvDtype): number {
  return 2 * shape.numLayers * shape.numKvHeads * shape.headDim * floatBytesOf(kvDtype);
}

/** The KV dtype of a package: the converter's graph keeps K/V in fp32 for every dtype (graph.kvDtype). */
export function kvDtypeFor(_dtype: ModelDtype): KvDtype {
  return 'float32';
}

// Runtime terms, measured on CPU with onnxruntime-node 1.30: the peak RSS a fresh process gains
// when it loads the engine and fills its KV cache, over tiny and SmolLM2-135M-shaped fixtures (6
// and 30 layers, fp32/fp16/int4, 1–4 sequences × 256–1024 tokens), fitted by least squares
// (scripts/fit-check-memory.ts prints the matrix; test/integration/hubFitCheck.test.ts holds a
// subset to ±15 %). GPU execution providers differ: callers pass their own runtimeOverheadBytes.

/**
 * Fixed memory of a loaded engine beyond the model: the onnxruntime native library and session,
 * the runner worker thread's V8 isolate, the tokenizer, the engine's own buffers.
 */
export const RUNTIME_OVERHEAD_BYTES = 90 * 1024 * 1024;

/**
 * Vocabulary-sized memory beside the weights, in bytes per vocab × hidden element: the logits
 * projection's workspace and, once the engine is busy, the JavaScript young generation of both
 * isolates where each step's logits rows and K/V copies churn (≈ 27 MiB of the SmolLM2 shape's
 * peak goes with --max-semi-space-size=1). Refitted from 1 to 2 when int4 packages stopped storing
 * an fp16 table: the estimate used to count that table in full, though it is mapped and paged in
 * only where rows are read, and so had covered this memory (SmolLM2-135M/6 layers, 2 × 512
 * tokens: int4 0.85 → 0.96, fp16 0.89 → 0.97, fp32 0.91 → 0.95 of measured; tiny fixtures unchanged).
 */
export const VOCAB_BUFFER_BYTES_PER_ELEMENT = 2;

/**
 * Attention workspace per byte of KV cache: GroupQueryAttention writes a `present` copy of the past
 * K/V each step and onnxruntime's arena keeps the high-water mark, and each step's new K/V are
 * copied into JavaScript arrays that live until garbage collection. Measured ≈ 0.9 cache's worth.
 */
export const KV_WORKSPACE_FRACTION = 0.9;

/** The engine's default most prompt tokens prefilled per step (engine/runtime/config.ts DEFAULTS). */
export const DEFAULT_MAX_PREFILL_TOKENS = 256;

export interface EstimateInput {
  shape: EstimateShape;
  dtype: ModelDtype;
  /** Longest sequence (prompt + completion) each concurrent sequence may reach. */
  contextTokens: number;
  /**
   * Sequences served at once (the batch size / number of slots). The KV cache is their product
   * with contextTokens, one buffer: rows at mixed lengths share it (long ones in regions of their
   * own, engine/runtime/kvCache.ts), so more short sequences fit next to a long one.
   */
  numSequences: number;
  /** Defaults to kvDtypeFor(dtype). */
  kvDtype?: KvDtype;
  /** Most prompt tokens prefilled in one step (activations scale with it). Default DEFAULT_MAX_PREFILL_TOKENS. */
  maxPrefillTokens?: number;
  int4Layout?: Int4Layout;
  /** int4 on the CPU with int8 matmuls (Int8MatMulMode): 'all' loads the layers as int8, 'prompt' as int4 and int8. */
  int8MatMul?: Int8MatMulMode;
  /** Override the fixed runtime overhead (e.g. a GPU provider's workspace). */
  runtimeOverheadBytes?: number;
  /** The package's exact stored weights bytes (manifest.weightsBytes), when known. */
  knownWeightsBytes?: number;
}

export interface MemoryEstimate {
  dtype: ModelDtype;
  kvDtype: KvDtype;
  contextTokens: number;
  numSequences: number;
  weights: WeightsBreakdown;
  /** Weights in memory once loaded. */
  weightsBytes: number;
  /** Weights on disk (the converted package's model.onnx.data). */
  packageBytes: number;
  kvBytesPerToken: number;
  kvCacheBytes: number;
  /**
   * Working memory that comes and goes with steps: the attention workspace (scales with the KV
   * cache), step outputs awaiting garbage collection, and the activations of the largest step.
   */
  activationBytes: number;
  /** Fixed runtime overhead plus vocabulary-sized buffers. */
  overheadBytes: number;
  totalBytes: number;
}

/** Total memory to serve `shape` in `dtype` with `numSequences` × `contextTokens` of KV cache. */
export function estimateMemory(input: EstimateInput): MemoryEstimate {
  const kvDtype = input.kvDtype ?? kvDtypeFor(input.dtype);
  const weights = weightsBytes(input.shape, input.dtype, input.int4Layout, input.int8MatMul);
  const packageBytes = input.knownWeightsBytes ?? weights.storedBytes;
  const weightsTotal = input.knownWeightsBytes !== undefined ? Math.round((input.knownWeightsBytes * weights.loadedBytes) / weights.storedBytes) : weights.loadedBytes;
  const perToken = kvBytesPerToken(input.shape, kvDtype);
  const kvCacheBytes = perToken * input.contextTokens * input.numSequences;
  const maxPrefillTokens = input.maxPrefillTokens ?? DEFAULT_MAX_PREFILL_TOKENS;
  const activationBytes = Math.round(kvCacheBytes * KV_WORKSPACE_FRACTION) + activationBytesFor(input.shape, maxPrefillTokens, input.numSequences);
  const vocabBufferBytes = input.shape.vocabSize * input.shape.hiddenSize * VOCAB_BUFFER_BYTES_PER_ELEMENT;
  const overheadBytes = (input.runtimeOverheadBytes ?? RUNTIME_OVERHEAD_BYTES) + vocabBufferBytes;
  return {
    dtype: input.dtype,
    kvDtype,
    contextTokens: input.contextTokens,
    numSequences: input.numSequences,
    weights,
    weightsBytes: weightsTotal,
    packageBytes,
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
 * The estimate's shape of a Hub `config.json`, read by the converter's own reader (modelConfig.ts:
 * same keys, same defaults). Throws naming the missing or bad key when the config is not a
 * decoder-only transformer.
 */
export function modelShapeFromHfConfig(config: Record<string, unknown>): EstimateShape & { contextLength: number; modelType: string } {
  const shape = readModelShape(config);
  const text = (config.text_config && typeof config.text_config === 'object' ? config.text_config : config) as Record<string, unknown>;
  const modelType = String(text.model_type ?? config.model_type ?? 'unknown');
  return {
    modelType,
    vocabSize: shape.vocabSize,
    hiddenSize: shape.hiddenSize,
    numLayers: shape.numLayers,
    numHeads: shape.numHeads,
    numKvHeads: shape.numKvHeads,
    headDim: shape.headDim,
    intermediateSize: shape.intermediateSize,
    contextLength: shape.contextLength,
    tiedEmbeddings: shape.tiedEmbeddings,
    // What the checkpoint reader finds in the weights, known here from the family: Qwen2's q/k/v
    // biases, q/k norms, Gemma's extra norms and second rotary table (the converter's own reader).
    attentionBias: modelType === 'qwen2' ? true : text.attention_bias === true,
    ...readTensorLayout(config),
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
