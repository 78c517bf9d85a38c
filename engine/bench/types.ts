// Shapes of a benchmark: what to run (BenchSettings), what one request measured (RequestSample),
// what one concurrency level measured (LevelResult) and a whole stored run (BenchRun).
// The desktop host maps these onto engine/common/adminApi.ts for the Benchmark view.
import type { BatchingConfig } from '../common/batching.js';
import type { LatencySummary } from '../common/percentiles.js';

export type { LatencySummary };

/** Which OpenAI route the load generator streams from. `completions` has no chat template, so the prompt length is exact. */
export type BenchEndpoint = 'completions' | 'chat';

/**
 * `batched`: all virtual clients send at once (the server batches them).
 * `sequential`: the same clients, but the load generator lets only one request be in flight, so
 * the server never batches: the baseline continuous batching has to beat. Latencies are measured
 * from when each client wanted to send, so waiting in line counts, as it would for real clients.
 */
export type BenchMode = 'batched' | 'sequential';

export interface BenchSettings {
  /** Server root, e.g. http://127.0.0.1:8000 (the OpenAI routes are under /v1). */
  baseUrl: string;
  /** Model name for the `model` field; default: the first of GET /v1/models. */
  model?: string;
  apiKey?: string;
  endpoint: BenchEndpoint;
  concurrencyLevels: number[];
  /** Prompt length in tokens (calibrated against the server's usage.prompt_tokens). */
  promptTokens: number;
  /** max_tokens of every request. */
  maxTokens: number;
  /** Ask the server to ignore EOS (vLLM's `ignore_eos`) so every request generates maxTokens. */
  ignoreEos: boolean;
  /** Sent as every request's response_format (e.g. a json_schema), to measure constrained decoding. */
  responseFormat?: Record<string, unknown>;
  /** Requests per level; default max(2 × concurrency, 8). */
  requestsPerLevel?: number;
  modes: BenchMode[];
  /** Untimed requests before the first level (load caches, JIT, thread pools). */
  warmupRequests: number;
  requestTimeoutMs: number;
  label?: string;
}

export const DEFAULT_BENCH_SETTINGS: Omit<BenchSettings, 'baseUrl'> = {
  endpoint: 'completions',
  concurrencyLevels: [1, 4, 16, 64],
  promptTokens: 128,
  maxTokens: 64,
  ignoreEos: true,
  modes: ['batched'],
  warmupRequests: 2,
  requestTimeoutMs: 300_000,
};

export function requestsForLevel(settings: Pick<BenchSettings, 'requestsPerLevel'>, concurrency: number): number {
  return settings.requestsPerLevel ?? Math.max(2 * concurrency, 8);
}

/** What one streamed request measured. Times are ms, relative to when the client wanted to send. */
export interface RequestSample {
  ok: boolean;
  /** HTTP status (0 when the connection failed). */
  status: number;
  error?: string;
  /** Time spent waiting in the load generator's own line (sequential mode); 0 in batched mode. */
  clientWaitMs: number;
  /** To the first chunk that carries generated text. null when none arrived. */
  ttftMs: number | null;
  e2eMs: number;
  /**
   * Gaps between consecutive text chunks as the client receives them. Events that arrive in one
   * network read share a timestamp (a gap of 0), as they would for a real client.
   */
  itlMs: number[];
  promptTokens: number | null;
  /** From usage when the server reports it, else the number of text chunks. */
  completionTokens: number;
}

export interface LevelResult {
  mode: BenchMode;
  concurrency: number;
  requests: number;
  errors: number;
  /** Up to 5 distinct error messages. */
  errorSamples: string[];
  wallMs: number;
  promptTokens: number;
  completionTokens: number;
  /** Generated tokens of successful requests per second of wall time, all clients together. */
  throughputTokensPerSec: number;
  requestsPerSec: number;
  ttftMs: LatencySummary;
  /** Pooled over every gap of every request (as vLLM's benchmark reports ITL). */
  itlMs: LatencySummary;
  e2eMs: LatencySummary;
  /** Per request: (e2e − ttft) / (completion tokens − 1). */
  tpotMs: LatencySummary;
  /** Successful requests that stopped before maxTokens (EOS not ignored by the server). */
  shortCompletions: number;
}

/** What the server said about itself before the run (GET /info and /v1/models). */
export interface ServerDescription {
  model: string;
  /** Execution provider or device, when /info reports it. */
  device: string | null;
  /** Effective batching settings, when /info reports them. */
  batching: Partial<BatchingConfig> | null;
  /** /info as returned (null when the server has no /info). */
  info: unknown;
}

export interface BenchRun {
  runId: string;
  label: string;
  startedAtMs: number;
  finishedAtMs: number;
  /** Host description: CPU model × cores, OS. */
  machine: string;
  /** The settings, without the API key. */
  settings: Omit<BenchSettings, 'apiKey'>;
  server: ServerDescription;
  /** Prompt tokens the server counted for the calibrated prompt. */
  measuredPromptTokens: number | null;
  /** False when the server refused `ignore_eos` and the run went on without it. */
  ignoreEosHonoured: boolean;
  levels: LevelResult[];
  notes: string[];
}
