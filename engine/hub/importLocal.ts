// `hearth import <checkpoint-dir>` (and the desktop's "Import local checkpoint"): converts a local
// safetensors checkpoint — the model someone just fine-tuned — into the library, so it serves,
// exports and deletes by name like a pulled one. The conversion is `hearth convert`'s (same
// checks, same progress); the record keeps the folder and the files' sha256s, and no Hub repo
// (so an export for vLLM or TGI says it needs the original checkpoint). `hearth convert` still
// writes a standalone package outside the library.
import { existsSync, rmSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { ModelDtype, ModelManifest } from '../common/manifest.js';
import { ConvertError } from '../common/convertError.js';
import type { ProgressListener } from '../convert/progress.js';
import { dataDir, databasePath } from '../store/dataDir.js';
import { openDb } from '../store/db.js';
import { ModelRegistry, assertSafeModelName } from '../store/modelRegistry.js';
import { servingProcesses } from './library.js';

export interface ImportOptions {
  checkpointDir: string;
  dtype: ModelDtype;
  /** Library name; default: the folder's name. */
  name?: string;
  env?: NodeJS.ProcessEnv;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
  /** Awaited between layers (the conversion's test hook, see ConvertOptions.beforeLayer). */
  beforeLayer?: (layerIndex: number) => Promise<void> | void;
}

export interface ImportResult {
  name: string;
  dtype: ModelDtype;
  packageDir: string;
  sourceDir: string;
  manifest: ModelManifest;
}

/** A library name from a folder name: what assertSafeModelName accepts, spaces and odd characters as '-'. */
export function importName(checkpointDir: string): string {
  return basename(resolve(checkpointDir)).replace(/[^\w.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '') || 'imported-model';
}

export async function importCheckpoint(options: ImportOptions): Promise<ImportResult> {
  const env = options.env ?? process.env;
  const sourceDir = resolve(options.checkpointDir);
  if (!existsSync(sourceDir) || !statSync(sourceDir).isDirectory()) {
    throw new ConvertError(`${sourceDir} is not a folder. Give the checkpoint's folder (config.json, *.safetensors, tokenizer.json).`);
  }
  const name = options.name ?? importName(sourceDir);
  assertSafeModelName(name);
  const db = openDb(databasePath(env));
  const registry = new ModelRegistry(db, { dataDir: dataDir(env) });
  try {
    const packageDir = registry.packageDir(name, options.dtype);
    if (servingProcesses(packageDir, env).length > 0) {
      throw new ConvertError(`'${name}' (${options.dtype}) is being served; stop serving it before importing over it.`);
    }
    const otherReady = (registry.get(name)?.variants ?? []).find((variant) => variant.status === 'ready' && variant.dtype !== options.dtype);
    registry.beginImport({ name, sourceDir, files: [] });
    rmSync(packageDir, { recursive: true, force: true });
    registry.beginConversion(name, options.dtype, packageDir);
    let manifest: ModelManifest;
    try {
      const { convertCheckpoint } = await import('../convert/convert.js');
      manifest = await convertCheckpoint({
        checkpointDir: sourceDir,
        outDir: packageDir,
        dtype: options.dtype,
        name,
        onProgress: options.onProgress,
        signal: options.signal,
        beforeLayer: options.beforeLayer,
      });
    } catch (error) {
      // Nothing half-made stays: a first import leaves no row, a re-import keeps the other variants.
      if (otherReady) {
        registry.markFailed(name, (error as Error).message, options.dtype);
        registry.removeVariant(name, options.dtype);
        registry.markReady(name, otherReady.dtype, otherReady.weightsBytes ?? 0);
      } else registry.remove(name);
      throw error;
    }
    registry.beginImport({ name, sourceDir, files: manifest.source.files.map((file) => ({ path: file.name, bytes: file.bytes, sha256: file.sha256 })) });
    registry.markReady(name, options.dtype, manifest.weightsBytes);
    return { name, dtype: options.dtype, packageDir, sourceDir, manifest };
  } finally {
    db.close();
  }
}
