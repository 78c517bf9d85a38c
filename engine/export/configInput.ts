// Turns a serving-config file as users write it (any subset of fields; batching partly given)
// into a complete ServingConfig for sizing and export. Batching is resolved by the engine's own
// resolver (engine/runtime/config.ts), so the numbers are the ones `hearth serve` would use —
// except the KV budget: a file that leaves kvCacheBytes to be derived from this machine's free
// memory is sized for the full context in every batch slot, and that budget is pinned in the
// bundle so the container does not depend on its host's free memory.
import { resolve } from 'node:path';
import type { ServingConfig } from '../common/servingConfig.js';
import type { ModelManifest } from '../common/manifest.js';
import { resolveBatchingConfig } from '../runtime/config.js';
import { pickBatching, tunedServingConfig } from '../tune/tunedConfig.js';
import type { PartialServingConfig } from '../server/servingConfigFile.js';

export interface CompletedConfig {
  config: ServingConfig;
  notes: string[];
}

export function completeServingConfig(partial: PartialServingConfig, manifest: ModelManifest, packageDir: string): CompletedConfig {
  const notes: string[] = [];
  const given = partial.batching ?? {};
  const derive = !given.kvCacheBytes;
  const resolved = resolveBatchingConfig(given, manifest, { freeBytes: derive ? Number.MAX_SAFE_INTEGER : 0 });
  if (derive) {
    notes.push(`kvCacheBytes was not set: sized for ${resolved.maxBatchSize} sequences × ${resolved.maxTotalTokens} tokens (${resolved.kvCacheCapacityTokens} tokens), pinned in the bundle`);
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
