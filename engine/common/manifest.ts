// The model package contract: what `hearth convert` writes and the engine reads.
// Runtime-free (no Node imports) so the renderer can show manifests too.

export const MODEL_DTYPES = ['fp32', 'fp16', 'int4'] as const;
export type ModelDtype = (typeof MODEL_DTYPES)[number];

export type Architecture = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'phi3' | 'gemma2' | 'gemma3' | 'smollm3' | 'granite' | 'olmo2';

export interface SourceFile {
  /** Path relative to the checkpoint directory, e.g. `model-00001-of-00002.safetensors`. */
  name: string;
  bytes: number;
  sha256: string;
}

export interface ModelShape {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  /** Longest sequence (prompt + generated) the package supports. */
  contextLength: number;
  rmsNormEps: number;
  ropeTheta: number;
  tiedEmbeddings: boolean;
}

/**
 * I/O contract of the decoder graph. Tensor names for per-layer inputs/outputs contain
 * `{layer}`, replaced by 0..numLayers-1. `hearth-decoder-gqa-v2` adds the `present_*` outputs
 * (the whole cache after the call) so a GPU device can keep its KV cache resident; v1 packages
 * still serve, with the cache in host memory.
 *
 * The full contract (shapes, dtypes, padding and position rules) is documented in
 * engine/convert/README.md and copied into each manifest's `graph.description`.
 */
export interface GraphContract {
  kind: 'hearth-decoder-gqa-v1' | 'hearth-decoder-gqa-v2';
  description: string;
  inputs: {
    inputIds: string;
    positionIds: string;
    seqlensK: string;
    totalSequenceLength: string;
    lastTokenIndex: string;
    pastKey: string;
    pastValue: string;
  };
  outputs: {
    logits: string;
    newKey: string;
    newValue: string;
    /** v2: [B, numKvHeads, max(P, total_sequence_length), headDim], the past with the new tokens written in. */
    presentKey?: string;
    presentValue?: string;
  };
  /** Element type of past/new K/V tensors. */
  kvDtype: 'float32' | 'float16';
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  /** Positions covered by the rotary cos/sin tables baked into the graph. */
  maxPositions: number;
}

export interface TokenizerInfo {
  tokenizerFile: string;
  tokenizerConfigFile: string;
  /** Jinja chat template (also written to `chat_template.jinja`), or null when the model has none. */
  chatTemplate: string | null;
  bosToken: string | null;
  eosToken: string | null;
  bosTokenId: number | null;
  /** Every token id that ends generation (tokenizer eos + generation_config eos ids). */
  eosTokenIds: number[];
  padTokenId: number | null;
  addBosToken: boolean;
}

export interface GenerationDefaults {
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  repetitionPenalty?: number;
  maxNewTokens?: number;
  doSample?: boolean;
}

export interface ModelManifest {
  formatVersion: 1;
  converterVersion: string;
  createdAt: string;
  /** Short name used in the API's `model` field unless the server is told otherwise. */
  name: string;
  source: {
    repo?: string;
    revision?: string;
    path?: string;
    files: SourceFile[];
  };
  architecture: Architecture;
  /** `architectures[0]` from config.json, e.g. `LlamaForCausalLM`. */
  hfArchitecture: string;
  dtype: ModelDtype;
  /** int4 packages: input features per MatMulNBits block (absent: 32, every package before the option). */
  quantization?: { int4BlockSize: number };
  shape: ModelShape;
  graph: GraphContract;
  tokenizer: TokenizerInfo;
  generation: GenerationDefaults;
  /** Files of the package itself, relative to the package directory. */
  /**
   * Files of the package. `modelF16` (fp16 and int4 packages): the half-precision device variant
   * of the same graph contract (fp16 activations, float16 past/present/new K/V, float32 logits),
   * sharing `modelData`; a GPU with shader-f16 runs it.
   */
  files: { model: string; modelData: string; modelF16?: string; [role: string]: string | undefined };
  /** Bytes of weights as stored in the package (model.onnx.data). */
  weightsBytes: number;
}
