import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packageTensors } from '../common/memoryEstimate.js';
import { assertFollowsPlan } from './convert.js';

const shape = { vocabSize: 256, hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, intermediateSize: 128, tiedEmbeddings: false, contextLength: 32 };

test('a package that follows the plan passes; a tensor more, less, renamed or resized fails naming it', () => {
  const plan = packageTensors(shape, 'int4');
  const stored = plan.filter((tensor) => tensor.bytes > 0).map(({ name, bytes }) => ({ name, bytes }));
  assertFollowsPlan(stored, plan);
  assert.throws(() => assertFollowsPlan(stored.slice(0, -1), plan), /wrote nothing as tensor \d+, where the package plan .* has lm_head\.zero_points/);
  assert.throws(() => assertFollowsPlan([...stored, { name: 'extra', bytes: 4 }], plan), /wrote extra \(4 bytes\)/);
  const resized = stored.map((tensor, i) => (i === 3 ? { ...tensor, bytes: tensor.bytes + 1 } : tensor));
  assert.throws(() => assertFollowsPlan(resized, plan), new RegExp(`wrote ${stored[3]!.name.replace(/\./g, '\\.')} \\(${stored[3]!.bytes + 1} bytes\\)`));
  const renamed = stored.map((tensor, i) => (i === 0 ? { ...tensor, name: 'embed' } : tensor));
  assert.throws(() => assertFollowsPlan(renamed, plan), /wrote embed/);
});
