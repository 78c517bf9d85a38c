// The admin API's side of the HTTP kit (engine/server/http.ts): errors answered in the
// `AdminError` shape, checked JSON bodies, query parsing.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AdminError } from '../common/adminApi.js';
import { ApiError } from '../server/errors.js';
import { readJsonBody, sendJson as sendKitJson } from '../server/http.js';
import type { z } from 'zod';
import { paramPath } from '../server/validation.js';

/**
 * An error a user can meet, sent as an AdminError body with this HTTP status: the kit's one error
 * class (engine/server/errors.ts), shaped here as the admin API answers it.
 */
export const httpError = (status: number, code: string, message: string) => new ApiError(status, message, { code });
export const badRequest = (message: string) => httpError(400, 'bad_request', message);
export const notFound = (message: string) => httpError(404, 'not_found', message);
export const conflict = (message: string) => httpError(409, 'conflict', message);
export const unavailable = (message: string) => httpError(503, 'unavailable', message);

/** A JSON response (the kit's), never cached: admin answers are live state. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendKitJson(res, status, body, { 'cache-control': 'no-store' });
}

export function sendError(res: ServerResponse, error: unknown): void {
  const apiError =
    error instanceof ApiError
      ? error
      : httpError(500, 'internal', `The engine host failed: ${(error as Error)?.message ?? String(error)}. See the host's log; retry, or restart Hearth if it persists.`);
  const body: AdminError = { error: { code: apiError.code ?? 'bad_request', message: apiError.message } };
  if (res.headersSent) {
    res.end();
    return;
  }
  sendKitJson(res, apiError.status, body, { ...apiError.headers, 'cache-control': 'no-store' });
}

/** The JSON body, as the API server reads it (the kit's limits and refusals). */
export async function readJson<T>(req: IncomingMessage): Promise<T> {
  return (await readJsonBody(req)) as T;
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
