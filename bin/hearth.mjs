#!/usr/bin/env node
// The `hearth` command. Runs the build, dist/hearth.mjs (`npm run build`; setup runs it), when
// there is one at least as new as every engine source file. In a source checkout without a build,
// or with edits since the last one, it runs the TypeScript source through tsx instead (a dev
// dependency), so what runs is never older than the source. Where there is no source (an
// installed package) the build is all there is.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = join(root, 'dist', 'hearth.mjs');
const sourceDir = join(root, 'engine');

/** Whether any engine source file is newer than `than` (ms). A few hundred stats: a few ms. */
function sourceNewerThan(than, dir = sourceDir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (sourceNewerThan(than, path)) return true;
    } else if (/\.(ts|mjs|json)$/.test(entry.name) && !entry.name.endsWith('.test.ts') && statSync(path).mtimeMs > than) return true;
  }
  return false;
}

const useBuild = existsSync(built) && (!existsSync(sourceDir) || !sourceNewerThan(statSync(built).mtimeMs));
if (useBuild) {
  await import(built);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    console.error('hearth: no build (dist/hearth.mjs) and no tsx to run the source with. Run `npm run build` (or `npm run setup`).');
    process.exit(1);
  }
  register();
  await import('../engine/cli/hearth.ts');
}
