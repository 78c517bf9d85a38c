// The ONE place batching settings are read and validated: defaults, limits derived from the
// model package, and the KV-cache capacity (tokens) derived from the memory budget.
import { z } from 'zod';
import { DEFAULT_MAX_BATCH_SIZE, type BatchingConfig } from '../common/batching.js';
import type { ModelManifest } from '../common/manifest.js';
import { EngineConfigError } from './errors.js';
import { STRIDE_STEP_TOKENS } from './kvCache.js';
import { kvBytesPerToken as kvBytesPerTokenOf } from '../common/memoryEstimate.js';

const positiveInt = z.number().int().positive();

/** Partial batching settings as a user/tune file may give them; every field optional. */
const batchingFields = z
  .object({
    maxBatchSize: positiveInt,
    maxBatchTotalTokens: positiveInt,
    maxPrefillTokens: positiveInt,
    maxQueuedTokens: positiveInt,
    maxConcurrentRequests: positiveInt,
    maxInputTokens: positiveInt,
    maxTotalTokens: positiveInt,
    kvCacheBytes: z.number().int().nonnegative(),
    prefixCacheBytes: z.number().int().nonnegative(),
  })
  .partial()
  .strict();

/** Settings renamed since files were first written: old name → new name. (maxWaitingTokens is TGI's name for a different knob.) */
const RENAMED_SETTINGS: Record<string, keyof BatchingConfig> = { maxWaitingTokens: 'maxQueuedTokens' };

/** Partial batching settings; a file written with an old setting name still loads. */
export const batchingConfigSchema = z.preprocess((value) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const renamed: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(value)) {
    const name = RENAMED_SETTINGS[key] ?? key;
    if (!(name in value) || name === key) renamed[name] = setting;
  }
  return renamed;
}, batchingFields);

export interface MemoryInfo {
  /** Memory the OS reports as available now (os.freemem()). */
  freeBytes: number;
}

export interface ResolvedBatchingConfig extends BatchingConfig {
  /** Tokens (summed over all rows × stride) the KV cache holds. */
  kvCacheCapacityTokens: number;
  /** K+V bytes per token across all layers. */
  kvCacheBytesPerToken: number;
  /** Tokens the prefix cache holds (0 = off). */
  prefixCacheTokens: number;
}

export const DEFAULTS = {
  maxBatchSize: DEFAULT_MAX_BATCH_SIZE,
  /** Keeps one prefill chunk short enough that running streams keep flowing on a small CPU. */
  maxPrefillTokens: 256,
  maxConcurrentRequests: 128,
  /** Summed prompt tokens of queued requests. */
  maxQueuedTokens: 65_536,
  /** Share of available memory the KV cache takes when kvCacheBytes is 0. */
  freeMemoryFraction: 0.25,
  /** Prefix cache without a budget: this share of the KV cache (at least one maxTotalTokens conversation), at most maxPrefixCacheBytes. */
  prefixCacheFraction: 0.25,
  maxPrefixCacheBytes: 512 * 2 ** 20,
} as const;

/** K+V bytes per token of a package's cache (the one formula: common/memoryEstimate.ts). */
export function kvBytesPerToken(manifest: ModelManifest): number {
  return kvBytesPerTokenOf(manifest.graph, manifest.graph.kvDtype);
}

function roundDown(value: number, step: number): number {
  return Math.floor(value / step) * step;
}

export function resolveBatchingConfig(
  partial: Partial<BatchingConfig> | undefined,
  manifest: ModelManifest,
  memory: MemoryInfo,
): ResolvedBatchingConfig {
  const parsed = batchingConfigSchema.safeParse(partial ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new EngineConfigError(`Invalid batching settings: ${issues.join('; ')}.`);
  }
  const given = parsed.data;
  const contextLength = Math.min(manifest.shape.contextLength, manifest.graph.maxPositions);
  const bytesPerToken = kvBytesPerToken(manifest);
  const maxBatchSize = given.maxBatchSize ?? DEFAULTS.maxBatchSize;

  // Memory budget → capacity. Without a budget: a share of free memory, but never more than
  // every row at the longest sequence could use (pages beyond what is touched stay unmapped anyway).
  const wantedTotalTokens = Math.min(given.maxTotalTokens ?? contextLength, contextLength);
  let kvCacheBytes = given.kvCacheBytes ?? 0;
  if (kvCacheBytes === 0) {
    const ceilingBytes = maxBatchSize * (Math.ceil(wantedTotalTokens / STRIDE_STEP_TOKENS) * STRIDE_STEP_TOKENS) * bytesPerToken;
    kvCacheBytes = Math.min(Math.floor(memory.freeBytes * DEFAULTS.freeMemoryFraction), ceilingBytes);
  }
  const capacityTokens = roundDown(Math.floor(kvCacheBytes / bytesPerToken), STRIDE_STEP_TOKENS);
  if (capacityTokens < STRIDE_STEP_TOKENS) {
    throw new EngineConfigError(
      `The KV cache budget (${kvCacheBytes} bytes) holds fewer than ${STRIDE_STEP_TOKENS} tokens at ${bytesPerToken} bytes/token; ` +
        `raise kvCacheBytes or free memory.`,
    );
  }
  kvCacheBytes = capacityTokens * bytesPerToken;

  // One sequence must fit its rounded-up stride in the whole cache.
  const maxTotalTokens = given.maxTotalTokens ?? Math.min(contextLength, capacityTokens);
  if (maxTotalTokens > contextLength) {
    throw new EngineConfigError(`maxTotalTokens ${maxTotalTokens} exceeds the model's context length ${contextLength}.`);
  }
  if (Math.ceil(maxTotalTokens / STRIDE_STEP_TOKENS) * STRIDE_STEP_TOKENS > capacityTokens) {
    throw new EngineConfigError(
      `maxTotalTokens ${maxTotalTokens} does not fit the KV cache (${capacityTokens} tokens, ${kvCacheBytes} bytes); ` +
        `raise kvCacheBytes to at least ${Math.ceil(maxTotalTokens / STRIDE_STEP_TOKENS) * STRIDE_STEP_TOKENS * bytesPerToken} or lower maxTotalTokens.`,
    );
  }
  const maxInputTokens = given.maxInputTokens ?? maxTotalTokens - 1;
  if (maxInputTokens >= maxTotalTokens) {
    throw new EngineConfigError(`maxInputTokens ${maxInputTokens} must be below maxTotalTokens ${maxTotalTokens}.`);
  }
  const maxBatchTotalTokens = given.maxBatchTotalTokens ?? capacityTokens;
  if (maxBatchTotalTokens < maxTotalTokens) {
    throw new EngineConfigError(
      `maxBatchTotalTokens ${maxBatchTotalTokens} is below maxTotalTokens ${maxTotalTokens}: a single request could never run.`,
    );
  }
  // Default: a share of the KV cache, but at least one whole conversation (maxTotalTokens), at most 512 MiB.
  const defaultPrefixBytes = Math.min(Math.max(kvCacheBytes * DEFAULTS.prefixCacheFraction, maxTotalTokens * bytesPerToken), DEFAULTS.maxPrefixCacheBytes);
  const prefixCacheTokens = Math.floor((given.prefixCacheBytes ?? defaultPrefixBytes) / bytesPerToken);
  return {
    maxBatchSize,
    maxBatchTotalTokens,
    maxPrefillTokens: given.maxPrefillTokens ?? DEFAULTS.maxPrefillTokens,
    maxQueuedTokens: given.maxQueuedTokens ?? DEFAULTS.maxQueuedTokens,
    maxConcurrentRequests: given.maxConcurrentRequests ?? DEFAULTS.maxConcurrentRequests,
    maxInputTokens,
    maxTotalTokens,
    kvCacheBytes,
    kvCacheCapacityTokens: capacityTokens,
    kvCacheBytesPerToken: bytesPerToken,
    prefixCacheBytes: prefixCacheTokens * bytesPerToken,
    prefixCacheTokens,
  };
}
