// The host process across a real process boundary, as a Node supervisor starts it
// (child_process.fork): ready message, admin API up, clean exit on 'shutdown' and on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isHostToParentMessage, type HostToParentMessage } from '../common/hostProcess.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const TOKEN = 'fork-test-token-0123456789';

function startChild(home: string, extraEnv: Record<string, string> = {}): { child: ChildProcess; ready: Promise<HostToParentMessage>; exit: Promise<number | null> } {
  const child = fork(MAIN, ['--no-ui'], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, HEARTH_HOME: home, HEARTH_ADMIN_TOKEN: TOKEN, HEARTH_ADMIN_PORT: '0', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  child.stdout!.resume();
  child.stderr!.resume();
  const ready = new Promise<HostToParentMessage>((resolve, reject) => {
    child.on('message', (message) => {
      if (isHostToParentMessage(message) && message.type !== 'log') resolve(message);
    });
    child.once('exit', (code) => reject(new Error(`host exited with ${code} before it was ready`)));
  });
  ready.catch(() => {});
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, ready, exit };
}

test('forked host announces ready, answers, and exits 0 on shutdown', async () => {
  const home = mkdtempSync(join(tmpdir(), 'hearth-host-fork-'));
  try {
    const { child, ready, exit } = startChild(home);
    const message = await ready;
    assert.equal(message.type, 'ready');
    if (message.type !== 'ready') return;
    assert.equal(message.token, TOKEN);
    assert.equal(message.pid, child.pid);
    const status = await fetch(`${message.adminUrl}/api/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(status.status, 200);
    child.send({ type: 'shutdown', deadlineMs: 1000 });
    assert.equal(await exit, 0);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('SIGTERM stops the host cleanly; a bad option is a fatal message', async () => {
  const home = mkdtempSync(join(tmpdir(), 'hearth-host-fork-'));
  try {
    const first = startChild(home);
    await first.ready;
    first.child.kill('SIGTERM');
    assert.equal(await first.exit, 0);

    const bad = startChild(home, { HEARTH_ADMIN_PORT: 'not-a-port' });
    const message = await bad.ready;
    assert.equal(message.type, 'fatal');
    if (message.type === 'fatal') assert.match(message.error.message, /admin port/);
    assert.equal(await bad.exit, 2);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
