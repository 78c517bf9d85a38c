// Builds the `hearth-decoder-gqa-v2` decoder graph (contract: ./README.md). Weights stream
// from the checkpoint one layer at a time into model.onnx.data.
import type { GraphContract, ModelDtype, ModelShape } from '../common/manifest.js';
import { embeddingInt4Layout, type Int4Layout } from '../common/memoryEstimate.js';
import { rowsOf, type LinearWeight, type NormWeight, type RowReader, type WeightSource } from './architectures.js';
import { GRAPH_DESCRIPTION } from './graphContract.js';
import { GraphBuilder } from './onnx/graphBuilder.js';
import { quantizeInt4, toFloat16Bits } from './quantize.js';
import type { DecoderFeatures, RopeScaling } from '../common/modelConfig.js';
import { rotaryTables } from './rope.js';

export const OPSETS = { '': 17, 'com.microsoft': 1 };
const MS = 'com.microsoft';
const FLOAT = 1; // TensorProto.DataType.FLOAT, for Cast

export interface DecoderGraphOptions {
  dtype: ModelDtype;
  shape: ModelShape;
  ropeScaling: RopeScaling;
  /** The family's differences from Llama (norm placement, activation, scales, soft-caps, per-layer windows and rotary tables). */
  features: DecoderFeatures;
  /** MatMulNBits accuracy_level: 4 quantizes activations to int8 inside the kernel (faster), 0 keeps fp32. */
  int4AccuracyLevel: number;
  /** How int4 weights are blocked (memoryEstimate.ts: the package plan follows the same layout). */
  int4Layout: Int4Layout;
  signal?: AbortSignal;
  /** Awaited between layers, before the cancellation check (see ConvertOptions.beforeLayer). */
  beforeLayer?: (layerIndex: number) => Promise<void> | void;
  /** Bytes of float32 rows per chunk when streaming large tables (default 16 MiB; tests use tiny chunks). */
  rowChunkBytes?: number;
}

export function graphContract(shape: ModelShape): GraphContract {
  return {
    kind: 'hearth-decoder-gqa-v2',
    description: GRAPH_DESCRIPTION,
    inputs: {
      inputIds: 'input_ids',
      positionIds: 'position_ids',
      seqlensK: 'seqlens_k',
      totalSequenceLength: 'total_sequence_length',
      lastTokenIndex: 'last_token_index',
      pastKey: 'past_key.{layer}',
      pastValue: 'past_value.{layer}',
    },
    outputs: { logits: 'logits', newKey: 'new_key.{layer}', newValue: 'new_value.{layer}', presentKey: 'present_key.{layer}', presentValue: 'present_value.{layer}' },
    kvDtype: 'float32',
    numLayers: shape.numLayers,
    numKvHeads: shape.numKvHeads,
    headDim: shape.headDim,
    maxPositions: shape.contextLength,
  };
}

export async function buildDecoderGraph(g: GraphBuilder, weights: WeightSource, options: DecoderGraphOptions): Promise<void> {
  const { shape, dtype, features } = options;
  const { hiddenSize: h, numHeads, numKvHeads, headDim, vocabSize, rmsNormEps: epsilon } = shape;
  const kvDims = ['batch', numKvHeads, 'past_sequence_length', headDim];
  const rmsNorm = (x: string, weight: string) => g.op('SimplifiedLayerNormalization', [x, weight], { attributes: { axis: -1, epsilon: { float: epsilon } } });
  const scalar = (value: number) => g.constant(g.fresh('const_f32'), 'float32', [], new Uint8Array(Float32Array.of(value).buffer));

  const inputIds = g.input('input_ids', 'int64', ['batch', 'sequence_length']);
  const positionIds = g.input('position_ids', 'int64', ['batch', 'sequence_length']);
  const seqlensK = g.input('seqlens_k', 'int32', ['batch']);
  const totalSequenceLength = g.input('total_sequence_length', 'int32', []);
  const lastTokenIndex = g.input('last_token_index', 'int64', ['batch']);
  for (let i = 0; i < shape.numLayers; i++) {
    g.input(`past_key.${i}`, 'float32', kvDims);
    g.input(`past_value.${i}`, 'float32', kvDims);
  }
  g.output('logits', 'float32', ['batch', vocabSize]);

  const emitter = new WeightEmitter(g, dtype, options.int4AccuracyLevel, options.int4Layout, options.rowChunkBytes ?? DEFAULT_ROW_CHUNK_BYTES);

  // Token embedding, streamed in row chunks; a tied lm_head reads the same initializers.
  const embedding = emitter.embedding(weights.embedding());
  const gathered = emitter.gather(embedding, inputIds);
  const hidden = features.embeddingMultiplier === null ? gathered : g.op('Mul', [gathered, scalar(features.embeddingMultiplier)]);

  // One cos/sin table pair per rotary base: the global one, and Gemma 3's local one for its sliding layers.
  const { rotaryDim } = features;
  const rotaryCache = (name: string, theta: number, scaling: RopeScaling) => {
    const { cos, sin } = rotaryTables(rotaryDim, theta, scaling, shape.contextLength);
    return {
      cos: g.weight(`${name}.cos_cache`, 'float32', [shape.contextLength, rotaryDim / 2], bytesOf(cos)),
      sin: g.weight(`${name}.sin_cache`, 'float32', [shape.contextLength, rotaryDim / 2], bytesOf(sin)),
    };
  };
  const rotary = { global: rotaryCache('rotary', shape.ropeTheta, options.ropeScaling), local: features.localRope && rotaryCache('rotary.local', features.localRope.theta, features.localRope.scaling) };
  // Phi-4-mini rotates the first rotaryDim dimensions of each head and passes the rest through.
  const rotaryAttributes = { interleaved: 0, ...(rotaryDim !== headDim ? { rotary_embedding_dim: rotaryDim } : {}) };
  const splitQkv = g.int64s([numHeads * headDim, numKvHeads * headDim, numKvHeads * headDim]);
  const kvHeads = g.int64s([0, 0, numKvHeads, headDim]);
  let qkNormShapes: { qHeads: string; flatQ: string; flatK: string } | null = null;
  const splitGateUp = g.int64s([shape.intermediateSize, shape.intermediateSize]);
  // Granite scales each block's output before it joins the residual.
  const residualScale = features.residualMultiplier === null ? null : scalar(features.residualMultiplier);
  const normWeight = (i: number, norm: NormWeight) => g.weight(`layers.${i}.${norm.name}`, 'float32', [norm.weight.length], bytesOf(norm.weight));

  let residual = hidden;
  let pending: string | null = null; // MLP output not yet added to the residual
  for (let i = 0; i < shape.numLayers; i++) {
    // Let progress listeners and Ctrl-C run between layers.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await options.beforeLayer?.(i);
    options.signal?.throwIfAborted();
    const layer = weights.layer(i);
    const layerAttention = features.layers[i]!;
    // The attention input: the residual (with the previous MLP output added) through the input
    // norm, fused in SkipSimplifiedLayerNormalization; OLMo 2 has no input norm, only the add.
    let normed: string;
    if (pending !== null) {
      if (layer.attentionNorm) {
        const sum = g.fresh(`layers.${i}.residual`);
        normed = g.node('SkipSimplifiedLayerNormalization', [pending, residual, normWeight(i, layer.attentionNorm)], {
          domain: MS, attributes: { epsilon: { float: epsilon } }, outputs: [g.fresh('normed'), '', '', sum],
        })[0]!;
        residual = sum;
      } else {
        residual = g.op('Add', [pending, residual]);
        normed = residual;
      }
    } else {
      normed = layer.attentionNorm ? rmsNorm(residual, normWeight(i, layer.attentionNorm)) : residual;
    }

    // Attention: fused QKV, optional per-head q/k norm, rotary, GroupQueryAttention.
    const qkv = emitter.linear(`layers.${i}.qkv_proj`, layer.qkv, normed);
    const [splitQ, splitK, v] = g.node('Split', [qkv, splitQkv], { attributes: { axis: -1 }, outputs: 3 }) as [string, string, string];
    let [q, k] = [splitQ, splitK];
    if (layer.qNorm && layer.kNorm) {
      const qNorm = g.weight(`layers.${i}.q_norm`, 'float32', [layer.qNorm.length], bytesOf(layer.qNorm));
      const kNorm = g.weight(`layers.${i}.k_norm`, 'float32', [layer.kNorm.length], bytesOf(layer.kNorm));
      if (features.qkNorm === 'projection') {
        // OLMo 2: one RMSNorm over the whole q (and k) projection.
        q = rmsNorm(q, qNorm);
        k = rmsNorm(k, kNorm);
      } else {
        qkNormShapes ??= { qHeads: g.int64s([0, 0, numHeads, headDim]), flatQ: g.int64s([0, 0, numHeads * headDim]), flatK: g.int64s([0, 0, numKvHeads * headDim]) };
        const { qHeads, flatQ, flatK } = qkNormShapes;
        const headNorm = (x: string, heads: string, weight: string, flat: string) => g.op('Reshape', [rmsNorm(g.op('Reshape', [x, heads]), weight), flat]);
        q = headNorm(q, qHeads, qNorm, flatQ);
        k = headNorm(k, kvHeads, kNorm, flatK);
      }
    }
    // SmolLM3's no-rope layers attend without positions (rope null).
    if (layerAttention.rope !== null) {
      const table = (layerAttention.rope === 'local' && rotary.local) || rotary.global;
      q = g.op('RotaryEmbedding', [q, positionIds, table.cos, table.sin], { domain: MS, attributes: { ...rotaryAttributes, ...(rotaryDim !== headDim ? { num_heads: numHeads } : {}) } });
      k = g.op('RotaryEmbedding', [k, positionIds, table.cos, table.sin], { domain: MS, attributes: { ...rotaryAttributes, ...(rotaryDim !== headDim ? { num_heads: numKvHeads } : {}) } });
    }
    g.op('Reshape', [k, kvHeads], { output: `new_key.${i}` });
    g.op('Reshape', [v, kvHeads], { output: `new_value.${i}` });
    const attention = g.node('GroupQueryAttention', [q, k, v, `past_key.${i}`, `past_value.${i}`, seqlensK, totalSequenceLength], {
      domain: MS,
      attributes: {
        num_heads: numHeads,
        kv_num_heads: numKvHeads,
        do_rotary: 0,
        ...(layerAttention.slidingWindow !== null ? { local_window_size: layerAttention.slidingWindow } : {}),
        ...(features.attentionScale !== null ? { scale: { float: features.attentionScale } } : {}),
        // onnxruntime's CPU kernel caps the scaled scores (cap · tanh(score / cap)) before the softmax, as Gemma 2 does.
        ...(features.attentionSoftcap !== null ? { softcap: { float: features.attentionSoftcap } } : {}),
      },
      outputs: [g.fresh('attention'), `present_key.${i}`, `present_value.${i}`],
    })[0]!;
    // The whole cache after this call, for callers that keep it where the graph runs (a GPU
    // device): fed back as the next call's past, it never leaves the device. CPU callers fetch
    // only new_key/new_value and leave these internal.
    g.output(`present_key.${i}`, 'float32', ['batch', numKvHeads, 'present_sequence_length', headDim]);
    g.output(`present_value.${i}`, 'float32', ['batch', numKvHeads, 'present_sequence_length', headDim]);
    let attentionOut = emitter.linear(`layers.${i}.o_proj`, layer.o, attention);
    if (layer.attentionOutputNorm) attentionOut = rmsNorm(attentionOut, normWeight(i, layer.attentionOutputNorm));
    if (residualScale) attentionOut = g.op('Mul', [attentionOut, residualScale]);

    // The MLP input: the residual with the attention output added, through the MLP's input norm (none: OLMo 2).
    let normed2: string;
    if (layer.mlpNorm) {
      const residualAfterAttention = g.fresh(`layers.${i}.residual_attn`);
      normed2 = g.node('SkipSimplifiedLayerNormalization', [attentionOut, residual, normWeight(i, layer.mlpNorm)], {
        domain: MS, attributes: { epsilon: { float: epsilon } }, outputs: [g.fresh('normed'), '', '', residualAfterAttention],
      })[0]!;
      residual = residualAfterAttention;
    } else {
      residual = g.op('Add', [attentionOut, residual]);
      normed2 = residual;
    }

    // MLP: fused gate/up, act(gate) * up, down.
    const gateUp = emitter.linear(`layers.${i}.gate_up_proj`, layer.gateUp, normed2);
    const [gate, up] = g.node('Split', [gateUp, splitGateUp], { attributes: { axis: -1 }, outputs: 2 }) as [string, string];
    // gelu_pytorch_tanh is com.microsoft FastGelu: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    const activatedGate = features.activation === 'gelu_tanh' ? g.op('FastGelu', [gate], { domain: MS }) : g.op('Mul', [gate, g.op('Sigmoid', [gate])]);
    const mlpOut = emitter.linear(`layers.${i}.down_proj`, layer.down, g.op('Mul', [activatedGate, up]));
    pending = layer.mlpOutputNorm ? rmsNorm(mlpOut, normWeight(i, layer.mlpOutputNorm)) : mlpOut;
    if (residualScale) pending = g.op('Mul', [pending, residualScale]);
  }

  // Output order is part of the contract: logits, then every present_*, then every new_*. A device
  // runner fetches the leading 1 + 2·numLayers outputs (onnxruntime-node applies per-output
  // locations by position in the fetch list, so that list must be a prefix of the outputs).
  for (let i = 0; i < shape.numLayers; i++) {
    g.output(`new_key.${i}`, 'float32', ['batch', 'sequence_length', numKvHeads, headDim]);
    g.output(`new_value.${i}`, 'float32', ['batch', 'sequence_length', numKvHeads, headDim]);
  }

  // Only each row's last_token_index position reaches the final norm and lm_head.
  const indices = g.op('Unsqueeze', [lastTokenIndex, g.int64s([1])]);
  const lastHidden = g.op('Add', [
    g.op('GatherND', [pending!, indices], { attributes: { batch_dims: 1 } }),
    g.op('GatherND', [residual, indices], { attributes: { batch_dims: 1 } }),
  ]);
  const finalNorm = g.weight('model.norm', 'float32', [h], bytesOf(weights.finalNorm()));
  const normedLast = rmsNorm(lastHidden, finalNorm);
  // Granite divides the logits by logits_scaling; Gemma 2 soft-caps them: cap · tanh(logits / cap).
  const { logitsDivisor: divisor, finalLogitSoftcap: cap } = features;
  const raw = divisor === null && cap === null ? 'logits' : g.fresh('logits_raw');
  emitter.lmHead(normedLast, shape.tiedEmbeddings ? embedding : null, weights.lmHead(), raw);
  if (raw === 'logits') return;
  const scaled = divisor === null ? raw : g.op('Div', [raw, scalar(divisor)], cap === null ? { output: 'logits' } : {});
  if (cap !== null) g.op('Mul', [g.op('Tanh', [g.op('Div', [scaled, scalar(cap)])]), scalar(cap)], { output: 'logits' });
}

/** MatMulNBits' three initializers for one [numOut, numIn] weight (see quantize.ts for the layout). */
interface Int4Initializers {
  /** uint8 [numOut, kBlocks, blockSize / 2] (the embedding: [numOut, numIn / 2], the same bytes) */
  codes: string;
  /** float32 [numOut, kBlocks] */
  scales: string;
  /** uint8 [numOut, ceil(kBlocks / 2)] */
  zeroPoints: string;
  numOut: number;
  numIn: number;
  blockSize: number;
}

/** The token embedding as stored: a float table for Gather, or int4 blocks for GatherBlockQuantized. */
type Embedding = { kind: 'table'; table: string } | { kind: 'int4'; weight: Int4Initializers };

/** Stores weights in the package's dtype and emits the matching MatMul flavour. */
class WeightEmitter {
  constructor(private readonly g: GraphBuilder, private readonly dtype: ModelDtype, private readonly accuracyLevel: number, private readonly int4: Int4Layout, private readonly chunkBytes: number) {}

  /**
   * int4 packages store the embedding in MatMulNBits' layout (when its rows have an even number
   * of blocks: see quantizedEmbedding), so one copy serves GatherBlockQuantized and a tied
   * lm_head. fp32 tables stay fp32; fp16 packages (and int4 ones it does not fit) store fp16.
   */
  embedding(reader: RowReader): Embedding {
    // Stored as GatherBlockQuantized reads it ([rows, cols / 2]); a tied lm_head views the same bytes.
    const layout = embeddingInt4Layout(this.dtype, reader.cols, this.int4);
    if (layout) return { kind: 'int4', weight: this.quantized('model.embed_tokens', reader, [reader.rows, reader.cols / 2], layout.blockSize) };
    return { kind: 'table', table: this.table('model.embed_tokens.weight', reader) };
  }

  gather(embedding: Embedding, ids: string): string {
    if (embedding.kind === 'table') {
      // fp16 tables are gathered first and only the gathered rows are cast.
      const rows = this.g.op('Gather', [embedding.table, ids]);
      return this.dtype === 'fp32' ? rows : this.g.op('Cast', [rows], { attributes: { to: FLOAT } });
    }
    // Output type follows the scales: float32, float16 in model.f16.onnx.
    const { codes, scales, zeroPoints, blockSize } = embedding.weight;
    return this.g.op('GatherBlockQuantized', [codes, ids, scales, zeroPoints], {
      domain: MS, attributes: { bits: 4, block_size: blockSize, gather_axis: 0, quantize_axis: 1 },
    });
  }

  /** An embedding-style table [rows, cols] for Gather: fp32, or fp16 for fp16/int4 packages. */
  table(name: string, reader: RowReader): string {
    const type = this.dtype === 'fp32' ? 'float32' : 'float16';
    return this.g.streamedWeight(name, type, [reader.rows, reader.cols], (write) => {
      forEachRowChunk(reader, this.chunkBytes, (chunk) => write(bytesOf(type === 'float32' ? chunk : toFloat16Bits(chunk))));
    });
  }

  linear(name: string, linear: LinearWeight, input: string): string {
    const { numOut, numIn } = linear;
    let output: string;
    if (this.dtype === 'int4') {
      output = this.matMulNBits(this.quantized(name, rowsOf(linear.weight, numOut, numIn)), input);
    } else {
      const transposed = transpose(linear.weight, numOut, numIn);
      const weight = this.dtype === 'fp32'
        ? this.g.weight(name, 'float32', [numIn, numOut], bytesOf(transposed))
        : this.g.op('Cast', [this.g.weight(name, 'float16', [numIn, numOut], bytesOf(toFloat16Bits(transposed)))], { attributes: { to: FLOAT } });
      output = this.g.op('MatMul', [input, weight]);
    }
    if (linear.bias) output = this.g.op('Add', [output, this.g.weight(`${name}.bias`, 'float32', [numOut], bytesOf(linear.bias))]);
    return output;
  }

  /** `tiedTo`: the embedding when embeddings are tied. */
  lmHead(input: string, tiedTo: Embedding | null, reader: RowReader, output: string): void {
    if (tiedTo?.kind === 'int4') {
      // MatMulNBits wants [rows, blocks, blockSize / 2]: a view of the embedding's bytes in model.onnx.data.
      // onnxruntime maps it apart from the Gather's, prepacks it and releases it, so the Gather's
      // stays paged in only where rows are read (a Reshape would be folded into a full copy).
      const { codes, numOut, numIn, blockSize } = tiedTo.weight;
      const blocks = this.g.view(`${codes}.blocks`, codes, [numOut, numIn / blockSize, blockSize / 2]);
      this.matMulNBits({ ...tiedTo.weight, codes: blocks }, input, output);
      return;
    }
    if (this.dtype === 'int4') {
      // Untied, or a tied table that could not be stored as int4 blocks: its own quantized copy.
      this.matMulNBits(this.quantized('lm_head', reader), input, output);
      return;
    }
    // Gemm with transB reads the [vocab, hidden] table as stored, so a tied lm_head shares it.
    let weight = tiedTo?.table ?? this.table('lm_head.weight', reader);
    if (this.dtype === 'fp16') weight = this.g.op('Cast', [weight], { attributes: { to: FLOAT } });
    this.g.op('Gemm', [input, weight], { attributes: { transB: 1 }, output });
  }

  /** Quantizes rows (output features) chunk by chunk; codes stream to disk, scales and zero points are small. */
  private quantized(name: string, reader: RowReader, codesDims?: number[], blockSize = this.int4.blockSize): Int4Initializers {
    const { rows: numOut, cols: numIn } = reader;
    const kBlocks = Math.ceil(numIn / blockSize);
    const zpBytesPerRow = Math.ceil(kBlocks / 2);
    const scales = new Float32Array(numOut * kBlocks);
    const zeroPointBytes = new Uint8Array(numOut * zpBytesPerRow);
    const codes = this.g.streamedWeight(`${name}.q4`, 'uint8', codesDims ?? [numOut, kBlocks, blockSize / 2], (write) => {
      forEachRowChunk(reader, this.chunkBytes, (chunk, rowStart, rowEnd) => {
        const q = quantizeInt4(chunk, rowEnd - rowStart, numIn, blockSize);
        scales.set(q.scales, rowStart * kBlocks);
        zeroPointBytes.set(q.zeroPoints, rowStart * zpBytesPerRow);
        write(q.codes);
      });
    });
    // Scales are float16 values (quantize.ts): stored as fp16, cast to fp32 (folded at session load).
    const halfScales = this.g.weight(`${name}.scales`, 'float16', [numOut, kBlocks], bytesOf(toFloat16Bits(scales)));
    return {
      codes,
      scales: this.g.op('Cast', [halfScales], { attributes: { to: FLOAT } }),
      zeroPoints: this.g.weight(`${name}.zero_points`, 'uint8', [numOut, zpBytesPerRow], zeroPointBytes),
      numOut,
      numIn,
      blockSize,
    };
  }

  private matMulNBits(weight: Int4Initializers, input: string, output?: string): string {
    return this.g.op('MatMulNBits', [input, weight.codes, weight.scales, weight.zeroPoints], {
      domain: MS,
      attributes: { K: weight.numIn, N: weight.numOut, bits: 4, block_size: weight.blockSize, accuracy_level: this.accuracyLevel },
      ...(output ? { output } : {}),
    });
  }
}

/** About 16 MiB of float32 per chunk keeps peak memory flat whatever the vocabulary size. */
const DEFAULT_ROW_CHUNK_BYTES = 16 * 1024 * 1024;

function forEachRowChunk(reader: RowReader, chunkBytes: number, visit: (chunk: Float32Array, rowStart: number, rowEnd: number) => void): void {
  const rowsPerChunk = Math.max(1, Math.floor(chunkBytes / (reader.cols * 4)));
  for (let start = 0; start < reader.rows; start += rowsPerChunk) {
    const end = Math.min(reader.rows, start + rowsPerChunk);
    visit(reader.read(start, end), start, end);
  }
}

function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  const tile = 32;
  for (let r0 = 0; r0 < rows; r0 += tile) {
    const rEnd = Math.min(r0 + tile, rows);
    for (let c0 = 0; c0 < cols; c0 += tile) {
      const cEnd = Math.min(c0 + tile, cols);
      for (let r = r0; r < rEnd; r++) {
        const rowOffset = r * cols;
        for (let c = c0; c < cEnd; c++) out[c * rows + r] = values[rowOffset + c]!;
      }
    }
  }
  return out;
}

function bytesOf(values: Float32Array | Uint16Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}
