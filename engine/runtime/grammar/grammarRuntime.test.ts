import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boundedStringsAsPatterns, encodedVocabulary } from './grammarRuntime.js';
import { xgrammar } from './xgrammar.js';

test('bounded strings compile to JSON-valid strings (xgrammar 0.1.27 alone lets control characters in and escapes out)', async () => {
  const xg = xgrammar();
  const schema = { type: 'object', properties: { tag: { type: 'string', minLength: 2, maxLength: 4 } }, required: ['tag'] };
  const accepts = async (candidate: unknown, text: string) =>
    xg.Testings.isGrammarAcceptString(await xg.Grammar.fromJSONSchema(JSON.stringify(candidate), false), text);
  const doc = (inner: string) => `{\n  "tag": "${inner}"\n}`;
  assert.equal(await accepts(schema, doc('ab\u0001')), true, 'the upstream bug this works around (remove the workaround when this fails)');
  const fixed = boundedStringsAsPatterns(schema);
  assert.equal(await accepts(fixed, doc('ab\u0001')), false);
  assert.equal(await accepts(fixed, doc('a\\n')), true, 'an escape counts as one character');
  assert.equal(await accepts(fixed, doc('abcd')), true);
  assert.equal(await accepts(fixed, doc('abcde')), false);
  assert.equal(await accepts(fixed, doc('a')), false);
  const untouched = { type: 'string', maxLength: 3, format: 'date' };
  assert.deepEqual(boundedStringsAsPatterns(untouched), untouched);
  assert.deepEqual(boundedStringsAsPatterns({ enum: [{ type: 'string', maxLength: 1 }] }), { enum: [{ type: 'string', maxLength: 1 }] });
});

test('encodedVocabulary reads BPE vocabularies with added tokens and detects byte-level decoding', () => {
  const { tokens, vocabType, prependSpace } = encodedVocabulary({
    model: { type: 'BPE', vocab: { a: 0, b: 2 } },
    added_tokens: [{ id: 3, content: '<|end|>' }],
    decoder: { type: 'ByteLevel' },
  });
  assert.deepEqual(tokens, ['a', '', 'b', '<|end|>']);
  assert.equal(vocabType, 'byte_level');
  assert.equal(prependSpace, false);
  const unigram = encodedVocabulary({ model: { type: 'Unigram', vocab: [['▁x', -1], ['<0x41>', 0]] }, decoder: { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Metaspace' }] } });
  assert.deepEqual(unigram, { tokens: ['▁x', '<0x41>'], vocabType: 'byte_fallback', prependSpace: true });
});
