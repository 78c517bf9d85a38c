/** Batching policy, TGI-style named settings. Defaults and validation: engine/runtime/config.ts. */

/** Most sequences per step when not set: the CLI, the Serve view and the engine agree on it. */
export const DEFAULT_MAX_BATCH_SIZE = 64;

export interface BatchingConfig {
  /** Most sequences in one decode step. */
  maxBatchSize: number;
  /** Most tokens (prompt + generated) held by all running sequences together. */
  maxBatchTotalTokens: number;
  /** Most prompt tokens prefilled in one step (long prompts are chunked to this). */
  maxPrefillTokens: number;
  /** Most prompt tokens queued (admitted but not yet running) at once; beyond it: 429. (Every step has prefill budget, so no request is passed over.) */
  maxQueuedTokens: number;
  /** Most requests admitted (running + queued); beyond it: 429. */
  maxConcurrentRequests: number;
  /** Longest prompt accepted, in tokens. */
  maxInputTokens: number;
  /** Longest prompt + completion, in tokens. */
  maxTotalTokens: number;
  /** Bytes of memory the KV cache may use; capacity in tokens is derived from it. 0 = derive from free memory. */
  kvCacheBytes: number;
  /**
   * Bytes kept for the prefix cache: the K/V of recent requests, reused by prompts that start with
   * the same tokens (the next chat turn, a shared system prompt). 0 = off. Default: a quarter of
   * the KV cache but at least one full-length conversation, at most 512 MiB.
   */
  prefixCacheBytes: number;
}

/** Every BatchingConfig field, in display order (the one list: tune files, bench probes). */
export const BATCHING_KEYS: readonly (keyof BatchingConfig)[] = [
  'maxBatchSize', 'maxBatchTotalTokens', 'maxPrefillTokens', 'maxQueuedTokens',
  'maxConcurrentRequests', 'maxInputTokens', 'maxTotalTokens', 'kvCacheBytes', 'prefixCacheBytes',
];

/** Only the BatchingConfig fields of a resolved config (which carries derived extras too). */
export function pickBatching(resolved: BatchingConfig): BatchingConfig {
  const picked = {} as BatchingConfig;
  for (const key of BATCHING_KEYS) picked[key] = resolved[key];
  return picked;
}
