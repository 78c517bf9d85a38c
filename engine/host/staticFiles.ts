// Serves the built renderer (index.html + assets) in web mode, so a plain browser gets the same
// UI as the Electron window. Unknown paths without an extension fall back to index.html.
import { createReadStream, existsSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
};

/** Sends the file for `pathname` from `rootDir`; returns false when there is none. */
export function serveStatic(rootDir: string, pathname: string, res: ServerResponse): boolean {
  let relative = decodeURIComponent(pathname);
  if (relative === '/' || relative === '') relative = '/index.html';
  const file = normalize(join(rootDir, relative));
  // A path escaping the root (../) is a 404, never a read outside the renderer folder.
  if (file !== rootDir && !file.startsWith(rootDir.endsWith(sep) ? rootDir : rootDir + sep)) return false;
  let target = file;
  if (!existsSync(target) || !statSync(target).isFile()) {
    if (extname(relative) !== '') return false;
    target = join(rootDir, 'index.html');
    if (!existsSync(target)) return false;
  }
  const type = CONTENT_TYPES[extname(target)] ?? 'application/octet-stream';
  // index.html must not be cached (it names the hashed assets); the hashed assets may be.
  const cache = target.endsWith('index.html') ? 'no-store' : 'public, max-age=31536000, immutable';
  res.writeHead(200, {
    'content-type': type,
    'cache-control': cache,
    'x-content-type-options': 'nosniff',
  });
  createReadStream(target).pipe(res);
  return true;
}
