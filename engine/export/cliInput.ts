// Shared by `hearth size` and `hearth export`: read the serving config (or a bare package), the
// editable GPU and price tables, and the measured throughput from flags.
import { readFileSync } from 'node:fs';
import type { ServingConfig } from '../common/servingConfig.js';
import { loadServingConfigFile, type PartialServingConfig } from '../server/servingConfigFile.js';
import { completeServingConfig } from './configInput.js';
import { DEFAULT_GPUS, DEFAULT_PRICES, parseGpuTable, parsePriceTable, type GpuPrice, type GpuSpec } from './gpuCatalog.js';
import { packageDirOf, readManifest } from './bundle.js';
import type { ModelManifest } from '../common/manifest.js';

export interface SizingFlags {
  config?: string;
  package?: string;
  gpus?: string;
  prices?: string;
}

export interface LoadedInput {
  config: ServingConfig;
  manifest: ModelManifest;
  gpus: GpuSpec[];
  prices: GpuPrice[];
  notes: string[];
}

function readJson(file: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read the ${what} ${file}: ${(error as Error).message}`);
  }
}

export function loadSizingInput(flags: SizingFlags): LoadedInput {
  let partial: PartialServingConfig = {};
  if (flags.config) partial = loadServingConfigFile(flags.config);
  const packageArg = flags.package ?? partial.model?.package;
  if (!packageArg) throw new Error('give --config tuned.json (from `hearth tune`), a model package directory or a library name');
  const packageDir = packageDirOf(packageArg);
  const manifest = readManifest(packageDir);
  const { config, notes } = completeServingConfig(partial, manifest, packageDir);
  return {
    config,
    manifest,
    gpus: flags.gpus ? parseGpuTable(readJson(flags.gpus, 'GPU table')) : [...DEFAULT_GPUS],
    prices: flags.prices ? parsePriceTable(readJson(flags.prices, 'price table')) : [...DEFAULT_PRICES],
    notes,
  };
}
