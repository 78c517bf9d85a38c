// The batching settings auto-tune tries. Pure: from the model's limits and the request shape.
import type { BatchingConfig } from '../common/batching.js';

export type TuneCandidate = Pick<BatchingConfig, 'maxBatchSize' | 'maxBatchTotalTokens' | 'maxPrefillTokens'>;

export interface CandidateLimits {
  /** Longest sequence the engine allows (its maxTotalTokens); a batch must hold at least one. */
  maxTotalTokens: number;
  /** Prompt + output tokens of one benchmark request. */
  tokensPerRequest: number;
}

/** Rounds up to the KV cache's stride step so the budget is not wasted on a partial stride. */
function roundUp(value: number, step: number): number {
  return Math.ceil(value / step) * step;
}

/** A candidate whose token budget holds `maxBatchSize` benchmark requests (and at least one full-length one). */
export function candidateFor(maxBatchSize: number, maxPrefillTokens: number, limits: CandidateLimits): TuneCandidate {
  return {
    maxBatchSize,
    maxPrefillTokens,
    maxBatchTotalTokens: Math.max(limits.maxTotalTokens, roundUp(maxBatchSize * limits.tokensPerRequest, 64)),
  };
}

export const DEFAULT_BATCH_SIZES = [4, 16, 64];
export const DEFAULT_PREFILL_TOKENS = [128, 256, 512];

/**
 * Phase 1 of the search: batch sizes at the middle prefill chunk. Phase 2 (see tuner.ts) tries
 * the other prefill chunks at the winning batch size. Batch sizes above the highest concurrency
 * measured cannot be told apart from it, so they are dropped.
 */
export function batchSizeCandidates(limits: CandidateLimits, maxConcurrency: number, batchSizes = DEFAULT_BATCH_SIZES, prefillTokens = DEFAULT_PREFILL_TOKENS[1]!): TuneCandidate[] {
  const sizes = [...new Set(batchSizes.map((size) => Math.min(size, maxConcurrency)))].sort((a, b) => a - b);
  return sizes.map((size) => candidateFor(size, prefillTokens, limits));
}

export function prefillCandidates(winner: TuneCandidate, limits: CandidateLimits, prefillChoices = DEFAULT_PREFILL_TOKENS): TuneCandidate[] {
  return prefillChoices.filter((tokens) => tokens !== winner.maxPrefillTokens).map((tokens) => candidateFor(winner.maxBatchSize, tokens, limits));
}

export function describeCandidate(candidate: TuneCandidate): string {
  return `maxBatchSize=${candidate.maxBatchSize} maxBatchTotalTokens=${candidate.maxBatchTotalTokens} maxPrefillTokens=${candidate.maxPrefillTokens}`;
}

/**
 * Phase 3: the winner with half its batch token budget (never below one full-length sequence).
 * Equal throughput with half the KV cache means a smaller, cheaper GPU in the sizing.
 */
export function budgetCandidates(winner: TuneCandidate, limits: CandidateLimits): TuneCandidate[] {
  const half = Math.max(limits.maxTotalTokens, roundUp(winner.maxBatchTotalTokens / 2, 64));
  return half < winner.maxBatchTotalTokens ? [{ ...winner, maxBatchTotalTokens: half }] : [];
}
