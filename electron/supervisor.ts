// Keeps the engine host process alive: start it, wait for its 'ready' message, restart it with
// exponential backoff when it crashes, and stop it cleanly (shutdown message, deadline, then kill).
//
// Runtime-agnostic on purpose: it only sees a ChildHandle from `spawn()`. Electron passes
// utilityProcess.fork (electron/utilityChild.ts); the tests pass child_process.fork, so the
// process boundary under test is a real one.
//
// In-flight requests: the renderer and API clients talk to the host directly over HTTP; nothing
// is proxied here. When the host dies the OS closes its sockets, so an in-flight request fails at
// once (connection reset) and new ones get connection refused until the restart is ready — the
// renderer shows that as "engine unavailable (503)" with this supervisor's status, never a hang.
import { EventEmitter } from 'node:events';
import type { HostInfo, HostStatus } from '../engine/common/desktopApi.js';
import type { SerializedError } from '../engine/common/engineApi.js';
import {
  HOST_SHUTDOWN_DEADLINE_MS,
  deserializeError,
  isHostToParentMessage,
  type HostToParentMessage,
  type ParentToHostMessage,
} from '../engine/common/hostProcess.js';

/** The few things the supervisor needs from a child process, whatever runtime made it. */
export interface ChildHandle {
  readonly pid: number | undefined;
  postMessage(message: ParentToHostMessage): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Fires once, when the process is gone. */
  onExit(listener: (exitCode: number | null) => void): void;
  /** Ends the process now (SIGKILL or the runtime's equivalent); it cannot refuse. */
  kill(): void;
}

export interface BackoffPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
}

export interface SupervisorOptions {
  spawn: () => ChildHandle;
  backoff?: Partial<BackoffPolicy>;
  /** A run that stayed ready this long resets the crash count: the next crash is "crash 1" again. */
  stableUptimeMs?: number;
  /** A child that has not sent 'ready' by then is killed and counted as a crash. */
  readyTimeoutMs?: number;
  /** Time the host gets to stop on its own after the shutdown message, before it is killed. */
  shutdownDeadlineMs?: number;
  /** Injected for tests; wall clock by default. */
  now?: () => number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialDelayMs: 500, maxDelayMs: 30_000, factor: 2 };

/** Delay before restart number `crashCount` (1-based): initial, initial*factor, ... capped. */
export function restartDelayMs(crashCount: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  if (crashCount < 1) return 0;
  const delay = policy.initialDelayMs * policy.factor ** (crashCount - 1);
  return Math.min(policy.maxDelayMs, delay);
}

/** "engine restarting in 2 s (crash 3)" */
export function restartMessage(delayMs: number, crashCount: number): string {
  const shown = String(Number((delayMs / 1000).toPrecision(2)));
  return `engine restarting in ${shown} s (crash ${crashCount})`;
}

export interface SupervisorEvents {
  status: [HostStatus];
  ready: [HostInfo];
  message: [HostToParentMessage];
}

export class Supervisor extends EventEmitter<SupervisorEvents> {
  private readonly options: Required<Omit<SupervisorOptions, 'backoff'>> & { backoff: BackoffPolicy };
  private child: ChildHandle | null = null;
  private childExited: Promise<number | null> | null = null;
  private currentStatus: HostStatus = { state: 'stopped', exitCode: null };
  private hostInfo: HostInfo | null = null;
  private attempt = 0;
  private crashCount = 0;
  private readySinceMs: number | null = null;
  private lastFatal: SerializedError | undefined;
  private restartTimer: NodeJS.Timeout | null = null;
  private readyTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private readyWaiters: Array<{ resolve: (info: HostInfo) => void; reject: (error: Error) => void }> = [];

  constructor(options: SupervisorOptions) {
    super();
    this.options = {
      spawn: options.spawn,
      backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
      stableUptimeMs: options.stableUptimeMs ?? 30_000,
      readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
      shutdownDeadlineMs: options.shutdownDeadlineMs ?? HOST_SHUTDOWN_DEADLINE_MS,
      now: options.now ?? Date.now,
    };
  }

  get status(): HostStatus {
    return this.currentStatus;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.child || this.restartTimer) return;
    this.stopping = null;
    this.launch();
  }

  /** Resolves with the host's URL and token once it is ready (at once if it is). */
  waitReady(): Promise<HostInfo> {
    if (this.hostInfo && this.currentStatus.state === 'ready') return Promise.resolve(this.hostInfo);
    if (this.stopping) return Promise.reject(new Error('The engine host is stopping; it will not become ready.'));
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Asks the host to stop within the deadline, kills it after that; no restart follows. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<void> {
    this.clearTimers();
    const child = this.child;
    const exited = this.childExited;
    this.setStatus({ state: 'stopping' });
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(new Error('The engine host was stopped before it became ready.'));
    let exitCode: number | null = null;
    if (child && exited) {
      try {
        child.postMessage({ type: 'shutdown', deadlineMs: this.options.shutdownDeadlineMs });
      } catch {
        // Channel already closed: the process is on its way out; the kill below covers a stuck one.
      }
      const deadline = cancellableDelay(this.options.shutdownDeadlineMs);
      const result = await Promise.race([exited, deadline.promise.then(() => 'deadline' as const)]);
      deadline.cancel();
      if (result === 'deadline') {
        child.kill();
        exitCode = await exited;
      } else exitCode = result;
    }
    this.child = null;
    this.childExited = null;
    this.hostInfo = null;
    this.setStatus({ state: 'stopped', exitCode });
  }

  private launch(): void {
    this.restartTimer = null;
    this.attempt++;
    this.readySinceMs = null;
    this.lastFatal = undefined;
    this.setStatus({ state: 'starting', attempt: this.attempt });
    let child: ChildHandle;
    try {
      child = this.options.spawn();
    } catch (error) {
      this.lastFatal = { name: (error as Error).name ?? 'Error', message: (error as Error).message ?? String(error) };
      this.onCrash(null);
      return;
    }
    this.child = child;
    this.childExited = new Promise((resolve) => {
      child.onExit((exitCode) => {
        resolve(exitCode);
        if (this.child === child) this.onChildExit(exitCode);
      });
    });
    child.onMessage((message) => {
      if (this.child === child && isHostToParentMessage(message)) this.onChildMessage(message);
    });
    this.readyTimer = setTimeout(() => {
      this.readyTimer = null;
      if (this.child !== child || this.currentStatus.state === 'ready') return;
      this.lastFatal = {
        name: 'HostStartTimeout',
        message: `The engine host did not report ready within ${this.options.readyTimeoutMs} ms; it was killed.`,
      };
      child.kill();
    }, this.options.readyTimeoutMs);
  }

  private onChildMessage(message: HostToParentMessage): void {
    this.emit('message', message);
    if (message.type === 'ready') {
      if (this.readyTimer) clearTimeout(this.readyTimer);
      this.readyTimer = null;
      this.readySinceMs = this.options.now();
      this.hostInfo = { url: message.adminUrl, token: message.token };
      this.setStatus({ state: 'ready', url: message.adminUrl });
      this.emit('ready', this.hostInfo);
      for (const waiter of this.readyWaiters.splice(0)) waiter.resolve(this.hostInfo);
    } else if (message.type === 'fatal') {
      this.lastFatal = message.error;
    }
  }

  private onChildExit(exitCode: number | null): void {
    this.child = null;
    this.childExited = null;
    this.hostInfo = null;
    if (this.readyTimer) clearTimeout(this.readyTimer);
    this.readyTimer = null;
    if (this.stopping) return; // stopNow() owns the rest
    this.onCrash(exitCode);
  }

  private onCrash(exitCode: number | null): void {
    const stable = this.readySinceMs !== null && this.options.now() - this.readySinceMs >= this.options.stableUptimeMs;
    this.crashCount = stable ? 1 : this.crashCount + 1;
    const delayMs = restartDelayMs(this.crashCount, this.options.backoff);
    this.setStatus({
      state: 'restarting',
      crashCount: this.crashCount,
      delayMs,
      message: restartMessage(delayMs, this.crashCount),
      exitCode,
      ...(this.lastFatal ? { error: this.lastFatal } : {}),
    });
    this.restartTimer = setTimeout(() => this.launch(), delayMs);
  }

  private clearTimers(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.readyTimer) clearTimeout(this.readyTimer);
    this.restartTimer = null;
    this.readyTimer = null;
  }

  private setStatus(status: HostStatus): void {
    this.currentStatus = status;
    this.emit('status', status);
  }
}

/** The error the host reported before a crash, as a real Error (for logs and dialogs). */
export function crashError(status: HostStatus): Error | null {
  return status.state === 'restarting' && status.error ? deserializeError(status.error) : null;
}

function cancellableDelay(ms: number): { promise: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}
