// Main-thread handle on the runner worker: starts it, sends steps, and turns worker failures
// into rejected promises (a dead worker fails the step in flight and every later one).
import { Worker } from 'node:worker_threads';
import { deserializeError } from './errors.js';
import type { ConstraintSpec } from '../common/engineApi.js';
import type { RunnerReport, FromRunner, InitMessage, StepDoneMessage, StepMessage, ToRunner } from './runnerMessages.js';

const WORKER_ENTRY = new URL('./runnerWorker.mjs', import.meta.url);

export class ModelRunner {
  private pendingStep: { stepId: number; resolve: (done: StepDoneMessage) => void; reject: (error: Error) => void } | null = null;
  private closed: ((profileFile?: string) => void) | null = null;
  private nextGrammarId = 0;
  private readonly grammarsPreparing = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  private deadError: Error | null = null;

  private constructor(
    private readonly worker: Worker,
    readonly device: RunnerReport,
    readonly kvCacheBytes: number,
  ) {
    worker.on('message', (message: FromRunner) => this.onMessage(message));
    worker.on('error', (error) => this.die(error));
    worker.on('exit', (code) => this.die(new Error(`The model runner thread exited (code ${code}).`)));
  }

  static start(init: Omit<InitMessage, 'type'>, log: (line: string) => void): Promise<ModelRunner> {
    const worker = new Worker(WORKER_ENTRY);
    return new Promise((resolve, reject) => {
      const onMessage = (message: FromRunner) => {
        if (message.type === 'log') log(message.line);
        else if (message.type === 'ready') {
          cleanup();
          const runner = new ModelRunner(worker, message.device, message.kvCacheBytes);
          worker.on('message', (m: FromRunner) => m.type === 'log' && log(m.line));
          resolve(runner);
        } else if (message.type === 'initFailed') {
          cleanup();
          void worker.terminate();
          reject(deserializeError(message.error));
        }
      };
      const onError = (error: Error) => {
        cleanup();
        reject(error);
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new Error(`The model runner thread exited during load (code ${code}).`));
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage({ type: 'init', ...init } satisfies ToRunner);
    });
  }

  step(message: StepMessage): Promise<StepDoneMessage> {
    if (this.deadError) return Promise.reject(this.deadError);
    if (this.pendingStep) return Promise.reject(new Error('runner: a step is already in flight (bug)'));
    return new Promise((resolve, reject) => {
      this.pendingStep = { stepId: message.stepId, resolve, reject };
      this.worker.postMessage(message satisfies ToRunner);
    });
  }

  /**
   * Compiles a grammar into the worker's cache off its step path (steps keep running meanwhile);
   * rejects with the compiler's error (a GrammarCompileError by name).
   */
  prepareGrammar(spec: ConstraintSpec): Promise<void> {
    if (this.deadError) return Promise.reject(this.deadError);
    const id = this.nextGrammarId++;
    return new Promise((resolve, reject) => {
      this.grammarsPreparing.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'prepareGrammar', id, spec } satisfies ToRunner);
    });
  }

  /** Release the session (writing the profile if enabled) and stop the thread. */
  async close(): Promise<string | undefined> {
    if (this.deadError) return undefined;
    const profileFile = await new Promise<string | undefined>((resolve) => {
      this.closed = resolve;
      this.worker.postMessage({ type: 'shutdown' } satisfies ToRunner);
      setTimeout(() => resolve(undefined), 5000).unref();
    });
    this.deadError = new Error('The model runner was shut down.');
    await this.worker.terminate();
    return profileFile;
  }

  private onMessage(message: FromRunner): void {
    if (message.type === 'stepDone') {
      const pending = this.pendingStep;
      if (!pending || pending.stepId !== message.stepId) return;
      this.pendingStep = null;
      pending.resolve(message);
    } else if (message.type === 'closed') {
      this.closed?.(message.profileFile);
    } else if (message.type === 'grammarPrepared') {
      const pending = this.grammarsPreparing.get(message.id);
      this.grammarsPreparing.delete(message.id);
      if (message.error) pending?.reject(deserializeError(message.error));
      else pending?.resolve();
    }
  }

  private die(error: Error): void {
    if (this.deadError) return;
    this.deadError = error;
    const pending = this.pendingStep;
    this.pendingStep = null;
    pending?.reject(error);
    for (const grammar of this.grammarsPreparing.values()) grammar.reject(error);
    this.grammarsPreparing.clear();
  }
}
