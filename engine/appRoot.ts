// The root of this Hearth installation: the folder holding Hearth's package.json (a source
// checkout, the build's parent, Electron's app folder, the container's /app). Found by walking up
// from this module because bundling moves the code: from engine/host/, dist/ or out/main/ the
// root is a different number of levels up.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findAppRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'hearth') return dir;
    if (dirname(dir) === dir) throw new Error(`Hearth's package.json is not in ${start} or any folder above it: this is a bug in how Hearth was installed or built.`);
  }
}

export const APP_ROOT = findAppRoot();
