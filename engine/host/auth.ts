// The admin token check. The admin API can start servers and delete models, so every route
// needs the token the host was started with: `Authorization: Bearer <token>`, or `?token=` where
// a header cannot be set (EventSource, a download link).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}

export function tokenFromRequest(req: IncomingMessage, url: URL): string | null {
  const header = req.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (match) return match[1]!;
  }
  return url.searchParams.get('token');
}

/** Constant-time comparison, so the token cannot be guessed byte by byte from response times. */
export function isAuthorized(req: IncomingMessage, url: URL, expectedToken: string): boolean {
  const given = tokenFromRequest(req, url);
  if (given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expectedToken);
  return a.length === b.length && timingSafeEqual(a, b);
}
