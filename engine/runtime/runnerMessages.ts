// Typed messages between the engine (main thread) and the runner worker. Both sides import this.
import type { GpuAdapterInfo, Int8MatMulMode, KvResidency } from '../common/accelerator.js';
import type { ConstraintSpec, SamplingParams, SerializedError } from '../common/engineApi.js';
import type { GraphContract } from '../common/manifest.js';
import type { DeviceChoice } from '../common/servingConfig.js';
import type { CacheOp, Placement } from './kvCache.js';
import type { SampledLogprob } from './sampler.js';

export interface SessionSettings {
  device: DeviceChoice;
  /** Intra-op threads; 0 = one per physical core. */
  cpuThreads: number;
  /** ORT `session.intra_op.allow_spinning`: spinning threads cut latency but steal idle cores. */
  allowSpinning: boolean;
  /** int8 matmuls on the CPU provider for int4 packages (int8MatMul.ts, `--cpu-int8-matmul` / `--cpu-int8-prefill`). */
  cpuInt8MatMul: Int8MatMulMode;
  enableProfiling: boolean;
}

export interface DeviceReport {
  /** Execution provider in use, e.g. 'cpu', 'cuda'. */
  executionProvider: string;
  requested: DeviceChoice;
  intraOpThreads: number;
  allowSpinning: boolean;
  /** Why a preferred provider was not used. */
  fallbackNotes: string[];
  /** The WebGPU adapter when that provider runs (null otherwise). */
  adapter: GpuAdapterInfo | null;
  /** Activations and KV cache: fp16 only with the half-precision graph on a shader-f16 device. */
  precision: 'fp32' | 'fp16';
  /**
   * The attention the session runs: the package's GroupQueryAttention, or (CPU provider) the
   * variant that reads the KV cache in place (cacheAttention.ts).
   */
  attention: 'group-query' | 'cache-in-place';
  /** Which tokens the CPU provider runs through int8 layer matmuls (int8MatMul.ts). */
  int8MatMul: Int8MatMulMode;
}

/** What the runner reports once loaded. */
export interface RunnerReport extends DeviceReport {
  kvResidency: KvResidency;
  /** Why the KV cache is not on the device although an accelerator runs (e.g. a v1 package). */
  kvResidencyNote: string | null;
}

export interface InitMessage {
  type: 'init';
  modelPath: string;
  /** The package's external data file (model.onnx.data). */
  modelDataPath: string;
  graph: GraphContract;
  vocabSize: number;
  kvCapacityTokens: number;
  /** Keep the KV cache on the device when the provider and graph allow it. */
  deviceKvCache: boolean;
  /** The package's half-precision device graph, used on a WebGPU adapter with shader-f16. */
  halfModelPath?: string;
  session: SessionSettings;
  /** For grammar-constrained decoding (xgrammar's tokenizer info is built on first use). */
  grammar: { tokenizerJsonPath: string; stopTokenIds: number[] };
}

export interface SamplerInit {
  requestId: string;
  sampling: SamplingParams;
  promptTokenIds: number[];
  topLogprobs?: number;
  /** Seed used when the request gave none (the engine draws it). */
  fallbackSeed: number;
  constraint?: ConstraintSpec;
}

export interface DecodeRun {
  numRows: number;
  inputIds: number[];
  /** Position of the fed token per row = tokens already cached in that row. */
  positions: number[];
  /** Request sampling each row's logits; null = padding row (output ignored, nothing stored). */
  requestIds: Array<string | null>;
}

export interface PrefillRun {
  requestId: string;
  inputIds: number[];
  startPosition: number;
  sample: boolean;
}

/** One session.run over rows firstRow.. (several rows only for first chunks, all past-free). */
export interface PrefillBatch {
  firstRow: number;
  /** The runs feed prompt tokens (int8MatMul 'prompt' runs them on the prompt session). */
  promptPath: boolean;
  runs: PrefillRun[];
}

export interface StepMessage {
  type: 'step';
  stepId: number;
  /** Applied in order before any run. */
  cacheOps: CacheOp[];
  /** Rows the KV-cache manager holds after planning this step (a device-resident cache keeps exactly these). */
  numCacheRows: number;
  /** Where each of those rows lies in a host cache's buffers (kvCache.ts); a device cache holds one stride and ignores it. */
  rowPlacements: Placement[];
  samplerInits: SamplerInit[];
  /** Sampler states to drop (finished/cancelled requests), before running. */
  releasedIds: string[];
  decode: DecodeRun | null;
  prefills: PrefillBatch[];
}

export interface ShutdownMessage {
  type: 'shutdown';
}

/**
 * Compile a request's grammar before it is admitted (on the grammar thread; steps go on meanwhile).
 * Answered by 'grammarPrepared' with the same id.
 */
export interface PrepareGrammarMessage {
  type: 'prepareGrammar';
  id: number;
  spec: ConstraintSpec;
}

export type ToRunner = InitMessage | StepMessage | ShutdownMessage | PrepareGrammarMessage;

export interface TokenSample {
  requestId: string;
  tokenId: number;
  logprob?: number;
  top?: SampledLogprob[];
  /** The request's grammar is complete with this token: end the request ('stop'). */
  grammarComplete?: boolean;
}

export interface RunFailure {
  requestIds: string[];
  error: SerializedError;
}

export interface ReadyMessage {
  type: 'ready';
  device: RunnerReport;
  kvCacheBytes: number;
}

export interface InitFailedMessage {
  type: 'initFailed';
  error: SerializedError;
}

export interface StepDoneMessage {
  type: 'stepDone';
  stepId: number;
  samples: TokenSample[];
  failures: RunFailure[];
  /** Time inside session.run, summed over the step's runs. */
  runMs: number;
  /** Cache ops + input building + scatter + sampling. */
  overheadMs: number;
  phases: { cacheOpsMs: number; scatterMs: number; sampleMs: number };
  /** Host ↔ device bytes of this step's runs (0 on the CPU provider). */
  transfer: { toDeviceBytes: number; toHostBytes: number };
  /** KV-cache bytes held on the device after the step. */
  deviceKvCacheBytes: number;
}

export interface LogMessage {
  type: 'log';
  line: string;
}

export interface ClosedMessage {
  type: 'closed';
  profileFile?: string;
}

export interface GrammarPreparedMessage {
  type: 'grammarPrepared';
  id: number;
  /** The compiler's rejection (a GrammarCompileError), if any. */
  error?: SerializedError;
}

export type FromRunner = ReadyMessage | InitFailedMessage | StepDoneMessage | LogMessage | ClosedMessage | GrammarPreparedMessage;
