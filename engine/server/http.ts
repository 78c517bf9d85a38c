// The HTTP kit both servers use (the OpenAI API here, the desktop host's admin API): bounded JSON
// bodies that must say they are JSON, JSON and text responses, client identity. No framework.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkJsonContentType } from './browserGuard.js';
import { ApiError } from './errors.js';

/** Largest request body either server reads by default (server.maxBodyBytes overrides it for the API). */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** The JSON body (415 unless it is declared JSON, 413 past the limit, 400 when empty or not JSON). */
export async function readJsonBody(req: IncomingMessage, maxBodyBytes = DEFAULT_MAX_BODY_BYTES): Promise<unknown> {
  const refusal = checkJsonContentType(req);
  if (refusal) throw new ApiError(refusal.status, refusal.message, { code: refusal.code });
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
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function clientIp(req: IncomingMessage): string | null {
  return req.socket.remoteAddress ?? null;
}
