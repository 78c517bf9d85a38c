import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BrowserGuard, hostNameOf, isJsonContentType, isLoopbackName, parseList } from './browserGuard.js';

const guard = (bindHost: string, allowedHosts: string[] = []) =>
  new BrowserGuard({ bindHost, allowedHosts, allowedOrigins: [], allowSameOrigin: false, hints: { allowedHosts: '-', allowedOrigins: '-' } });

test('Host header values parse to a host name; tricks that would read another host do not parse', () => {
  assert.equal(hostNameOf('LOCALHOST:8000'), 'localhost');
  assert.equal(hostNameOf('[::1]:8000'), '[::1]');
  assert.equal(hostNameOf('example.com.'), 'example.com');
  assert.equal(hostNameOf('2130706433'), '127.0.0.1', 'as browsers read it');
  for (const bad of ['evil.example@127.0.0.1', '127.0.0.1/evil', '127.0.0.1 evil', '::1', '']) assert.equal(hostNameOf(bad), null, bad);
});

test('loopback names and addresses', () => {
  for (const name of ['localhost', 'a.localhost', '127.0.0.1', '127.9.9.9', '[::1]', '[::ffff:7f00:1]']) assert.ok(isLoopbackName(name), name);
  for (const name of ['localhost.evil.example', '128.0.0.1', '[::2]', '10.0.0.1']) assert.ok(!isLoopbackName(name), name);
});

test('which Host values each bind accepts', () => {
  const loopback = guard('127.0.0.1');
  assert.ok(loopback.hostAllowed('localhost:1'));
  assert.ok(loopback.hostAllowed(undefined), 'HTTP/1.0 without Host');
  assert.ok(!loopback.hostAllowed('evil.example'));
  assert.ok(!loopback.hostAllowed('192.168.1.2'));
  assert.ok(guard('192.168.1.2').hostAllowed('192.168.1.2:8000'), 'the --host given');
  assert.ok(guard('::1').hostAllowed('[::1]:8000'));
  assert.ok(guard('0.0.0.0').hostAllowed('anything.example'), 'exposed deliberately');
  const listed = guard('::', ['api.example.com']);
  assert.ok(listed.hostAllowed('API.example.com:443'));
  assert.ok(listed.hostAllowed('10.1.2.3:8000'));
  assert.ok(!listed.hostAllowed('evil.example'));
  assert.ok(guard('127.0.0.1', ['*']).hostAllowed('evil.example'));
});

test('JSON content types and lists', () => {
  assert.ok(isJsonContentType('application/json'));
  assert.ok(isJsonContentType('Application/JSON; charset=utf-8'));
  for (const type of ['text/plain', 'application/jsonx', 'application/x-www-form-urlencoded', undefined]) assert.ok(!isJsonContentType(type), String(type));
  assert.deepEqual(parseList(' a, ,b '), ['a', 'b']);
  assert.deepEqual(parseList(undefined), []);
});
