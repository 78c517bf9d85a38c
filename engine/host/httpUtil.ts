// Small HTTP helpers for the admin API: JSON bodies, typed errors that become `AdminError`
// responses, and query parsing. No framework: the admin API is a handful of routes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AdminError } from '../common/adminApi.js';
import { checkJsonContentType } from '../server/browserGuard.js';
import type { z } from 'zod';
import { paramPath } from '../server/validation.js';

/** An error a user can meet, sent as an AdminError body with this HTTP status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string) => new HttpError(400, 'bad_request', message);
export const notFound = (message: string) => new HttpError(404, 'not_found', message);
export const conflict = (message: string) => new HttpError(409, 'conflict', message);
export const unavailable = (message: string) => new HttpError(503, 'unavailable', message);

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

export function sendError(res: ServerResponse, error: unknown): void {
  const httpError =
    error instanceof HttpError
      ? error
      : new HttpError(500, 'internal', `The engine host failed: ${(error as Error)?.message ?? String(error)}. See the host's log; retry, or restart Hearth if it persists.`);
  const body: AdminError = { error: { code: httpError.code, message: httpError.message } };
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, httpError.status, body);
}

const MAX_BODY_BYTES = 1 << 20;

/** The JSON body; an absent body reads as {} (bodiless POSTs such as /api/serve/stop). */
export async function readJson<T>(req: IncomingMessage): Promise<T> {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  const refusal = hasBody ? checkJsonContentType(req) : null;
  if (refusal) throw new HttpError(refusal.status, refusal.code, refusal.message);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'too_large', 'The request body is over 1 MiB; send less.');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {} as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw badRequest('The request body is not valid JSON.');
  }
}

/** `value` checked against `schema`, or a 400 naming the first offending field ("'port' must be …"). */
export function parseWith<T>(schema: z.ZodType<T, unknown>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = paramPath(issue.path);
  // Our messages name their field already ('port' must be …); zod's own do not.
  const message = issue.message.startsWith("'") || issue.message.startsWith('Pick') || issue.message.startsWith('Send') ? issue.message : `'${field || 'body'}': ${issue.message}`;
  throw badRequest(`${message}.`);
}

/** The JSON body, checked against `schema` (see adminBodies.ts). */
export async function readBody<T>(req: IncomingMessage, schema: z.ZodType<T, unknown>): Promise<T> {
  return parseWith(schema, await readJson<unknown>(req));
}

export function optionalNumber(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw badRequest(`Query parameter '${name}' must be a number, got '${raw}'.`);
  return value;
}
