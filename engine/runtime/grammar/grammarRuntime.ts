// Grammar-constrained decoding for the runner worker: a client of the grammar thread
// (grammarWorker.ts, started on the first constrained request), which owns xgrammar, so compiling
// a new grammar never stalls the model's steps. One GrammarConstraint per request: its mask
// arrives from the grammar thread after each accepted token.
import { Worker } from 'node:worker_threads';
import type { ConstraintSpec, SerializedError } from '../../common/engineApi.js';
import { deserializeError } from '../errors.js';
import type { TokenConstraint } from '../sampler.js';
import type { FromGrammar, GrammarWorkerData, ToGrammar } from './grammarMessages.js';

const WORKER_ENTRY = new URL('./grammarWorker.mjs', import.meta.url);

export class GrammarCompileError extends Error {
  override readonly name = 'GrammarCompileError';
}

/** xgrammar's vocabulary: each id's token as stored in tokenizer.json, and how to decode it. */
export function encodedVocabulary(tokenizerJson: Record<string, unknown>): { tokens: string[]; vocabType: 'byte_level' | 'byte_fallback' | 'raw'; prependSpace: boolean } {
  const model = (tokenizerJson.model ?? {}) as { vocab?: Record<string, number> | Array<[string, number]> };
  const tokens: string[] = [];
  if (Array.isArray(model.vocab)) model.vocab.forEach(([piece], id) => (tokens[id] = piece));
  else for (const [piece, id] of Object.entries(model.vocab ?? {})) tokens[id] = piece;
  for (const added of (tokenizerJson.added_tokens as Array<{ id: number; content: string }> | undefined) ?? []) tokens[added.id] = added.content;
  for (let id = 0; id < tokens.length; id++) tokens[id] ??= '';
  const decoder = JSON.stringify(tokenizerJson.decoder ?? null);
  const vocabType = decoder.includes('"ByteLevel"') ? 'byte_level' : decoder.includes('"ByteFallback"') ? 'byte_fallback' : 'raw';
  // SentencePiece-style (Metaspace) tokenizers prepend '▁' to the first word.
  const prependSpace = JSON.stringify(tokenizerJson.pre_tokenizer ?? null).includes('"Metaspace"') || decoder.includes('"Metaspace"');
  return { tokens, vocabType, prependSpace };
}

/** One JSON string character as it appears between the quotes: unescaped (no control chars) or an escape. */
const JSON_STRING_CHAR = '([^"\\\\\\x00-\\x1f]|\\\\["\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4})';

/**
 * Works around xgrammar 0.1.27's JSON-schema converter, which turns a string's minLength/maxLength
 * into `[^"\\\r\n]{m,n}`: raw control characters allowed, escapes not, so the output need not
 * parse. The same bounds as a pattern over JSON string characters compile correctly.
 */
export function boundedStringsAsPatterns(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(boundedStringsAsPatterns);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) out[key] = key === 'enum' || key === 'const' || key === 'default' || key === 'examples' ? value : boundedStringsAsPatterns(value);
  const bounded = out.minLength !== undefined || out.maxLength !== undefined;
  if (out.type === 'string' && bounded && out.pattern === undefined && out.format === undefined) {
    const min = typeof out.minLength === 'number' ? out.minLength : 0;
    const max = typeof out.maxLength === 'number' ? out.maxLength : '';
    out.pattern = `^${JSON_STRING_CHAR}{${min},${max}}$`;
    delete out.minLength;
    delete out.maxLength;
  }
  return out;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // observed by whoever awaits it; a failure nobody awaits is not unhandled
  return { promise, resolve, reject };
}

/** A compile error crosses threads as {name, message}: re-raised as the GrammarCompileError it was. */
function grammarError(error: SerializedError): Error {
  return error.name === 'GrammarCompileError' ? new GrammarCompileError(error.message) : deserializeError(error);
}

export class GrammarRuntime {
  private worker: Worker | null = null;
  private deadError: Error | null = null;
  private nextPrepareId = 0;
  private readonly prepares = new Map<number, Deferred<void>>();
  private readonly constraints = new Map<string, GrammarConstraint>();
  private readonly stopIds: ReadonlySet<number>;

  constructor(
    private readonly tokenizerJsonPath: string,
    private readonly vocabSize: number,
    private readonly stopTokenIds: number[],
  ) {
    this.stopIds = new Set(stopTokenIds);
  }

  /** Compiles `spec` into the grammar thread's cache, so the request's matcher opens without a compile. */
  prepare(spec: ConstraintSpec): Promise<void> {
    const id = this.nextPrepareId++;
    const pending = deferred<void>();
    this.prepares.set(id, pending);
    this.send({ type: 'prepare', id, spec });
    return pending.promise;
  }

  /** A fresh matcher for `spec` with its first mask (compiling on a cache miss). Throws GrammarCompileError with xgrammar's reason. */
  async constraint(requestId: string, spec: ConstraintSpec): Promise<GrammarConstraint> {
    const constraint = new GrammarConstraint(this, requestId, this.stopIds);
    this.constraints.set(requestId, constraint);
    this.send({ type: 'open', requestId, spec });
    try {
      await constraint.refresh();
    } catch (error) {
      this.constraints.delete(requestId);
      throw error;
    }
    return constraint;
  }

  /** @internal (GrammarConstraint) */
  send(message: ToGrammar): void {
    if (message.type === 'close') this.constraints.delete(message.requestId);
    if (this.deadError) {
      if (message.type === 'prepare') this.prepares.get(message.id)?.reject(this.deadError);
      else if (message.type !== 'close') this.constraints.get(message.requestId)?.fail(this.deadError);
      return;
    }
    this.workerOnce().postMessage(message);
  }

  close(): Promise<number> | undefined {
    return this.worker?.terminate();
  }

  private workerOnce(): Worker {
    if (this.worker) return this.worker;
    const workerData: GrammarWorkerData = { tokenizerJsonPath: this.tokenizerJsonPath, vocabSize: this.vocabSize, stopTokenIds: this.stopTokenIds };
    const worker = new Worker(WORKER_ENTRY, { workerData });
    worker.unref();
    worker.on('message', (message: FromGrammar) => this.onMessage(message));
    const die = (error: Error) => {
      if (this.deadError) return;
      this.deadError = error;
      for (const pending of this.prepares.values()) pending.reject(error);
      this.prepares.clear();
      for (const constraint of this.constraints.values()) constraint.fail(error);
    };
    worker.on('error', die);
    worker.on('exit', (code) => die(new Error(`The grammar thread exited (code ${code}).`)));
    this.worker = worker;
    return worker;
  }

  private onMessage(message: FromGrammar): void {
    switch (message.type) {
      case 'prepared': {
        const pending = this.prepares.get(message.id);
        this.prepares.delete(message.id);
        if (message.error) pending?.reject(grammarError(message.error));
        else pending?.resolve();
        return;
      }
      case 'mask':
        this.constraints.get(message.requestId)?.receive(message.mask);
        return;
      case 'failed':
        this.constraints.get(message.requestId)?.fail(grammarError(message.error));
        return;
    }
  }
}

/**
 * One request's matcher, as the sampler sees it. `accept()` tells the grammar thread and expects
 * the next mask from it; `refresh()` (before each step that samples) waits for that mask. A stop
 * token its mask allowed completes the grammar (xgrammar terminates on it), so completion is
 * known without a round trip.
 */
export class GrammarConstraint implements TokenConstraint {
  private mask: Int32Array | null = null;
  private terminated = false;
  private next: Deferred<Int32Array> = deferred();

  constructor(
    private readonly runtime: GrammarRuntime,
    private readonly requestId: string,
    private readonly stopIds: ReadonlySet<number>,
  ) {}

  get bitmask(): Int32Array {
    if (!this.mask) throw new Error('grammar mask used before refresh() (bug in the runner)');
    return this.mask;
  }

  get isStale(): boolean {
    return this.mask === null && !this.terminated;
  }

  get isTerminated(): boolean {
    return this.terminated;
  }

  async refresh(): Promise<void> {
    if (this.terminated || this.mask) return;
    this.mask = await this.next.promise;
  }

  accept(tokenId: number): boolean {
    this.runtime.send({ type: 'accept', requestId: this.requestId, tokenId });
    this.mask = null;
    this.terminated = this.stopIds.has(tokenId);
    this.next = deferred();
    return true; // the mask allowed it; a rejection (a bug) arrives as the next refresh()'s error
  }

  /** @internal (GrammarRuntime) */
  receive(mask: Int32Array): void {
    this.next.resolve(mask);
  }

  /** @internal (GrammarRuntime) */
  fail(error: Error): void {
    this.next.reject(error);
  }

  dispose(): void {
    this.runtime.send({ type: 'close', requestId: this.requestId });
  }
}
