// The pure scheduler: from request ids and token counts it decides, per step, which requests
// prefill how many tokens (chunked, bounded by maxPrefillTokens) and which decode; it admits
// waiting requests when the KV cache has room and preempts the most recently admitted request
// when running sequences would outgrow it. It never sees a tensor: its output is a StepPlan.
// With a prefix cache, a request leaving the batch keeps its K/V as an entry and an admitted
// request starts from the longest cached prefix of its tokens (save/load ops in the plan).
// With separatePromptPath, a request's prompt tokens and the tokens it generated run on different
// numeric paths (`hearth serve --cpu-int8-prefill`: int8 matmuls for prompts, int4 for decode). A
// token's K/V then depends on its path, so every token is always computed on its own: no run mixes
// the two, a prompt's last token is never put in the decode batch, and prefix reuse matches paths.
import { KvCacheManager, type CacheOp, type Placement } from './kvCache.js';
import type { PrefixCache } from './prefixCache.js';

export interface SchedulerConfig {
  maxBatchSize: number;
  maxBatchTotalTokens: number;
  maxPrefillTokens: number;
  /** Keep prompt tokens and generated tokens in separate runs (header comment). */
  separatePromptPath?: boolean;
}

/** What prefix caching needs besides the cache: a request's token ids (prompt + generated so far), a live array read as it grows. */
export interface PrefixSource {
  cache: PrefixCache;
  tokensOf(requestId: string): readonly number[];
}

/** One request's work in a step. */
export interface PlannedRun {
  requestId: string;
  row: number;
  /** Index (in the request's token list) of the first token fed this step = tokens already cached. */
  startToken: number;
  numTokens: number;
  /** Logits of the last fed token are sampled (all known tokens are then in the cache). */
  sample: boolean;
  /**
   * Whether the run feeds prompt tokens (its first one is); with separatePromptPath all of them
   * are, or none (a recompute of generated tokens after preemption).
   */
  promptPath: boolean;
}

export interface DecodeBatch {
  /** Rows 0..numRows-1 form the batch (the runner runs each span of contiguous rows as one zero-copy view: viewSpans). */
  numRows: number;
  /** Per row: the request decoding in it, or null for a row that is mid-prefill (fed a pad token, output ignored). */
  rows: Array<PlannedRun | { requestId: null; row: number; startToken: number }>;
}

export interface PrefillGroup {
  firstRow: number;
  /** Rows firstRow, firstRow+1, ... in order; one promptPath (several rows are first chunks: prompt tokens). */
  runs: PlannedRun[];
}

export interface StepPlan {
  stepId: number;
  /** Apply in order before running. */
  cacheOps: CacheOp[];
  /** Rows the KV cache holds once the ops are applied (0..numCacheRows-1). */
  numCacheRows: number;
  /** Where each of those rows lies (the block, then the long rows' regions: kvCache.ts). */
  rowPlacements: Placement[];
  decode: DecodeBatch | null;
  /** Prefill chunks, by request. */
  prefills: PlannedRun[];
  /**
   * The same chunks grouped into runs: first chunks (nothing cached yet) of consecutive rows run
   * together as one right-padded batch; a continued chunk (past > 0) runs alone (B=1).
   */
  prefillGroups: PrefillGroup[];
  /** Requests preempted while planning this step (requeued for recompute). */
  preemptedIds: string[];
  /** Requests admitted (given a row) in this step. */
  admittedIds: string[];
  /** Admitted requests that start from a cached prefix, and how many of their tokens it holds. */
  prefixHits: Array<{ requestId: string; numTokens: number }>;
  numPrefillTokens: number;
  numDecodeTokens: number;
}

interface Tracked {
  requestId: string;
  /** Prompt + generated tokens known so far. */
  numTokens: number;
  numPromptTokens: number;
  /** Tokens whose K/V are in the cache (0 while waiting). */
  numCachedTokens: number;
  /** Admission order, for preemption (latest first). */
  admissionSeq: number;
  running: boolean;
  /** With a prefix cache: the request's token ids (its owner appends sampled tokens). */
  tokens: readonly number[] | null;
}

export class Scheduler {
  private readonly requests = new Map<string, Tracked>();
  /** FIFO; preempted requests go back to the front. */
  private waiting: string[] = [];
  private running: string[] = [];
  private nextStepId = 1;
  private nextAdmissionSeq = 1;
  private inFlight: StepPlan | null = null;
  private removalsAfterStep: Array<{ requestId: string; keepPrefix: boolean }> = [];

  constructor(
    private readonly config: SchedulerConfig,
    readonly kv: KvCacheManager,
    private readonly prefix: PrefixSource | null = null,
  ) {}

  get numWaiting(): number {
    return this.waiting.length;
  }

  get numRunning(): number {
    return this.running.length;
  }

  get hasWork(): boolean {
    return this.waiting.length + this.running.length > 0;
  }

  has(requestId: string): boolean {
    return this.requests.has(requestId);
  }

  queuedPromptTokens(): number {
    let sum = 0;
    for (const id of this.waiting) sum += this.requests.get(id)!.numTokens;
    return sum;
  }

  add(requestId: string, numPromptTokens: number): void {
    if (this.requests.has(requestId)) throw new Error(`scheduler: duplicate request id ${requestId} (bug)`);
    if (numPromptTokens < 1) throw new Error(`scheduler: request ${requestId} has an empty prompt (bug: validate first)`);
    const tokens = this.prefix?.tokensOf(requestId) ?? null;
    this.requests.set(requestId, { requestId, numTokens: numPromptTokens, numPromptTokens, numCachedTokens: 0, admissionSeq: 0, running: false, tokens });
    this.waiting.push(requestId);
  }

  /**
   * Finished, cancelled or failed: forget it and free its row (the move op goes out with the next
   * plan). While a step is in flight the removal waits for its output, so row moves copy the
   * tokens that step added. `keepPrefix`: its cached K/V may go to the prefix cache (not for a
   * request whose run failed: its row may hold garbage).
   */
  remove(requestId: string, keepPrefix = true): void {
    if (this.inFlight) {
      this.removalsAfterStep.push({ requestId, keepPrefix });
      return;
    }
    const tracked = this.requests.get(requestId);
    if (!tracked) return;
    this.requests.delete(requestId);
    if (tracked.running) {
      this.running = this.running.filter((id) => id !== requestId);
      if (keepPrefix) this.savePrefix(tracked);
      this.kv.free(requestId);
    } else {
      this.waiting = this.waiting.filter((id) => id !== requestId);
    }
  }

  schedule(): StepPlan {
    if (this.inFlight) throw new Error('scheduler: schedule() called before the previous step completed (bug)');
    const preemptedIds: string[] = [];
    const admittedIds: string[] = [];
    const prefixHits: StepPlan['prefixHits'] = [];
    const loads: Array<{ requestId: string; entryId: number; numTokens: number }> = [];

    // 1. Running requests: decode the ones with one pending token; chunk the prefill of the rest.
    let work = new Map<string, number>();
    let budget = 0;
    /** Per running request: tokens its row holds after this step. */
    const planRunning = () => {
      work = new Map();
      budget = this.config.maxPrefillTokens;
      const tokensAfter = new Map<string, number>();
      for (const id of this.running) {
        const tracked = this.requests.get(id)!;
        const pending = this.pendingRunTokens(tracked);
        let numTokens = 0;
        if (this.decodes(tracked)) numTokens = 1;
        else if (pending > 0 && budget > 0) {
          numTokens = Math.min(pending, budget);
          budget -= numTokens;
        }
        work.set(id, numTokens);
        tokensAfter.set(id, tracked.numCachedTokens + numTokens);
      }
      return tokensAfter;
    };
    let tokensAfter = planRunning();
    // 2. Sequences outgrow the cache: preempt the most recently admitted until the rest fit.
    while (!this.kv.resize(tokensAfter)) {
      const victim = this.running.reduce((latest, id) =>
        this.requests.get(id)!.admissionSeq > this.requests.get(latest)!.admissionSeq ? id : latest,
      );
      if (this.running.length === 1) throw new Error(`scheduler: a single sequence (${victim}) outgrew the KV cache (bug: maxTotalTokens must fit)`);
      this.preempt(victim);
      preemptedIds.push(victim);
      tokensAfter = planRunning();
    }

    // 3. Admit waiting requests (FIFO) while the prefill budget, batch limits and the cache allow.
    let totalTokens = 0;
    for (const id of this.running) totalTokens += this.requests.get(id)!.numTokens;
    while (budget > 0 && this.waiting.length > 0 && this.running.length < this.config.maxBatchSize && preemptedIds.length === 0) {
      const head = this.requests.get(this.waiting[0]!)!;
      if (totalTokens + head.numTokens > this.config.maxBatchTotalTokens && this.running.length > 0) break;
      // Reserve for the whole known sequence plus the next token so it rarely gets preempted at once.
      const row = this.kv.allocate(head.requestId, head.numTokens + 1);
      if (row === null) break;
      this.waiting.shift();
      head.running = true;
      head.admissionSeq = this.nextAdmissionSeq++;
      this.running.push(head.requestId);
      admittedIds.push(head.requestId);
      totalTokens += head.numTokens;
      // The last known token is always fed: its logits sample the next one.
      const hit = this.prefix?.cache.longestMatch(this.tokensOf(head, head.numTokens), head.numTokens - 1, head.numPromptTokens) ?? null;
      if (hit) {
        head.numCachedTokens = hit.numTokens;
        loads.push({ requestId: head.requestId, ...hit });
        prefixHits.push({ requestId: head.requestId, numTokens: hit.numTokens });
      }
      const numTokens = Math.min(this.pendingRunTokens(head), budget);
      budget -= numTokens;
      work.set(head.requestId, numTokens);
      tokensAfter.set(head.requestId, head.numCachedTokens + numTokens);
    }
    if (!this.kv.resize(tokensAfter)) throw new Error('scheduler: admitted past the KV capacity (bug)');
    // After the resize: loads write the new rows where they finally lie.
    for (const load of loads) this.kv.load(load.requestId, load.entryId, load.numTokens);

    // 4. Build the plan.
    const prefills: PlannedRun[] = [];
    const decodeRuns: PlannedRun[] = [];
    for (const id of this.running) {
      const tracked = this.requests.get(id)!;
      const numTokens = work.get(id) ?? 0;
      if (numTokens === 0) continue;
      const run: PlannedRun = {
        requestId: id,
        row: this.kv.rowOf(id)!,
        startToken: tracked.numCachedTokens,
        numTokens,
        sample: tracked.numCachedTokens + numTokens === tracked.numTokens,
        promptPath: tracked.numCachedTokens < tracked.numPromptTokens,
      };
      if (this.decodes(tracked)) decodeRuns.push(run);
      else prefills.push(run);
    }
    let decode: DecodeBatch | null = null;
    if (decodeRuns.length > 0) {
      const numRows = Math.max(...decodeRuns.map((run) => run.row)) + 1;
      const byRow = new Map(decodeRuns.map((run) => [run.row, run]));
      const owners = this.kv.owners();
      const rows: DecodeBatch['rows'] = [];
      for (let row = 0; row < numRows; row++) {
        rows.push(byRow.get(row) ?? { requestId: null, row, startToken: this.requests.get(owners[row]!)!.numCachedTokens });
      }
      decode = { numRows, rows };
    }
    const plan: StepPlan = {
      stepId: this.nextStepId++,
      cacheOps: this.kv.takeOps(),
      numCacheRows: this.kv.numRows,
      rowPlacements: this.kv.placements(),
      decode,
      prefills,
      prefillGroups: this.groupPrefills(prefills),
      preemptedIds,
      admittedIds,
      prefixHits,
      numPrefillTokens: prefills.reduce((sum, run) => sum + run.numTokens, 0),
      numDecodeTokens: decodeRuns.length,
    };
    this.inFlight = plan;
    return plan;
  }

  /**
   * Apply a finished step: fed tokens are now cached (except for `failedIds`, whose runs failed);
   * each id in `sampledIds` gained one token. Requests that failed or finished must be `remove`d
   * after this call.
   */
  updateFromOutput(plan: StepPlan, sampledIds: Iterable<string>, failedIds: ReadonlySet<string> = new Set()): void {
    if (this.inFlight !== plan) throw new Error('scheduler: output for a step that is not in flight (bug)');
    this.inFlight = null;
    const runs = [...plan.prefills, ...(plan.decode?.rows.filter((row): row is PlannedRun => row.requestId !== null) ?? [])];
    for (const run of runs) {
      const tracked = this.requests.get(run.requestId);
      if (!tracked || !tracked.running || failedIds.has(run.requestId)) continue;
      tracked.numCachedTokens = run.startToken + run.numTokens;
      this.kv.setCachedTokens(run.requestId, tracked.numCachedTokens);
    }
    for (const id of sampledIds) {
      const tracked = this.requests.get(id);
      if (tracked) tracked.numTokens += 1;
    }
    const removals = this.removalsAfterStep;
    this.removalsAfterStep = [];
    for (const { requestId, keepPrefix } of removals) this.remove(requestId, keepPrefix && !failedIds.has(requestId));
  }

  /** One pending token that joins the decode batch (with separatePromptPath: a generated one). */
  private decodes(tracked: Tracked): boolean {
    if (tracked.numTokens - tracked.numCachedTokens !== 1) return false;
    return !this.config.separatePromptPath || tracked.numCachedTokens >= tracked.numPromptTokens;
  }

  /** Tokens the next run may feed: all pending ones, or with separatePromptPath those up to the prompt's end. */
  private pendingRunTokens(tracked: Tracked): number {
    const pending = tracked.numTokens - tracked.numCachedTokens;
    if (!this.config.separatePromptPath || tracked.numCachedTokens >= tracked.numPromptTokens) return pending;
    return Math.min(pending, tracked.numPromptTokens - tracked.numCachedTokens);
  }

  /** The first `numTokens` token ids of a request (a sampled token is counted before its owner appends it: never ask for that one). */
  private tokensOf(tracked: Tracked, numTokens: number): readonly number[] {
    const tokens = tracked.tokens!;
    if (tokens.length < numTokens) throw new Error(`scheduler: ${tracked.requestId} has ${tokens.length} known tokens, ${numTokens} expected (bug)`);
    return tokens.slice(0, numTokens);
  }

  /** Offer a leaving row's cached K/V to the prefix cache (before its row is freed). */
  private savePrefix(tracked: Tracked): void {
    if (!this.prefix || tracked.numCachedTokens === 0) return;
    const kept = this.prefix.cache.insert(this.tokensOf(tracked, tracked.numCachedTokens), tracked.numPromptTokens);
    if (!kept) return;
    for (const id of kept.droppedIds) this.kv.drop(id);
    this.kv.save(tracked.requestId, kept.entryId, tracked.numCachedTokens);
  }

  private groupPrefills(prefills: PlannedRun[]): PrefillGroup[] {
    const groups: PrefillGroup[] = [];
    // Padding costs compute: cap a group's padded size (rows × longest chunk).
    const maxPaddedTokens = 2 * this.config.maxPrefillTokens;
    for (const run of [...prefills].sort((a, b) => a.row - b.row)) {
      const last = groups.at(-1);
      const lastRun = last?.runs.at(-1);
      const joinable =
        last !== undefined &&
        lastRun !== undefined &&
        run.startToken === 0 &&
        lastRun.startToken === 0 &&
        run.row === lastRun.row + 1 &&
        (last.runs.length + 1) * Math.max(run.numTokens, ...last.runs.map((r) => r.numTokens)) <= maxPaddedTokens;
      if (joinable) last.runs.push(run);
      else groups.push({ firstRow: run.row, runs: [run] });
    }
    return groups;
  }

  private preempt(requestId: string): void {
    const tracked = this.requests.get(requestId)!;
    this.running = this.running.filter((id) => id !== requestId);
    // Recompute starts from what the prefix cache keeps of it (often all of it).
    this.savePrefix(tracked);
    this.kv.free(requestId);
    tracked.running = false;
    tracked.numCachedTokens = 0;
    this.waiting.unshift(requestId);
  }
}
