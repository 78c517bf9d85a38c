import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServingConfigError, loadServingConfigFile, parseServingConfig } from './servingConfigFile.js';

test('a partial config is accepted as given', () => {
  const config = parseServingConfig({ version: 1, server: { port: 9000 }, batching: { maxBatchSize: 8 } }, 'x.json');
  assert.deepEqual(config, { version: 1, server: { port: 9000 }, batching: { maxBatchSize: 8 } });
  assert.deepEqual(parseServingConfig({ version: 1, server: { host: '0.0.0.0', allowedHosts: ['api.example.com'] } }, 'x.json').server?.allowedHosts, ['api.example.com']);
});

test('typos and bad values are refused with the field', () => {
  assert.throws(() => parseServingConfig({ server: { prot: 1 } }, 'x.json'), (error: Error) => error instanceof ServingConfigError && /prot/.test(error.message));
  assert.throws(() => parseServingConfig({ batching: { maxBatchSize: 0 } }, 'x.json'), /batching\.maxBatchSize/);
  assert.throws(() => parseServingConfig({ device: 'tpu' }, 'x.json'), /device.*auto, cpu/);
  assert.throws(() => parseServingConfig({ version: 2 }, 'x.json'), /version/);
  assert.throws(() => parseServingConfig({ server: { allowedHosts: 'a,b' } }, 'x.json'), /server\.allowedHosts/);
});

test('JSON and YAML files; unreadable and malformed files say so', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-config-'));
  try {
    writeFileSync(join(dir, 'a.json'), '{"version":1,"logging":{"contentLogging":true}}');
    writeFileSync(join(dir, 'b.yaml'), 'version: 1\nserver:\n  corsOrigins: ["*"]\n');
    writeFileSync(join(dir, 'c.json'), '{"version":');
    assert.equal(loadServingConfigFile(join(dir, 'a.json')).logging?.contentLogging, true);
    assert.deepEqual(loadServingConfigFile(join(dir, 'b.yaml')).server?.corsOrigins, ['*']);
    assert.throws(() => loadServingConfigFile(join(dir, 'c.json')), /not valid JSON/);
    assert.throws(() => loadServingConfigFile(join(dir, 'missing.json')), /Cannot read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
