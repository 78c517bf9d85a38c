// The supervisor against real child processes (child_process.fork of test/fixtures/supervisedChild.mjs):
// the same ChildHandle boundary Electron fills with utilityProcess.fork.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HostStatus } from '../engine/common/desktopApi.js';
import { Supervisor, crashError, restartDelayMs, restartMessage, type ChildHandle, type SupervisorOptions } from './supervisor.js';

const fixture = fileURLToPath(new URL('../test/fixtures/supervisedChild.mjs', import.meta.url));

function forkFixture(mode: string, spawned: number[]): ChildHandle {
  const child = fork(fixture, [], {
    env: { ...process.env, FIXTURE_MODE: mode, HEARTH_ADMIN_TOKEN: 'test-token' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // send() on a closed channel reports through 'error'; the supervisor copes with a gone child.
  child.on('error', () => {});
  if (child.pid !== undefined) spawned.push(child.pid);
  return {
    pid: child.pid,
    postMessage: (message) => {
      if (child.connected) child.send(message);
    },
    onMessage: (listener) => child.on('message', listener),
    onExit: (listener) => child.once('exit', (code) => listener(code)),
    kill: () => child.kill('SIGKILL'),
  };
}

interface Harness {
  supervisor: Supervisor;
  statuses: HostStatus[];
  spawned: number[];
}

function harness(modes: string | ((attempt: number) => string), options: Partial<SupervisorOptions> = {}): Harness {
  const spawned: number[] = [];
  const statuses: HostStatus[] = [];
  let attempt = 0;
  const supervisor = new Supervisor({
    spawn: () => forkFixture(typeof modes === 'string' ? modes : modes(++attempt), spawned),
    backoff: { initialDelayMs: 20, factor: 2, maxDelayMs: 1000 },
    stableUptimeMs: 60 * 60 * 1000,
    shutdownDeadlineMs: 2000,
    ...options,
  });
  supervisor.on('status', (status) => statuses.push(status));
  return { supervisor, statuses, spawned };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function get(url: string): Promise<string> {
  const response = await fetch(url);
  return response.text();
}

/** Waits for the next status matching `state` (the supervisor's own event, no polling). */
function nextStatus<S extends HostStatus['state']>(supervisor: Supervisor, state: S): Promise<Extract<HostStatus, { state: S }>> {
  return new Promise((resolve) => {
    const listener = (status: HostStatus): void => {
      if (status.state !== state) return;
      supervisor.off('status', listener);
      resolve(status as Extract<HostStatus, { state: S }>);
    };
    supervisor.on('status', listener);
  });
}

test('backoff doubles from the initial delay and is capped', () => {
  const policy = { initialDelayMs: 500, factor: 2, maxDelayMs: 4000 };
  assert.deepEqual([1, 2, 3, 4, 5, 10].map((n) => restartDelayMs(n, policy)), [500, 1000, 2000, 4000, 4000, 4000]);
  assert.equal(restartMessage(2000, 3), 'engine restarting in 2 s (crash 3)');
  assert.equal(restartMessage(500, 1), 'engine restarting in 0.5 s (crash 1)');
  assert.equal(restartMessage(30_000, 9), 'engine restarting in 30 s (crash 9)');
});

test('starts the host, reports ready with its URL and token, and stops it cleanly', { timeout: 15_000 }, async () => {
  const { supervisor, statuses, spawned } = harness('normal');
  supervisor.start();
  const info = await supervisor.waitReady();
  assert.equal(info.token, 'test-token');
  assert.equal(await get(`${info.url}/ping`), `pong ${spawned[0]}`);
  await supervisor.stop();
  assert.deepEqual(statuses.map((s) => s.state), ['starting', 'ready', 'stopping', 'stopped']);
  assert.deepEqual(statuses.at(-1), { state: 'stopped', exitCode: 0 }, 'the host exited on its own after the shutdown message');
  assert.equal(isAlive(spawned[0]!), false);
  await assert.rejects(supervisor.waitReady(), /stopping/);
});

test('a crashing host is restarted with exponential backoff and a status the UI can show', { timeout: 15_000 }, async () => {
  const { supervisor, spawned } = harness('normal');
  supervisor.start();
  const restarts: Array<Extract<HostStatus, { state: 'restarting' }>> = [];
  for (let crash = 1; crash <= 3; crash++) {
    const { url } = await supervisor.waitReady();
    const restarting = nextStatus(supervisor, 'restarting');
    await fetch(`${url}/crash`).catch(() => undefined);
    restarts.push(await restarting);
  }
  assert.deepEqual(
    restarts.map((s) => [s.crashCount, s.delayMs, s.exitCode, s.message]),
    [
      [1, 20, 70, 'engine restarting in 0.02 s (crash 1)'],
      [2, 40, 70, 'engine restarting in 0.04 s (crash 2)'],
      [3, 80, 70, 'engine restarting in 0.08 s (crash 3)'],
    ],
  );
  const info = await supervisor.waitReady();
  assert.equal(spawned.length, 4, 'one start plus three restarts');
  assert.equal(await get(`${info.url}/ping`), `pong ${spawned[3]}`, 'the new process serves');
  await supervisor.stop();
  assert.ok(spawned.every((pid) => !isAlive(pid)));
});

test('a run that stayed up past the stable uptime resets the crash count', { timeout: 15_000 }, async () => {
  let nowMs = 0;
  const { supervisor } = harness('normal', { stableUptimeMs: 10_000, now: () => nowMs });
  supervisor.start();
  const counts: number[] = [];
  for (const uptimeMs of [0, 0, 60_000]) {
    const { url } = await supervisor.waitReady();
    nowMs += uptimeMs;
    const restarting = nextStatus(supervisor, 'restarting');
    await fetch(`${url}/crash`).catch(() => undefined);
    counts.push((await restarting).crashCount);
  }
  assert.deepEqual(counts, [1, 2, 1]);
  await supervisor.stop();
});

test('an in-flight request fails at once when the host crashes, and the restarted host answers', { timeout: 15_000 }, async () => {
  const { supervisor } = harness('normal');
  supervisor.start();
  const { url } = await supervisor.waitReady();
  const slow = await fetch(`${url}/slow`); // headers arrived, body held open by the host
  const bodyOutcome = slow.text().then(
    () => 'completed',
    (error: Error) => `errored: ${error.message}`,
  );
  const restarting = nextStatus(supervisor, 'restarting');
  await fetch(`${url}/crash`).catch(() => undefined);
  assert.match(await bodyOutcome, /^errored: /, 'the held request errors instead of hanging');
  await restarting;
  const next = await supervisor.waitReady();
  assert.match(await get(`${next.url}/ping`), /^pong \d+$/);
  await supervisor.stop();
});

test('a host that ignores the shutdown message and SIGTERM is killed after the deadline', { timeout: 15_000 }, async () => {
  const { supervisor, statuses, spawned } = harness('hang-on-shutdown', { shutdownDeadlineMs: 300 });
  supervisor.start();
  await supervisor.waitReady();
  await supervisor.stop();
  assert.deepEqual(statuses.at(-1), { state: 'stopped', exitCode: null }, 'killed, not exited');
  assert.equal(isAlive(spawned[0]!), false);
});

test("the host's fatal error crosses the boundary and is re-raised as a real Error", { timeout: 15_000 }, async () => {
  const { supervisor, spawned } = harness((attempt) => (attempt === 1 ? 'fatal-on-start' : 'normal'));
  supervisor.start();
  const restarting = await nextStatus(supervisor, 'restarting');
  assert.equal(restarting.exitCode, 1);
  const error = crashError(restarting);
  assert.ok(error instanceof Error);
  assert.equal(error.name, 'PortInUseError');
  assert.equal(error.message, 'port 1234 is in use');
  assert.match(error.stack ?? '', /at fixture/);
  await supervisor.waitReady();
  assert.equal(spawned.length, 2);
  await supervisor.stop();
});

test('a host that never reports ready is killed after the ready timeout', { timeout: 15_000 }, async () => {
  const { supervisor, spawned } = harness('never-ready', { readyTimeoutMs: 1500, backoff: { initialDelayMs: 60_000 } });
  supervisor.start();
  const restarting = await nextStatus(supervisor, 'restarting');
  assert.equal(restarting.error?.name, 'HostStartTimeout');
  assert.equal(restarting.crashCount, 1);
  assert.equal(isAlive(spawned[0]!), false);
  await supervisor.stop();
});

test('stop during the backoff wait cancels the restart', { timeout: 15_000 }, async () => {
  const { supervisor, spawned, statuses } = harness('normal', { backoff: { initialDelayMs: 60_000 } });
  supervisor.start();
  const { url } = await supervisor.waitReady();
  const restarting = nextStatus(supervisor, 'restarting');
  await fetch(`${url}/exit?code=3`).catch(() => undefined);
  assert.equal((await restarting).exitCode, 3);
  await supervisor.stop();
  assert.deepEqual(statuses.at(-1), { state: 'stopped', exitCode: null });
  assert.equal(spawned.length, 1, 'no restart after stop');
});

test('a stopped supervisor starts again (the app menu\'s Restart Engine)', { timeout: 15_000 }, async () => {
  const { supervisor, spawned } = harness('normal');
  supervisor.start();
  await supervisor.waitReady();
  await supervisor.stop();
  supervisor.start();
  const info = await supervisor.waitReady();
  assert.equal(await get(`${info.url}/ping`), `pong ${spawned[1]}`);
  await supervisor.stop();
  assert.ok(spawned.every((pid) => !isAlive(pid)));
});
