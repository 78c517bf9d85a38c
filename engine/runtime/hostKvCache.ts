// The KV cache in host memory (the CPU path, and accelerators without device-resident outputs):
// per layer one K and one V Float32Array of capacityTokens, viewed as [rows, kvH, stride, D]. A run
// passes rows as zero-copy views (ORT reads inputs in place) and scatters the returned new K/V
// into them. On the CPU provider the graph can also attend over those views where they lie
// (cacheAttention.ts): long decode steps then write only the new tokens. On an accelerator every run ships
// each row's whole used prefix to the device: O(batch × context) bytes per step, which the
// transfer meter shows. Prefix-cache entries are plain arrays beside it, [kvH, numTokens, D] per
// layer, allocated when saved.
import * as ort from 'onnxruntime-node';
import { performance } from 'node:perf_hooks';
import type { GraphContract } from '../common/manifest.js';
import { IN_PLACE_INPUT } from './cacheAttention.js';
import { applyCacheOp, STRIDE_STEP_TOKENS, strideFor, type CacheOp } from './kvCache.js';
import { decoderInputs, layerNames, type KvStorePhases, type LayerNames, type RowsRun, type RunOutput, type TransferMeter } from './decoderFeeds.js';

export class HostKvCache {
  readonly residency = 'host' as const;
  private readonly keys: Float32Array[] = [];
  private readonly values: Float32Array[] = [];
  private readonly names: LayerNames;
  private stride = STRIDE_STEP_TOKENS;
  private readonly entries = new Map<number, { keys: Float32Array[]; values: Float32Array[] }>();
  /** The CPU variant of the graph (cacheAttention.ts): each run picks its attention. */
  private readonly switchesAttention: boolean;

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly graph: GraphContract,
    capacityTokens: number,
    private readonly totalSequenceLengthDims: number[],
    private readonly meter: TransferMeter,
    private readonly phases: KvStorePhases,
  ) {
    const elements = capacityTokens * graph.numKvHeads * graph.headDim;
    for (let layer = 0; layer < graph.numLayers; layer++) {
      this.keys.push(new Float32Array(elements));
      this.values.push(new Float32Array(elements));
    }
    this.names = layerNames(graph);
    this.switchesAttention = session.inputNames.includes(IN_PLACE_INPUT);
  }

  get capacityBytes(): number {
    return this.keys.reduce((sum, buffer) => sum + buffer.byteLength, 0) * 2;
  }

  /** KV bytes held on an accelerator: none, the cache lives in host memory. */
  get deviceBytes(): number {
    return 0;
  }

  async applyCacheOps(ops: CacheOp[]): Promise<void> {
    const started = performance.now();
    const { numLayers, numKvHeads, headDim } = this.graph;
    for (const op of ops) {
      if (op.kind === 'save') {
        this.entries.set(op.entryId, {
          keys: this.keys.map((buffer) => copyRowOut(buffer, op.row, op.numTokens, numKvHeads, headDim, this.stride)),
          values: this.values.map((buffer) => copyRowOut(buffer, op.row, op.numTokens, numKvHeads, headDim, this.stride)),
        });
      } else if (op.kind === 'load') {
        const entry = this.entries.get(op.entryId);
        if (!entry) throw new Error(`host KV cache: no prefix entry ${op.entryId} (bug)`);
        for (let layer = 0; layer < numLayers; layer++) {
          copyRowIn(entry.keys[layer]!, this.keys[layer]!, op.row, op.numTokens, numKvHeads, headDim, this.stride);
          copyRowIn(entry.values[layer]!, this.values[layer]!, op.row, op.numTokens, numKvHeads, headDim, this.stride);
        }
      } else if (op.kind === 'drop') {
        this.entries.delete(op.entryId);
      } else {
        for (let layer = 0; layer < numLayers; layer++) {
          applyCacheOp(this.keys[layer]!, op, numKvHeads, headDim, this.stride);
          applyCacheOp(this.values[layer]!, op, numKvHeads, headDim, this.stride);
        }
        if (op.kind === 'restride') this.stride = op.toStride;
      }
    }
    this.phases.cacheOpsMs += performance.now() - started;
  }

  /**
   * The consecutive rows firstRow.. of `run` (one session.run, or for a decode batch of a few
   * long rows next to short ones, one per long row and one for the short ones: see
   * splitMixedDecode); stores the new K/V of the first numTokens[row] tokens of each row
   * (0 = a padding row, nothing stored).
   */
  async run(firstRow: number, run: RowsRun, numTokens: number[]): Promise<RunOutput> {
    const split = splitMixedDecode(run, numTokens, this.stride);
    if (!split) return this.runRows(firstRow, run, numTokens, 'view');
    const pick = (rows: number[]): RowsRun => ({ inputIds: rows.map((row) => run.inputIds[row]!), startPositions: rows.map((row) => run.startPositions[row]!) });
    const parts: Array<{ rows: number[]; output: RunOutput }> = [];
    for (const row of split.longRows) parts.push({ rows: [row], output: await this.runRows(firstRow + row, pick([row]), [numTokens[row]!], 'view') });
    const shortRows = split.shortRows.map((row) => firstRow + row);
    parts.push({ rows: split.shortRows, output: await this.runRows(shortRows, pick(split.shortRows), split.shortRows.map((row) => numTokens[row]!), 'compact') });
    // Padding rows ran nowhere: their logits stay 0 (never sampled).
    const logitsWidth = parts[0]!.output.logitsWidth;
    const logits = new Float32Array(run.inputIds.length * logitsWidth);
    for (const { rows, output } of parts) rows.forEach((row, i) => logits.set(output.logits.subarray(i * logitsWidth, (i + 1) * logitsWidth), row * logitsWidth));
    return { logits, logitsWidth, runMs: parts.reduce((sum, part) => sum + part.output.runMs, 0) };
  }

  /**
   * One session.run. `view`: `rows` is the first of consecutive rows, fed as a zero-copy view at
   * the stride. `compact`: the listed rows' pasts are copied into a [rows, kvH, P', D] buffer with
   * P' covering the longest of them, so attention over short rows does not pay for the stride.
   */
  private async runRows(rows: number | number[], run: RowsRun, numTokens: number[], layout: 'view' | 'compact'): Promise<RunOutput> {
    const { graph, stride } = this;
    const { numKvHeads, headDim } = graph;
    const numRows = run.inputIds.length;
    const rowOf = (row: number) => (typeof rows === 'number' ? rows + row : rows[row]!);
    const { feeds, sequenceLength } = decoderInputs(graph, run, this.totalSequenceLengthDims);
    // Rows that all start empty (first prompt chunks) have no past to read: P = 0 spares
    // attention the stride's worth of masked positions (the contract allows any P there).
    const pastEmpty = run.startPositions.every((position) => position === 0);
    const pastTokens = pastEmpty ? 0 : layout === 'view' ? stride : strideFor(Math.max(...run.startPositions));
    const pastDims = [numRows, numKvHeads, pastTokens, headDim];
    if (this.switchesAttention) feeds[IN_PLACE_INPUT] = new ort.Tensor('bool', Uint8Array.of(readsInPlace(run, sequenceLength, pastTokens) ? 1 : 0), []);
    const rowElements = numKvHeads * stride * headDim;
    const pastOf = (cache: Float32Array) => {
      // Views, not copies: ORT reads input buffers in place.
      if (layout === 'view') return cache.subarray(rowOf(0) * rowElements, pastEmpty ? rowOf(0) * rowElements : rowOf(numRows) * rowElements);
      const compact = new Float32Array(numRows * numKvHeads * pastTokens * headDim);
      for (let row = 0; row < numRows; row++) {
        for (let head = 0; head < numKvHeads; head++) {
          const from = (rowOf(row) * numKvHeads + head) * stride * headDim;
          compact.set(cache.subarray(from, from + run.startPositions[row]! * headDim), (row * numKvHeads + head) * pastTokens * headDim);
        }
      }
      return compact;
    };
    for (let layer = 0; layer < graph.numLayers; layer++) {
      feeds[this.names.pastKey[layer]!] = new ort.Tensor('float32', pastOf(this.keys[layer]!), pastDims);
      feeds[this.names.pastValue[layer]!] = new ort.Tensor('float32', pastOf(this.values[layer]!), pastDims);
    }
    const fetches = [graph.outputs.logits, ...this.names.newKey.flatMap((key, layer) => [key, this.names.newValue[layer]!])];
    this.meter.fed(feeds);
    const started = performance.now();
    const outputs = await this.session.run(feeds, fetches);
    const runMs = performance.now() - started;
    this.meter.returned(Object.values(outputs));
    const scatterStarted = performance.now();
    // Scatter new K/V ([B, S, kvH, D]) into rows laid out [row, kvH, stride, D]. Plain index
    // loops: a decode step at B=64 copies ~12k head vectors, and a subarray per copy costs more
    // than the copy.
    const scatter = (data: Float32Array, cache: Float32Array) => {
      for (let row = 0; row < numRows; row++) {
        const count = numTokens[row]!;
        const startPosition = run.startPositions[row]!;
        const target = rowOf(row);
        for (let s = 0; s < count; s++) {
          for (let head = 0; head < numKvHeads; head++) {
            let from = ((row * sequenceLength + s) * numKvHeads + head) * headDim;
            let to = ((target * numKvHeads + head) * stride + startPosition + s) * headDim;
            const stop = from + headDim;
            while (from < stop) cache[to++] = data[from++]!;
          }
        }
      }
    };
    for (let layer = 0; layer < graph.numLayers; layer++) {
      scatter(outputs[this.names.newKey[layer]!]!.data as Float32Array, this.keys[layer]!);
      scatter(outputs[this.names.newValue[layer]!]!.data as Float32Array, this.values[layer]!);
    }
    this.phases.scatterMs += performance.now() - scatterStarted;
    const logits = outputs[graph.outputs.logits]!;
    return { logits: logits.data as Float32Array, logitsWidth: logits.dims[1]!, runMs };
  }

  release(): void {}
}

/**
 * Reading the cache in place (cacheAttention) costs every row the whole P; GroupQueryAttention
 * attends each row only up to its own length but clears and fills a B × P present buffer. Measured
 * (scripts/bench-attention.ts, docs/benchmarks.md): in place wins decode steps whose rows fill
 * most of a long P, loses short ones (more, smaller ops) and batches of mostly short rows next to
 * a long one. Prefill keeps GroupQueryAttention (its first chunks run at P = 0 anyway).
 */
export const IN_PLACE_MIN_PAST_TOKENS = 512;
export const IN_PLACE_MIN_FILL = 0.75;

export function readsInPlace(run: RowsRun, sequenceLength: number, pastTokens: number): boolean {
  if (sequenceLength !== 1 || pastTokens < IN_PLACE_MIN_PAST_TOKENS) return false;
  const filled = run.startPositions.reduce((sum, position) => sum + position, 0);
  return filled >= IN_PLACE_MIN_FILL * run.startPositions.length * pastTokens;
}

/**
 * With one stride for all rows, a decode batch of short rows next to a long one costs every row
 * the long one's P (GroupQueryAttention clears B × P, in-place attention reads it). Splitting it
 * costs one more pass over the weights per long row, and copying the short rows' pasts into a
 * compact buffer: worth it for a few long rows next to several short ones. Decode batches only
 * (prefill groups are first chunks at P = 0, or one row).
 */
export const SPLIT_MIN_STRIDE_TOKENS = 512;
/** A row is long when its past is above this share of the stride; the rest must be 4× shorter. */
export const SPLIT_LONG_SHARE = 0.25;
export const SPLIT_MAX_LONG_ROWS = 2;

export function splitMixedDecode(run: RowsRun, numTokens: number[], stride: number): { longRows: number[]; shortRows: number[] } | null {
  if (stride < SPLIT_MIN_STRIDE_TOKENS || run.inputIds.some((ids) => ids.length !== 1)) return null;
  const longRows: number[] = [];
  const shortRows: number[] = [];
  run.startPositions.forEach((position, row) => {
    if (numTokens[row] === 0) return; // a padding row: nothing to run
    (position > SPLIT_LONG_SHARE * stride ? longRows : shortRows).push(row);
  });
  if (longRows.length === 0 || longRows.length > SPLIT_MAX_LONG_ROWS || shortRows.length < 2) return null;
  return { longRows, shortRows };
}

/** The first numTokens positions of `row` (laid out [row, kvH, stride, D]) as a [kvH, numTokens, D] array. */
function copyRowOut(buffer: Float32Array, row: number, numTokens: number, numKvHeads: number, headDim: number, stride: number): Float32Array {
  const out = new Float32Array(numKvHeads * numTokens * headDim);
  for (let head = 0; head < numKvHeads; head++) {
    const from = ((row * numKvHeads + head) * stride) * headDim;
    out.set(buffer.subarray(from, from + numTokens * headDim), head * numTokens * headDim);
  }
  return out;
}

/** Write the first numTokens positions of an entry array ([kvH, entryTokens, D]) into `row`. */
function copyRowIn(entry: Float32Array, buffer: Float32Array, row: number, numTokens: number, numKvHeads: number, headDim: number, stride: number): void {
  const entryTokens = entry.length / (numKvHeads * headDim);
  for (let head = 0; head < numKvHeads; head++) {
    const from = head * entryTokens * headDim;
    buffer.set(entry.subarray(from, from + numTokens * headDim), ((row * numKvHeads + head) * stride) * headDim);
  }
}
