import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelTokenizer } from './tokenizer.js';
import { StreamDetokenizer } from './detokenizer.js';

/** A byte-level BPE tokenizer with one token per byte (plus a few merges), like GPT-2's. */
function byteTokenizer(): ModelTokenizer {
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = bytes.slice();
  let extra = 0;
  for (let b = 0; b < 256; b++) if (!bytes.includes(b)) { bytes.push(b); chars.push(256 + extra++); }
  const byteChar = new Map(bytes.map((byte, i) => [byte, String.fromCodePoint(chars[i]!)]));
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[byteChar.get(b)!] = b;
  vocab['ST'] = 256;
  vocab['OP'] = 257;
  vocab['<eos>'] = 258;
  const tokenizerJson = {
    version: '1.0',
    added_tokens: [{ id: 258, content: '<eos>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: ['S T', 'O P'] },
  };
  return new ModelTokenizer(tokenizerJson, { clean_up_tokenization_spaces: false, eos_token: '<eos>' }, {
    tokenizerFile: 'tokenizer.json', tokenizerConfigFile: 'tokenizer_config.json', chatTemplate: null,
    bosToken: null, eosToken: '<eos>', bosTokenId: null, eosTokenIds: [258], padTokenId: null, addBosToken: false,
  });
}

const tokenizer = byteTokenizer();
const decode = (ids: readonly number[]) => tokenizer.decode(ids);

function stream(text: string, stopStrings: string[] = []) {
  const ids = tokenizer.encode(text, { addSpecialTokens: false });
  const detokenizer = new StreamDetokenizer(decode, stopStrings);
  const pieces: string[] = [];
  let stopped = false;
  for (const id of ids) {
    const step = detokenizer.push(id);
    pieces.push(step.text);
    if (step.stopped) {
      stopped = true;
      break;
    }
  }
  if (!stopped) pieces.push(detokenizer.flush());
  return { ids, pieces, stopped, text: pieces.join('') };
}

test('multi-byte characters split across byte tokens are never emitted broken', () => {
  const text = 'héllo 😀 wörld ✓';
  const result = stream(text);
  assert.ok(result.ids.length > [...text].length, 'characters really are split across tokens');
  assert.equal(result.text, text);
  for (const piece of result.pieces) assert.ok(!piece.includes('\uFFFD'), `broken piece ${JSON.stringify(piece)}`);
  // The emoji's 4 byte tokens produce nothing until the last one.
  assert.ok(result.pieces.includes('😀') || result.pieces.some((piece) => piece.endsWith('😀')));
});

test('a stop string split across tokens is never leaked', () => {
  const result = stream('say STOP now', ['STOP']);
  assert.equal(result.stopped, true);
  assert.equal(result.text, 'say ');
  for (const piece of result.pieces) assert.ok(!piece.includes('S'), `leaked ${JSON.stringify(piece)}`);
  // Split at byte level and inside a multi-byte character.
  const multi = stream('abc wö! xyz', ['ö!']);
  assert.equal(multi.text, 'abc w');
  assert.equal(multi.stopped, true);
});

test('a held-back prefix of a stop string is released when it turns out not to be one', () => {
  const result = stream('STAY here', ['STOP']);
  assert.equal(result.stopped, false);
  assert.equal(result.text, 'STAY here');
  assert.ok(result.pieces.includes('') , 'something was held back at some point');
});

test('the earliest of several stop strings wins; text before it is complete', () => {
  const result = stream('one two three', ['three', 'two']);
  assert.equal(result.text, 'one ');
});

test('special tokens decode to nothing; token bytes come from the byte-level vocabulary', () => {
  const detokenizer = new StreamDetokenizer(decode, []);
  assert.equal(detokenizer.push(258).text, '');
  const [first] = tokenizer.encode('é', { addSpecialTokens: false });
  assert.deepEqual(tokenizer.tokenBytes(first!), [0xc3]);
  assert.deepEqual(tokenizer.tokenBytes(256), [...Buffer.from('ST')]);
});
