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
import { applyCacheOp, STRIDE_STEP_TOKENS, type CacheOp } from './kvCache.js';
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
   * One session.run over the consecutive rows firstRow.. of `run`; stores the new K/V of the
   * first numTokens[row] tokens of each row (0 = a padding row, nothing stored).
   */
  async run(firstRow: number, run: RowsRun, numTokens: number[]): Promise<RunOutput> {
    const { graph, stride } = this;
    const numRows = run.inputIds.length;
    const { feeds, sequenceLength } = decoderInputs(graph, run, this.totalSequenceLengthDims);
    const rowElements = graph.numKvHeads * stride * graph.headDim;
    // Rows that all start empty (first prompt chunks) have no past to read: P = 0 spares
    // attention the stride's worth of masked positions (the contract allows any P there).
    const pastEmpty = run.startPositions.every((position) => position === 0);
    const pastDims = [numRows, graph.numKvHeads, pastEmpty ? 0 : stride, graph.headDim];
    const begin = firstRow * rowElements;
    const end = pastEmpty ? begin : (firstRow + numRows) * rowElements;
    if (this.switchesAttention) feeds[IN_PLACE_INPUT] = new ort.Tensor('bool', Uint8Array.of(readsInPlace(run, sequenceLength, pastDims[2]!) ? 1 : 0), []);
    for (let layer = 0; layer < graph.numLayers; layer++) {
      // Views, not copies: ORT reads input buffers in place.
      feeds[this.names.pastKey[layer]!] = new ort.Tensor('float32', this.keys[layer]!.subarray(begin, end), pastDims);
      feeds[this.names.pastValue[layer]!] = new ort.Tensor('float32', this.values[layer]!.subarray(begin, end), pastDims);
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
    const { numKvHeads, headDim } = graph;
    const scatter = (data: Float32Array, cache: Float32Array) => {
      for (let row = 0; row < numRows; row++) {
        const count = numTokens[row]!;
        const startPosition = run.startPositions[row]!;
        for (let s = 0; s < count; s++) {
          for (let head = 0; head < numKvHeads; head++) {
            let from = ((row * sequenceLength + s) * numKvHeads + head) * headDim;
            let to = (((firstRow + row) * numKvHeads + head) * stride + startPosition + s) * headDim;
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
