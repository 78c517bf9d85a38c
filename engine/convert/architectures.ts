// Where each supported architecture keeps its weights, returned already fused the way the
// graph wants them (QKV as one [q; k; v] matrix, gate and up as one [gate; up] matrix), in
// HF Linear layout [outFeatures, inFeatures]. One layer is read at a time.
import type { Architecture, ModelShape } from '../common/manifest.js';
import type { DecoderFeatures } from '../common/modelConfig.js';
import { ConvertError } from '../common/convertError.js';
import type { Checkpoint } from './checkpoint.js';

export interface LinearWeight {
  /** [numOut, numIn] row-major. */
  weight: Float32Array;
  bias: Float32Array | null;
  numOut: number;
  numIn: number;
}

/** A 2-D weight [rows, cols] read a range of rows at a time. */
export interface RowReader {
  rows: number;
  cols: number;
  read(rowStart: number, rowEnd: number): Float32Array;
}

/** A whole in-memory [numOut, numIn] matrix seen as a RowReader. */
export function rowsOf(weight: Float32Array, numOut: number, numIn: number): RowReader {
  return { rows: numOut, cols: numIn, read: (start, end) => weight.subarray(start * numIn, end * numIn) };
}

/** An RMSNorm weight as the graph multiplies by it (Gemma's 1 + w already added), named as in the checkpoint (and the package plan). */
export interface NormWeight {
  name: string;
  weight: Float32Array;
}

export interface LayerWeights {
  /** Before attention (input_layernorm), or null (OLMo 2 normalises only block outputs). */
  attentionNorm: NormWeight | null;
  /** Gemma's norm of the attention output before the residual add (post_attention_layernorm), or null. */
  attentionOutputNorm: NormWeight | null;
  /** Before the MLP: Llama's post_attention_layernorm, Gemma's pre_feedforward_layernorm; null for OLMo 2. */
  mlpNorm: NormWeight | null;
  /** Gemma's norm of the MLP output before the residual add (post_feedforward_layernorm), or null. */
  mlpOutputNorm: NormWeight | null;
  qkv: LinearWeight;
  /** q/k RMSNorm weights: [headDim] per head (Qwen3, Gemma 3), or over the whole projection (OLMo 2). */
  qNorm: Float32Array | null;
  kNorm: Float32Array | null;
  o: LinearWeight;
  gateUp: LinearWeight;
  down: LinearWeight;
}

/** Where the decoder's tensors sit: `model.` for causal LMs; multimodal Gemma 3 keeps its text tower under `language_model.`. */
const DECODER_PREFIXES = ['model.', 'language_model.model.', 'model.language_model.'];

export class WeightSource {
  private readonly prefix: string;
  private readonly lmHeadName: string;

  constructor(private readonly checkpoint: Checkpoint, readonly architecture: Architecture, readonly shape: ModelShape, readonly features: DecoderFeatures) {
    const prefix = DECODER_PREFIXES.find((candidate) => checkpoint.has(`${candidate}embed_tokens.weight`));
    if (!prefix) throw new ConvertError(`the checkpoint has no token embedding (looked for ${DECODER_PREFIXES.map((p) => `${p}embed_tokens.weight`).join(', ')}). Is it a ${architecture} checkpoint?`);
    this.prefix = prefix;
    this.lmHeadName = prefix === 'language_model.model.' ? 'language_model.lm_head.weight' : 'lm_head.weight';
  }

  /** The checkpoint stores an lm_head of its own (else the embedding is tied). */
  hasLmHead(): boolean {
    return this.checkpoint.has(this.lmHeadName);
  }

  /** Qwen2-style q/k/v biases. */
  hasAttentionBias(): boolean {
    return this.checkpoint.has(`${this.prefix}layers.0.self_attn.q_proj.bias`);
  }

  private layerNormNames(): { attention: string | null; attentionOutput: string | null; mlp: string | null; mlpOutput: string | null } {
    switch (this.features.normPlacement) {
      case 'sandwich':
        return { attention: 'input_layernorm', attentionOutput: 'post_attention_layernorm', mlp: 'pre_feedforward_layernorm', mlpOutput: 'post_feedforward_layernorm' };
      case 'post':
        return { attention: null, attentionOutput: 'post_attention_layernorm', mlp: null, mlpOutput: 'post_feedforward_layernorm' };
      case 'pre':
        return { attention: 'input_layernorm', attentionOutput: null, mlp: 'post_attention_layernorm', mlpOutput: null };
    }
  }

  /** Every tensor a conversion reads (for progress totals); checkpoints may hold others (Gemma 3's vision tower). */
  tensorNames(): string[] {
    const names = [`${this.prefix}embed_tokens.weight`, `${this.prefix}norm.weight`];
    if (!this.shape.tiedEmbeddings) names.push(this.lmHeadName);
    const norms = this.layerNormNames();
    const perLayer = ['self_attn.o_proj.weight', 'mlp.down_proj.weight'];
    for (const norm of [norms.attention, norms.attentionOutput, norms.mlp, norms.mlpOutput]) if (norm) perLayer.push(`${norm}.weight`);
    if (this.architecture === 'phi3') perLayer.push('self_attn.qkv_proj.weight', 'mlp.gate_up_proj.weight');
    else perLayer.push('self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'self_attn.v_proj.weight', 'mlp.gate_proj.weight', 'mlp.up_proj.weight');
    if (this.features.qkNorm) perLayer.push('self_attn.q_norm.weight', 'self_attn.k_norm.weight');
    for (let i = 0; i < this.shape.numLayers; i++) {
      for (const name of perLayer) names.push(`${this.prefix}layers.${i}.${name}`);
      for (const bias of ['q_proj.bias', 'k_proj.bias', 'v_proj.bias']) {
        if (this.checkpoint.has(`${this.prefix}layers.${i}.self_attn.${bias}`)) names.push(`${this.prefix}layers.${i}.self_attn.${bias}`);
      }
    }
    return names;
  }

  /** The [vocab, hidden] embedding table, read in row ranges (it is the largest tensor of small models). */
  embedding(): RowReader {
    return this.rows(`${this.prefix}embed_tokens.weight`);
  }

  finalNorm(): Float32Array {
    return this.norm(`${this.prefix}norm.weight`, this.shape.hiddenSize);
  }

  lmHead(): RowReader {
    return this.rows(this.shape.tiedEmbeddings ? `${this.prefix}embed_tokens.weight` : this.lmHeadName);
  }

  private rows(name: string): RowReader {
    const shape = [this.shape.vocabSize, this.shape.hiddenSize];
    return { rows: shape[0]!, cols: shape[1]!, read: (start, end) => this.checkpoint.read(name, shape, { start, end }) };
  }

  /** An RMSNorm weight as the graph multiplies by it: Gemma stores w and multiplies by 1 + w (in float32, as transformers does). */
  private norm(name: string, size: number): Float32Array {
    const weight = this.checkpoint.read(name, [size]);
    if (this.features.normWeightOffset === 0) return weight;
    return Float32Array.from(weight, (w) => w + this.features.normWeightOffset);
  }

  layer(index: number): LayerWeights {
    const { hiddenSize: h, numHeads, numKvHeads, headDim, intermediateSize } = this.shape;
    const prefix = `${this.prefix}layers.${index}`;
    const read = (name: string, shape: number[]) => this.checkpoint.read(`${prefix}.${name}`, shape);
    const qOut = numHeads * headDim;
    const kvOut = numKvHeads * headDim;
    const qkvOut = qOut + 2 * kvOut;

    let qkv: LinearWeight;
    let gateUp: LinearWeight;
    if (this.architecture === 'phi3') {
      qkv = { weight: read('self_attn.qkv_proj.weight', [qkvOut, h]), bias: null, numOut: qkvOut, numIn: h };
      gateUp = { weight: read('mlp.gate_up_proj.weight', [2 * intermediateSize, h]), bias: null, numOut: 2 * intermediateSize, numIn: h };
    } else {
      const weight = concat([read('self_attn.q_proj.weight', [qOut, h]), read('self_attn.k_proj.weight', [kvOut, h]), read('self_attn.v_proj.weight', [kvOut, h])]);
      const hasBias = this.checkpoint.has(`${prefix}.self_attn.q_proj.bias`);
      const bias = hasBias ? concat([read('self_attn.q_proj.bias', [qOut]), read('self_attn.k_proj.bias', [kvOut]), read('self_attn.v_proj.bias', [kvOut])]) : null;
      qkv = { weight, bias, numOut: qkvOut, numIn: h };
      gateUp = {
        weight: concat([read('mlp.gate_proj.weight', [intermediateSize, h]), read('mlp.up_proj.weight', [intermediateSize, h])]),
        bias: null,
        numOut: 2 * intermediateSize,
        numIn: h,
      };
    }
    const norm = (name: string | null, size = h): NormWeight | null => (name === null ? null : { name, weight: this.norm(`${prefix}.${name}.weight`, size) });
    const names = this.layerNormNames();
    const qkNorm = this.features.qkNorm;
    const [qNormSize, kNormSize] = qkNorm === 'projection' ? [qOut, kvOut] : [headDim, headDim];
    return {
      attentionNorm: norm(names.attention),
      attentionOutputNorm: norm(names.attentionOutput),
      mlpNorm: norm(names.mlp),
      mlpOutputNorm: norm(names.mlpOutput),
      qkv,
      qNorm: qkNorm ? this.norm(`${prefix}.self_attn.q_norm.weight`, qNormSize) : null,
      kNorm: qkNorm ? this.norm(`${prefix}.self_attn.k_norm.weight`, kNormSize) : null,
      o: { weight: read('self_attn.o_proj.weight', [h, qOut]), bias: null, numOut: h, numIn: qOut },
      gateUp,
      down: { weight: read('mlp.down_proj.weight', [h, intermediateSize]), bias: null, numOut: h, numIn: intermediateSize },
    };
  }
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
