// The library seen from other commands: `hearth serve <name>` resolves a library name to a
// package folder, marks it as served, and `hearth rm` refuses to delete what is being served.
//
// How serve marks a model: `markServing(packageDir)` writes <dataDir>/run/serving/<pid>-<n>.json (one
// per served model: a process may serve several, e.g. the host and an auto-tune trial)
// ({ pid, packageDir, startedAt }) and removes it on release or process exit. `servingProcesses`
// lists the marks whose process is still alive, so a crashed server never blocks `hearth rm`.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { dataDir, databasePath } from '../store/dataDir.js';
import { openDb } from '../store/db.js';
import { ModelRegistry, assertSafeModelName } from '../store/modelRegistry.js';
import type { ModelDtype } from '../common/manifest.js';
import { isModelPackage } from '../convert/modelPackage.js';
import { isProcessAlive } from '../store/processAlive.js';

export class LibraryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LibraryError';
  }
}

/**
 * A package folder for `nameOrPath`: an existing package directory (has manifest.json) as is, else
 * a library name (`SmolLM2-135M-Instruct`, or `SmolLM2-135M-Instruct:int4` for one variant).
 * Throws a LibraryError that says what to do when neither matches.
 */
export function resolvePackage(nameOrPath: string, env: NodeJS.ProcessEnv = process.env): string {
  const asPath = resolve(nameOrPath);
  if (isModelPackage(asPath)) return asPath;
  if (/[\\/]/.test(nameOrPath) || nameOrPath.startsWith('.')) {
    throw new LibraryError(`No model package at ${asPath} (no manifest.json there). Convert one with \`hearth convert\`, or give a library name (\`hearth models\` lists them).`);
  }
  try {
    assertSafeModelName(nameOrPath.split(':')[0]!);
  } catch (error) {
    throw new LibraryError((error as Error).message);
  }
  if (!existsSync(databasePath(env))) throw notInLibrary(nameOrPath);
  const db = openDb(databasePath(env));
  try {
    const registry = new ModelRegistry(db, { dataDir: dataDir(env) });
    let found;
    try {
      found = registry.readyVariant(nameOrPath);
    } catch (error) {
      throw new LibraryError((error as Error).message);
    }
    if (!found) {
      const [name, dtype] = nameOrPath.split(':') as [string, string | undefined];
      const model = registry.get(name);
      if (!model) throw notInLibrary(nameOrPath);
      const ready = model.variants.filter((variant) => variant.status === 'ready').map((variant) => variant.dtype);
      if (dtype && ready.length > 0) {
        throw new LibraryError(
          `'${name}' has no ready ${dtype} variant (ready: ${ready.join(', ')}). Serve one of those, or add it with \`hearth pull ${model.repo} --dtype ${dtype}\`.`,
        );
      }
      const statuses = model.variants.map((variant) => `${variant.dtype} ${variant.status}`).join(', ') || 'no converted variant';
      throw new LibraryError(
        `'${nameOrPath}' is in the library but not ready to serve (${model.status}; ${statuses})${model.error ? `: ${model.error}` : ''}. ` +
          `Run \`hearth pull ${model.repo}\` to finish it.`,
      );
    }
    registry.touch(found.model.name);
    return found.variant.path;
  } finally {
    db.close();
  }
}

/** A ready variant of a library model. */
export interface LibraryVariantRef {
  name: string;
  dtype: ModelDtype;
  packageDir: string;
}

/** Every ready variant in the library (what `hearth serve --library` can serve); a model's newest variant first, as resolvePackage picks it for a bare name. */
export function readyVariants(env: NodeJS.ProcessEnv = process.env): LibraryVariantRef[] {
  if (!existsSync(databasePath(env))) return [];
  const db = openDb(databasePath(env));
  try {
    const registry = new ModelRegistry(db, { dataDir: dataDir(env) });
    return registry.list().flatMap((model) =>
      model.variants
        .filter((variant) => variant.status === 'ready')
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
        .map((variant) => ({ name: model.name, dtype: variant.dtype, packageDir: variant.path })),
    );
  } finally {
    db.close();
  }
}

function notInLibrary(name: string): LibraryError {
  return new LibraryError(`No model named '${name}' in the library and no package folder by that name. \`hearth models\` lists the library; \`hearth pull <org/name>\` adds a Hub model.`);
}

interface ServingMark {
  pid: number;
  packageDir: string;
  startedAt: string;
}

function servingDir(env: NodeJS.ProcessEnv): string {
  return join(dataDir(env), 'run', 'serving');
}

/** Records that this process serves `packageDir`; returns a function that removes the mark. */
let marksMade = 0;

export function markServing(packageDir: string, env: NodeJS.ProcessEnv = process.env): () => void {
  const dir = servingDir(env);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${process.pid}-${++marksMade}.json`);
  const mark: ServingMark = { pid: process.pid, packageDir: resolve(packageDir), startedAt: new Date().toISOString() };
  writeFileSync(file, JSON.stringify(mark));
  const release = () => {
    try {
      unlinkSync(file);
    } catch {
      // already gone
    }
    process.off('exit', release);
  };
  process.on('exit', release);
  return release;
}

/** Live processes serving a package inside `dir` (a model's folder or a package folder). */
export function servingProcesses(dir: string, env: NodeJS.ProcessEnv = process.env): ServingMark[] {
  const marksDir = servingDir(env);
  if (!existsSync(marksDir)) return [];
  const target = resolve(dir);
  const marks: ServingMark[] = [];
  for (const name of readdirSync(marksDir)) {
    const file = join(marksDir, name);
    try {
      if (!statSync(file).isFile()) continue;
      const mark = JSON.parse(readFileSync(file, 'utf8')) as ServingMark;
      if (!isProcessAlive(mark.pid)) {
        unlinkSync(file); // left by a crashed server
        continue;
      }
      if (mark.packageDir === target || mark.packageDir.startsWith(target + sep)) marks.push(mark);
    } catch {
      // a half-written mark: ignore it
    }
  }
  return marks;
}

