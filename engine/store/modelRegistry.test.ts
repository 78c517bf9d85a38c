import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { openDb } from './db.js';
import { assertSafeModelName, defaultModelName, ModelRegistry } from './modelRegistry.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function open(dataDir: string) {
  const db = openDb(join(dataDir, 'hearth.db'));
  return { db, registry: new ModelRegistry(db, { dataDir }) };
}

function freshDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-registry-'));
  dirs.push(dir);
  return dir;
}

/** A pid that existed and has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid;
}

const download = { repo: 'org/Tiny-Model', revision: 'main', commit: 'a'.repeat(40), files: [{ path: 'model.safetensors', bytes: 10, sha256: 'b'.repeat(64) }], snapshotDir: '/cache/x' };

test('survives a restart: rows and variants are read back', () => {
  const dataDir = freshDataDir();
  let { db, registry } = open(dataDir);
  registry.beginDownload({ name: 'Tiny-Model', ...download });
  const packageDir = registry.packageDir('Tiny-Model', 'int4');
  registry.beginConversion('Tiny-Model', 'int4', packageDir);
  registry.markReady('Tiny-Model', 'int4', 1234);
  db.close();
  ({ db, registry } = open(dataDir));
  const record = registry.get('Tiny-Model')!;
  assert.equal(record.status, 'ready');
  assert.equal(record.totalBytes, 10);
  assert.deepEqual(record.files, download.files);
  assert.deepEqual(record.variants.map((v) => [v.dtype, v.status, v.weightsBytes, v.path]), [['int4', 'ready', 1234, packageDir]]);
  assert.equal(registry.readyVariant('Tiny-Model')!.variant.path, packageDir);
  db.close();
});

test('a crash mid-download or mid-conversion is found at start: interrupted (resumable), never ready', () => {
  const dataDir = freshDataDir();
  let { db, registry } = open(dataDir);
  registry.beginDownload({ name: 'downloading', ...download });
  registry.beginDownload({ name: 'converting', ...download });
  registry.beginConversion('converting', 'fp16', registry.packageDir('converting', 'fp16'));
  registry.beginDownload({ name: 'alive', ...download });
  // The first two belonged to a process that has since died; 'alive' is still ours.
  const dead = deadPid();
  db.prepare(`UPDATE models SET pid = ? WHERE name IN ('downloading', 'converting')`).run(dead);
  db.close();

  ({ db, registry } = open(dataDir));
  const downloading = registry.get('downloading')!;
  assert.equal(downloading.status, 'interrupted');
  assert.match(downloading.error!, /download was interrupted.*Pull again to resume from the files already on disk/);
  const converting = registry.get('converting')!;
  assert.equal(converting.status, 'interrupted');
  assert.match(converting.error!, /conversion was interrupted/);
  assert.equal(converting.variants[0]!.status, 'interrupted');
  assert.equal(registry.readyVariant('converting'), undefined, 'a half-converted variant is never served');
  assert.equal(registry.get('alive')!.status, 'downloading', 'a live process keeps its row');
  db.close();
});

test('a failed extra variant leaves the ready ones usable; a failed first pull is failed with the error', () => {
  const { db, registry } = open(freshDataDir());
  registry.beginDownload({ name: 'm', ...download });
  registry.beginConversion('m', 'int4', registry.packageDir('m', 'int4'));
  registry.markReady('m', 'int4', 1);
  registry.beginConversion('m', 'fp16', registry.packageDir('m', 'fp16'));
  registry.markFailed('m', 'Conversion to fp16 failed: disk full', 'fp16');
  assert.equal(registry.get('m')!.status, 'ready');
  assert.equal(registry.readyVariant('m')!.variant.dtype, 'int4');
  assert.equal(registry.readyVariant('m:fp16'), undefined);

  registry.beginDownload({ name: 'n', ...download });
  registry.markFailed('n', 'network down');
  assert.deepEqual([registry.get('n')!.status, registry.get('n')!.error], ['failed', 'network down']);
  db.close();
});

test('user-given names never escape the data directory', () => {
  const dataDir = freshDataDir();
  const { db, registry } = open(dataDir);
  for (const bad of ['..', '../x', '../../etc/passwd', 'a/b', 'a\\b', '/abs', '.hidden', '', 'x'.repeat(200), 'a..b', 'name\0', 'tab\tname', 'C:evil']) {
    assert.throws(() => assertSafeModelName(bad), /is not a valid model name/, JSON.stringify(bad));
    assert.throws(() => registry.packageDir(bad, 'int4'), /is not a valid model name/);
    assert.throws(() => registry.beginDownload({ name: bad, ...download }), /is not a valid model name/);
    assert.throws(() => registry.remove(bad), /is not a valid model name/);
    assert.throws(() => registry.readyVariant(bad), /is not a valid model name/);
  }
  assert.ok(registry.packageDir('SmolLM2-135M-Instruct', 'int4').startsWith(join(dataDir, 'models') + sep));
  // Default names derived from repo ids are always safe.
  for (const repo of ['HuggingFaceTB/SmolLM2-135M-Instruct', 'org/..', 'org/.x', 'org/a b']) assertSafeModelName(defaultModelName(repo));
  db.close();
});

test('remove deletes the model folder and rows, and nothing outside the models folder', () => {
  const dataDir = freshDataDir();
  const { db, registry } = open(dataDir);
  const outside = join(dataDir, 'keep.txt');
  writeFileSync(outside, 'x');
  registry.beginDownload({ name: 'm', ...download });
  const packageDir = registry.packageDir('m', 'int4');
  mkdirSync(packageDir, { recursive: true });
  writeFileSync(join(packageDir, 'manifest.json'), '{}');
  registry.beginConversion('m', 'int4', packageDir);
  registry.markReady('m', 'int4', 1);
  assert.equal(registry.remove('m')!.name, 'm');
  assert.equal(registry.get('m'), undefined);
  assert.ok(!existsSync(join(dataDir, 'models', 'm')));
  assert.ok(existsSync(outside));
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM model_variants').get() as { n: number }).n, 0);
  db.close();
});

test('removeVariant deletes one package and its row, refuses a served variant, and keeps the model after the last', () => {
  const dataDir = freshDataDir();
  const { db, registry } = open(dataDir);
  registry.beginDownload({ name: 'm', ...download });
  for (const dtype of ['int4', 'fp16'] as const) {
    const packageDir = registry.packageDir('m', dtype);
    mkdirSync(packageDir, { recursive: true });
    writeFileSync(join(packageDir, 'manifest.json'), '{}');
    registry.beginConversion('m', dtype, packageDir);
    registry.markReady('m', dtype, 1);
  }
  const fp16Dir = registry.packageDir('m', 'fp16');
  const int4Dir = registry.packageDir('m', 'int4');

  // Served: refused, nothing touched. The callback sees the variant's own folder.
  const asked: string[] = [];
  assert.throws(
    () => registry.removeVariant('m', 'fp16', (dir) => (asked.push(dir), dir === fp16Dir ? [4242] : [])),
    (error: Error) => error.name === 'ModelInUseError' && /fp16 variant of 'm' is being served \(pid 4242\)/.test(error.message),
  );
  assert.ok(asked.length > 0 && asked.every((dir) => dir === fp16Dir), asked.join());
  assert.ok(existsSync(join(fp16Dir, 'manifest.json')));
  assert.equal(registry.get('m')!.variants.length, 2);

  // Another variant being served does not block this one.
  assert.equal(registry.removeVariant('m', 'fp16', (dir) => (dir === int4Dir ? [4242] : []))!.dtype, 'fp16');
  assert.ok(!existsSync(fp16Dir));
  assert.ok(existsSync(join(int4Dir, 'manifest.json')));
  assert.deepEqual(registry.get('m')!.variants.map((variant) => variant.dtype), ['int4']);
  assert.equal(registry.get('m')!.status, 'ready');
  assert.equal(registry.readyVariant('m:fp16'), undefined);
  assert.equal(registry.removeVariant('m', 'fp16'), undefined, 'already gone');
  assert.equal(registry.removeVariant('nope', 'fp16'), undefined);

  // The last variant: the model row (its downloaded files) stays, no longer claiming to be ready.
  registry.removeVariant('m', 'int4');
  assert.ok(!existsSync(int4Dir));
  const model = registry.get('m')!;
  assert.deepEqual(model.variants, []);
  assert.deepEqual(model.files, download.files);
  assert.equal(model.snapshotDir, download.snapshotDir);
  assert.equal(model.status, 'failed');
  assert.match(model.error!, /No converted variant left.*Pull org\/Tiny-Model again/);
  assert.equal(registry.readyVariant('m'), undefined);
  assert.throws(() => registry.removeVariant('../x', 'int4'), /is not a valid model name/);
  db.close();
});

test('a name taken by another repo, or a pull running in another process, is refused', () => {
  const { db, registry } = open(freshDataDir());
  registry.beginDownload({ name: 'm', ...download });
  assert.throws(() => registry.beginDownload({ name: 'm', ...download, repo: 'other/m' }), /already has a model named 'm' \(from org\/Tiny-Model\)/);
  db.prepare('UPDATE models SET pid = 1 WHERE name = ?').run('m'); // pid 1 is always alive
  assert.throws(() => registry.beginDownload({ name: 'm', ...download }), /being downloaded by another Hearth process \(pid 1\)/);
  db.close();
});
