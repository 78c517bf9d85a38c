// The channel between the runner worker and its grammar thread (grammarWorker.ts). The grammar
// thread owns xgrammar: the compiler, the compiled-grammar cache and every request's matcher, so
// a compile (~0.3-0.4 s for a JSON schema over a 152k vocabulary) never runs on the thread that
// steps the model. Masks go back eagerly: after each accepted token the next mask is computed
// while the runner is busy with the rest of its step and the next run.
import type { ConstraintSpec, SerializedError } from '../../common/engineApi.js';

export interface GrammarWorkerData {
  tokenizerJsonPath: string;
  vocabSize: number;
  stopTokenIds: number[];
}

/** Compile `spec` into the cache (before its request is admitted). Answered by 'prepared'. */
export interface PrepareGrammar {
  type: 'prepare';
  id: number;
  spec: ConstraintSpec;
}

/** A matcher for a request (compiling on a cache miss). Answered by its first 'mask' or 'failed'. */
export interface OpenMatcher {
  type: 'open';
  requestId: string;
  spec: ConstraintSpec;
}

/** The request sampled `tokenId` (its mask allowed it). Answered by the next 'mask' unless the grammar terminated. */
export interface AcceptToken {
  type: 'accept';
  requestId: string;
  tokenId: number;
}

export interface CloseMatcher {
  type: 'close';
  requestId: string;
}

export type ToGrammar = PrepareGrammar | OpenMatcher | AcceptToken | CloseMatcher;

export interface GrammarPrepared {
  type: 'prepared';
  id: number;
  /** Set when the compiler rejected the grammar (a GrammarCompileError). */
  error?: SerializedError;
}

export interface MatcherMask {
  type: 'mask';
  requestId: string;
  mask: Int32Array;
}

/** Opening failed (compile error) or the matcher rejected an accepted token (a bug). */
export interface MatcherFailed {
  type: 'failed';
  requestId: string;
  error: SerializedError;
}

export type FromGrammar = GrammarPrepared | MatcherMask | MatcherFailed;
