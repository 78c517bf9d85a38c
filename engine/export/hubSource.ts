// Where a package's weights came from on the Hugging Face Hub: the repo id and the exact commit
// Hearth pulled. vLLM and TGI download and serve that checkpoint themselves, so a bundle for them
// pins it. The library's record (what `hearth pull` resolved) is the authority; the package's
// manifest (`source`, written by the converter from the same pull) is used when the package is
// not in this machine's library (copied from elsewhere).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ModelManifest } from '../common/manifest.js';
import { dataDir, databasePath } from '../store/dataDir.js';
import { openDb } from '../store/db.js';
import { ModelRegistry } from '../store/modelRegistry.js';

export interface HubSource {
  repo: string;
  /** The 40-hex commit the pull resolved to. */
  commit: string;
  /** 'library' (the pull's record) or 'manifest' (the package's own record of it). */
  from: 'library' | 'manifest';
}

const COMMIT = /^[0-9a-f]{40}$/;

/** The library's record for the model whose variant lives in `packageDir`, if any. */
function fromLibrary(packageDir: string, env: NodeJS.ProcessEnv): HubSource | null {
  if (!existsSync(databasePath(env))) return null;
  const db = openDb(databasePath(env));
  try {
    const registry = new ModelRegistry(db, { dataDir: dataDir(env) });
    const target = resolve(packageDir);
    const model = registry.list().find((record) => record.variants.some((variant) => resolve(variant.path) === target));
    if (!model || !model.commit || !COMMIT.test(model.commit)) return null;
    return { repo: model.repo, commit: model.commit, from: 'library' };
  } finally {
    db.close();
  }
}

/** The Hub checkpoint of a package, or null when it was converted from a local folder. */
export function hubSourceOf(packageDir: string, manifest: Pick<ModelManifest, 'source'>, env: NodeJS.ProcessEnv = process.env): HubSource | null {
  const library = fromLibrary(packageDir, env);
  if (library) return library;
  const { repo, revision } = manifest.source;
  if (repo && revision && COMMIT.test(revision)) return { repo, commit: revision, from: 'manifest' };
  return null;
}
