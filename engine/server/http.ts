// Small node:http helpers: bounded JSON bodies, JSON responses, client identity.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './errors.js';

export async function readJsonBody(req: IncomingMessage, maxBodyBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBodyBytes) throw bodyTooLarge(declared, maxBodyBytes);
  const chunks: Buffer[] = [];
  let numBytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    numBytes += chunk.length;
    // Stop reading at once: a client streaming gigabytes must not fill memory.
    if (numBytes > maxBodyBytes) throw bodyTooLarge(numBytes, maxBodyBytes);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new ApiError(400, 'The request body is empty; send a JSON object.', { code: 'invalid_json' });
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, `The request body is not valid JSON: ${(error as Error).message}.`, { code: 'invalid_json' });
  }
}

function bodyTooLarge(numBytes: number, maxBodyBytes: number): ApiError {
  return new ApiError(
    413,
    `The request body is ${numBytes} bytes or more; this server accepts at most ${maxBodyBytes} bytes ` +
      `(server.maxBodyBytes). Send a shorter prompt or raise the limit.`,
    // The rest of the body is never read, so the connection cannot be reused.
    { code: 'request_too_large', headers: { Connection: 'close' } },
  );
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function clientIp(req: IncomingMessage): string | null {
  return req.socket.remoteAddress ?? null;
}
