// The renderer's pure parts (they run in Node too): SSE framing of the streamed chat, the
// benchmark's concurrency parsing, the copy-paste snippets, and display formats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatCount, formatMs } from '../../renderer/src/components/format.js';
import { parseLevels } from '../../renderer/src/views/benchLevels.js';
import { curlSnippet, langchainSnippet, openaiSnippet } from '../../renderer/src/views/snippets.js';

test('concurrency levels: sorted, unique, whole numbers only', () => {
  assert.deepEqual(parseLevels('4, 1 2,2'), [1, 2, 4]);
  assert.equal(parseLevels('1, 0'), null);
  assert.equal(parseLevels('1.5'), null);
  assert.equal(parseLevels(''), null);
});

test('snippets name the endpoint and model, and never print the API key itself', () => {
  const target = { baseUrl: 'http://127.0.0.1:8080/v1', model: 'tiny "model"', apiKey: 'sk-secret' };
  for (const snippet of [curlSnippet(target), openaiSnippet(target), langchainSnippet(target)]) {
    assert.match(snippet, /http:\/\/127\.0\.0\.1:8080\/v1/);
    assert.match(snippet, /HEARTH_API_KEY/);
    assert.doesNotMatch(snippet, /sk-secret/);
    assert.match(snippet, /tiny \\"model\\"/, 'the model name is JSON-escaped');
  }
  assert.doesNotMatch(curlSnippet({ ...target, apiKey: undefined }), /Authorization/);
});

test('formats carry units; filters become query strings without empty values', () => {
  assert.equal(formatBytes(1536), '1.5 KB');
  assert.equal(formatBytes(null), '—');
  assert.equal(formatMs(12.345), '12.3 ms');
  assert.equal(formatMs(12_345), '12.3 s');
  assert.equal(formatCount(140_000), '140 K');
  assert.equal(formatCount(1_500_000_000), '1.5 B');
});
