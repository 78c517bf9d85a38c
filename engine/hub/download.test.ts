import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { downloadToCache, hashFile, type RemoteFile } from './download.js';
import { HfCacheRepo } from './hfCache.js';
import { hubSettings } from './hubSettings.js';

const content = Buffer.from('hello hub');
const file: RemoteFile = { path: 'config.json', bytes: content.length, gitOid: '' };

test('git blob sha1 and sha256 verification hashes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-hash-'));
  try {
    const path = join(dir, 'f');
    writeFileSync(path, content);
    // `printf 'hello hub' | git hash-object --stdin` and `| sha256sum`
    assert.equal(await hashFile(path, { bytes: content.length }), 'efae63385ed9b6c744305bbc21cafb72fc4ff4a4');
    assert.equal(await hashFile(path, { bytes: content.length, sha256: 'expected' }), '8ad41917cd0104b4c4053f6b27fb35cf72d5ce61f9e681466012a1437f424d8f');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a partial file another live Hearth process is writing is not touched', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'hearth-lock-'));
  try {
    const cache = new HfCacheRepo(cacheDir, 'org/name');
    const etag = 'a'.repeat(40);
    const lock = `${cache.incompletePath(etag)}.hearth-lock`;
    mkdirSync(dirname(lock), { recursive: true });
    writeFileSync(lock, '1'); // pid 1 is always alive
    // The endpoint is never contacted: the lock is checked first.
    const settings = hubSettings({ endpoint: 'http://127.0.0.1:9', cacheDir, env: {} });
    await assert.rejects(downloadToCache({ settings, cache, repo: 'org/name', commit: 'c'.repeat(40), file: { ...file, gitOid: etag } }), /being downloaded by another Hearth process \(pid 1\)/);
    assert.ok(existsSync(lock));
    // A lock left by a dead process is taken over (then the unreachable endpoint fails the download).
    writeFileSync(lock, String(spawnSync(process.execPath, ['-e', '']).pid));
    await assert.rejects(downloadToCache({ settings, cache, repo: 'org/name', commit: 'c'.repeat(40), file: { ...file, gitOid: etag }, maxRetries: 0, retryBaseDelayMs: 1 }), /failed 1 times in a row/);
    assert.ok(!existsSync(lock), 'the lock is released when the download ends');
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
});
