import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIN_PREFIX_REUSE_TOKENS, PrefixCache } from './prefixCache.js';

const seq = (start: number, length: number) => Array.from({ length }, (_, i) => start + i);
const MIN = MIN_PREFIX_REUSE_TOKENS;

test('the longest common prefix wins, capped by maxTokens; shorter than the minimum is no match', () => {
  const cache = new PrefixCache(10_000);
  const a = cache.insert(seq(0, 100))!;
  const b = cache.insert([...seq(0, 50), ...seq(1000, 100)])!;
  assert.deepEqual(cache.longestMatch([...seq(0, 80), 7, 7], 1000), { entryId: a.entryId, numTokens: 80 }, 'a partial prefix of an entry is reusable');
  assert.deepEqual(cache.longestMatch([...seq(0, 50), ...seq(1000, 60)], 1000), { entryId: b.entryId, numTokens: 110 });
  assert.deepEqual(cache.longestMatch(seq(0, 100), 99), { entryId: a.entryId, numTokens: 99 }, 'the prompt keeps its last token to prefill');
  assert.equal(cache.longestMatch([...seq(0, MIN - 1), 9999], 1000), null);
  assert.equal(cache.longestMatch(seq(5000, 200), 1000), null);
});

test('an entry the new one extends is dropped; one already holding all of it makes the insert a no-op', () => {
  const cache = new PrefixCache(10_000);
  const turn1 = cache.insert(seq(0, 100))!;
  const turn2 = cache.insert(seq(0, 180))!;
  assert.deepEqual(turn2.droppedIds, [turn1.entryId]);
  assert.deepEqual(cache.stats(), { entries: 1, usedTokens: 180, capacityTokens: 10_000 });
  assert.equal(cache.insert(seq(0, 120)), null, 'turn 2 already holds these tokens');
  assert.equal(cache.insert(seq(0, MIN - 1)), null, 'too short to keep');
  assert.equal(cache.stats().entries, 1);
});

test('eviction is least-recently-used (a match counts as use) and bounded by capacity', () => {
  const cache = new PrefixCache(300);
  const a = cache.insert(seq(0, 100))!;
  const b = cache.insert(seq(1000, 100))!;
  const c = cache.insert(seq(2000, 100))!;
  assert.deepEqual([a.droppedIds, b.droppedIds, c.droppedIds], [[], [], []]);
  assert.ok(cache.longestMatch(seq(0, 60), 60), 'touch a: b is now the oldest');
  const d = cache.insert(seq(3000, 150))!;
  assert.deepEqual(d.droppedIds, [b.entryId, c.entryId], 'b, then c, make room for 150 tokens');
  assert.deepEqual(cache.stats(), { entries: 2, usedTokens: 250, capacityTokens: 300 });
  assert.equal(cache.longestMatch(seq(1000, 100), 99), null, 'b is gone');
  assert.equal(cache.longestMatch(seq(0, 100), 99)?.entryId, a.entryId);
  assert.equal(cache.insert(seq(5000, 301)), null, 'larger than the whole cache');
  assert.equal(cache.stats().usedTokens, 250, 'and nothing was evicted for it');
});

test('with separate prompt and generated paths a token is shared only where both requests computed it on the same path', () => {
  const separate = new PrefixCache(10_000, true);
  const plain = new PrefixCache(10_000);
  // Turn 1: a 60-token prompt and 40 generated tokens, cached as one entry.
  const turn1 = seq(0, 100);
  const entry = separate.insert(turn1, 60)!;
  plain.insert(turn1, 60);
  const turn2 = [...turn1, ...seq(500, 20)];
  assert.deepEqual(separate.longestMatch(turn2, 119, 120), { entryId: entry.entryId, numTokens: 60 }, 'the next turn re-prefills the answer: its tokens are prompt tokens now');
  assert.equal(plain.longestMatch(turn2, 119, 120)?.numTokens, 100, 'one path: the whole entry is reused');
  assert.deepEqual(separate.longestMatch(seq(0, 101), 100, 60), { entryId: entry.entryId, numTokens: 100 }, 'a preempted request (same prompt) reuses its generated tokens too');
  assert.equal(separate.longestMatch(seq(0, 50), 49, 50)?.numTokens, 49, 'a shorter prompt inside the entry\'s prompt');
  // Turn 2 leaves: its entry does not make turn 1's redundant (their tokens 60..99 differ in path).
  const second = separate.insert(turn2, 120)!;
  assert.deepEqual(second.droppedIds, []);
  assert.equal(separate.stats().entries, 2);
  assert.deepEqual(separate.longestMatch(seq(0, 101), 100, 60), { entryId: entry.entryId, numTokens: 100 }, 'turn 1 still serves its own recompute');
  assert.equal(separate.insert(seq(0, 80), 80), null, 'turn 2 holds these 80 prompt tokens');
});
