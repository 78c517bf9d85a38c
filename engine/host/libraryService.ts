// The model library as the Models and Serve views see it, over engine/store/modelRegistry.ts.
// Sizes on disk are measured (a package folder's files), manifests are read for context length.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LibraryModel, LibraryVariant } from '../common/adminApi.js';
import type { ModelDtype } from '../common/manifest.js';
import { servingProcesses } from '../hub/index.js';
import { readManifest } from '../runtime/index.js';
import { ModelInUseError, localSource, type ModelRegistry } from '../store/modelRegistry.js';
import { httpError, notFound } from './httpUtil.js';
import type { LibraryService } from './services.js';
import { isModelPackage } from '../convert/modelPackage.js';

export function folderBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += folderBytes(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

export function libraryService(registry: ModelRegistry, env: NodeJS.ProcessEnv = process.env): LibraryService {
  return {
    async list(): Promise<LibraryModel[]> {
      return registry.list().flatMap((model) => {
        const variants: LibraryVariant[] = model.variants
          .filter((variant) => variant.status === 'ready' && isModelPackage(variant.path))
          .map((variant) => {
            const manifest = readManifest(variant.path);
            return {
              dtype: variant.dtype,
              packageDir: variant.path,
              bytesOnDisk: folderBytes(variant.path),
              weightsBytes: variant.weightsBytes ?? manifest.weightsBytes,
              contextLength: manifest.shape.contextLength,
              architecture: manifest.architecture,
              createdAt: variant.createdAt,
            };
          });
        if (variants.length === 0) return [];
        return [{ name: model.name, repo: localSource(model) === null ? model.repo : null, sourceDir: localSource(model), variants, totalBytes: variants.reduce((sum, variant) => sum + variant.bytesOnDisk, 0) }];
      });
    },
    async remove(name: string, dtype: ModelDtype | null) {
      const model = registry.get(name);
      if (!model) throw notFound(`No model '${name}' in the library; refresh the list.`);
      if (dtype !== null) {
        const variant = model.variants.find((candidate) => candidate.dtype === dtype);
        if (!variant) throw notFound(`'${name}' has no ${dtype} variant; refresh the list.`);
        const bytesFreed = folderBytes(variant.path);
        try {
          // Any process serving it refuses, this one included (the host marks what it serves).
          registry.removeVariant(name, dtype, (dir) => servingProcesses(dir, env).map((mark) => mark.pid));
        } catch (error) {
          if (error instanceof ModelInUseError) throw httpError(409, 'conflict', error.message);
          throw error;
        }
        return { name, dtype, bytesFreed };
      }
      const others = servingProcesses(join(registry.modelsDir, name), env).filter((mark) => mark.pid !== process.pid);
      if (others.length > 0) {
        throw httpError(409, 'conflict', `'${name}' is being served by another Hearth process (pid ${others.map((mark) => mark.pid).join(', ')}). Stop that server first, then delete it.`);
      }
      const bytesFreed = folderBytes(join(registry.modelsDir, name));
      registry.remove(name);
      return { name, dtype, bytesFreed };
    },
  };
}
