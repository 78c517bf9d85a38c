// electron-builder.yml is only exercised when someone packages (which needs the Electron binary
// and network); check here what can go wrong without either: the schema, the unpacked native
// modules, the icons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../..', import.meta.url));
const config = parse(readFileSync(join(root, 'electron-builder.yml'), 'utf8')) as Record<string, unknown> & {
  asarUnpack: string[];
  linux: { target: string[]; icon: string };
  win: { target: string[]; icon: string };
  mac: { target: string[]; icon: string };
  files: string[];
};

test("electron-builder.yml matches electron-builder's own schema", () => {
  const schema = JSON.parse(readFileSync(join(root, 'node_modules/app-builder-lib/scheme.json'), 'utf8')) as object;
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  assert.equal(validate(config), true, JSON.stringify(validate.errors, null, 2));
  assert.equal(validate({ ...config, asarUnpakc: [] }), false, 'the schema check catches a typo');
});

test('packages AppImage + deb, NSIS and dmg, with icons that exist', () => {
  assert.deepEqual(config.linux.target, ['AppImage', 'deb']);
  assert.deepEqual(config.win.target, ['nsis']);
  assert.deepEqual(config.mac.target, ['dmg']);
  for (const icon of [config.linux.icon, config.win.icon, config.mac.icon]) assert.ok(existsSync(join(root, icon)), icon);
  const png = readFileSync(join(root, 'resources/icon.png'));
  assert.equal(png.subarray(1, 4).toString('ascii'), 'PNG');
  assert.ok(png.readUInt32BE(16) >= 512, 'electron-builder needs ≥ 512 px to derive .icns/.ico');
});

test('the native modules are unpacked from asar and rebuilt for Electron', () => {
  for (const name of ['onnxruntime-node', 'better-sqlite3']) {
    assert.ok(config.asarUnpack.includes(`node_modules/${name}/**`), name);
    assert.ok(existsSync(join(root, 'node_modules', name)), `${name} installed`);
  }
  assert.ok(config.asarUnpack.includes('**/*.node'));
  assert.equal(config.npmRebuild, true, 'better-sqlite3 must be rebuilt for Electron at packaging time');
  for (const built of ['out/main/**', 'out/preload/**', 'out/renderer/**']) assert.ok(config.files.includes(built), built);
  // Export (engine/export/bundle.ts) copies these from the app root into production bundles.
  for (const source of ['package.json', 'package-lock.json', 'scripts/build.mjs', 'engine/**']) assert.ok(config.files.includes(source), source);
  assert.ok(!config.files.includes('bin/**'), 'the image runs its own build of the serving code, not bin/hearth.mjs');
});
