// Keeps web pages from using a server on this machine. Both the API server (router.ts) and the
// engine host's admin API (engine/host/adminApi.ts) run these checks and answer a refusal in
// their own error shape:
// - Host: a page whose name an attacker re-points at 127.0.0.1 (DNS rebinding) is same-origin
//   with us in the browser's eyes, but its requests still carry `Host: evil.example`.
// - Origin: browsers name the page behind every cross-origin request and every POST; a page
//   whose origin the CORS setting does not allow is refused before anything runs (CORS headers
//   alone only stop the page from reading the answer, not the request from running).
// - Content-Type: a cross-site "simple" POST (text/plain, form bodies) needs no preflight, so a
//   body is accepted only as application/json, which no page can send cross-site unasked.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** Why a request was refused: the status and `code` both servers answer with, and what to do. */
export interface GuardRefusal {
  status: 403 | 415;
  code: 'host_not_allowed' | 'origin_not_allowed' | 'unsupported_media_type';
  message: string;
}

export interface BrowserGuardOptions {
  /** The address the server is bound to (`--host`). */
  bindHost: string;
  /** Extra Host names to answer to; '*' turns the Host check off. */
  allowedHosts: readonly string[];
  /** Origins allowed to call (CORS); '*' allows any. */
  allowedOrigins: readonly string[];
  /** Also allow a page this server served itself (Origin = http://<Host>): the host's web UI. */
  allowSameOrigin: boolean;
  /** How the user adds a host name or an origin, for the refusal messages. */
  hints: { allowedHosts: string; allowedOrigins: string };
}

const WILDCARD_BINDS = new Set(['0.0.0.0', '::', '[::]', '']);

/** The lower-case host name of a Host header value (IPv6 in brackets), or null if it is not one. */
export function hostNameOf(hostHeader: string): string | null {
  // A userinfo, path or space would let `new URL` read a different host than the one sent.
  if (/[@/\\?#\s]/.test(hostHeader)) return null;
  try {
    const url = new URL(`http://${hostHeader}`);
    return url.hostname.replace(/\.$/, '');
  } catch {
    return null;
  }
}

const unbracket = (name: string) => name.replace(/^\[(.*)\]$/, '$1');

/** True for names and addresses that can only mean this machine. */
export function isLoopbackName(name: string): boolean {
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  const address = unbracket(name);
  if (isIP(address) === 4) return address.startsWith('127.');
  if (isIP(address) === 6) return address === '::1' || /^::ffff:(7f[0-9a-f]{2}:[0-9a-f]{1,4}|127\.[\d.]+)$/.test(address);
  return false;
}

export function isWildcardBind(bindHost: string): boolean {
  return WILDCARD_BINDS.has(bindHost.trim());
}

/** A comma-separated list (flag or env value) as trimmed, non-empty entries. */
export function parseList(text: string | undefined): string[] {
  return (text ?? '').split(',').map((entry) => entry.trim()).filter(Boolean);
}

function normalizeName(name: string): string {
  const trimmed = name.trim().toLowerCase().replace(/\.$/, '');
  return isIP(trimmed) === 6 ? `[${trimmed}]` : (hostNameOf(trimmed) ?? trimmed);
}

export class BrowserGuard {
  private readonly names: Set<string>;
  private readonly anyHost: boolean;
  private readonly wildcard: boolean;

  constructor(private readonly options: BrowserGuardOptions) {
    this.anyHost = options.allowedHosts.includes('*');
    this.wildcard = isWildcardBind(options.bindHost);
    this.names = new Set(options.allowedHosts.filter((name) => name !== '*').map(normalizeName));
    if (!this.wildcard) this.names.add(normalizeName(options.bindHost));
  }

  /**
   * Whether a Host header names this server. Bound to all interfaces (0.0.0.0, ::) the user has
   * exposed the server deliberately and clients reach it under names we cannot know (LAN names,
   * a Kubernetes service, a proxy), so every Host is accepted unless `allowedHosts` is given;
   * with it, IP addresses (which a rebinding page cannot put in Host) and the listed names are.
   */
  hostAllowed(hostHeader: string | undefined): boolean {
    // HTTP/1.0 clients may omit Host; browsers always send it.
    if (hostHeader === undefined) return true;
    if (this.anyHost) return true;
    const name = hostNameOf(hostHeader);
    if (name === null) return false;
    if (isLoopbackName(name) || this.names.has(name)) return true;
    if (this.wildcard) return this.names.size === 0 || isIP(unbracket(name)) !== 0;
    return false;
  }

  originAllowed(origin: string, hostHeader: string | undefined): boolean {
    const { allowedOrigins, allowSameOrigin } = this.options;
    if (allowedOrigins.includes('*') || allowedOrigins.includes(origin)) return true;
    if (!allowSameOrigin || hostHeader === undefined) return false;
    try {
      const url = new URL(origin);
      return url.protocol === 'http:' && url.host === new URL(`http://${hostHeader}`).host;
    } catch {
      return false;
    }
  }

  /** The Host and Origin checks; null when the request may proceed. */
  check(req: IncomingMessage): GuardRefusal | null {
    const host = req.headers.host;
    if (!this.hostAllowed(host)) {
      return {
        status: 403,
        code: 'host_not_allowed',
        message:
          `This server does not answer to the host name '${host}' (the request's Host header): it answers to localhost, ` +
          `127.0.0.1, [::1]${this.names.size > 0 ? `, ${[...this.names].join(', ')}` : ''}. A web page whose name was pointed at this ` +
          `machine (DNS rebinding) is refused this way. To reach the server under that name, add it with ${this.options.hints.allowedHosts}.`,
      };
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !this.originAllowed(origin, host)) {
      const allowed = this.options.allowedOrigins;
      return {
        status: 403,
        code: 'origin_not_allowed',
        message:
          `Requests from the web page origin '${origin}' are not allowed (the request's Origin header; ` +
          `${allowed.length === 0 ? 'no browser origins are allowed' : `allowed: ${allowed.join(', ')}`}). ` +
          `To let that page call this server, allow its origin with ${this.options.hints.allowedOrigins}.`,
      };
    }
    return null;
  }
}

export function isJsonContentType(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/** The Content-Type check for a request that carries a body; null when it is JSON. */
export function checkJsonContentType(req: IncomingMessage): GuardRefusal | null {
  const contentType = req.headers['content-type'];
  if (isJsonContentType(contentType)) return null;
  return {
    status: 415,
    code: 'unsupported_media_type',
    message:
      `The request body must be JSON sent with 'Content-Type: application/json'; ` +
      `${contentType === undefined ? 'this request has no Content-Type' : `got '${contentType}'`}. Set the header and send the body again.`,
  };
}
