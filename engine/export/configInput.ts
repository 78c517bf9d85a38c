// Turns a serving-config file as users write it (any subset of fields; batching partly given)
// into a complete ServingConfig for sizing and export. Batching is resolved by the engine's own
// resolver (engine/runtime/config.ts), so the numbers are the ones `hearth serve` would use —
// except the KV budget: a file that leaves kvCacheBytes to be derived from this machine's free
// memory is sized for its batch token budget (maxBatchTotalTokens) when it gives one, else for the
// full context in every batch slot; that budget is pinned in the bundle so the container does
// not depend on its host's free memory.
import { resolve } from 'node:path';
import type { ServingConfig } from '../common/servingConfig.js';
import type { ModelManifest } from '../common/manifest.js';
import { kvBytesPerToken, resolveBatchingConfig } from '../runtime/config.js';
import { STRIDE_STEP_TOKENS } from '../runtime/kvCache.js';
import { tunedServingConfig } from '../tune/tunedConfig.js';
import { pickBatching } from '../common/batching.js';
import type { PartialServingConfig } from '../server/servingConfigFile.js';

export interface CompletedConfig {
  config: ServingConfig;
  notes: string[];
}

export function completeServingConfig(partial: PartialServingConfig, manifest: ModelManifest, packageDir: string): CompletedConfig {
  const notes: string[] = [];
  let given = partial.batching ?? {};
  const derive = !given.kvCacheBytes;
  if (derive && given.maxBatchTotalTokens) {
    // The batch token budget is the KV the config asks for (what `hearth tune` pins too).
    given = { ...given, kvCacheBytes: Math.ceil(given.maxBatchTotalTokens / STRIDE_STEP_TOKENS) * STRIDE_STEP_TOKENS * kvBytesPerToken(manifest) };
  }
  const resolved = resolveBatchingConfig(given, manifest, { freeBytes: Number.MAX_SAFE_INTEGER });
  if (derive) {
    notes.push(`kvCacheBytes was not set: sized for ${resolved.kvCacheCapacityTokens} tokens (${given.maxBatchTotalTokens ? 'maxBatchTotalTokens' : `${resolved.maxBatchSize} sequences × ${resolved.maxTotalTokens} tokens`}) and pinned in the bundle`);
  }
  const base = tunedServingConfig({
    packageDir: resolve(packageDir),
    base: partial,
    effectiveBatching: pickBatching(resolved),
    tuning: partial.tuning ?? { objective: {}, measuredAt: '', machine: '', throughputTokensPerSec: 0, notes: [] },
  });
  if (!partial.tuning) delete base.tuning;
  return { config: base, notes };
}
