// The contract between the HTTP layer (engine/server) and the inference engine (engine/runtime).
// Runtime-free: the renderer reads EngineSnapshot too.
// Handlers validate, call `engine.submit`, and consume the request's events; they never touch
// the model, the scheduler or the KV cache.
import type { AcceleratorSnapshot } from './accelerator.js';
import type { BatchingConfig } from './batching.js';

export type { BatchingConfig };

export interface SamplingParams {
  /** 0 means greedy. */
  temperature: number;
  topP: number;
  /** 0 disables top-k. */
  topK: number;
  /** 0 disables min-p. */
  minP: number;
  presencePenalty: number;
  frequencyPenalty: number;
  /** 1 disables the repetition penalty. */
  repetitionPenalty: number;
  /** Same seed and same request → same output. Undefined: random. */
  seed?: number;
}

/**
 * Grammar-constrained decoding: every sampled token must keep the output inside the grammar, and
 * the request ends ('stop') when the grammar is complete. Serializable (it crosses to the runner
 * worker, which compiles it with xgrammar and caches the result by its JSON).
 */
export type ConstraintSpec =
  /** JSON matching `schema` (a JSON Schema object); `{type: 'object'}` for OpenAI's json_object. */
  | { type: 'json_schema'; schema: Record<string, unknown> }
  | { type: 'regex'; pattern: string }
  /** xgrammar's structural tag (its JSON format), e.g. tool-call markers around argument schemas. */
  | { type: 'structural_tag'; tag: Record<string, unknown> };

export interface GenerationRequest {
  /** Unique per request; the server generates it. */
  requestId: string;
  promptTokenIds: number[];
  sampling: SamplingParams;
  maxNewTokens: number;
  /** Generation stops before any of these strings; they never appear in the output. */
  stopStrings: string[];
  /** Extra token ids that stop generation (the package's EOS ids are always included unless ignoreEos). */
  stopTokenIds: number[];
  ignoreEos: boolean;
  /** Number of top alternatives to report per generated token; undefined = no logprobs. */
  topLogprobs?: number;
  /** Constrain the output to a grammar (structured output, forced tool calls). */
  constraint?: ConstraintSpec;
  /** Wall-clock ms when the HTTP request arrived (for queue-time and latency metrics). */
  arrivalTimeMs: number;
}

export type FinishReason = 'stop' | 'length' | 'cancelled' | 'error';

export interface TokenLogprob {
  token: string;
  tokenId: number;
  logprob: number;
  bytes: number[];
}

export interface TokenEvent {
  type: 'token';
  tokenId: number;
  /** Text made final by this token: valid UTF-8, with stop strings held back or removed. May be ''. */
  text: string;
  logprob?: TokenLogprob & { top: TokenLogprob[] };
}

export interface RequestTimings {
  queueMs: number;
  /** From arrival to first generated token. */
  ttftMs: number;
  totalMs: number;
  /** Mean inter-token latency, ms. */
  itlMs: number;
}

export interface DoneEvent {
  type: 'done';
  finishReason: FinishReason;
  promptTokens: number;
  /** Prompt tokens whose K/V came from the prefix cache (OpenAI's usage.prompt_tokens_details.cached_tokens). */
  cachedPromptTokens: number;
  completionTokens: number;
  timings: RequestTimings;
  /** Set when finishReason is 'error': what failed (the engine keeps serving). */
  error?: SerializedError;
}

export type EngineEvent = TokenEvent | DoneEvent;

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

/** A submitted request: iterate its events; `cancel()` frees its slot within one step. */
export interface RequestHandle extends AsyncIterable<EngineEvent> {
  readonly requestId: string;
  cancel(): void;
}

export interface EngineSnapshot {
  state: 'loading' | 'ready' | 'failed' | 'stopping';
  model: string;
  device: string;
  /** Queued (not yet admitted) requests. */
  queueSize: number;
  /** Requests in the running batch. */
  runningSize: number;
  kvCacheUsage: number;
  kvCacheCapacityTokens: number;
  kvCacheBytes: number;
  weightsBytes: number;
  tokensGenerated: number;
  /** Has the engine produced at least one token since load (health gate). */
  hasGenerated: boolean;
  config: BatchingConfig;
  /** The device, where the KV cache lives and what crossed to it; null while loading. */
  accelerator: AcceleratorSnapshot | null;
}

export interface Engine {
  submit(request: GenerationRequest): RequestHandle;
  snapshot(): EngineSnapshot;
  shutdown(deadlineMs: number): Promise<void>;
}
