// Server-sent events with backpressure: a slow reader pauses its own stream, not the server.
import type { ServerResponse } from 'node:http';

export function startSse(res: ServerResponse, headers: Record<string, string> = {}): void {
  res.writeHead(200, {
    ...headers,
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
    // Proxies (nginx) must not buffer a token stream.
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
}

/** One event as it goes on the wire; `event` names it (unnamed: OpenAI's streams). */
export function sseFrame(data: unknown, event?: string): string {
  const payload = typeof data === 'string' ? data : JSON.stringify(data);
  return `${event ? `event: ${event}\n` : ''}data: ${payload}\n\n`;
}

/** Writes one `data:` event; resolves once the socket can take more (or is gone). */
export async function sendSse(res: ServerResponse, data: unknown): Promise<void> {
  if (res.destroyed || res.writableEnded) return;
  if (!res.write(sseFrame(data))) {
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }
}

export function endSse(res: ServerResponse, doneMarker: boolean): void {
  if (res.destroyed || res.writableEnded) return;
  // [DONE] goes out with end(), after the request's log row is written (RequestContext.recordOnEnd).
  res.end(doneMarker ? 'data: [DONE]\n\n' : undefined);
}
