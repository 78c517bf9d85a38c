// The KV cache in host memory (the CPU path, and accelerators without device-resident outputs):
// per layer one K and one V Float32Array of capacityTokens, laid out as kvCache.ts says (a compact
// block of short rows at one stride, long rows in regions of their own at the back). A run passes
// rows as zero-copy views (ORT reads inputs in place) and scatters the returned new K/V into them.
// On the CPU provider the graph can also attend over those views where they lie (cacheAttention.ts):
// long decode steps then write only the new tokens. On an accelerator every run ships each row's
// whole used prefix to the device: O(batch × context) bytes per step, which the transfer meter
// shows. Prefix-cache entries (and rows parked while they move to a region) are plain arrays
// beside it, [kvH, numTokens, D] per layer, allocated when saved.
import * as ort from 'onnxruntime-node';
import { performance } from 'node:perf_hooks';
import type { GraphContract } from '../common/manifest.js';
import { IN_PLACE_INPUT } from './cacheAttention.js';
import { applyCacheOp, STRIDE_STEP_TOKENS, viewSpans, type CacheOp, type Placement } from './kvCache.js';
import { decoderInputs, layerNames, type KvStorePhases, type LayerNames, type RowsRun, type RunOutput, type TransferMeter } from './decoderFeeds.js';

export class HostKvCache {
  readonly residency = 'host' as const;
  private readonly keys: Float32Array[] = [];
  private readonly values: Float32Array[] = [];
  private readonly names: LayerNames;
  /** The short block's stride (tracked through restride ops), and where the manager put each row. */
  private stride = STRIDE_STEP_TOKENS;
  private rowPlacements: Placement[] = [];
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

  /** Apply a step's ops, then take the manager's row placements for its runs. */
  async applyCacheOps(ops: CacheOp[], rowPlacements: Placement[]): Promise<void> {
    const started = performance.now();
    const { numLayers, numKvHeads, headDim } = this.graph;
    for (const op of ops) {
      if (op.kind === 'save') {
        this.entries.set(op.entryId, {
          keys: this.keys.map((buffer) => copyRowOut(buffer, op.from, op.numTokens, numKvHeads, headDim)),
          values: this.values.map((buffer) => copyRowOut(buffer, op.from, op.numTokens, numKvHeads, headDim)),
        });
      } else if (op.kind === 'load') {
        const entry = this.entries.get(op.entryId);
        if (!entry) throw new Error(`host KV cache: no entry ${op.entryId} (bug)`);
        for (let layer = 0; layer < numLayers; layer++) {
          copyRowIn(entry.keys[layer]!, this.keys[layer]!, op.to, op.numTokens, numKvHeads, headDim);
          copyRowIn(entry.values[layer]!, this.values[layer]!, op.to, op.numTokens, numKvHeads, headDim);
        }
      } else if (op.kind === 'drop') {
        this.entries.delete(op.entryId);
      } else {
        for (let layer = 0; layer < numLayers; layer++) {
          applyCacheOp(this.keys[layer]!, op, numKvHeads, headDim);
          applyCacheOp(this.values[layer]!, op, numKvHeads, headDim);
        }
        if (op.kind === 'restride') this.stride = op.toStride;
      }
    }
    this.rowPlacements = rowPlacements;
    this.phases.cacheOpsMs += performance.now() - started;
  }

  /** Rows the manager does not hold (the engine's warm-up run) lie where the block would put them. */
  private placementOf(row: number): Placement {
    return this.rowPlacements[row] ?? { offsetTokens: row * this.stride, strideTokens: this.stride };
  }

  /**
   * The consecutive rows firstRow.. of `run`; stores the new K/V of the first numTokens[row]
   * tokens of each row (0 = a padding row, nothing stored). Rows that all start empty (first
   * prompt chunks) read no past: one session.run wherever they lie. Otherwise one session.run per
   * span of rows contiguous at one stride (viewSpans): the short block's rows as one view, each
   * long row's region as its own, so short rows never pay for a long row's stride. `session`: the
   * prompt session for prompt-path runs with int8 prefill (runnerWorker.ts), else the cache's own.
   */
  async run(firstRow: number, run: RowsRun, numTokens: number[], session: ort.InferenceSession = this.session): Promise<RunOutput> {
    const numRows = run.inputIds.length;
    const placements = Array.from({ length: numRows }, (_, row) => this.placementOf(firstRow + row));
    if (run.startPositions.every((position) => position === 0)) return this.runSpan(placements, run, numTokens, true, session);
    const spans = viewSpans(placements, numTokens);
    if (spans.length === 1 && spans[0]!.start === 0 && spans[0]!.end === numRows) return this.runSpan(placements, run, numTokens, false, session);
    const parts: Array<{ start: number; output: RunOutput }> = [];
    for (const { start, end } of spans) {
      const part: RowsRun = { inputIds: run.inputIds.slice(start, end), startPositions: run.startPositions.slice(start, end) };
      parts.push({ start, output: await this.runSpan(placements.slice(start, end), part, numTokens.slice(start, end), false, session) });
    }
    // Padding rows outside every span ran nowhere: their logits stay 0 (never sampled).
    const logitsWidth = parts[0]!.output.logitsWidth;
    const logits = new Float32Array(numRows * logitsWidth);
    for (const { start, output } of parts) logits.set(output.logits, start * logitsWidth);
    return { logits, logitsWidth, runMs: parts.reduce((sum, part) => sum + part.output.runMs, 0) };
  }

  /**
   * One session.run over rows at `placements`: contiguous at one stride (past_* is a zero-copy
   * view of them: ORT reads inputs in place), or, with `pastEmpty`, anywhere (P = 0: nothing
   * cached to read, and attention is spared the stride's worth of masked positions).
   */
  private async runSpan(placements: Placement[], run: RowsRun, numTokens: number[], pastEmpty: boolean, session: ort.InferenceSession): Promise<RunOutput> {
    const { graph } = this;
    const { numKvHeads, headDim } = graph;
    const numRows = run.inputIds.length;
    const { feeds, sequenceLength } = decoderInputs(graph, run, this.totalSequenceLengthDims);
    const pastTokens = pastEmpty ? 0 : placements[0]!.strideTokens;
    const pastDims = [numRows, numKvHeads, pastTokens, headDim];
    if (this.switchesAttention) feeds[IN_PLACE_INPUT] = new ort.Tensor('bool', Uint8Array.of(readsInPlace(run, sequenceLength, pastTokens) ? 1 : 0), []);
    const viewStart = placements[0]!.offsetTokens * numKvHeads * headDim;
    const viewEnd = viewStart + numRows * numKvHeads * pastTokens * headDim;
    for (let layer = 0; layer < graph.numLayers; layer++) {
      feeds[this.names.pastKey[layer]!] = new ort.Tensor('float32', this.keys[layer]!.subarray(viewStart, viewEnd), pastDims);
      feeds[this.names.pastValue[layer]!] = new ort.Tensor('float32', this.values[layer]!.subarray(viewStart, viewEnd), pastDims);
    }
    const fetches = [graph.outputs.logits, ...this.names.newKey.flatMap((key, layer) => [key, this.names.newValue[layer]!])];
    this.meter.fed(feeds);
    const started = performance.now();
    const outputs = await session.run(feeds, fetches);
    const runMs = performance.now() - started;
    this.meter.returned(Object.values(outputs));
    const scatterStarted = performance.now();
    // Scatter new K/V ([B, S, kvH, D]) into each row's placement. Plain index loops: a decode
    // step at B=64 copies ~12k head vectors, and a subarray per copy costs more than the copy.
    const scatter = (data: Float32Array, cache: Float32Array) => {
      for (let row = 0; row < numRows; row++) {
        const count = numTokens[row]!;
        const startPosition = run.startPositions[row]!;
        const { offsetTokens, strideTokens } = placements[row]!;
        for (let s = 0; s < count; s++) {
          for (let head = 0; head < numKvHeads; head++) {
            let from = ((row * sequenceLength + s) * numKvHeads + head) * headDim;
            let to = (offsetTokens * numKvHeads + head * strideTokens + startPosition + s) * headDim;
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
 * whole decode steps (scripts/bench-attention.ts --package, SmolLM2-135M shape, docs/benchmarks.md):
 * in place wins once the rows fill most of P and the cache read is big enough to outweigh its
 * extra ops (B=16 at P=128 ~5 %, at P=256 ~25 %, B=1 at P=2048 ~20 %; B=16 at P=2048 2.5×), and
 * loses small single-row steps (B=1 at P=64 ~15 %; about even at P=256). Prefill keeps
 * GroupQueryAttention (its first chunks run at P = 0 anyway).
 */
export const IN_PLACE_MIN_PAST_TOKENS = 128;
/** rows × P: below it, GroupQueryAttention's fewer ops win. */
export const IN_PLACE_MIN_CACHE_TOKENS = 512;
export const IN_PLACE_MIN_FILL = 0.75;

export function readsInPlace(run: RowsRun, sequenceLength: number, pastTokens: number): boolean {
  const rows = run.startPositions.length;
  if (sequenceLength !== 1 || pastTokens < IN_PLACE_MIN_PAST_TOKENS || rows * pastTokens < IN_PLACE_MIN_CACHE_TOKENS) return false;
  const filled = run.startPositions.reduce((sum, position) => sum + position, 0);
  return filled >= IN_PLACE_MIN_FILL * rows * pastTokens;
}

/** The first numTokens positions of the row at `at` as a [kvH, numTokens, D] array. */
function copyRowOut(buffer: Float32Array, at: Placement, numTokens: number, numKvHeads: number, headDim: number): Float32Array {
  const out = new Float32Array(numKvHeads * numTokens * headDim);
  for (let head = 0; head < numKvHeads; head++) {
    const from = (at.offsetTokens * numKvHeads + head * at.strideTokens) * headDim;
    out.set(buffer.subarray(from, from + numTokens * headDim), head * numTokens * headDim);
  }
  return out;
}

/** Write the first numTokens positions of an entry array ([kvH, entryTokens, D]) into the row at `at`. */
function copyRowIn(entry: Float32Array, buffer: Float32Array, at: Placement, numTokens: number, numKvHeads: number, headDim: number): void {
  const entryTokens = entry.length / (numKvHeads * headDim);
  for (let head = 0; head < numKvHeads; head++) {
    const from = head * entryTokens * headDim;
    buffer.set(entry.subarray(from, from + numTokens * headDim), (at.offsetTokens * numKvHeads + head * at.strideTokens) * headDim);
  }
}
