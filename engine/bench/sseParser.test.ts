import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser } from './sseParser.js';

test('SSE events split anywhere across chunks are reassembled', () => {
  const parser = new SseParser();
  const stream = 'data: {"a":1}\n\ndata: {"b":\r\n\r\n: comment\n\ndata: [DONE]\n\n';
  const payloads: string[] = [];
  for (let i = 0; i < stream.length; i += 3) payloads.push(...parser.push(stream.slice(i, i + 3)));
  assert.deepEqual(payloads, ['{"a":1}', '{"b":', '[DONE]']);
});
