// Reading Server-Sent Events: the events of a streamed response body, in order, as each one
// completes (events may be split anywhere across network reads). One reader for the benchmark's
// client, the playground and the tests; the parsing is eventsource-parser's (spec-complete: CRLF,
// multi-line data, comments, BOM). Runtime-free: Node and the browser.
import { createParser } from 'eventsource-parser';

export interface SseEvent {
  /** The `event:` field; undefined for unnamed events (OpenAI's streams). */
  event: string | undefined;
  data: string;
}

export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const completed: SseEvent[] = [];
  const parser = createParser({ onEvent: ({ event, data }) => completed.push({ event, data }) });
  const reader = body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      while (completed.length > 0) yield completed.shift()!;
    }
  } finally {
    reader.releaseLock();
  }
}

/** The `data:` payloads of the events only. */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  for await (const { data } of sseEvents(body)) yield data;
}
