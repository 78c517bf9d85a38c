import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SamplingParams } from '../common/engineApi.js';
import { SamplerScratch, SamplerState, mulberry32, sample } from './sampler.js';

const GREEDY: SamplingParams = { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1 };
const scratch = new SamplerScratch();

function state(params: Partial<SamplingParams>, options: { prompt?: number[]; topLogprobs?: number; seed?: number } = {}) {
  return new SamplerState({ ...GREEDY, ...params }, options.prompt ?? [], options.topLogprobs, options.seed ?? 1);
}

function logitsOf(probabilities: number[]): Float32Array {
  return Float32Array.from(probabilities.map((p) => Math.log(p)));
}

function histogram(logits: Float32Array, params: Partial<SamplingParams>, draws: number) {
  const s = state(params, { seed: 42 });
  const counts = new Array(logits.length).fill(0);
  for (let i = 0; i < draws; i++) counts[sample(logits, s, scratch).tokenId]++;
  return counts.map((count) => count / draws);
}

/** Reference: sort the whole vocabulary and apply min-p → top-k → top-p literally. */
function referenceKept(logits: Float32Array, { topK, topP, minP }: SamplingParams): number[] {
  const max = Math.max(...logits);
  let ids = [...logits.keys()].sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (minP > 0) ids = ids.filter((id) => Math.exp(logits[id]! - max) >= minP);
  if (topK > 0) ids = ids.slice(0, topK);
  if (topP < 1) {
    const masses = ids.map((id) => Math.exp(logits[id]! - max));
    const total = masses.reduce((a, b) => a + b, 0);
    let cumulative = 0;
    const cut = masses.findIndex((mass) => (cumulative += mass) >= topP * total);
    if (cut >= 0) ids = ids.slice(0, cut + 1);
  }
  return ids;
}

test('greedy picks the argmax and reports log-softmax logprobs', () => {
  const logits = logitsOf([0.1, 0.6, 0.3]);
  const result = sample(logits, state({}, { topLogprobs: 2 }), scratch);
  assert.equal(result.tokenId, 1);
  assert.ok(Math.abs(result.logprob! - Math.log(0.6)) < 1e-6);
  assert.deepEqual(result.top!.map((entry) => entry.tokenId), [1, 2]);
  assert.ok(Math.abs(result.top![1]!.logprob - Math.log(0.3)) < 1e-6);
});

test('same seed → same tokens; different seed → different tokens', () => {
  const logits = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 2);
  const run = (seed: number) => {
    const s = state({ temperature: 1, seed });
    return Array.from({ length: 50 }, () => sample(logits, s, scratch).tokenId);
  };
  assert.deepEqual(run(1234), run(1234));
  assert.notDeepEqual(run(1234), run(4321));
  assert.notEqual(mulberry32(1)(), mulberry32(2)());
});

test('temperature: sampling follows the distribution; low temperature sharpens it', () => {
  const logits = logitsOf([0.5, 0.3, 0.2]);
  const frequencies = histogram(logits, { temperature: 1 }, 4000);
  assert.ok(Math.abs(frequencies[0]! - 0.5) < 0.04 && Math.abs(frequencies[2]! - 0.2) < 0.04, String(frequencies));
  const sharp = histogram(logits, { temperature: 0.1 }, 1000);
  assert.ok(sharp[0]! > 0.98, String(sharp));
});

test('top-k keeps only the k most likely tokens', () => {
  const logits = logitsOf([0.4, 0.3, 0.2, 0.1]);
  const frequencies = histogram(logits, { temperature: 1, topK: 2 }, 2000);
  assert.equal(frequencies[2], 0);
  assert.equal(frequencies[3], 0);
  assert.ok(Math.abs(frequencies[0]! - 4 / 7) < 0.05);
  assert.deepEqual(histogram(logits, { temperature: 5, topK: 1 }, 50), [1, 0, 0, 0]);
});

test('top-p keeps the smallest set reaching p; min-p drops tokens below p × max', () => {
  const logits = logitsOf([0.5, 0.3, 0.15, 0.05]);
  const nucleus = histogram(logits, { temperature: 1, topP: 0.7 }, 2000);
  assert.equal(nucleus[2], 0);
  assert.equal(nucleus[3], 0);
  assert.ok(Math.abs(nucleus[0]! - 0.625) < 0.05);
  const minP = histogram(logits, { temperature: 1, minP: 0.2 }, 2000);
  assert.ok(minP[2]! > 0);
  assert.equal(minP[3], 0);
});

test('filters are exact on a large vocabulary (compared with sorting everything)', () => {
  const random = mulberry32(9);
  for (let trial = 0; trial < 40; trial++) {
    const flatness = [0.5, 2, 8][trial % 3]!;
    const logits = Float32Array.from({ length: 5000 }, () => (random() - 0.5) * flatness);
    const params: SamplingParams = {
      ...GREEDY,
      temperature: 1,
      topK: [0, 3, 40, 4000][trial % 4]!,
      topP: [1, 0.9, 0.5, 0.99][(trial >> 2) % 4]!,
      minP: [0, 0.05, 0.5][(trial >> 3) % 3]!,
    };
    if (params.topK === 0 && params.topP === 1 && params.minP === 0) params.topP = 0.8;
    const expected = new Set(referenceKept(logits, params));
    const s = new SamplerState(params, [], 3, trial);
    for (let draw = 0; draw < 30; draw++) {
      const result = sample(logits, s, scratch);
      assert.ok(expected.has(result.tokenId), `trial ${trial}: token ${result.tokenId} outside the kept set`);
      for (const entry of result.top!) assert.ok(expected.has(entry.tokenId));
    }
    // Logprobs are of the processed (renormalised) distribution.
    const result = sample(logits, s, scratch);
    const kept = [...expected];
    const max = Math.max(...kept.map((id) => logits[id]!));
    const logZ = max + Math.log(kept.reduce((sum, id) => sum + Math.exp(logits[id]! - max), 0));
    assert.ok(Math.abs(result.logprob! - (logits[result.tokenId]! - logZ)) < 1e-4);
  }
});

test('repetition, presence and frequency penalties change the choice', () => {
  const logits = Float32Array.from([2, 1.9, -1, -1.05]);
  assert.equal(sample(logits, state({ repetitionPenalty: 1.2 }, { prompt: [0] }), scratch).tokenId, 1, '2/1.2 < 1.9');
  const negatives = Float32Array.from([-5, -1, -1.05]);
  assert.equal(sample(negatives, state({ repetitionPenalty: 1.2 }, { prompt: [1] }), scratch).tokenId, 2, '-1×1.2 < -1.05');
  const presence = state({ presencePenalty: 0.5 });
  presence.record(0);
  assert.equal(sample(logits, presence, scratch).tokenId, 1);
  const frequency = state({ frequencyPenalty: 0.15 });
  frequency.record(0);
  assert.equal(sample(logits, frequency, scratch).tokenId, 1, '0.15 × 1 pushes 2 below 1.9');
  const once = state({ frequencyPenalty: 0.01 });
  once.record(0);
  assert.equal(sample(logits, once, scratch).tokenId, 0);
  once.record(0);
  once.record(0);
  once.record(0);
  once.record(0);
  once.record(0);
  assert.equal(sample(logits, once, scratch).tokenId, 0, 'still 2 - 0.06 = 1.94 > 1.9');
  for (let i = 0; i < 6; i++) once.record(0);
  assert.equal(sample(logits, once, scratch).tokenId, 1, 'after 12: 2 - 0.12 < 1.9');
  assert.deepEqual([...logits], [2, 1.9, -1, -1.05].map(Math.fround), 'the raw logits are not modified');
});

test('a grammar constraint masks the row: only allowed ids are drawn, the matcher sees each, logprobs renormalise', () => {
  const allowed = new Set([1, 33, 34]); // across a 32-bit word boundary
  const bitmask = new Int32Array(2);
  for (const id of allowed) bitmask[id >> 5]! |= 1 << (id & 31);
  const accepted: number[] = [];
  const logits = new Float32Array(40).fill(0);
  logits[0] = 10; // the unconstrained favourite is forbidden
  const s = state({ temperature: 1 }, { topLogprobs: 5, seed: 9 });
  s.constraint = { bitmask, isTerminated: false, accept: (id) => (accepted.push(id), allowed.has(id)) };
  const seen = new Set<number>();
  for (let i = 0; i < 300; i++) {
    const result = sample(logits, s, scratch);
    seen.add(result.tokenId);
    s.record(result.tokenId);
    assert.equal(result.top!.length, 3, 'masked tokens are not alternatives');
    assert.ok(Math.abs(result.logprob! - Math.log(1 / 3)) < 1e-5);
  }
  assert.deepEqual([...seen].sort((a, b) => a - b), [...allowed]);
  assert.equal(accepted.length, 300);
  assert.equal(sample(logits, state({}, {}), scratch).tokenId, 0, 'unconstrained greedy still picks the favourite');
  const greedy = state({});
  greedy.constraint = s.constraint;
  assert.equal(sample(logits, greedy, scratch).tokenId, 1, 'greedy picks the best allowed token');
  assert.throws(() => greedy.record(0), /grammar rejected token 0.*bug/);
});
