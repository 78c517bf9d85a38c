import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BatchingConfig } from '../common/batching.js';
import { ApiError } from '../server/errors.js';
import { batchingFromSettings, servingConfigFromSettings, validateServeSettings } from './serveSettings.js';
import { DEFAULT_MAX_BATCH_SIZE } from '../common/batching.js';

test('fills defaults and trims', () => {
  const settings = validateServeSettings({ model: ' tiny ', device: 'cpu', port: 0, corsOrigins: [' http://a ', ''], apiKey: '  ' });
  assert.equal(settings.model, 'tiny');
  assert.deepEqual(settings.corsOrigins, ['http://a']);
  assert.equal(settings.apiKey, undefined);
  assert.equal(settings.maxBatchSize, DEFAULT_MAX_BATCH_SIZE, 'the CLI and engine default');
  assert.equal(settings.host, '127.0.0.1');
  assert.equal(settings.contentLogging, true);
});

test('rejects bad settings with a message naming the field', () => {
  const cases: [unknown, RegExp][] = [
    [{}, /Pick a model/],
    [{ model: 'm', device: 'tpu' }, /'device' must be one of/],
    [{ model: 'm', port: 70000 }, /'port' must be a whole number from 0 to 65535/],
    [{ model: 'm', maxBatchSize: 0 }, /'maxBatchSize'/],
    [{ model: 'm', dtype: 'bf16' }, /'dtype' must be one of/],
    [{ model: 'm', corsOrigins: 'x' }, /'corsOrigins'/],
    [{ model: 'm', cpuInt8MatMul: true }, /'cpuInt8MatMul' must be one of off, prompt, all/],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => validateServeSettings(input), (error: unknown) => error instanceof ApiError && error.status === 400 && message.test(error.message));
  }
});

test('maps the Serve view settings into batching and the serving config', () => {
  const settings = validateServeSettings({ model: 'm', device: 'cpu', port: 8080, maxBatchSize: 4, contextLength: 128, kvCacheBytes: 1 << 20, apiKey: 'k', corsOrigins: ['*'] });
  assert.deepEqual(batchingFromSettings(settings), { maxBatchSize: 4, kvCacheBytes: 1 << 20, maxTotalTokens: 128 });
  assert.deepEqual(batchingFromSettings({ ...settings, contextLength: 0 }), { maxBatchSize: 4, kvCacheBytes: 1 << 20 });
  const batching = { maxBatchSize: 4 } as BatchingConfig;
  const config = servingConfigFromSettings(settings, '/pkg', batching);
  assert.equal(config.model.package, '/pkg');
  assert.equal(config.server.port, 8080);
  assert.equal(config.server.apiKey, 'k');
  assert.deepEqual(config.server.corsOrigins, ['*']);
  assert.equal(config.device, 'cpu');
  assert.equal(config.batching, batching);
  assert.equal(config.logging.contentLogging, true);
  assert.equal(settings.cpuInt8MatMul, 'off', 'int8 matmuls default to off');
  assert.equal('cpuInt8MatMul' in config, false, 'and stay out of the config');
  assert.equal(servingConfigFromSettings({ ...settings, cpuInt8MatMul: 'prompt' }, '/pkg', batching).cpuInt8MatMul, 'prompt');
});
