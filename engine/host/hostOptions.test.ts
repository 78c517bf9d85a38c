import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostOptionsError, parseHostOptions } from './hostOptions.js';

test('argv overrides env; env overrides defaults; a missing token is generated', () => {
  const root = mkdtempSync(join(tmpdir(), 'hearth-hostopts-'));
  try {
    const fromEnv = parseHostOptions([], { HEARTH_ADMIN_PORT: '4100', HEARTH_ADMIN_TOKEN: 'a'.repeat(20) }, root);
    assert.equal(fromEnv.port, 4100);
    assert.equal(fromEnv.token, 'a'.repeat(20));
    assert.equal(fromEnv.tokenGenerated, false);
    assert.equal(fromEnv.rendererDir, null, 'no built renderer in this root');
    const fromArgs = parseHostOptions(['--port', '4200', '--token', 'b'.repeat(20)], { HEARTH_ADMIN_PORT: '4100', HEARTH_ADMIN_TOKEN: 'a'.repeat(20) }, root);
    assert.equal(fromArgs.port, 4200);
    assert.equal(fromArgs.token, 'b'.repeat(20));
    assert.equal(parseHostOptions([], { HEARTH_HOST_PORT: '4300' }, root).port, 4300);
    const generated = parseHostOptions([], {}, root);
    assert.equal(generated.port, 0);
    assert.ok(generated.tokenGenerated && generated.token.length >= 16);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('finds the built renderer, and refuses a renderer folder without index.html', () => {
  const root = mkdtempSync(join(tmpdir(), 'hearth-hostopts-'));
  try {
    const out = join(root, 'out', 'renderer');
    assert.throws(() => parseHostOptions(['--renderer-dir', out], {}, root), (error: unknown) => error instanceof HostOptionsError && /index.html missing/.test(error.message));
    writeFileSync(join(root, 'index.html'), '');
    assert.equal(parseHostOptions(['--renderer-dir', root], {}, root).rendererDir, root);
    assert.equal(parseHostOptions(['--no-ui', '--renderer-dir', root], {}, root).rendererDir, null);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('rejects a bad port or a short token', () => {
  assert.throws(() => parseHostOptions(['--port', 'x'], {}, '/'), HostOptionsError);
  assert.throws(() => parseHostOptions(['--token', 'short'], {}, '/'), /at least 16 characters/);
});

test('allowed Host names come from --allowed-hosts, else HEARTH_ADMIN_ALLOWED_HOSTS', () => {
  assert.deepEqual(parseHostOptions([], {}, '/').allowedHosts, []);
  assert.deepEqual(parseHostOptions([], { HEARTH_ADMIN_ALLOWED_HOSTS: 'box.lan, hearth.local' }, '/').allowedHosts, ['box.lan', 'hearth.local']);
  assert.deepEqual(parseHostOptions(['--allowed-hosts', 'a.lan'], { HEARTH_ADMIN_ALLOWED_HOSTS: 'box.lan' }, '/').allowedHosts, ['a.lan']);
});
