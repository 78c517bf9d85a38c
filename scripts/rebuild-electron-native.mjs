#!/usr/bin/env node
// Builds better-sqlite3 for Electron's ABI into a SEPARATE folder, so Node keeps its own binary
// (tests, `hearth serve`) and the desktop app's engine host gets Electron's through openDb's
// nativeBinding (electron/main.ts sets HEARTH_SQLITE_BINDING when this file exists).
//   npm run rebuild:electron            build if missing
//   npm run rebuild:electron -- --force rebuild
//   node scripts/rebuild-electron-native.mjs --print-path
// Needs what any Electron native rebuild needs: Electron's headers or a prebuilt binary from the
// internet, and for a source build a C++ toolchain (python3, make, g++). Packaged apps don't use
// this: electron-builder rebuilds node_modules for Electron (npmRebuild in electron-builder.yml).
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const readJson = (file) => JSON.parse(readFileSync(join(root, file), 'utf8'));

const electronVersion = readJson('node_modules/electron/package.json').version;
// Same path as engine/common/hostProcess.ts electronSqliteBindingRelativePath (a test checks).
const relativeTarget = `node_modules/.hearth-electron/better-sqlite3-electron-${electronVersion}/better_sqlite3.node`;
const target = join(root, ...relativeTarget.split('/'));

if (args.includes('--print-path')) {
  console.log(target);
  process.exit(0);
}
if (existsSync(target) && !args.includes('--force')) {
  console.log(`better-sqlite3 for Electron ${electronVersion} is already built: ${target}`);
  process.exit(0);
}

const sqliteVersion = readJson('node_modules/better-sqlite3/package.json').version;
// A throwaway project holding a copy of better-sqlite3 (inside node_modules, so the copy still
// finds prebuild-install and friends by walking up), rebuilt there for Electron.
const work = join(root, 'node_modules', '.hearth-electron', `work-${process.pid}`);
try {
  mkdirSync(join(work, 'node_modules'), { recursive: true });
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'hearth-electron-native', private: true, dependencies: { 'better-sqlite3': sqliteVersion } }));
  cpSync(join(root, 'node_modules', 'better-sqlite3'), join(work, 'node_modules', 'better-sqlite3'), {
    recursive: true,
    filter: (source) => !source.includes(`${join('better-sqlite3', 'build')}`),
  });
  console.log(`== building better-sqlite3 ${sqliteVersion} for Electron ${electronVersion} (ABI differs from Node ${process.versions.node})`);
  const { rebuild } = await import('@electron/rebuild');
  await rebuild({ buildPath: work, electronVersion, onlyModules: ['better-sqlite3'], force: true });
  const built = join(work, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
  if (!existsSync(built)) throw new Error(`the rebuild finished but produced no ${built}`);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(built, target);
  console.log(`wrote ${target}\n\`npm start\` now opens the desktop app with it.`);
} catch (error) {
  console.error(
    `Could not build better-sqlite3 for Electron ${electronVersion}: ${error?.message ?? error}\n` +
      'It needs Electron\'s headers or a prebuilt binary from the internet, and for a source build python3, make and a C++ compiler.\n' +
      'Until then `hearth app --web` runs the same UI in your browser.',
  );
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
