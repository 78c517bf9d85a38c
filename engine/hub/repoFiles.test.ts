import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RemoteFile } from './download.js';
import { parseNvidiaSmi } from './fitCheck.js';
import { HfCacheRepo } from './hfCache.js';
import { metadataFiles, parseRepoRef, weightFiles } from './repoFiles.js';

const file = (path: string, bytes = 10): RemoteFile => ({ path, bytes, gitOid: '0'.repeat(40), sha256: path.endsWith('.safetensors') ? '1'.repeat(64) : undefined });

test('parses repo[@revision]', () => {
  assert.deepEqual(parseRepoRef('HuggingFaceTB/SmolLM2-135M-Instruct'), { repo: 'HuggingFaceTB/SmolLM2-135M-Instruct', revision: 'main' });
  assert.deepEqual(parseRepoRef('org/name@v1.0'), { repo: 'org/name', revision: 'v1.0' });
  assert.throws(() => parseRepoRef('just-a-name'), /not a Hub model id/);
  assert.throws(() => parseRepoRef('../../etc/passwd'), /not a Hub model id/);
  assert.throws(() => parseRepoRef('org/name@'), /not a revision/);
});

test('downloads only what conversion needs: configs, tokenizer, and the indexed shards', () => {
  const files = [
    'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'README.md', 'pytorch_model.bin',
    'consolidated.safetensors', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json', 'onnx/model.onnx',
  ].map((path) => file(path));
  assert.deepEqual(metadataFiles(files).map((f) => f.path), ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors.index.json']);
  const index = { weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors', c: 'model-00001-of-00002.safetensors' } };
  assert.deepEqual(weightFiles(files, index).map((f) => f.path), ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
  // Without an index: model.safetensors, else top-level shards (never consolidated.*).
  assert.deepEqual(weightFiles([file('model.safetensors'), file('consolidated.safetensors')]).map((f) => f.path), ['model.safetensors']);
  assert.deepEqual(weightFiles([file('a.safetensors'), file('consolidated.safetensors'), file('sub/b.safetensors')]).map((f) => f.path), ['a.safetensors']);
  assert.throws(() => weightFiles([file('config.json'), file('pytorch_model.bin')]), /no safetensors weights \(it has pytorch_model\.bin\)/);
  assert.throws(() => weightFiles(files, { weight_map: { a: 'missing.safetensors' } }), /names shards the repo does not have: missing\.safetensors/);
});

test('HF cache paths: standard names, and repo paths cannot escape the snapshot', () => {
  const cache = new HfCacheRepo('/cache', 'org/name');
  assert.equal(cache.root, '/cache/models--org--name');
  assert.equal(cache.blobPath('a'.repeat(64)), `/cache/models--org--name/blobs/${'a'.repeat(64)}`);
  assert.equal(cache.snapshotPath('c'.repeat(40), 'sub/file.json'), `/cache/models--org--name/snapshots/${'c'.repeat(40)}/sub/file.json`);
  assert.throws(() => cache.snapshotPath('c'.repeat(40), '../../../evil'), /escapes the snapshot/);
  assert.throws(() => cache.blobPath('../x'), /not a sha1\/sha256/);
  assert.throws(() => new HfCacheRepo('/cache', 'org/../x'), /not a Hub model id/);
});

test('reads nvidia-smi output and picks the GPU with the most free memory', () => {
  const gpu = parseNvidiaSmi('NVIDIA L4, 23034, 1000\nNVIDIA T4, 15360, 0\n')!;
  assert.deepEqual(gpu, { device: 'cuda', name: 'NVIDIA L4', totalBytes: 23034 * 1024 ** 2, availableBytes: 22034 * 1024 ** 2 });
  assert.equal(parseNvidiaSmi('No devices were found'), undefined);
});
