import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryReading, parseNvidiaSmi } from './memory.js';

test('parses nvidia-smi csv (MiB) including GPU names with commas', () => {
  const gpus = parseNvidiaSmi('NVIDIA L4, 1024, 23034\nTesla T4, rev, 2, 512, 15360\n\n');
  assert.equal(gpus.length, 2);
  assert.deepEqual(gpus[0], { name: 'NVIDIA L4', usedBytes: 1024 * 2 ** 20, totalBytes: 23034 * 2 ** 20 });
  assert.equal(gpus[1]!.name, 'Tesla T4, rev, 2');
  assert.deepEqual(parseNvidiaSmi('NVIDIA-SMI has failed because it could not communicate with the driver'), []);
});

test('memory reading says where it came from and breaks down the engine share', () => {
  const engine = { weightsBytes: 100, kvCacheBytes: 50, processBytes: 400 };
  const system = memoryReading(null, engine, { totalBytes: 1000, freeBytes: 300 });
  assert.equal(system.source, 'system');
  assert.equal(system.usedBytes, 700);
  assert.deepEqual(system.engine, { weightsBytes: 100, kvCacheBytes: 50, otherBytes: 250 });
  const gpu = memoryReading({ name: 'NVIDIA L4', usedBytes: 5, totalBytes: 10 }, engine);
  assert.equal(gpu.source, 'nvidia-smi');
  assert.equal(gpu.deviceName, 'NVIDIA L4');
  assert.equal(gpu.totalBytes, 10);
  // The engine's "other" never goes negative when weights + KV exceed the process's RSS (GPU memory).
  assert.equal(memoryReading(null, { weightsBytes: 500, kvCacheBytes: 0, processBytes: 100 }).engine.otherBytes, 0);
});
