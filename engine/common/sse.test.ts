import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sseData } from './sse.js';

/** A byte stream of `text`, cut every `size` bytes (through multi-byte characters too). */
function chunked(text: string, size: number): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

test('SSE events split anywhere across reads come out whole, in order (CRLF, comments, multi-line data, UTF-8 split mid-character)', async () => {
  const stream = 'data: {"a":1}\n\ndata: {"b":\r\n\r\n: comment\n\ndata: line one\ndata: line two\n\nevent: x\ndata: "é—😀"\n\ndata: [DONE]\n\n';
  for (const size of [1, 3, 7, 1000]) {
    const payloads: string[] = [];
    for await (const data of sseData(chunked(stream, size))) payloads.push(data);
    assert.deepEqual(payloads, ['{"a":1}', '{"b":', 'line one\nline two', '"é—😀"', '[DONE]'], `reads of ${size} bytes`);
  }
});

test('an event without its closing blank line is not emitted', async () => {
  const payloads: string[] = [];
  for await (const data of sseData(chunked('data: complete\n\ndata: cut', 4))) payloads.push(data);
  assert.deepEqual(payloads, ['complete']);
});
