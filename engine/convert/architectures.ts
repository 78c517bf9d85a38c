// Where each supported architecture keeps its weights, returned already fused the way the
// graph wants them (QKV as one [q; k; v] matrix, gate and up as one [gate; up] matrix), in
// HF Linear layout [outFeatures, inFeatures]. One layer is read at a time.
import type { Architecture, ModelShape } from '../common/manifest.js';
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

export interface LayerWeights {
  inputNorm: Float32Array;
  postAttentionNorm: Float32Array;
  qkv: LinearWeight;
  /** Qwen3's per-head RMSNorm weights [headDim]. */
  qNorm: Float32Array | null;
  kNorm: Float32Array | null;
  o: LinearWeight;
  gateUp: LinearWeight;
  down: LinearWeight;
}

export class WeightSource {
  constructor(private readonly checkpoint: Checkpoint, readonly architecture: Architecture, readonly shape: ModelShape) {}

  /** Every tensor a conversion reads (for progress totals); checkpoints may hold others. */
  tensorNames(): string[] {
    const names = ['model.embed_tokens.weight', 'model.norm.weight'];
    if (!this.shape.tiedEmbeddings) names.push('lm_head.weight');
    const perLayer = ['input_layernorm.weight', 'post_attention_layernorm.weight', 'self_attn.o_proj.weight', 'mlp.down_proj.weight'];
    if (this.architecture === 'phi3') perLayer.push('self_attn.qkv_proj.weight', 'mlp.gate_up_proj.weight');
    else perLayer.push('self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'self_attn.v_proj.weight', 'mlp.gate_proj.weight', 'mlp.up_proj.weight');
    if (this.architecture === 'qwen3') perLayer.push('self_attn.q_norm.weight', 'self_attn.k_norm.weight');
    for (let i = 0; i < this.shape.numLayers; i++) {
      for (const name of perLayer) names.push(`model.layers.${i}.${name}`);
      for (const bias of ['q_proj.bias', 'k_proj.bias', 'v_proj.bias']) {
        if (this.checkpoint.has(`model.layers.${i}.self_attn.${bias}`)) names.push(`model.layers.${i}.self_attn.${bias}`);
      }
    }
    return names;
  }

  /** The [vocab, hidden] embedding table, read in row ranges (it is the largest tensor of small models). */
  embedding(): RowReader {
    return this.rows('model.embed_tokens.weight');
  }

  finalNorm(): Float32Array {
    return this.checkpoint.read('model.norm.weight', [this.shape.hiddenSize]);
  }

  lmHead(): RowReader {
    return this.rows(this.shape.tiedEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight');
  }

  private rows(name: string): RowReader {
    const shape = [this.shape.vocabSize, this.shape.hiddenSize];
    return { rows: shape[0]!, cols: shape[1]!, read: (start, end) => this.checkpoint.read(name, shape, { start, end }) };
  }

  layer(index: number): LayerWeights {
    const { hiddenSize: h, numHeads, numKvHeads, headDim, intermediateSize } = this.shape;
    const prefix = `model.layers.${index}`;
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
    const hasQkNorm = this.architecture === 'qwen3';
    return {
      inputNorm: read('input_layernorm.weight', [h]),
      postAttentionNorm: read('post_attention_layernorm.weight', [h]),
      qkv,
      qNorm: hasQkNorm ? read('self_attn.q_norm.weight', [headDim]) : null,
      kNorm: hasQkNorm ? read('self_attn.k_norm.weight', [headDim]) : null,
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
