// Prefix-cache accounting (pure: token ids and sizes, no tensors). When a request leaves the
// running batch (finished, cancelled or preempted) the K/V of its cached tokens can be kept as
// an entry; a later request whose prompt starts with the same tokens (the next turn of a chat,
// a shared system prompt, an agent's growing transcript) copies that prefix into its row instead
// of prefilling it. K/V at position p depends only on tokens 0..p, so any common prefix of an
// entry is reusable, not just the whole entry. The memory lives with the KV store (host arrays
// or device tensors); this class decides what is kept and emits nothing itself: the scheduler
// turns its answers into save/load/drop cache ops.
//
// Bounded by capacityTokens, evicted least-recently-used. An entry that is a prefix of a newer
// one is dropped (the newer one serves every request the old one could).
//
// With separatePromptPath (scheduler.ts) a token's K/V also depends on whether it was a prompt
// token or a generated one of its request, so a token is shared only where both requests put it
// on the same side: up to the shorter prompt when the prompt lengths differ (the next turn of a
// chat re-prefills the last answer), all of it when they match (a preempted request's own entry).

/** Shorter shared prefixes are not worth it: a loaded row's prefill runs alone, not batched with other first chunks. */
export const MIN_PREFIX_REUSE_TOKENS = 32;

export interface PrefixMatch {
  entryId: number;
  /** Leading tokens of the prompt whose K/V the entry holds. */
  numTokens: number;
}

export interface PrefixInsert {
  entryId: number;
  /** Entries to release (evicted, or made redundant by the new one). */
  droppedIds: number[];
}

interface Entry {
  entryId: number;
  tokens: Int32Array;
  /** How many of `tokens` were its request's prompt. */
  numPromptTokens: number;
  lastUsed: number;
}

export interface PrefixCacheStats {
  entries: number;
  usedTokens: number;
  capacityTokens: number;
}

export class PrefixCache {
  private readonly entries = new Map<number, Entry>();
  private nextEntryId = 1;
  private clock = 0;
  private usedTokens = 0;

  constructor(
    readonly capacityTokens: number,
    private readonly separatePromptPath = false,
  ) {}

  stats(): PrefixCacheStats {
    return { entries: this.entries.size, usedTokens: this.usedTokens, capacityTokens: this.capacityTokens };
  }

  /**
   * The entry sharing the longest prefix with `tokens` (the first `numPromptTokens` of them its
   * prompt), capped at `maxTokens` (a prompt keeps at least its last token to prefill, for
   * logits); null below MIN_PREFIX_REUSE_TOKENS. Marks it used.
   */
  longestMatch(tokens: readonly number[], maxTokens: number, numPromptTokens = tokens.length): PrefixMatch | null {
    let best: Entry | null = null;
    let bestLength = 0;
    for (const entry of this.entries.values()) {
      const length = this.sharedLength(entry, tokens, numPromptTokens, maxTokens);
      if (length > bestLength) {
        best = entry;
        bestLength = length;
      }
    }
    if (!best || bestLength < MIN_PREFIX_REUSE_TOKENS) return null;
    best.lastUsed = ++this.clock;
    return { entryId: best.entryId, numTokens: bestLength };
  }

  /**
   * Keep the K/V of `tokens` (the first `numPromptTokens` of them its request's prompt) as a new
   * entry, or return null when it is not worth keeping: too short, larger than the whole cache, or
   * already held by an entry that starts with it.
   */
  insert(tokens: readonly number[], numPromptTokens = tokens.length): PrefixInsert | null {
    const numTokens = tokens.length;
    if (numTokens < MIN_PREFIX_REUSE_TOKENS || numTokens > this.capacityTokens) return null;
    const droppedIds: number[] = [];
    for (const entry of this.entries.values()) {
      const common = this.sharedLength(entry, tokens, numPromptTokens, numTokens);
      if (common === numTokens) {
        entry.lastUsed = ++this.clock; // an entry already holds all of it
        return null;
      }
      if (common === entry.tokens.length) droppedIds.push(entry.entryId); // the new entry extends it
    }
    for (const id of droppedIds) this.remove(id);
    while (this.usedTokens + numTokens > this.capacityTokens) {
      let oldest: Entry | null = null;
      for (const entry of this.entries.values()) if (!oldest || entry.lastUsed < oldest.lastUsed) oldest = entry;
      this.remove(oldest!.entryId);
      droppedIds.push(oldest!.entryId);
    }
    const entry: Entry = { entryId: this.nextEntryId++, tokens: Int32Array.from(tokens), numPromptTokens, lastUsed: ++this.clock };
    this.entries.set(entry.entryId, entry);
    this.usedTokens += numTokens;
    return { entryId: entry.entryId, droppedIds };
  }

  /** Leading tokens whose K/V `entry` holds as `tokens` would have them (same ids, and with separatePromptPath the same path). */
  private sharedLength(entry: Entry, tokens: readonly number[], numPromptTokens: number, maxTokens: number): number {
    const samePaths = !this.separatePromptPath || entry.numPromptTokens === numPromptTokens;
    return commonPrefixLength(entry.tokens, tokens, samePaths ? maxTokens : Math.min(maxTokens, entry.numPromptTokens, numPromptTokens));
  }

  private remove(entryId: number): void {
    const entry = this.entries.get(entryId);
    if (!entry) return;
    this.entries.delete(entryId);
    this.usedTokens -= entry.tokens.length;
  }
}

function commonPrefixLength(a: Int32Array, b: readonly number[], maxTokens: number): number {
  const limit = Math.min(a.length, b.length, maxTokens);
  let length = 0;
  while (length < limit && a[length] === b[length]) length++;
  return length;
}
