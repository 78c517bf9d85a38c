import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildContentSecurityPolicy, originOf } from './csp.js';

function directives(csp: string): Map<string, string[]> {
  return new Map(csp.split(';').map((part) => part.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
}

test('the renderer may connect only to itself and the engine host', () => {
  const csp = directives(buildContentSecurityPolicy({ hostOrigin: 'http://127.0.0.1:41234' }));
  assert.deepEqual(csp.get('connect-src'), ["'self'", 'http://127.0.0.1:41234']);
  assert.deepEqual(csp.get('script-src'), ["'self'"], 'no inline or eval scripts in the app');
  assert.deepEqual(csp.get('object-src'), ["'none'"]);
  assert.deepEqual(csp.get('default-src'), ["'self'"]);
});

test('the dev server adds its origin and websocket, and inline scripts for React refresh', () => {
  const csp = directives(buildContentSecurityPolicy({ hostOrigin: 'http://127.0.0.1:5000', devServerOrigin: 'http://localhost:5173' }));
  assert.deepEqual(csp.get('connect-src'), ["'self'", 'http://127.0.0.1:5000', 'http://localhost:5173', 'ws://localhost:5173']);
  assert.ok(csp.get('script-src')?.includes("'unsafe-inline'"));
});

test('originOf keeps scheme, host and port only', () => {
  assert.equal(originOf('http://127.0.0.1:41234/api/status?x=1'), 'http://127.0.0.1:41234');
  assert.equal(originOf('nope'), null);
});
