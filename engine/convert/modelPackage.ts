// The model package on disk, as `hearth convert` writes it: which files it holds and how every
// other part (engine, library, pull, export) recognises one and reads its manifest. One place,
// so "is this a package?" and "what does its manifest say?" get one answer and one error message.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelManifest } from '../common/manifest.js';

export const PACKAGE_FILES = { model: 'model.onnx', modelF16: 'model.f16.onnx', modelData: 'model.onnx.data', manifest: 'manifest.json' } as const;

/**
 * Files the engine may add to a package folder, derived from it and rebuilt when missing or stale:
 * `hearth serve --cpu-int8-matmul`'s expansion (engine/runtime/int8MatMul.ts). Exports leave them out.
 */
export const PACKAGE_CACHE_FILES = { int8Model: 'cpu-int8.onnx', int8Data: 'cpu-int8.data' } as const;

/** A cache file of PACKAGE_CACHE_FILES, or a writer's temporary of one (`<name>.tmp-<pid>`). */
export function isPackageCacheFile(fileName: string): boolean {
  return Object.values(PACKAGE_CACHE_FILES).some((name) => fileName === name || fileName.startsWith(`${name}.tmp-`));
}

export class PackageError extends Error {
  override readonly name = 'PackageError';
}

/** A folder that holds a model package (its manifest is there). */
export function isModelPackage(dir: string): boolean {
  return existsSync(join(dir, PACKAGE_FILES.manifest));
}

export function readManifest(packageDir: string): ModelManifest {
  const path = join(packageDir, PACKAGE_FILES.manifest);
  if (!existsSync(path)) {
    throw new PackageError(`No model package at ${packageDir} (no ${PACKAGE_FILES.manifest} there): convert one with \`hearth convert\` or download one with \`hearth pull\`.`);
  }
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ModelManifest;
  } catch (error) {
    throw new PackageError(`The model package manifest ${path} cannot be read (${(error as Error).message}): convert the model again with \`hearth convert\`.`);
  }
}
