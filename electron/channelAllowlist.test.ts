import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT_CHANNELS, INVOKE_CHANNELS } from '../engine/common/ipc/channels.js';
import { UnknownChannelError, assertEventChannel, assertInvokeChannel, isEventChannel, isInvokeChannel } from './channelAllowlist.js';
import { isSafeExternalUrl } from './externalLinks.js';

test('the preload allows exactly the channels the contract names', () => {
  assert.deepEqual([...INVOKE_CHANNELS].sort(), ['dialog:pick-folder', 'host:get-info', 'host:get-status', 'shell:install-cuda', 'shell:open-external']);
  assert.deepEqual([...EVENT_CHANNELS], ['host:status']);
  for (const channel of INVOKE_CHANNELS) assert.doesNotThrow(() => assertInvokeChannel(channel));
  for (const channel of EVENT_CHANNELS) assert.doesNotThrow(() => assertEventChannel(channel));
});

test('the preload rejects unknown channels', () => {
  const unknown: unknown[] = ['host:kill', 'shell:exec', '', 'HOST:GET-INFO', 'host:get-info ', '__proto__', 'constructor', 42, null, undefined, { toString: () => 'host:get-info' }];
  for (const channel of unknown) {
    assert.equal(isInvokeChannel(channel), false, `invoke ${String(channel)}`);
    assert.equal(isEventChannel(channel), false, `event ${String(channel)}`);
    assert.throws(() => assertInvokeChannel(channel), UnknownChannelError);
    assert.throws(() => assertEventChannel(channel), UnknownChannelError);
  }
  // An event channel is not an invoke channel and vice versa.
  assert.throws(() => assertInvokeChannel('host:status'), /not allowed/);
  assert.throws(() => assertEventChannel('shell:install-cuda'), /not allowed/);
});

test('only http(s) links may be opened outside the app', () => {
  assert.equal(isSafeExternalUrl('https://huggingface.co/models'), true);
  assert.equal(isSafeExternalUrl('http://127.0.0.1:8080/v1/models'), true);
  for (const url of ['file:///etc/passwd', 'javascript:alert(1)', 'smb://host/share', 'vscode://x', 'not a url', '']) {
    assert.equal(isSafeExternalUrl(url), false, url);
  }
});
