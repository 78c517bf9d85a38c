// API-key check and CORS. The key is compared in constant time and never logged.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from './errors.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

export function checkApiKey(req: IncomingMessage, apiKey: string | null): void {
  if (apiKey === null) return;
  const header = req.headers.authorization;
  if (header === undefined || header.trim() === '') {
    throw new ApiError(401, "Missing API key: this server needs 'Authorization: Bearer <key>' (the key given to hearth serve --api-key).", {
      code: 'missing_api_key',
    });
  }
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  // Hashing first makes both sides the same length, so timingSafeEqual never leaks the key's length.
  if (!match || !timingSafeEqual(digest(match[1]!.trim()), digest(apiKey))) {
    throw new ApiError(401, 'Invalid API key: the bearer token does not match this server\'s key.', { code: 'invalid_api_key' });
  }
}

/** Sets CORS headers when the request's Origin is allowed. Returns true for a preflight that was answered. */
export function applyCors(req: IncomingMessage, res: ServerResponse, corsOrigins: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (corsOrigins.length === 0 || origin === undefined) return false;
  const allowed = corsOrigins.includes('*') ? '*' : corsOrigins.includes(origin) ? origin : null;
  if (allowed === null) return false;
  res.setHeader('Access-Control-Allow-Origin', allowed);
  res.setHeader('Vary', 'Origin');
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
    res.writeHead(204, {
      'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
      'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? 'authorization, content-type',
      'Access-Control-Max-Age': '600',
    });
    res.end();
    return true;
  }
  return false;
}
