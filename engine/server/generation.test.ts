import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from './errors.js';
import { resolveMaxNewTokens, samplingParams, stopStrings } from './generation.js';
import type { ServedEngine } from './servedEngine.js';

test('sampling: request fields, then the package defaults, then OpenAI defaults', () => {
  assert.deepEqual(samplingParams({}, {}), {
    temperature: 1, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1, seed: undefined,
  });
  const fromPackage = samplingParams({}, { temperature: 0.6, topP: 0.9, topK: 40, repetitionPenalty: 1.1 });
  assert.equal(fromPackage.temperature, 0.6);
  assert.equal(fromPackage.topK, 40);
  assert.equal(fromPackage.repetitionPenalty, 1.1);
  assert.equal(samplingParams({}, { doSample: false, temperature: 0.6 }).temperature, 0, 'do_sample false → greedy');
  assert.equal(samplingParams({ temperature: 0 }, { temperature: 0.6 }).temperature, 0);
  assert.equal(samplingParams({ top_k: -1 }, {}).topK, 0, '-1 means off');
  assert.equal(samplingParams({ seed: 10 }, {}, 2).seed, 12, 'n > 1: distinct, reproducible seeds');
});

test('stop strings: one or many, empty ones dropped', () => {
  assert.deepEqual(stopStrings(undefined), []);
  assert.deepEqual(stopStrings('\n'), ['\n']);
  assert.deepEqual(stopStrings(['a', '', 'b']), ['a', 'b']);
});

test('context checks name the numbers', () => {
  const engine = { config: { maxInputTokens: 100, maxTotalTokens: 128 } } as unknown as ServedEngine;
  assert.equal(resolveMaxNewTokens(engine, 28, undefined, 'max_tokens'), 100, 'default: the rest of the context');
  assert.equal(resolveMaxNewTokens(engine, 28, 100, 'max_tokens'), 100);
  assert.throws(() => resolveMaxNewTokens(engine, 28, 101, 'max_completion_tokens'), (error: ApiError) =>
    error.status === 400 && error.param === 'max_completion_tokens' && /128 tokens.*129 tokens \(28 in the prompt, 101/.test(error.message));
  assert.throws(() => resolveMaxNewTokens(engine, 101, 1, 'max_tokens'), (error: ApiError) => error.status === 400 && /101 tokens.*at most 100/.test(error.message));
  assert.throws(() => resolveMaxNewTokens(engine, 0, 1, 'max_tokens'), /empty/);
});
