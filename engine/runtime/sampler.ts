// Token sampling from one row of logits: penalties, temperature, top-k, top-p, min-p, a seeded
// RNG, a grammar's token mask, and logprobs of the processed distribution. Pure (no tensors, no
// I/O); the runner worker keeps one SamplerState per request (matcher included) so the stream
// survives preemption and recompute.
import type { SamplingParams } from '../common/engineApi.js';

export interface SampledLogprob {
  tokenId: number;
  logprob: number;
}

export interface SampleResult {
  tokenId: number;
  /** Present when logprobs were asked for. */
  logprob?: number;
  top?: SampledLogprob[];
}

/** mulberry32: tiny, fast, and fully determined by its 32-bit state. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fold any JS integer seed (OpenAI seeds are int64) into 32 bits. */
export function foldSeed(seed: number): number {
  const low = seed % 4294967296;
  const high = Math.floor(seed / 4294967296);
  return (low ^ Math.imul(high, 0x9e3779b1)) >>> 0;
}

/** A grammar matcher as the sampler sees it (engine/runtime/grammar implements it with xgrammar). */
export interface TokenConstraint {
  /** Allowed next tokens: bit (id & 31) of word (id >> 5). Current when `sample` runs. */
  readonly bitmask: Int32Array;
  /** Advances the matcher; false if the grammar rejects the token (a bug: the mask allowed it). */
  accept(tokenId: number): boolean;
  /** The grammar is complete (it accepted a stop token). */
  readonly isTerminated: boolean;
}

export const isAllowed = (bitmask: Int32Array, tokenId: number): boolean => ((bitmask[tokenId >> 5]! >>> (tokenId & 31)) & 1) === 1;

/** Disallowed tokens → -Infinity (ids past the mask, e.g. padded vocab rows, are disallowed). */
export function applyBitmask(logits: Float32Array, bitmask: Int32Array): void {
  for (let word = 0; word * 32 < logits.length; word++) {
    const bits = word < bitmask.length ? bitmask[word]! : 0;
    if (bits === -1) continue;
    const end = Math.min(logits.length, word * 32 + 32);
    for (let id = word * 32; id < end; id++) if (((bits >>> (id & 31)) & 1) === 0) logits[id] = -Infinity;
  }
}

export class SamplerState {
  /** Set by the runner worker when the request has a grammar. */
  constraint: TokenConstraint | null = null;
  readonly random: () => number;
  /** Generated token id → times generated (presence/frequency penalties count these). */
  readonly generatedCounts = new Map<number, number>();
  /** Prompt + generated ids (the repetition penalty covers both, as in transformers). */
  readonly seenIds: Set<number>;

  constructor(
    readonly params: SamplingParams,
    promptTokenIds: readonly number[],
    readonly topLogprobs: number | undefined,
    fallbackSeed: number,
  ) {
    this.random = mulberry32(params.seed === undefined ? fallbackSeed : foldSeed(params.seed));
    this.seenIds = new Set(promptTokenIds);
  }

  record(tokenId: number): void {
    if (this.constraint && !this.constraint.accept(tokenId)) {
      throw new Error(`the grammar rejected token ${tokenId}, which its mask allowed (bug)`);
    }
    this.generatedCounts.set(tokenId, (this.generatedCounts.get(tokenId) ?? 0) + 1);
    this.seenIds.add(tokenId);
  }

  get needsPenalties(): boolean {
    const { presencePenalty, frequencyPenalty, repetitionPenalty } = this.params;
    return presencePenalty !== 0 || frequencyPenalty !== 0 || repetitionPenalty !== 1;
  }
}

/** Scratch buffers reused across calls (one per sampler thread). */
export class SamplerScratch {
  private buffer = new Float32Array(0);
  logits(size: number): Float32Array {
    if (this.buffer.length < size) this.buffer = new Float32Array(size);
    return this.buffer.subarray(0, size);
  }
}

function applyPenalties(logits: Float32Array, state: SamplerState): void {
  const { presencePenalty, frequencyPenalty, repetitionPenalty } = state.params;
  if (repetitionPenalty !== 1) {
    for (const id of state.seenIds) {
      const value = logits[id]!;
      logits[id] = value > 0 ? value / repetitionPenalty : value * repetitionPenalty;
    }
  }
  if (presencePenalty !== 0 || frequencyPenalty !== 0) {
    for (const [id, count] of state.generatedCounts) logits[id] = logits[id]! - frequencyPenalty * count - presencePenalty;
  }
}

function argmax(values: Float32Array): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i]! > bestValue) {
      bestValue = values[i]!;
      best = i;
    }
  }
  return best;
}

function maxOf(values: Float32Array): number {
  let best = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i]! > best) best = values[i]!;
  return best;
}

/** Ids with value ≥ threshold, sorted by value descending (never a masked-out -Infinity id). */
function candidatesAbove(values: Float32Array, threshold: number): number[] {
  const ids: number[] = [];
  for (let i = 0; i < values.length; i++) if (values[i]! >= threshold && values[i]! > -Infinity) ids.push(i);
  ids.sort((a, b) => values[b]! - values[a]! || a - b);
  return ids;
}

/** The k largest entries (by value, ties by id) as logprobs relative to logZ. */
function topEntries(values: Float32Array, k: number, logZ: number, allowed?: Set<number>): SampledLogprob[] {
  if (k <= 0) return [];
  const max = maxOf(values);
  // Widen the threshold until at least k candidates (or all) are in; O(V) per try.
  for (let gap = 8; ; gap *= 4) {
    const threshold = gap > 1e6 ? -Infinity : max - gap;
    let ids = candidatesAbove(values, threshold);
    if (allowed) ids = ids.filter((id) => allowed.has(id));
    if (ids.length >= k || threshold === -Infinity) {
      return ids.slice(0, k).map((tokenId) => ({ tokenId, logprob: values[tokenId]! - logZ }));
    }
  }
}

function logSumExp(values: Float32Array, max: number): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.exp(values[i]! - max);
  return max + Math.log(sum);
}

/**
 * Tokens surviving min-p → top-k → top-p, most likely first. Exact, but without sorting the whole
 * vocabulary: take the tokens within `gap` nats of the best, and widen until the filters' result
 * provably lies inside that candidate set.
 */
function keptTokens(logits: Float32Array, max: number, topK: number, topP: number, minP: number): number[] {
  const vocabSize = logits.length;
  const minPGap = minP > 0 ? -Math.log(minP) : Infinity;
  const topKActive = topK > 0 && topK < vocabSize;
  let survivorsMass = 0; // mass of the min-p survivors, the top-p reference without top-k
  for (let i = 0; i < vocabSize; i++) {
    const relative = logits[i]! - max;
    if (relative >= -minPGap) survivorsMass += Math.exp(relative);
  }
  for (let gap = 8; ; gap *= 2) {
    const threshold = gap >= 4096 ? -Infinity : max - Math.min(gap, minPGap);
    const ids = candidatesAbove(logits, threshold);
    // All min-p survivors are candidates (the candidate set is the survivor set).
    const allSurvivors = threshold === -Infinity || minPGap <= gap;
    let selection = ids;
    let selectionExact = allSurvivors;
    let referenceMass = survivorsMass;
    if (topKActive) {
      if (ids.length >= topK) {
        selection = ids.slice(0, topK);
        selectionExact = true;
      } else if (!allSurvivors) continue;
      referenceMass = 0;
      for (const id of selection) referenceMass += Math.exp(logits[id]! - max);
    }
    if (topP < 1) {
      let cumulative = 0;
      for (let i = 0; i < selection.length; i++) {
        cumulative += Math.exp(logits[selection[i]!]! - max);
        if (cumulative >= topP * referenceMass) return selection.slice(0, i + 1);
      }
    }
    if (selectionExact) return selection;
  }
}

/**
 * Pick the next token from `rawLogits` (one row, not modified). Greedy when temperature is 0.
 * Filters (vLLM v1 order): penalties → temperature → min-p → top-k → top-p (top-p over what
 * min-p and top-k kept). Logprobs are the
 * log-softmax of the processed distribution (filtered-out tokens have -Infinity).
 */
export function sample(rawLogits: Float32Array, state: SamplerState, scratch: SamplerScratch): SampleResult {
  const { temperature, topK, topP, minP } = state.params;
  const wantLogprobs = state.topLogprobs !== undefined;
  let logits = rawLogits;
  const greedy = temperature <= 0;
  if (state.needsPenalties || !greedy || state.constraint) {
    logits = scratch.logits(rawLogits.length);
    logits.set(rawLogits);
    if (state.constraint) applyBitmask(logits, state.constraint.bitmask);
    applyPenalties(logits, state);
    if (!greedy && temperature !== 1) {
      const inverse = 1 / temperature;
      for (let i = 0; i < logits.length; i++) logits[i] = logits[i]! * inverse;
    }
  }

  if (greedy) {
    const tokenId = argmax(logits);
    if (!wantLogprobs) return { tokenId };
    const logZ = logSumExp(logits, logits[tokenId]!);
    return { tokenId, logprob: logits[tokenId]! - logZ, top: topEntries(logits, state.topLogprobs!, logZ) };
  }

  const vocabSize = logits.length;
  const max = maxOf(logits);
  const filtered = (topK > 0 && topK < vocabSize) || topP < 1 || minP > 0;
  let kept: number[] | null = null; // null = every token
  if (filtered) kept = keptTokens(logits, max, topK, topP, minP);
  // Draw from the kept distribution.
  let keptMass = 0;
  if (kept) for (const id of kept) keptMass += Math.exp(logits[id]! - max);
  else for (let i = 0; i < vocabSize; i++) keptMass += Math.exp(logits[i]! - max);
  const target = state.random() * keptMass;
  let tokenId = -1;
  let cumulative = 0;
  if (kept) {
    for (const id of kept) {
      cumulative += Math.exp(logits[id]! - max);
      if (cumulative > target) {
        tokenId = id;
        break;
      }
    }
    if (tokenId < 0) tokenId = kept.findLast((id) => logits[id]! > -Infinity) ?? kept[0]!; // rounding: the least likely live token
  } else {
    for (let i = 0; i < vocabSize; i++) {
      cumulative += Math.exp(logits[i]! - max);
      if (cumulative > target) {
        tokenId = i;
        break;
      }
    }
    if (tokenId < 0) tokenId = argmax(logits);
  }
  if (!wantLogprobs) return { tokenId };
  const logZ = max + Math.log(keptMass);
  const allowed = kept ? new Set(kept) : undefined;
  return { tokenId, logprob: logits[tokenId]! - logZ, top: topEntries(logits, state.topLogprobs!, logZ, allowed) };
}
