// better-sqlite3 under two ABIs. Tests and `hearth serve` run in Node and load
// node_modules/better-sqlite3's own binary (Node's ABI). `npm start` runs the engine host inside
// Electron, whose ABI differs, so scripts/rebuild-electron-native.mjs builds a second copy for
// Electron into this path, and main passes it to the host (HEARTH_SQLITE_BINDING → openDb's
// nativeBinding). Packaged apps don't need it: electron-builder rebuilds node_modules for
// Electron (npmRebuild) before packing. Keep this path in sync with the script.
import { join } from 'node:path';

export function electronSqliteBindingPath(appRoot: string, electronVersion: string): string {
  return join(appRoot, 'node_modules', '.hearth-electron', `better-sqlite3-electron-${electronVersion}`, 'better_sqlite3.node');
}
