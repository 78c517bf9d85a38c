import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { electronSqliteBindingPath } from './nativeBinding.js';

const root = fileURLToPath(new URL('..', import.meta.url));

test('main looks for the Electron build of better-sqlite3 where the rebuild script writes it', () => {
  const printed = execFileSync(process.execPath, ['scripts/rebuild-electron-native.mjs', '--print-path'], { cwd: root, encoding: 'utf8' }).trim();
  const version = (JSON.parse(readFileSync(`${root}/node_modules/electron/package.json`, 'utf8')) as { version: string }).version;
  assert.equal(printed, electronSqliteBindingPath(root, version));
  assert.match(printed, /node_modules[\\/]\.hearth-electron[\\/]better-sqlite3-electron-\d+\.\d+\.\d+[\\/]better_sqlite3\.node$/);
  assert.notEqual(printed, `${root}node_modules/better-sqlite3/build/Release/better_sqlite3.node`, "Node's own binary stays untouched");
});
