import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from './errors.js';
import { chatCompletionSchema, completionSchema, paramPath, parseBody } from './validation.js';

function rejection(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ApiError);
    return error;
  }
  assert.fail('expected a 400');
}

test('paramPath spells nested fields as OpenAI does', () => {
  assert.equal(paramPath(['messages', 0, 'content']), 'messages[0].content');
  assert.equal(paramPath(['stream_options', 'include_usage']), 'stream_options.include_usage');
  assert.equal(paramPath([]), '');
});

test('a missing field is called required; a bad one says why', () => {
  const missing = rejection(() => parseBody(chatCompletionSchema, { model: 'm' }));
  assert.equal(missing.status, 400);
  assert.equal(missing.param, 'messages');
  assert.match(missing.message, /'messages': is required/);
  const bad = rejection(() => parseBody(chatCompletionSchema, { messages: [{ role: 'user', content: 'x' }], top_k: -2 }));
  assert.equal(bad.param, 'top_k');
  assert.match(bad.message, /-1 \(off\)/);
  const nested = rejection(() => parseBody(chatCompletionSchema, { messages: [{ role: 'user', content: 5 }] }));
  assert.equal(nested.param, 'messages[0].content');
  const notObject = rejection(() => parseBody(chatCompletionSchema, [1, 2]));
  assert.match(notObject.message, /JSON object/);
});

test('unknown fields are ignored; known ones are typed', () => {
  const body = parseBody(chatCompletionSchema, {
    messages: [{ role: 'developer', content: [{ type: 'text', text: 'a' }] }],
    stop: ['x', 'y'],
    frequency_penalty: 0.5,
    some_vendor_field: true,
  });
  assert.deepEqual(body.stop, ['x', 'y']);
  assert.ok(!('some_vendor_field' in body));
});

test('completion prompts: text, texts, token ids, lists of token ids', () => {
  for (const prompt of ['a', ['a', 'b'], [1, 2], [[1], [2, 3]]]) assert.deepEqual(parseBody(completionSchema, { prompt }).prompt, prompt);
  const bad = rejection(() => parseBody(completionSchema, { prompt: [1.5] }));
  assert.equal(bad.param, 'prompt');
});
