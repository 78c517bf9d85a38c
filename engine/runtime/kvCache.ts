// KV-cache manager: pure accounting, no tensors. The runner's physical cache is, per layer, one
// K and one V buffer holding `capacityTokens` tokens, viewed as [rows, numKvHeads, stride, headDim].
// Active sequences occupy rows 0..n-1 so a decode step can pass the first n rows as one zero-copy
// view; freeing a row moves the last row into the hole. `stride` (tokens per row) grows in steps
// of STRIDE_STEP_TOKENS as sequences grow and shrinks when long ones leave: attention cost and the
// GQA kernel's present buffer scale with it, so it tracks the longest live sequence, not the context.
// The manager never touches memory: it emits CacheOps the runner applies, in order, before a step.

export const STRIDE_STEP_TOKENS = 64;

export type CacheOp =
  /** Copy the first `numTokens` positions of row `fromRow` into row `toRow` (same stride). */
  | { kind: 'move'; fromRow: number; toRow: number; numTokens: number }
  /**
   * Re-lay rows 0..rowLengths.length-1 from `fromStride` to `toStride` in place, copying each row's
   * first rowLengths[row] positions. Growing: back-to-front; shrinking: front-to-back.
   */
  | { kind: 'restride'; fromStride: number; toStride: number; rowLengths: number[] }
  /** Copy the first `numTokens` positions of row `row` into a new prefix-cache entry `entryId`. */
  | { kind: 'save'; row: number; numTokens: number; entryId: number }
  /** Copy the first `numTokens` positions of prefix-cache entry `entryId` into row `row`. */
  | { kind: 'load'; entryId: number; row: number; numTokens: number }
  /** Release prefix-cache entry `entryId`. */
  | { kind: 'drop'; entryId: number };

/** The ops that lay rows out (the rest move data between rows and prefix-cache entries). */
export type RowLayoutOp = Extract<CacheOp, { kind: 'move' | 'restride' }>;

interface RowState {
  ownerId: string;
  /** Positions of this row holding valid K/V. */
  numCachedTokens: number;
}

export function strideFor(numTokens: number): number {
  return Math.max(STRIDE_STEP_TOKENS, Math.ceil(numTokens / STRIDE_STEP_TOKENS) * STRIDE_STEP_TOKENS);
}

export class KvCacheManager {
  private readonly rows: RowState[] = [];
  private readonly rowByOwner = new Map<string, number>();
  private pendingOps: CacheOp[] = [];
  private currentStride = STRIDE_STEP_TOKENS;

  constructor(readonly capacityTokens: number) {
    if (capacityTokens < STRIDE_STEP_TOKENS) throw new Error(`KV capacity ${capacityTokens} is below one stride step (bug: config should reject it)`);
  }

  get stride(): number {
    return this.currentStride;
  }

  get numRows(): number {
    return this.rows.length;
  }

  /** Tokens reserved by live rows (rows × stride), the quantity admission is limited by. */
  get reservedTokens(): number {
    return this.rows.length * this.currentStride;
  }

  get usage(): number {
    return this.reservedTokens / this.capacityTokens;
  }

  rowOf(ownerId: string): number | undefined {
    return this.rowByOwner.get(ownerId);
  }

  owners(): string[] {
    return this.rows.map((row) => row.ownerId);
  }

  /** Would `numRows` rows, each up to `maxTokensPerRow` long, fit? */
  fits(numRows: number, maxTokensPerRow: number): boolean {
    return numRows * strideFor(maxTokensPerRow) <= this.capacityTokens;
  }

  /**
   * Give `ownerId` the next row if n+1 rows at a stride covering both the live rows
   * (`maxLiveTokens`) and `numTokensNeeded` fit; otherwise null ("no room").
   */
  allocate(ownerId: string, numTokensNeeded: number, maxLiveTokens: number): number | null {
    if (this.rowByOwner.has(ownerId)) throw new Error(`KV cache: ${ownerId} already holds a row (bug)`);
    if (!this.fits(this.rows.length + 1, Math.max(numTokensNeeded, maxLiveTokens))) return null;
    const row = this.rows.length;
    this.rows.push({ ownerId, numCachedTokens: 0 });
    this.rowByOwner.set(ownerId, row);
    return row;
  }

  /** Release `ownerId`'s row; the last row moves into the hole so rows stay 0..n-1. */
  free(ownerId: string): void {
    const row = this.rowByOwner.get(ownerId);
    if (row === undefined) return;
    this.rowByOwner.delete(ownerId);
    const last = this.rows.length - 1;
    if (row !== last) {
      const moved = this.rows[last]!;
      if (moved.numCachedTokens > 0) {
        this.pendingOps.push({ kind: 'move', fromRow: last, toRow: row, numTokens: moved.numCachedTokens });
      }
      this.rows[row] = moved;
      this.rowByOwner.set(moved.ownerId, row);
    }
    this.rows.pop();
  }

  /** Copy the first `numTokens` cached positions of `ownerId`'s row into prefix entry `entryId` (before the row is freed). */
  save(ownerId: string, entryId: number, numTokens: number): void {
    const row = this.rowByOwner.get(ownerId);
    if (row === undefined) throw new Error(`KV cache: ${ownerId} holds no row (bug)`);
    if (numTokens > this.rows[row]!.numCachedTokens) throw new Error(`KV cache: saving ${numTokens} positions of a row holding ${this.rows[row]!.numCachedTokens} (bug)`);
    this.pendingOps.push({ kind: 'save', row, numTokens, entryId });
  }

  /** Fill `ownerId`'s (new) row with the first `numTokens` positions of prefix entry `entryId`. */
  load(ownerId: string, entryId: number, numTokens: number): void {
    const row = this.rowByOwner.get(ownerId);
    if (row === undefined) throw new Error(`KV cache: ${ownerId} holds no row (bug)`);
    this.setCachedTokens(ownerId, numTokens);
    this.pendingOps.push({ kind: 'load', entryId, row, numTokens });
  }

  /** Release prefix entry `entryId`'s memory. */
  drop(entryId: number): void {
    this.pendingOps.push({ kind: 'drop', entryId });
  }

  /** Record how many positions of `ownerId`'s row hold valid K/V (after a step ran). */
  setCachedTokens(ownerId: string, numCachedTokens: number): void {
    const row = this.rowByOwner.get(ownerId);
    if (row === undefined) throw new Error(`KV cache: ${ownerId} holds no row (bug)`);
    if (numCachedTokens > this.currentStride) {
      throw new Error(`KV cache: row ${row} would hold ${numCachedTokens} tokens at stride ${this.currentStride} (bug: resize first)`);
    }
    this.rows[row]!.numCachedTokens = numCachedTokens;
  }

  /**
   * Make the stride fit rows that will be `maxTokensAfterStep` long after the next step (growing
   * or shrinking it). Returns false ("no room") when the live rows cannot fit at that stride.
   */
  resize(maxTokensAfterStep: number): boolean {
    const stride = strideFor(maxTokensAfterStep);
    if (this.rows.length * stride > this.capacityTokens) return false;
    if (stride !== this.currentStride) {
      // Emitted even with no rows: the runner tracks the stride only through these ops.
      this.pendingOps.push({
        kind: 'restride',
        fromStride: this.currentStride,
        toStride: stride,
        rowLengths: this.rows.map((row) => row.numCachedTokens),
      });
      this.currentStride = stride;
    }
    return true;
  }

  /** Cache ops recorded since the last call, in the order the runner must apply them. */
  takeOps(): CacheOp[] {
    const ops = this.pendingOps;
    this.pendingOps = [];
    return ops;
  }
}

/**
 * Apply cache ops to one layer buffer laid out [rows, numKvHeads, stride, headDim].
 * Lives here (not in the runner) so the layout rules are tested with the accounting.
 */
export function applyCacheOp(buffer: Float32Array, op: RowLayoutOp, numKvHeads: number, headDim: number, stride: number): void {
  if (op.kind === 'move') {
    const rowSize = numKvHeads * stride * headDim;
    const copy = op.numTokens * headDim;
    for (let head = 0; head < numKvHeads; head++) {
      const from = op.fromRow * rowSize + head * stride * headDim;
      const to = op.toRow * rowSize + head * stride * headDim;
      buffer.copyWithin(to, from, from + copy);
    }
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
