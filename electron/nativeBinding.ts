// better-sqlite3 under two ABIs. Tests and `hearth serve` run in Node and load
// node_modules/better-sqlite3's own binary (Node's ABI). `npm start` runs the engine host inside
// Electron, whose ABI differs, so scripts/rebuild-electron-native.mjs builds a second copy for
// Electron (path: electronSqliteBindingRelativePath) and main passes it to the host
// (HEARTH_SQLITE_BINDING → openDb's nativeBinding). Packaged apps don't need it: electron-builder
// rebuilds node_modules for Electron (npmRebuild) before packing.
import { join } from 'node:path';
import { electronSqliteBindingRelativePath } from '../engine/common/hostProcess.js';

export function electronSqliteBindingPath(appRoot: string, electronVersion: string): string {
  return join(appRoot, ...electronSqliteBindingRelativePath(electronVersion).split('/'));
}
