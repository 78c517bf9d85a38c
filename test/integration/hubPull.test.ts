// `hearth pull` against a local fake Hub (test/fixtures/fakeHub.ts) serving generated checkpoints:
// full download + convert, resume after a cut connection, corrupted files, gated repos, HF-cache
// reuse in both directions, disk-space refusal. Real HTTP, real files, real converter, real SQLite.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadFileToCacheDir, scanCacheDir } from '@huggingface/hub';
import type { PullEvent } from '../../engine/common/pullEvents.js';
import { pullModel, pullModelEvents, resolvePackage, searchModels, type PullOptions } from '../../engine/hub/index.js';
import { openDb } from '../../engine/store/db.js';
import { ModelRegistry } from '../../engine/store/modelRegistry.js';
import { startFakeHub, type FakeHub } from '../fixtures/fakeHub.js';
import { ensureFixtureCheckpoint } from '../fixtures/packages.js';

const REPO = 'fixture-org/tiny-llama';
const GATED = 'gated-org/tiny-gated';
const TOKEN = 'hf_fixtureTokenDoNotLog123';
const SHARD_1 = 'model-00001-of-00002.safetensors';
const SHARD_2 = 'model-00002-of-00002.safetensors';
const plentyOfMemory = { device: 'cpu' as const, name: 'test', totalBytes: 16 * 1024 ** 3, availableBytes: 16 * 1024 ** 3 };

let hub: FakeHub;
const temps: string[] = [];

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `hearth-hub-${prefix}-`));
  temps.push(dir);
  return dir;
}

/** A fresh data dir + HF cache; the env is empty so the host's HF_* settings never leak in. */
function setup(overrides: Partial<PullOptions> = {}): PullOptions & { dataDir: string; cacheDir: string; events: PullEvent[] } {
  const dataDir = tempDir('home');
  const cacheDir = join(dataDir, 'hf-cache');
  const events: PullEvent[] = [];
  return {
    ref: REPO,
    dtype: 'int4',
    dataDir,
    cacheDir,
    events,
    hub: { endpoint: hub.url, cacheDir, env: {} },
    memory: plentyOfMemory,
    retryBaseDelayMs: 1,
    onEvent: (event) => events.push(event),
    ...overrides,
  };
}

function registryOf(dataDir: string): { registry: ModelRegistry; close(): void } {
  const db = openDb(join(dataDir, 'hearth.db'));
  return { registry: new ModelRegistry(db, { dataDir }), close: () => db.close() };
}

before(async () => {
  const sharded = await ensureFixtureCheckpoint({ sharded: true });
  const single = await ensureFixtureCheckpoint({ arch: 'qwen2' });
  hub = await startFakeHub({
    repos: [
      { id: REPO, files: sharded.checkpointDir, license: 'apache-2.0', downloads: 500, likes: 7, lastModified: '2025-03-01T00:00:00.000Z', safetensorsParameters: { F32: 140_000 } },
      { id: GATED, files: single.checkpointDir, gated: 'manual', license: 'llama3.1', downloads: 90, likes: 30, lastModified: '2025-05-01T00:00:00.000Z', safetensorsParameters: { BF16: 1_000_000 } },
    ],
    tokens: [TOKEN],
  });
});

after(async () => {
  await hub.close();
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

describe('pull from the Hub', () => {
  test('full download + convert: HF cache layout, registry ready, events, resolvePackage', async () => {
    const options = setup();
    hub.requests.length = 0;
    const result = await pullModel(options);
    const { commit } = hub.repo(REPO);
    assert.equal(result.commit, commit);
    assert.equal(result.name, 'tiny-llama');

    // Standard layout: snapshot entries are relative symlinks into blobs/<sha256>; refs/main holds the commit.
    const repoDir = join(options.cacheDir, 'models--fixture-org--tiny-llama');
    assert.equal(readFileSync(join(repoDir, 'refs', 'main'), 'utf8'), commit);
    const shardLink = join(repoDir, 'snapshots', commit, SHARD_1);
    assert.ok(lstatSync(shardLink).isSymbolicLink());
    assert.equal(readlinkSync(shardLink), `../../blobs/${hub.repo(REPO).files.get(SHARD_1)!.sha256}`);
    assert.deepEqual(readFileSync(shardLink), hub.repo(REPO).files.get(SHARD_1)!.content);
    assert.ok(!readdirSync(join(repoDir, 'blobs')).some((name) => name.endsWith('.incomplete')));

    // The package is converted and the registry says ready, with files and sizes.
    const manifest = JSON.parse(readFileSync(join(result.packageDir, 'manifest.json'), 'utf8'));
    assert.equal(manifest.dtype, 'int4');
    assert.equal(manifest.source.repo, REPO);
    assert.equal(manifest.source.revision, commit);
    const { registry, close } = registryOf(options.dataDir);
    const record = registry.get('tiny-llama')!;
    close();
    assert.equal(record.status, 'ready');
    assert.equal(record.commit, commit);
    assert.deepEqual(record.variants.map((v) => [v.dtype, v.status, v.path]), [['int4', 'ready', result.packageDir]]);
    assert.ok(record.files.some((file) => file.path === SHARD_2 && file.sha256 === hub.repo(REPO).files.get(SHARD_2)!.sha256));

    // Progress: bytes per file and in total, with rate and ETA; ends with done.
    const types = options.events.map((event) => event.type);
    for (const type of ['resolved', 'fit', 'file-start', 'progress', 'verifying', 'file-done', 'convert-start', 'convert-progress', 'done']) {
      assert.ok(types.includes(type as PullEvent['type']), `missing ${type} event`);
    }
    const lastProgress = options.events.filter((e) => e.type === 'progress').at(-1) as Extract<PullEvent, { type: 'progress' }>;
    assert.equal(lastProgress.totalBytesDone, lastProgress.totalBytes);
    assert.ok(lastProgress.bytesPerSec > 0);

    // Only what conversion needs: no request for files outside the conversion set.
    assert.ok(hub.fileDownloads().every((r) => r.file !== undefined));

    // `hearth serve <name>` resolves the library name to the package.
    assert.equal(resolvePackage('tiny-llama', { HEARTH_HOME: options.dataDir }), result.packageDir);
    assert.equal(resolvePackage('tiny-llama:int4', { HEARTH_HOME: options.dataDir }), result.packageDir);
    assert.throws(() => resolvePackage('tiny-llama:fp16', { HEARTH_HOME: options.dataDir }), /has no ready fp16 variant \(ready: int4\).*--dtype fp16/);
    assert.throws(() => resolvePackage('no-such-model', { HEARTH_HOME: options.dataDir }), /No model named 'no-such-model'/);

    // A second pull of the same commit and dtype downloads nothing and reuses the package.
    hub.requests.length = 0;
    const again = await pullModel({ ...options, onEvent: undefined });
    assert.equal(again.packageDir, result.packageDir);
    assert.equal(hub.fileDownloads().length, 0);
  });

  test('resume after a connection cut mid-file: the retry sends Range and fetches only the rest', async () => {
    const options = setup();
    const size = hub.repo(REPO).files.get(SHARD_1)!.bytes;
    const cutAt = Math.floor(size / 2) + 123;
    hub.requests.length = 0;
    hub.cutNext(SHARD_1, cutAt);
    await pullModel(options);

    const transfers = hub.requests.filter((r) => r.kind === 'lfs' && r.file === SHARD_1);
    assert.equal(transfers.length, 2, 'one cut attempt, one resumed attempt');
    assert.equal(transfers[0]!.range, undefined);
    assert.equal(transfers[0]!.bodyBytes, cutAt);
    // The client resumes from what reached its disk (bytes in flight at the cut are lost).
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(transfers[1]!.range ?? '')?.[1]);
    assert.ok(resumedAt > 0 && resumedAt <= cutAt, `second attempt sent Range: ${transfers[1]!.range}`);
    assert.equal(transfers[1]!.status, 206);
    assert.equal(transfers[1]!.bodyBytes, size - resumedAt);
    const transferred = transfers.reduce((sum, r) => sum + r.bodyBytes, 0);
    assert.ok(transferred < size * 2, `transferred ${transferred} bytes for a ${size}-byte file`);
    assert.ok(options.events.some((e) => e.type === 'retry' && e.path === SHARD_1));
  });

  test('resume after the process died: a partial .incomplete blob on disk is continued, not restarted', async () => {
    const options = setup();
    const file = hub.repo(REPO).files.get(SHARD_2)!;
    const blobs = join(options.cacheDir, 'models--fixture-org--tiny-llama', 'blobs');
    mkdirSync(blobs, { recursive: true });
    const kept = 100_000;
    writeFileSync(join(blobs, `${file.sha256}.incomplete`), file.content.subarray(0, kept));
    hub.requests.length = 0;
    await pullModel(options);
    const transfers = hub.requests.filter((r) => r.kind === 'lfs' && r.file === SHARD_2);
    assert.deepEqual(transfers.map((r) => [r.range, r.bodyBytes]), [[`bytes=${kept}-`, file.bytes - kept]]);
    assert.ok(options.events.some((e) => e.type === 'file-start' && e.path === SHARD_2 && e.resumedFromBytes === kept));
  });

  test('a corrupted file is detected by sha256, deleted, and reported; the next pull succeeds', async () => {
    const options = setup();
    hub.corrupt(SHARD_2);
    try {
      await assert.rejects(pullModel(options), (error: Error) => {
        assert.equal(error.name, 'HubError');
        assert.match(error.message, new RegExp(`${SHARD_2} is corrupt: its sha256 is [0-9a-f]{64}, but the Hub says ${hub.repo(REPO).files.get(SHARD_2)!.sha256}`));
        assert.match(error.message, /The file was deleted; run the same command again/);
        return true;
      });
    } finally {
      hub.repair(SHARD_2);
    }
    const blobs = join(options.cacheDir, 'models--fixture-org--tiny-llama', 'blobs');
    const sha = hub.repo(REPO).files.get(SHARD_2)!.sha256!;
    assert.ok(!existsSync(join(blobs, sha)) && !existsSync(join(blobs, `${sha}.incomplete`)), 'the corrupt bytes are gone');
    const { registry, close } = registryOf(options.dataDir);
    const record = registry.get('tiny-llama')!;
    close();
    assert.equal(record.status, 'failed');
    assert.match(record.error!, /corrupt/);
    const result = await pullModel(options);
    assert.ok(existsSync(join(result.packageDir, 'manifest.json')));
  });

  test('gated repo without a token: says it is gated and how to get access', async () => {
    const options = setup({ ref: GATED });
    await assert.rejects(pullModel(options), (error: Error) => {
      assert.match(error.message, /gated-org\/tiny-gated is gated or private \(HTTP 401\)/);
      assert.match(error.message, /accept the model's terms/);
      assert.match(error.message, new RegExp(`${hub.url}/gated-org/tiny-gated`));
      assert.match(error.message, /HF_TOKEN/);
      return true;
    });
    const badToken = setup({ ref: GATED });
    badToken.hub = { ...badToken.hub, token: 'hf_wrongToken' };
    await assert.rejects(pullModel(badToken), /does not grant access \(HTTP 403\)/);
  });

  test('gated repo with HF_TOKEN: works, and the token appears in no event, registry or data file', async () => {
    const options = setup({ ref: GATED, dtype: 'fp16' });
    options.hub = { endpoint: hub.url, cacheDir: options.cacheDir, env: { HF_TOKEN: TOKEN } };
    hub.requests.length = 0;
    const result = await pullModel(options);
    assert.ok(existsSync(join(result.packageDir, 'manifest.json')));
    assert.ok(hub.requests.filter((r) => r.kind === 'resolve').every((r) => r.authorized), 'resolve requests carried the token');

    assert.ok(!JSON.stringify(options.events).includes(TOKEN));
    const leaks: string[] = [];
    const scan = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (lstatSync(path).isDirectory()) scan(path);
        else if (lstatSync(path).isFile() && readFileSync(path).includes(TOKEN)) leaks.push(path);
      }
    };
    scan(options.dataDir); // database (+ WAL), packages, HF cache
    assert.deepEqual(leaks, []);
  });

  test('reuses files another tool put in the HF cache: no file downloads', async () => {
    const options = setup();
    const { commit, files } = hub.repo(REPO);
    // Lay the cache out as huggingface_hub does: blobs named by etag, relative symlinks, refs/main.
    const repoDir = join(options.cacheDir, 'models--fixture-org--tiny-llama');
    mkdirSync(join(repoDir, 'blobs'), { recursive: true });
    mkdirSync(join(repoDir, 'snapshots', commit), { recursive: true });
    mkdirSync(join(repoDir, 'refs'), { recursive: true });
    writeFileSync(join(repoDir, 'refs', 'main'), commit);
    for (const file of files.values()) {
      const etag = file.sha256 ?? file.gitOid;
      writeFileSync(join(repoDir, 'blobs', etag), file.content);
      symlinkSync(`../../blobs/${etag}`, join(repoDir, 'snapshots', commit, file.path));
    }
    hub.requests.length = 0;
    const result = await pullModel(options);
    assert.equal(hub.fileDownloads().length, 0, 'no file was fetched');
    assert.equal(result.receivedBytes, 0);
    assert.ok(options.events.filter((e) => e.type === 'file-done').every((e) => e.type === 'file-done' && e.source === 'hf-cache'));
  });

  test('a damaged file in the HF cache is not used: only it is downloaded again', async () => {
    const options = setup();
    const { commit, files } = hub.repo(REPO);
    const repoDir = join(options.cacheDir, 'models--fixture-org--tiny-llama');
    mkdirSync(join(repoDir, 'blobs'), { recursive: true });
    mkdirSync(join(repoDir, 'snapshots', commit), { recursive: true });
    for (const file of files.values()) {
      const etag = file.sha256 ?? file.gitOid;
      const content = Buffer.from(file.content);
      if (file.path === SHARD_1) content[10] = content[10]! ^ 0xff; // same size, wrong bytes
      writeFileSync(join(repoDir, 'blobs', etag), content);
      symlinkSync(`../../blobs/${etag}`, join(repoDir, 'snapshots', commit, file.path));
    }
    hub.requests.length = 0;
    await pullModel(options);
    assert.deepEqual(hub.fileDownloads().filter((r) => r.kind === 'lfs').map((r) => r.file), [SHARD_1]);
    assert.deepEqual(readFileSync(join(repoDir, 'snapshots', commit, SHARD_1)), files.get(SHARD_1)!.content);
  });

  test('reuses a blob that is cached under another snapshot (only the link is new)', async () => {
    const options = setup();
    const { files } = hub.repo(REPO);
    const blobs = join(options.cacheDir, 'models--fixture-org--tiny-llama', 'blobs');
    mkdirSync(blobs, { recursive: true });
    for (const name of [SHARD_1, SHARD_2]) {
      const file = files.get(name)!;
      writeFileSync(join(blobs, file.sha256!), file.content);
    }
    hub.requests.length = 0;
    await pullModel(options);
    assert.deepEqual(hub.fileDownloads().filter((r) => r.file?.endsWith('.safetensors')), []);
  });

  test('files Hearth downloads are usable by other tools (@huggingface/hub cache readers)', async () => {
    const options = setup();
    await pullModel(options);
    const scan = await scanCacheDir(options.cacheDir);
    const repo = scan.repos.find((r) => r.id.name === REPO)!;
    assert.ok(repo, 'the HF cache scanner sees the repo');
    assert.equal(repo.revisions[0]!.commitOid, hub.repo(REPO).commit);
    assert.deepEqual(repo.revisions[0]!.refs, ['main']);
    assert.ok(repo.revisions[0]!.files.some((file) => file.path.endsWith(SHARD_1)));
    // @huggingface/hub's own cache download finds the file and does not fetch it again.
    hub.requests.length = 0;
    const path = await downloadFileToCacheDir({ repo: REPO, path: SHARD_1, revision: hub.repo(REPO).commit, hubUrl: hub.url, cacheDir: options.cacheDir });
    assert.deepEqual(readFileSync(path), hub.repo(REPO).files.get(SHARD_1)!.content);
    assert.equal(hub.fileDownloads().length, 0);
  });

  test('offline (HF_HUB_OFFLINE, or the Hub unreachable): a complete cached snapshot is used with no network traffic at all', async () => {
    const first = setup();
    await pullModel(first);
    const offline = setup();
    offline.hub = { endpoint: hub.url, cacheDir: first.cacheDir, env: { HF_HUB_OFFLINE: '1' } };
    hub.requests.length = 0;
    const result = await pullModel(offline);
    assert.equal(hub.requests.length, 0, 'not a single request');
    assert.equal(result.commit, hub.repo(REPO).commit);
    assert.ok(existsSync(join(result.packageDir, 'manifest.json')));

    const unreachable = setup();
    unreachable.hub = { endpoint: 'http://127.0.0.1:9', cacheDir: first.cacheDir, env: {} }; // discard port: connection refused
    assert.ok(existsSync(join((await pullModel(unreachable)).packageDir, 'manifest.json')));
    // Nothing cached for the revision: the unreachable Hub is reported as such.
    await assert.rejects(pullModel({ ...unreachable, ref: `${REPO}@v9` }), /could not reach http:\/\/127\.0\.0\.1:9/);
  });

  test('HF_ENDPOINT is honoured when no endpoint is given', async () => {
    const options = setup();
    options.hub = { cacheDir: options.cacheDir, env: { HF_ENDPOINT: `${hub.url}/` } };
    hub.requests.length = 0;
    await pullModel(options);
    assert.ok(hub.requests.some((r) => r.kind === 'api') && hub.fileDownloads().length > 0, 'all traffic went to the HF_ENDPOINT server');
  });

  test('refuses before downloading when the disk is too small, with the numbers', async () => {
    const options = setup({ freeBytes: () => 10_000 });
    hub.requests.length = 0;
    await assert.rejects(pullModel(options), (error: Error) => {
      assert.match(error.message, /Not enough disk space: needs .* \(download .* in .* \+ converted package .*\) plus 64\.0 MiB headroom, but only 9\.8 KiB is free there/);
      return true;
    });
    assert.deepEqual(hub.fileDownloads().filter((r) => r.file?.endsWith('.safetensors')), [], 'no weights were fetched');
  });

  test('refuses a model that does not fit in memory unless forced', async () => {
    const tiny = { device: 'cpu' as const, name: 'small', totalBytes: 1024 ** 2, availableBytes: 1024 ** 2 };
    const options = setup({ memory: tiny });
    await assert.rejects(pullModel(options), /Does not fit: needs .* 1\.0 MiB available.*Pass --force/);
    await pullModel({ ...options, force: true });
  });

  test('search results are shaped for the UI: size, license, gated flag, last update, downloads, likes', async () => {
    const hubOptions = { endpoint: hub.url, env: {} };
    const byLikes = await searchModels({ query: 'tiny', sort: 'likes', hub: hubOptions });
    assert.deepEqual(byLikes.map((m) => m.id), [GATED, REPO]);
    assert.deepEqual(byLikes[0], {
      id: GATED,
      author: 'gated-org',
      gated: 'manual',
      private: false,
      license: 'llama3.1',
      downloads: 90,
      likes: 30,
      lastModified: '2025-05-01T00:00:00.000Z',
      libraryName: 'transformers',
      pipelineTag: 'text-generation',
      numParams: 1_000_000,
      sizeBytes: 2_000_000, // BF16
      tags: ['safetensors', 'llama', 'text-generation', 'license:llama3.1'],
    });
    assert.deepEqual((await searchModels({ sort: 'downloads', hub: hubOptions })).map((m) => m.id), [REPO, GATED]);
    assert.deepEqual((await searchModels({ sort: 'recent', hub: hubOptions })).map((m) => m.id), [GATED, REPO]);
    assert.deepEqual(await searchModels({ library: 'onnx', hub: hubOptions }), []);
    assert.equal((await searchModels({ query: 'gated', hub: hubOptions })).length, 1);
  });

  test('the event iterator yields the same events and the result', async () => {
    const { onEvent: _unused, events: _events, ...options } = setup();
    const pull = pullModelEvents(options);
    const seen: string[] = [];
    for await (const event of pull) seen.push(event.type);
    const result = await pull.result;
    assert.equal(seen[0], 'resolved');
    assert.equal(seen.at(-1), 'done');
    assert.ok(existsSync(join(result.packageDir, 'manifest.json')));
  });
});

