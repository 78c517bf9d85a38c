// KV-cache manager: pure accounting, no tensors. It hands out opaque rows, answers "no room" (null
// or false) so the scheduler can wait or preempt, and emits CacheOps the runner applies, in order,
// before a step. Nobody else decides where a row's K/V lie.
//
// The contract (the ONNX graph is unchanged: past_* are [B, kvH, P, D] views, any P ≥ each row's
// length):
// - The runner's physical cache is, per layer, one K and one V buffer of `capacityTokens` tokens.
//   A row's data lies at a Placement {offsetTokens, strideTokens}: [kvH, stride, D] starting at
//   token offset `offsetTokens` (element (offset·kvH + head·stride + position)·D).
// - Short rows form one compact block at the front: row i at {i·S, S}, S = the block's stride,
//   which tracks the longest short row (grows and shrinks in STRIDE_STEP_TOKENS steps). A decode
//   batch of them is one zero-copy view [rows, kvH, S, D]; freeing one moves the last into its hole.
// - A row that is long next to the short ones (at least LONG_ROW_MIN_TOKENS, and more than
//   LONG_ROW_RATIO × the stride the other short rows need), or one that only fits on its own,
//   lives in a region of its own: [kvH, R, D] with its own stride R = strideFor(its length).
//   Regions are stacked from the back of the buffer with no gaps (a freed region's space is closed
//   at once by moving the regions below it up; a growing one moves those below it down), so free
//   memory is always one span between the block and the regions, and admission is simply
//   `shortRows × S + Σ regions ≤ capacity`. At most `maxLongRows` regions: each is one more
//   decoder run per decode step (one more pass over the weights). A row stays long until freed.
// - Rows are numbered short rows 0..s-1 (block order), then long rows s.. (stack order). Numbers
//   change as rows come and go; `placements()` (sent with every step) says where each row is now,
//   and the runner runs each maximal run of contiguous rows at one stride as one view (viewSpans).
// - A short row turning long is parked (saved to a scratch entry, id < 0), leaves the block, the
//   block restrides, and it is loaded into its region: its old and new places may overlap.
// - A cache that can only hold one stride (the WebGPU device cache: one tensor per layer) is made
//   with maxLongRows 0: then the block is every row, as before regions existed.

export const STRIDE_STEP_TOKENS = 64;
/** Shorter rows never get a region of their own for speed (attention over < 512 positions is cheap next to a pass over the weights). */
export const LONG_ROW_MIN_TOKENS = 512;
/** A row is long when it needs more than this many times the stride of the other short rows. */
export const LONG_ROW_RATIO = 4;
export const MAX_LONG_ROWS = 2;

export interface Placement {
  offsetTokens: number;
  strideTokens: number;
}

export type CacheOp =
  /** Copy the first `numTokens` positions of the row at `from` to `to` (the two may overlap). */
  | { kind: 'move'; from: Placement; to: Placement; numTokens: number }
  /**
   * Re-lay the short block (rows 0..rowLengths.length-1 from offset 0) from `fromStride` to
   * `toStride` in place, copying each row's first rowLengths[row] positions.
   */
  | { kind: 'restride'; fromStride: number; toStride: number; rowLengths: number[] }
  /** Copy the first `numTokens` positions of the row at `from` into a new entry `entryId` (prefix cache; < 0: a parked row). */
  | { kind: 'save'; from: Placement; numTokens: number; entryId: number }
  /** Copy the first `numTokens` positions of entry `entryId` into the row at `to`. */
  | { kind: 'load'; entryId: number; to: Placement; numTokens: number }
  /** Release entry `entryId`. */
  | { kind: 'drop'; entryId: number };

/** The ops that lay rows out (the rest move data between rows and entries). */
export type RowLayoutOp = Extract<CacheOp, { kind: 'move' | 'restride' }>;

interface RowState {
  ownerId: string;
  /** Positions of this row holding valid K/V. */
  numCachedTokens: number;
  /** Positions it must hold after the next step (as of the last allocate/resize). */
  numNeededTokens: number;
  /** Long rows: the size of its region (its stride); 0 for short rows. */
  regionTokens: number;
}

export interface KvCacheOptions {
  /** Long rows (regions) allowed at once; 0 keeps every row in the block at one stride. */
  maxLongRows?: number;
}

export function strideFor(numTokens: number): number {
  return Math.max(STRIDE_STEP_TOKENS, Math.ceil(numTokens / STRIDE_STEP_TOKENS) * STRIDE_STEP_TOKENS);
}

/** Long next to short rows needing `otherShortTokens` at most? */
export function isLongNextTo(numTokens: number, otherShortTokens: number): boolean {
  return numTokens >= LONG_ROW_MIN_TOKENS && numTokens > LONG_ROW_RATIO * strideFor(otherShortTokens);
}

export class KvCacheManager {
  /** The block, in row order. */
  private short: RowState[] = [];
  /** The regions, from the back of the buffer down. */
  private long: RowState[] = [];
  private readonly byOwner = new Map<string, RowState>();
  private pendingOps: CacheOp[] = [];
  private currentStride = STRIDE_STEP_TOKENS;
  private nextParkedId = -1;
  private maxLong: number;

  constructor(
    readonly capacityTokens: number,
    options: KvCacheOptions = {},
  ) {
    if (capacityTokens < STRIDE_STEP_TOKENS) throw new Error(`KV capacity ${capacityTokens} is below one stride step (bug: config should reject it)`);
    this.maxLong = options.maxLongRows ?? MAX_LONG_ROWS;
  }

  /** For a runner that holds one stride only (set before any row is allocated). */
  keepOneStride(): void {
    if (this.byOwner.size > 0) throw new Error('KV cache: layout changed while rows are held (bug)');
    this.maxLong = 0;
  }

  get maxLongRows(): number {
    return this.maxLong;
  }

  /** The short block's stride. */
  get stride(): number {
    return this.currentStride;
  }

  get numRows(): number {
    return this.short.length + this.long.length;
  }

  get numLongRows(): number {
    return this.long.length;
  }

  /** Tokens reserved by live rows (block rows × stride + regions), the quantity admission is limited by. */
  get reservedTokens(): number {
    return this.short.length * this.currentStride + this.regionsTokens(this.long);
  }

  get usage(): number {
    return this.reservedTokens / this.capacityTokens;
  }

  rowOf(ownerId: string): number | undefined {
    const state = this.byOwner.get(ownerId);
    if (!state) return undefined;
    const index = this.short.indexOf(state);
    return index >= 0 ? index : this.short.length + this.long.indexOf(state);
  }

  owners(): string[] {
    return [...this.short, ...this.long].map((row) => row.ownerId);
  }

  /** Where each row 0..numRows-1 lies once the pending ops are applied. */
  placements(): Placement[] {
    return [...this.short, ...this.long].map((row) => this.placementOf(row));
  }

  /**
   * Give `ownerId` a row for a sequence of `numTokensNeeded` tokens, next to the live rows at their
   * current needs (the last resize): a region when it is long next to the short rows (or fits only
   * there), else the block. null: no room.
   */
  allocate(ownerId: string, numTokensNeeded: number): number | null {
    if (this.byOwner.has(ownerId)) throw new Error(`KV cache: ${ownerId} already holds a row (bug)`);
    const regions = this.regionsTokens(this.long);
    const canBeLong = this.long.length < this.maxLong;
    // The block's stride as the next resize will make it (rows admitted in this step included).
    const shortNeed = this.longestNeed(this.short);
    const blockStride = Math.max(this.currentStride, strideFor(shortNeed));
    const asShort = (this.short.length + 1) * Math.max(blockStride, strideFor(numTokensNeeded)) + regions <= this.capacityTokens;
    const asLong = canBeLong && this.short.length * blockStride + regions + strideFor(numTokensNeeded) <= this.capacityTokens;
    const prefersLong = canBeLong && isLongNextTo(numTokensNeeded, shortNeed);
    const kind = prefersLong && asLong ? 'long' : asShort ? 'short' : asLong ? 'long' : null;
    if (kind === null) return null;
    const state: RowState = { ownerId, numCachedTokens: 0, numNeededTokens: numTokensNeeded, regionTokens: kind === 'long' ? strideFor(numTokensNeeded) : 0 };
    this.byOwner.set(ownerId, state);
    // A new region goes to the bottom of the stack: it holds nothing yet, so nothing moves.
    (kind === 'long' ? this.long : this.short).push(state);
    return this.rowOf(ownerId)!;
  }

  /** Release `ownerId`'s row: the last block row moves into a block hole; regions below a freed region move up. */
  free(ownerId: string): void {
    const state = this.byOwner.get(ownerId);
    if (!state) return;
    this.byOwner.delete(ownerId);
    if (state.regionTokens === 0) {
      this.removeShort(state);
      return;
    }
    const index = this.long.indexOf(state);
    const before = this.long.map((row) => this.placementOf(row));
    this.long.splice(index, 1);
    // Top-down: each region moves into space already vacated.
    for (let k = index; k < this.long.length; k++) this.moveData(this.long[k]!, before[k + 1]!, this.placementOf(this.long[k]!));
  }

  /** Copy the first `numTokens` cached positions of `ownerId`'s row into prefix entry `entryId` (before the row is freed). */
  save(ownerId: string, entryId: number, numTokens: number): void {
    const state = this.held(ownerId);
    if (numTokens > state.numCachedTokens) throw new Error(`KV cache: saving ${numTokens} positions of a row holding ${state.numCachedTokens} (bug)`);
    this.pendingOps.push({ kind: 'save', from: this.placementOf(state), numTokens, entryId });
  }

  /** Fill `ownerId`'s (new) row with the first `numTokens` positions of prefix entry `entryId`. */
  load(ownerId: string, entryId: number, numTokens: number): void {
    const state = this.held(ownerId);
    this.setCachedTokens(ownerId, numTokens);
    this.pendingOps.push({ kind: 'load', entryId, to: this.placementOf(state), numTokens });
  }

  /** Release prefix entry `entryId`'s memory. */
  drop(entryId: number): void {
    this.pendingOps.push({ kind: 'drop', entryId });
  }

  /** Record how many positions of `ownerId`'s row hold valid K/V (after a step ran). */
  setCachedTokens(ownerId: string, numCachedTokens: number): void {
    const state = this.held(ownerId);
    const room = state.regionTokens || this.currentStride;
    if (numCachedTokens > room) throw new Error(`KV cache: ${ownerId} would hold ${numCachedTokens} tokens in ${room} positions (bug: resize first)`);
    state.numCachedTokens = numCachedTokens;
  }

  /**
   * Make every row hold what it needs after the next step (`tokensAfterStep` by owner; a row not
   * listed keeps its cached length): regions grow, short rows turn long, the block's stride grows
   * or shrinks. false ("no room", nothing changed) when the live rows cannot fit.
   */
  resize(tokensAfterStep: ReadonlyMap<string, number>): boolean {
    const need = (row: RowState) => Math.max(row.numCachedTokens, tokensAfterStep.get(row.ownerId) ?? 0);
    const regionSize = new Map<RowState, number>(this.long.map((row) => [row, Math.max(row.regionTokens, strideFor(need(row)))]));
    const shorts = [...this.short].sort((a, b) => need(b) - need(a));
    const promoted: RowState[] = [];
    const regions = () => [...regionSize.values()].reduce((sum, size) => sum + size, 0);
    const blockTokens = (rows: RowState[]) => rows.length * strideFor(rows.length > 0 ? need(rows[0]!) : 0);
    while (this.long.length + promoted.length < this.maxLong && shorts.length > 0) {
      const top = shorts[0]!;
      const rest = shorts.slice(1);
      const stays = blockTokens(shorts) + regions();
      const leaves = blockTokens(rest) + regions() + strideFor(need(top));
      const longNextTo = isLongNextTo(need(top), rest.length > 0 ? need(rest[0]!) : 0);
      if (!longNextTo && !(stays > this.capacityTokens && leaves < stays)) break;
      shorts.shift();
      promoted.push(top);
      regionSize.set(top, strideFor(need(top)));
    }
    if (blockTokens(shorts) + regions() > this.capacityTokens) return false;

    const fromStride = this.currentStride;
    const toStride = strideFor(shorts.length > 0 ? need(shorts[0]!) : 0);
    for (const row of [...this.short, ...this.long]) row.numNeededTokens = need(row);
    // 1. Park the rows turning long and take them out of the block.
    const parked = new Map<RowState, number>();
    for (const row of promoted) {
      if (row.numCachedTokens > 0) {
        const entryId = this.nextParkedId--;
        parked.set(row, entryId);
        this.pendingOps.push({ kind: 'save', from: this.placementOf(row), numTokens: row.numCachedTokens, entryId });
      }
      this.removeShort(row);
    }
    // 2. A shrinking block first, so growing regions below the stack have room.
    if (toStride < fromStride) this.restride(toStride);
    // 3. Regions grow (and move down) bottom-up: each moves into free space or space already vacated.
    const before = this.long.map((row) => this.placementOf(row));
    for (const row of this.long) row.regionTokens = regionSize.get(row)!;
    for (let k = this.long.length - 1; k >= 0; k--) this.moveData(this.long[k]!, before[k]!, this.placementOf(this.long[k]!));
    for (const row of promoted) {
      row.regionTokens = regionSize.get(row)!;
      this.long.push(row);
    }
    // 4. A growing block last, into the room the regions left.
    if (toStride > fromStride) this.restride(toStride);
    // 5. The parked rows into their regions.
    for (const [row, entryId] of parked) {
      this.pendingOps.push({ kind: 'load', entryId, to: this.placementOf(row), numTokens: row.numCachedTokens });
      this.pendingOps.push({ kind: 'drop', entryId });
    }
    return true;
  }

  /** Cache ops recorded since the last call, in the order the runner must apply them. */
  takeOps(): CacheOp[] {
    const ops = this.pendingOps;
    this.pendingOps = [];
    return ops;
  }

  private held(ownerId: string): RowState {
    const state = this.byOwner.get(ownerId);
    if (!state) throw new Error(`KV cache: ${ownerId} holds no row (bug)`);
    return state;
  }

  private placementOf(row: RowState): Placement {
    const index = this.short.indexOf(row);
    if (index >= 0) return { offsetTokens: index * this.currentStride, strideTokens: this.currentStride };
    const stack = this.long.indexOf(row);
    if (stack < 0) throw new Error(`KV cache: ${row.ownerId} is in neither the block nor a region (bug)`);
    return { offsetTokens: this.capacityTokens - this.regionsTokens(this.long.slice(0, stack + 1)), strideTokens: row.regionTokens };
  }

  private regionsTokens(rows: RowState[]): number {
    return rows.reduce((sum, row) => sum + row.regionTokens, 0);
  }

  private longestNeed(rows: RowState[]): number {
    return rows.reduce((longest, row) => Math.max(longest, row.numNeededTokens), 0);
  }

  /** Take a row out of the block; the last row moves into its place so rows stay 0..s-1. */
  private removeShort(row: RowState): void {
    const index = this.short.indexOf(row);
    const last = this.short.length - 1;
    if (index !== last) {
      const moved = this.short[last]!;
      this.moveData(moved, this.placementOf(moved), { offsetTokens: index * this.currentStride, strideTokens: this.currentStride });
      this.short[index] = moved;
    }
    this.short.pop();
  }

  private moveData(row: RowState, from: Placement, to: Placement): void {
    if (row.numCachedTokens === 0 || (from.offsetTokens === to.offsetTokens && from.strideTokens === to.strideTokens)) return;
    this.pendingOps.push({ kind: 'move', from, to, numTokens: row.numCachedTokens });
  }

  private restride(toStride: number): void {
    // Emitted even with no rows: the runner tracks the block's stride only through these ops.
    this.pendingOps.push({ kind: 'restride', fromStride: this.currentStride, toStride, rowLengths: this.short.map((row) => row.numCachedTokens) });
    this.currentStride = toStride;
  }
}

/**
 * The rows of a run (their placements and new tokens; 0 = a padding row) as maximal spans of
 * contiguous rows at one stride: each span is one zero-copy view [rows, kvH, stride, D]. Padding
 * rows at a span's ends are left out, and spans of padding only dropped.
 */
export function viewSpans(placements: readonly Placement[], numTokens: readonly number[]): Array<{ start: number; end: number }> {
  const spans: Array<{ start: number; end: number }> = [];
  let start = 0;
  for (let row = 1; row <= placements.length; row++) {
    const prev = placements[row - 1]!;
    const next = placements[row];
    if (next && next.strideTokens === prev.strideTokens && next.offsetTokens === prev.offsetTokens + prev.strideTokens) continue;
    let [first, end] = [start, row];
    while (first < end && numTokens[first] === 0) first++;
    while (end > first && numTokens[end - 1] === 0) end--;
    if (first < end) spans.push({ start: first, end });
    start = row;
  }
  return spans;
}

/**
 * Apply a layout op to one layer buffer (see the contract at the top). Lives here (not in the
 * runner) so the layout rules are tested with the accounting.
 */
export function applyCacheOp(buffer: Float32Array, op: RowLayoutOp, numKvHeads: number, headDim: number): void {
  if (op.kind === 'move') {
    moveRow(buffer, op.from, op.to, op.numTokens, numKvHeads, headDim);
    return;
  }
  const { fromStride, toStride, rowLengths } = op;
  const numBlocks = rowLengths.length * numKvHeads;
  const moveBlock = (block: number) => {
    const row = Math.floor(block / numKvHeads);
    const copy = rowLengths[row]! * headDim;
    const from = block * fromStride * headDim;
    const to = block * toStride * headDim;
    if (copy > 0 && from !== to) buffer.copyWithin(to, from, from + copy);
  };
  // Blocks move towards higher addresses when growing: go back-to-front so no block is
  // overwritten before it moved; shrinking is the mirror image.
  if (toStride > fromStride) for (let block = numBlocks - 1; block >= 0; block--) moveBlock(block);
  else for (let block = 0; block < numBlocks; block++) moveBlock(block);
}

/**
 * One row's first numTokens positions from `from` to `to`, per head. When the two overlap and the
 * stride does not shrink, a head's displacement grows with the head index, so heads moving down
 * go first (ascending) and heads moving up after (descending): no head is overwritten before it
 * moved (numTokens ≤ the old stride). A shrinking overlapped move goes through a copy.
 */
function moveRow(buffer: Float32Array, from: Placement, to: Placement, numTokens: number, numKvHeads: number, headDim: number): void {
  const length = numTokens * headDim;
  const source = (head: number) => (from.offsetTokens * numKvHeads + head * from.strideTokens) * headDim;
  const target = (head: number) => (to.offsetTokens * numKvHeads + head * to.strideTokens) * headDim;
  const overlaps = from.offsetTokens < to.offsetTokens + to.strideTokens && to.offsetTokens < from.offsetTokens + from.strideTokens;
  if (overlaps && to.strideTokens < from.strideTokens) {
    const heads = Array.from({ length: numKvHeads }, (_, head) => buffer.slice(source(head), source(head) + length));
    heads.forEach((data, head) => buffer.set(data, target(head)));
    return;
  }
  for (let head = 0; head < numKvHeads; head++) if (target(head) < source(head)) buffer.copyWithin(target(head), source(head), source(head) + length);
  for (let head = numKvHeads - 1; head >= 0; head--) if (target(head) > source(head)) buffer.copyWithin(target(head), source(head), source(head) + length);
}
