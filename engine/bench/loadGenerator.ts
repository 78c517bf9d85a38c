// Closed-loop load: `concurrency` virtual clients, each sending its next request as soon as its
// previous one ends, until `numRequests` have been sent. In sequential mode the clients share a
// one-request-wide line, so the server sees requests strictly one after another.
import { performance } from 'node:perf_hooks';
import { streamRequest, type StreamRequestOptions } from './streamRequest.js';
import { summarizeLevel } from './summarize.js';
import type { BenchMode, LevelResult, RequestSample } from './types.js';

export interface LevelOptions extends Omit<StreamRequestOptions, 'scheduledAtMs'> {
  mode: BenchMode;
  concurrency: number;
  numRequests: number;
}

/** FIFO gate letting at most `width` holders in at once. */
class Gate {
  private inside = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly width: number) {}

  async enter(): Promise<void> {
    if (this.inside < this.width) {
      this.inside++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  leave(): void {
    const next = this.waiting.shift();
    if (next) next(); // the slot passes straight to the next in line
    else this.inside--;
  }
}

export async function runLevel(options: LevelOptions): Promise<LevelResult> {
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
  }
  const gate = new Gate(options.mode === 'sequential' ? 1 : Number.POSITIVE_INFINITY);
  const samples: RequestSample[] = [];
  let nextIndex = 0;
  const startMs = performance.now();

  const client = async () => {
    while (nextIndex < options.numRequests && !options.signal?.aborted) {
      nextIndex++;
      const scheduledAtMs = performance.now();
      await gate.enter();
      try {
        samples.push(await streamRequest({ ...options, scheduledAtMs }));
      } finally {
        gate.leave();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, options.numRequests) }, client));
  const wallMs = performance.now() - startMs;
  if (options.signal?.aborted) throw new Error('the benchmark was cancelled');
  return summarizeLevel({ mode: options.mode, concurrency: options.concurrency, maxTokens: options.maxTokens, wallMs, samples });
}
