// The renderer's Content-Security-Policy, sent as a response header by the app:// protocol
// handler (and on the dev server's responses). The UI only ever connects to the engine host on
// 127.0.0.1, so connect-src names that origin and nothing else.
export interface CspOrigins {
  /** e.g. http://127.0.0.1:41234; null while the host has not reported ready (no host calls allowed yet). */
  hostOrigin: string | null;
  /** Vite's dev server in `electron-vite dev` (needs its websocket and inline React refresh preamble). */
  devServerOrigin?: string;
}

export function buildContentSecurityPolicy({ hostOrigin, devServerOrigin }: CspOrigins): string {
  const connect = ["'self'", hostOrigin].filter(Boolean);
  const script = ["'self'"];
  if (devServerOrigin) {
    const ws = devServerOrigin.replace(/^http/, 'ws');
    connect.push(devServerOrigin, ws);
    script.push("'unsafe-inline'"); // Vite's React refresh preamble, dev only
  }
  return [
    "default-src 'self'",
    `script-src ${script.join(' ')}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${connect.join(' ')}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The origin part of a URL (what CSP source lists use), or null when it is not a URL. */
export function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}
