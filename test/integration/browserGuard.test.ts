// Web pages cannot use the local servers: over real HTTP on 127.0.0.1 with raw node:http requests
// (so Host, Origin and Content-Type are whatever the test says), both the API server and the
// engine host's admin API refuse a Host that does not name them (DNS rebinding, 403), an Origin
// the CORS setting does not allow (403) and a body that is not application/json (415), each in
// the route family's error shape; the clients we ship keep working.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEngine, type LoadedEngine } from '../../engine/runtime/index.js';
import { createServer, type CreateServerOptions, type HearthServer } from '../../engine/server/index.js';
import { RequestLog } from '../../engine/store/requestLog.js';
import { startHost, type RunningHost } from '../../engine/host/host.js';
import { tinyPackage } from './serverHarness.js';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any;
}

/** One request to 127.0.0.1:port with exactly these headers (Host included). */
function raw(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        let json: unknown = text;
        try {
          json = JSON.parse(text);
        } catch {
          /* not JSON (SSE, metrics text): keep the text */
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const JSON_TYPE = { 'content-type': 'application/json' };
const portOf = (url: string) => Number(new URL(url).port);

describe('the API server (engine/server)', () => {
  let engine: LoadedEngine;
  let model: string;
  let dir: string;
  let requestLog: RequestLog;
  const servers: HearthServer[] = [];

  before(async () => {
    const fixture = await tinyPackage();
    model = fixture.manifest.name;
    engine = await loadEngine({ packageDir: fixture.packageDir, device: 'cpu', log: () => {} });
    dir = mkdtempSync(join(tmpdir(), 'hearth-guard-test-'));
    requestLog = new RequestLog({ file: join(dir, 'hearth.db') });
  });
  after(async () => {
    for (const server of servers) await server.close(1000);
    await engine?.shutdown(1000);
    requestLog?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function serve(options: Partial<CreateServerOptions> = {}): Promise<number> {
    const server = await createServer({ engine, port: 0, requestLog, log: () => {}, ...options });
    servers.push(server);
    await server.ready;
    return server.port;
  }

  const chat = () => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
  const tgi = () => JSON.stringify({ inputs: 'Hello', parameters: { max_new_tokens: 2 } });

  test('answers to loopback names and addresses (any port, any case); refuses other Host names with 403 on every route', async () => {
    const port = await serve();
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LocalHost:${port}`, `[::1]:${port}`, '127.0.0.2', `app.localhost:${port}`, `[::ffff:127.0.0.1]:${port}`]) {
      assert.equal((await raw(port, 'GET', '/v1/models', { host })).status, 200, host);
    }
    assert.equal((await raw(port, 'POST', '/v1/chat/completions', { host: `localhost:${port}`, ...JSON_TYPE }, chat())).status, 200);

    for (const host of [`evil.example:${port}`, 'evil.example', '127.0.0.1.evil.example', `localhost.evil.example:${port}`, `evil.example@127.0.0.1:${port}`, '10.0.0.1']) {
      const refused = await raw(port, 'GET', '/v1/models', { host });
      assert.equal(refused.status, 403, host);
      assert.equal(refused.json.error.code, 'host_not_allowed', host);
    }
    const sinceMs = Date.now();
    const post = await raw(port, 'POST', '/v1/chat/completions', { host: 'evil.example', ...JSON_TYPE, 'user-agent': 'rebinding-test' }, chat());
    assert.equal(post.status, 403);
    assert.equal(post.json.error.type, 'invalid_request_error');
    assert.match(post.json.error.message, /'evil\.example'.*DNS rebinding.*--allowed-hosts/);
    for (const path of ['/health', '/metrics', '/info']) assert.equal((await raw(port, 'GET', path, { host: 'evil.example' })).status, 403, path);
    const generate = await raw(port, 'POST', '/generate', { host: 'evil.example', ...JSON_TYPE }, tgi());
    assert.equal(generate.status, 403);
    assert.equal(generate.json.error_type, 'validation', 'TGI routes answer in TGI shape');
    assert.match(generate.json.error, /Host header/);
    const rows = requestLog.list({ sinceMs }).filter((row) => row.userAgent === 'rebinding-test');
    assert.equal(rows.length, 1, 'a refused request is in the request log');
    assert.equal(rows[0]!.status, 403);
  });

  test('--host and allowedHosts add names; * turns the check off', async () => {
    const named = await serve({ allowedHosts: ['hearth.internal', 'Box.Lan.'] });
    assert.equal((await raw(named, 'GET', '/v1/models', { host: 'hearth.internal:8000' })).status, 200);
    assert.equal((await raw(named, 'GET', '/v1/models', { host: 'box.lan' })).status, 200);
    assert.equal((await raw(named, 'GET', '/v1/models', { host: 'other.internal' })).status, 403);
    const any = await serve({ allowedHosts: ['*'] });
    assert.equal((await raw(any, 'GET', '/v1/models', { host: 'evil.example' })).status, 200);
    const bound = await serve({ host: 'localhost' });
    assert.equal((await raw(bound, 'GET', '/v1/models', { host: `localhost:${bound}` })).status, 200);
  });

  test('bound to 0.0.0.0: any Host unless allowedHosts is given, then IP addresses and the listed names', async () => {
    const open = await serve({ host: '0.0.0.0' });
    assert.equal((await raw(open, 'GET', '/v1/models', { host: 'my-laptop.lan:8000' })).status, 200, 'exposed deliberately: names we cannot know');
    const listed = await serve({ host: '0.0.0.0', allowedHosts: ['hearth.example.com'] });
    assert.equal((await raw(listed, 'GET', '/v1/models', { host: 'hearth.example.com' })).status, 200);
    assert.equal((await raw(listed, 'GET', '/v1/models', { host: '192.168.1.20:8000' })).status, 200, 'an IP address cannot come from a rebound name');
    assert.equal((await raw(listed, 'GET', '/v1/models', { host: '[fd00::1]:8000' })).status, 200);
    assert.equal((await raw(listed, 'GET', '/v1/models', { host: 'evil.example' })).status, 403);
  });

  test('a body that is not application/json is refused with 415 on every body route; GET routes are unchanged', async () => {
    const port = await serve({ vertex: true, env: {} });
    for (const contentType of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
      const headers: Record<string, string> = contentType === undefined ? {} : { 'content-type': contentType };
      const refused = await raw(port, 'POST', '/v1/chat/completions', headers, chat());
      assert.equal(refused.status, 415, String(contentType));
      assert.equal(refused.json.error.code, 'unsupported_media_type');
      assert.match(refused.json.error.message, /Content-Type: application\/json/);
    }
    assert.equal((await raw(port, 'POST', '/v1/completions', { 'content-type': 'text/plain' }, JSON.stringify({ model, prompt: 'hi', max_tokens: 2 }))).status, 415);
    for (const path of ['/generate', '/generate_stream']) {
      const refused = await raw(port, 'POST', path, { 'content-type': 'text/plain' }, tgi());
      assert.equal(refused.status, 415, path);
      assert.equal(refused.json.error_type, 'validation', 'TGI shape');
    }
    const predict = await raw(port, 'POST', '/predict', { 'content-type': 'text/plain' }, JSON.stringify({ instances: [{ prompt: 'hi', max_tokens: 2 }] }));
    assert.equal(predict.status, 415);
    assert.equal(predict.json.error.code, 'unsupported_media_type');

    assert.equal((await raw(port, 'POST', '/v1/chat/completions', { 'content-type': 'Application/JSON; charset=utf-8' }, chat())).status, 200);
    assert.equal((await raw(port, 'POST', '/predict', JSON_TYPE, JSON.stringify({ instances: [{ prompt: 'hi', max_tokens: 2 }] }))).status, 200);
    assert.equal((await raw(port, 'GET', '/v1/models', { 'content-type': 'text/plain' })).status, 200);
    assert.equal((await raw(port, 'GET', '/health', {})).status, 200);
  });

  test('an Origin the CORS setting does not allow is refused with 403; allowed origins and preflights work', async () => {
    const closed = await serve();
    const crossSite = await raw(closed, 'POST', '/v1/chat/completions', { origin: 'https://evil.example', ...JSON_TYPE }, chat());
    assert.equal(crossSite.status, 403);
    assert.equal(crossSite.json.error.code, 'origin_not_allowed');
    assert.match(crossSite.json.error.message, /'https:\/\/evil\.example'.*--cors-origin/);
    assert.equal((await raw(closed, 'GET', '/v1/models', { origin: 'https://evil.example' })).status, 403);
    assert.equal((await raw(closed, 'GET', '/v1/models', { origin: 'null' })).status, 403, 'sandboxed pages and file:// too');
    const tgiRefused = await raw(closed, 'POST', '/generate', { origin: 'https://evil.example', ...JSON_TYPE }, tgi());
    assert.equal(tgiRefused.status, 403);
    assert.equal(tgiRefused.json.error_type, 'validation');
    // A page served by this origin is not same-origin with the API: the API serves no pages.
    assert.equal((await raw(closed, 'GET', '/v1/models', { origin: `http://127.0.0.1:${closed}` })).status, 403);

    const open = await serve({ corsOrigins: ['http://app.example'] });
    const allowed = await raw(open, 'POST', '/v1/chat/completions', { origin: 'http://app.example', ...JSON_TYPE }, chat());
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers['access-control-allow-origin'], 'http://app.example');
    const preflight = await raw(open, 'OPTIONS', '/v1/chat/completions', { origin: 'http://app.example', 'access-control-request-method': 'POST' });
    assert.equal(preflight.status, 204);
    const otherPreflight = await raw(open, 'OPTIONS', '/v1/chat/completions', { origin: 'http://other.example', 'access-control-request-method': 'POST' });
    assert.equal(otherPreflight.status, 403);
    assert.equal((await raw(open, 'POST', '/v1/chat/completions', { origin: 'http://other.example', ...JSON_TYPE }, chat())).status, 403);

    const any = await serve({ corsOrigins: ['*'] });
    assert.equal((await raw(any, 'POST', '/v1/chat/completions', { origin: 'http://anything.example', ...JSON_TYPE }, chat())).status, 200);
    const simplePost = await raw(any, 'POST', '/v1/chat/completions', { origin: 'http://anything.example', 'content-type': 'text/plain' }, chat());
    assert.equal(simplePost.status, 415, "even with '*', a cross-site simple POST does not run");
  });
});

describe('the engine host admin API (engine/host)', () => {
  const TOKEN = 'guard-test-admin-token-0123';
  let home: string;
  let host: RunningHost;
  let port: number;
  const auth = { authorization: `Bearer ${TOKEN}` };

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'hearth-guard-host-'));
    const rendererDir = join(home, 'renderer');
    mkdirSync(rendererDir);
    writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Hearth</title>');
    host = await startHost({
      token: TOKEN,
      port: 0,
      rendererDir,
      allowedOrigins: ['app://hearth', 'http://localhost:5173'],
      allowedHosts: ['hearth.lan'],
      env: { ...process.env, HEARTH_HOME: home },
      log: () => {},
    });
    port = portOf(host.url);
  });
  after(async () => {
    await host?.close(1000);
    rmSync(home, { recursive: true, force: true });
  });

  test('answers to loopback names and allowedHosts; refuses other Host names with 403 on the API and the UI', async () => {
    for (const hostHeader of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'hearth.lan']) {
      assert.equal((await raw(port, 'GET', '/api/status', { host: hostHeader, ...auth })).status, 200, hostHeader);
    }
    for (const path of ['/api/status', '/', '/health']) {
      const refused = await raw(port, 'GET', path, { host: `evil.example:${port}`, ...auth });
      assert.equal(refused.status, 403, path);
      assert.equal(refused.json.error.code, 'host_not_allowed');
      assert.match(refused.json.error.message, /DNS rebinding.*HEARTH_ADMIN_ALLOWED_HOSTS/);
    }
  });

  test('the Electron renderer (app://hearth) and the web UI (same origin) may call; other origins get 403', async () => {
    const electron = await raw(port, 'GET', '/api/status', { origin: 'app://hearth', ...auth });
    assert.equal(electron.status, 200);
    assert.equal(electron.headers['access-control-allow-origin'], 'app://hearth');
    assert.equal((await raw(port, 'GET', '/api/status', { origin: 'http://localhost:5173', ...auth })).status, 200, 'HEARTH_ADMIN_ORIGINS (Vite dev server)');
    assert.equal((await raw(port, 'POST', '/api/serve/stop', { origin: `http://127.0.0.1:${port}`, ...auth })).status, 200, 'web UI served by the host');
    assert.equal((await raw(port, 'GET', '/api/status', { host: `localhost:${port}`, origin: `http://localhost:${port}`, ...auth })).status, 200);
    const preflight = await raw(port, 'OPTIONS', '/api/status', { origin: 'app://hearth', 'access-control-request-headers': 'authorization' });
    assert.equal(preflight.status, 204);

    for (const origin of ['https://evil.example', `http://127.0.0.1:${port + 1}`, 'null']) {
      const refused = await raw(port, 'GET', '/api/status', { origin, ...auth });
      assert.equal(refused.status, 403, origin);
      assert.equal(refused.json.error.code, 'origin_not_allowed');
      assert.match(refused.json.error.message, /HEARTH_ADMIN_ORIGINS/);
    }
    assert.equal((await raw(port, 'OPTIONS', '/api/status', { origin: 'https://evil.example' })).status, 403);
  });

  test('a body that is not application/json gets 415; bodiless POSTs keep working', async () => {
    const body = JSON.stringify({ settings: { model: 'none', device: 'cpu', port: 0 } });
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded']) {
      const refused = await raw(port, 'POST', '/api/serve/start', { 'content-type': contentType, ...auth }, body);
      assert.equal(refused.status, 415, contentType);
      assert.equal(refused.json.error.code, 'unsupported_media_type');
    }
    assert.equal((await raw(port, 'POST', '/api/serve/start', auth, body)).status, 415, 'a body without Content-Type');
    assert.equal((await raw(port, 'POST', '/api/export/sizing', { 'content-type': 'text/plain', ...auth }, '{}')).status, 415);
    assert.equal((await raw(port, 'POST', '/api/serve/stop', auth)).status, 200);
    const json = await raw(port, 'POST', '/api/serve/start', { 'content-type': 'application/json; charset=utf-8', ...auth }, body);
    assert.notEqual(json.status, 415, 'JSON is read (the unknown model is then reported by the controller)');
  });
});
