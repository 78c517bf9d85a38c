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

/** A route either server matches by method and path pattern. */
export interface MatchableRoute {
  method: string;
  pattern: RegExp;
}

/**
 * A path such as '/things/:name' or '/v1/models/:id*' as a pattern: `:name` matches one path
 * segment, `:name*` the rest of the path (model ids contain slashes).
 */
export function routePattern(path: string): RegExp {
  const source = path
    .split(/(:\w+\*?)/)
    .map((part) => (!part.startsWith(':') ? escapeRegExp(part) : part.endsWith('*') ? `(?<${part.slice(1, -1)}>.+)` : `(?<${part.slice(1)}>[^/]+)`))
    .join('');
  return new RegExp(`^${source}$`);
}

/** The route for method + path with its decoded params; 'wrong-method' when only the path matches (405); null (404). */
export function findRoute<R extends MatchableRoute>(routes: readonly R[], method: string, pathname: string): { route: R; params: Record<string, string> } | 'wrong-method' | null {
  let pathMatched = false;
  for (const route of routes) {
    const match = route.pattern.exec(pathname);
    if (!match) continue;
    if (route.method !== method) {
      pathMatched = true;
      continue;
    }
    const params: Record<string, string> = {};
    for (const [key, value] of Object.entries(match.groups ?? {})) {
      try {
        params[key] = decodeURIComponent(value);
      } catch {
        throw new ApiError(400, `The path parameter '${key}' is not valid percent-encoding: '${value}'.`, { code: 'bad_request' });
      }
    }
    return { route, params };
  }
  return pathMatched ? 'wrong-method' : null;
}

/** A path matched literally (routes taken from configuration, such as Vertex AI's AIP_PREDICT_ROUTE, may contain ':'). */
export function exactPath(path: string): RegExp {
  return new RegExp(`^${escapeRegExp(path)}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
