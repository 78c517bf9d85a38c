// The KV cache resident on a GPU device (WebGPU). Per layer, K and V are device tensors of shape
// [rows, kvH, stride, D] holding exactly the live rows (rows 0..n-1, as KvCacheManager numbers
// them; the manager keeps this cache at one stride, with no long-row regions: keepOneStride). A decoder run takes them as past_* and returns present_* (the past with the new tokens
// written in), which stay on the device and become the cache. Row work (admit, finish, compact,
// restride, preempt, splicing a prefilled row in, saving and loading prefix-cache entries) runs
// the kv-rows graph on the same device; prefix entries are device tensors too ([1, kvH, n, D]).
// Per step only token ids, positions, lengths and row indices go to the device, and only
// logits come back: O(batch) bytes, whatever the context length.
//
// Invariants: every cache tensor is [numRows, kvH, stride, D]; a tensor is disposed exactly once,
// when it is replaced; getData() is never called on a device tensor (it aborts the process in
// onnxruntime-node 1.30), so only host outputs are read.
import * as ort from 'onnxruntime-node';
import { performance } from 'node:perf_hooks';
import type { GraphContract } from '../common/manifest.js';
import { STRIDE_STEP_TOKENS, type CacheOp, type Placement } from './kvCache.js';
import { decoderInputs, int64Tensor, layerNames, type KvStorePhases, type LayerNames, type RowsRun, type RunOutput, type TransferMeter } from './decoderFeeds.js';
import { buildKvRowsGraph, KV_ROWS_INPUTS, kvRowsOutput } from './kvRowsGraph.js';
import { GraphBuilder } from '../convert/onnx/graphBuilder.js';
import { fromFloat16Array, toFloat16Bits } from '../convert/quantize.js';

export type KvElementType = 'float32' | 'float16';

/** The decoder's outputs a device runner fetches: logits (host) then every present_* (device). */
export function deviceFetches(graph: GraphContract): string[] {
  const names = layerNames(graph);
  return [graph.outputs.logits, ...names.presentKey.flatMap((key, layer) => [key, names.presentValue[layer]!])];
}

/**
 * Why a package cannot keep its cache on the device, or null when it can. The fetch list must be
 * the leading outputs: onnxruntime-node 1.30 applies per-output locations by position in the
 * fetch list rather than by name.
 */
export function deviceResidencyProblem(graph: GraphContract, outputNames: readonly string[]): string | null {
  if (!graph.outputs.presentKey || !graph.outputs.presentValue) {
    return `the package's graph (${graph.kind}) has no present_* outputs; convert it again with this version of Hearth for a device-resident KV cache`;
  }
  const fetches = deviceFetches(graph);
  if (fetches.some((name, index) => outputNames[index] !== name)) {
    return 'the graph does not list logits and present_* as its leading outputs (bug in the converter)';
  }
  return null;
}

/** preferredOutputLocation for a device decoder session: logits and new_* on the host, present_* on the device. */
export function deviceOutputLocations(graph: GraphContract): Record<string, ort.Tensor.DataLocation> {
  const names = layerNames(graph);
  const locations: Record<string, ort.Tensor.DataLocation> = { [graph.outputs.logits]: 'cpu' };
  for (const name of [...names.presentKey, ...names.presentValue]) locations[name] = 'gpu-buffer';
  for (const name of [...names.newKey, ...names.newValue]) locations[name] = 'cpu';
  return locations;
}

/** Where an output row of the kv-rows graph comes from. */
type RowPick = { from: 'base' | 'extra'; row: number } | { from: 'zero' };
const ZERO: RowPick = { from: 'zero' };
const base = (row: number): RowPick => ({ from: 'base', row });
const extra = (row: number): RowPick => ({ from: 'extra', row });

export class DeviceKvCache {
  readonly residency = 'device' as const;
  private cache: ort.Tensor[] = [];
  private numRows = 0;
  private stride = STRIDE_STEP_TOKENS;
  private readonly names: LayerNames;
  private readonly fetches: string[];
  private readonly numTensors: number;
  /** Prefix-cache entries: per entry, its 2·numLayers tensors of one row. */
  private readonly entries = new Map<number, ort.Tensor[]>();

  private constructor(
    /** Longest run (new tokens per row) this device's attention computes exactly (longer prefills are split), and the probe's error. */
    readonly attention: AttentionProbe,
    /** float16 with the half-precision graph, else float32. */
    private readonly kvType: KvElementType,
    private readonly session: ort.InferenceSession,
    private readonly rowsSession: ort.InferenceSession,
    private readonly graph: GraphContract,
    private readonly totalSequenceLengthDims: number[],
    private readonly meter: TransferMeter,
    private readonly phases: KvStorePhases,
  ) {
    this.names = layerNames(graph);
    this.fetches = deviceFetches(graph);
    this.numTensors = 2 * graph.numLayers;
  }

  /** `session` must run on the WebGPU provider with deviceOutputLocations(). */
  static async create(session: ort.InferenceSession, graph: GraphContract, kvType: KvElementType, totalSequenceLengthDims: number[], meter: TransferMeter, phases: KvStorePhases): Promise<DeviceKvCache> {
    const rowsGraph = buildKvRowsGraph({ numTensors: 2 * graph.numLayers, numKvHeads: graph.numKvHeads, headDim: graph.headDim, elementType: kvType });
    const rowsSession = await ort.InferenceSession.create(rowsGraph, {
      executionProviders: ['webgpu'],
      preferredOutputLocation: 'gpu-buffer',
      graphOptimizationLevel: 'all',
      // Every node on the device, or no session: a CPU fallback would copy caches to the host.
      extra: { session: { disable_cpu_ep_fallback: '1' } },
    });
    return new DeviceKvCache(await longestExactRun(graph, kvType), kvType, session, rowsSession, graph, totalSequenceLengthDims, meter, phases);
  }

  /** KV bytes held on the device now (live rows × stride, and prefix-cache entries). */
  get deviceBytes(): number {
    let positions = this.numRows * this.stride;
    for (const entry of this.entries.values()) positions += entry[0]!.dims[2]!;
    return this.numTensors * positions * this.graph.numKvHeads * this.graph.headDim * (this.kvType === 'float16' ? 2 : 4);
  }

  /**
   * Bring the device cache to the manager's layout after `ops`: `numCacheRows` rows at the
   * current stride. Moves become a row gather; a stride change slices or zero-pads the sequence
   * axis; rows allocated this step start as zero rows until their prefill is spliced in.
   */
  async applyCacheOps(ops: CacheOp[], numCacheRows: number): Promise<void> {
    const started = performance.now();
    // Where each row's data comes from, followed through the ops: a row of the cache as it is
    // now (which stays untouched until the end), a prefix entry, or zeros.
    const source: Array<RowPick | { from: 'entry'; entryId: number }> = range(this.numRows).map(base);
    const dropped: number[] = [];
    let stride = this.stride;
    // The manager runs this cache at one stride (keepOneStride): every placement is a block row.
    const rowAt = (at: Placement) => {
      if (at.strideTokens !== stride || at.offsetTokens % stride !== 0) throw new Error(`device KV cache: a row at ${at.offsetTokens}+${at.strideTokens} is not a block row at stride ${stride} (bug: regions on the device)`);
      return at.offsetTokens / stride;
    };
    for (const op of ops) {
      if (op.kind === 'move') source[rowAt(op.to)] = source[rowAt(op.from)] ?? ZERO;
      else if (op.kind === 'restride') stride = op.toStride;
      else if (op.kind === 'load') source[rowAt(op.to)] = { from: 'entry', entryId: op.entryId };
      else if (op.kind === 'drop') dropped.push(op.entryId); // released at the end: a load above may still read it
      else {
        const row = rowAt(op.from);
        const pick = source[row];
        if (!pick || pick.from !== 'base') throw new Error(`device KV cache: saving row ${row}, which holds no computed tokens (bug)`);
        this.entries.set(op.entryId, await this.gatherRows(this.cache, [pick], null, op.numTokens));
      }
    }
    const picks = range(numCacheRows).map((row) => source[row] ?? ZERO);
    const rows = picks.map((pick) => (pick.from === 'entry' ? ZERO : pick));
    const unchanged = stride === this.stride && numCacheRows === this.numRows && rows.every((pick, row) => pick.from === 'base' && pick.row === row);
    if (!unchanged) {
      const next = numCacheRows === 0 ? [] : await this.gatherRows(this.cache, rows, null, stride);
      this.replaceCache(next, numCacheRows, stride);
    }
    // Each loaded entry: one more gather that keeps every row but splices the entry's into its.
    for (const entryId of new Set(picks.flatMap((pick) => (pick.from === 'entry' ? [pick.entryId] : [])))) {
      const entry = this.entries.get(entryId);
      if (!entry) throw new Error(`device KV cache: no prefix entry ${entryId} (bug)`);
      const spliced = picks.map((pick, row) => (pick.from === 'entry' && pick.entryId === entryId ? extra(0) : base(row)));
      this.replaceCache(await this.gatherRows(this.cache, spliced, entry, this.stride), this.numRows, this.stride);
    }
    for (const entryId of dropped) {
      this.entries.get(entryId)?.forEach((tensor) => tensor.dispose());
      this.entries.delete(entryId);
    }
    this.phases.cacheOpsMs += performance.now() - started;
  }

  /** Decode over rows 0..numRows-1 (all live rows, or a leading subset; the rest are kept as they are). */
  async decode(run: RowsRun): Promise<RunOutput> {
    const numRows = run.inputIds.length;
    if (numRows > this.numRows) throw new Error(`device KV cache: decode over ${numRows} rows but only ${this.numRows} are live (bug)`);
    const subset = numRows < this.numRows;
    const past = subset ? await this.gatherRows(this.cache, range(numRows).map(base), null, this.stride) : this.cache;
    const { output, presents } = await this.runDecoder(run, past, subset);
    // present = [numRows, kvH, max(stride, total), D] (wider only when a padding row sat at a
    // full row's end: that junk position is cut off); the rows after it are kept as they were.
    const rows = [...range(numRows).map(base), ...range(this.numRows - numRows, numRows).map(extra)];
    const next = subset || presents[0]!.dims[2] !== this.stride ? await this.gatherRows(presents, rows, this.cache, this.stride) : presents;
    if (next !== presents) presents.forEach((tensor) => tensor.dispose());
    this.replaceCache(next, this.numRows, this.stride);
    return output;
  }

  /**
   * A prefill run over rows firstRow..: a first chunk (nothing cached: the past is empty and
   * nothing is sent) or a continued chunk of one row (its cached rows gathered on the device).
   * Rows past the live ones (the engine's warm-up run) are computed and dropped.
   */
  async prefill(firstRow: number, run: RowsRun): Promise<RunOutput> {
    // Split into runs the device computes exactly (see maxRunTokens): the first piece of every
    // row together, then each row's remaining pieces alone (continued chunks run B=1).
    const pieces = splitPrefill(run, this.attention.maxRunTokens);
    if (pieces.length === 1) return this.prefillRun(firstRow, run);
    const numRows = run.inputIds.length;
    let logits: Float32Array | null = null;
    let logitsWidth = 0;
    let runMs = 0;
    for (const piece of pieces) {
      const out = await this.prefillRun(firstRow + piece.firstRow, piece.run);
      runMs += out.runMs;
      logitsWidth = out.logitsWidth;
      logits ??= new Float32Array(numRows * logitsWidth);
      // A row's logits are those of the piece holding its last token (later pieces overwrite).
      piece.rows.forEach((row, index) => logits!.set(out.logits.subarray(index * logitsWidth, (index + 1) * logitsWidth), row * logitsWidth));
    }
    return { logits: logits!, logitsWidth, runMs };
  }

  private async prefillRun(firstRow: number, run: RowsRun): Promise<RunOutput> {
    const numRows = run.inputIds.length;
    const continued = run.startPositions.some((position) => position > 0);
    if (continued && numRows !== 1) throw new Error('device KV cache: a continued prefill runs one row at a time (bug)');
    const past = continued
      ? await this.gatherRows(this.cache, [base(firstRow)], null, this.stride)
      : Array.from({ length: this.numTensors }, () => this.emptyTensor(numRows));
    const { output, presents } = await this.runDecoder(run, past, continued);
    if (firstRow < this.numRows) {
      const rows = range(this.numRows).map((row) => (row >= firstRow && row < firstRow + numRows ? extra(row - firstRow) : base(row)));
      const next = await this.gatherRows(this.cache, rows, presents, this.stride);
      this.replaceCache(next, this.numRows, this.stride);
    }
    presents.forEach((tensor) => tensor.dispose());
    return output;
  }

  release(): void {
    this.replaceCache([], 0, this.stride);
    for (const entry of this.entries.values()) entry.forEach((tensor) => tensor.dispose());
    this.entries.clear();
    void this.rowsSession.release();
  }

  /** One decoder run on `past`; `disposePast`: past was gathered for this run and goes with it, even when the run fails. */
  private async runDecoder(run: RowsRun, past: ort.Tensor[], disposePast: boolean): Promise<{ output: RunOutput; presents: ort.Tensor[] }> {
    const { feeds } = decoderInputs(this.graph, run, this.totalSequenceLengthDims);
    for (let layer = 0; layer < this.graph.numLayers; layer++) {
      feeds[this.names.pastKey[layer]!] = past[2 * layer]!;
      feeds[this.names.pastValue[layer]!] = past[2 * layer + 1]!;
    }
    this.meter.fed(feeds);
    const started = performance.now();
    let outputs: ort.InferenceSession.ReturnType;
    try {
      outputs = await this.session.run(feeds, this.fetches);
    } finally {
      if (disposePast) past.forEach((tensor) => tensor.dispose());
    }
    const runMs = performance.now() - started;
    const logits = outputs[this.graph.outputs.logits]!;
    this.meter.returned([logits]);
    const presents = this.fetches.slice(1).map((name) => outputs[name]!);
    if (presents.some((tensor) => tensor.location !== 'gpu-buffer')) {
      presents.forEach((tensor) => tensor.dispose());
      throw new Error('device KV cache: a present_* output came back to the host (bug: session output locations)');
    }
    return { output: { logits: logits.data as Float32Array, logitsWidth: logits.dims[1]!, runMs }, presents };
  }

  /** Runs the kv-rows graph: output row r is rows[r] of base, of extra or a zero row, fitted to `stride`. */
  private async gatherRows(baseTensors: ort.Tensor[], rows: RowPick[], extraTensors: ort.Tensor[] | null, stride: number): Promise<ort.Tensor[]> {
    const { numKvHeads, headDim } = this.graph;
    const baseRows = baseTensors.length > 0 ? baseTensors[0]!.dims[0]! : 0;
    // Rows of Concat(base, zero row, extra).
    const indices = rows.map((pick) => (pick.from === 'base' ? pick.row : pick.from === 'zero' ? baseRows : baseRows + 1 + pick.row));
    const fit = (tensors: ort.Tensor[] | null) => {
      const length = tensors && tensors.length > 0 ? tensors[0]!.dims[2]! : 0;
      const kept = Math.min(length, stride);
      return { end: int64Tensor([kept]), pads: int64Tensor([0, 0, 0, 0, 0, 0, stride - kept, 0]) };
    };
    const empty = () => this.emptyTensor(0);
    const baseFit = fit(baseTensors);
    const extraFit = fit(extraTensors);
    const feeds: Record<string, ort.Tensor> = {
      [KV_ROWS_INPUTS.rows]: int64Tensor(indices),
      [KV_ROWS_INPUTS.baseEnd]: baseFit.end,
      [KV_ROWS_INPUTS.basePads]: baseFit.pads,
      [KV_ROWS_INPUTS.extraEnd]: extraFit.end,
      [KV_ROWS_INPUTS.extraPads]: extraFit.pads,
      [KV_ROWS_INPUTS.zeroShape]: int64Tensor([1, numKvHeads, stride, headDim]),
    };
    for (let tensor = 0; tensor < this.numTensors; tensor++) {
      feeds[KV_ROWS_INPUTS.base(tensor)] = baseTensors.length > 0 ? baseTensors[tensor]! : empty();
      feeds[KV_ROWS_INPUTS.extra(tensor)] = extraTensors ? extraTensors[tensor]! : empty();
    }
    this.meter.fed(feeds);
    const outputs = await this.rowsSession.run(feeds);
    return range(this.numTensors).map((tensor) => outputs[kvRowsOutput(tensor)]!);
  }

  /** A host tensor with no positions: costs nothing to send. */
  private emptyTensor(numRows: number): ort.Tensor {
    const dims = [numRows, this.graph.numKvHeads, 0, this.graph.headDim];
    return this.kvType === 'float16' ? new ort.Tensor('float16', new Uint16Array(0), dims) : new ort.Tensor('float32', new Float32Array(0), dims);
  }

  private replaceCache(next: ort.Tensor[], numRows: number, stride: number): void {
    if (next !== this.cache) for (const tensor of this.cache) tensor.dispose();
    this.cache = next;
    this.numRows = numRows;
    this.stride = stride;
  }
}

/**
 * Pieces of a prefill run with at most `maxTokens` new tokens per row: piece 0 holds every row's
 * first maxTokens tokens (as one batch, past-free when the run is); each later piece is one row
 * continuing alone. `rows` maps a piece's rows back to the run's.
 */
export function splitPrefill(run: RowsRun, maxTokens: number): Array<{ firstRow: number; rows: number[]; run: RowsRun }> {
  const longest = Math.max(...run.inputIds.map((ids) => ids.length));
  if (longest <= maxTokens) return [{ firstRow: 0, rows: range(run.inputIds.length), run }];
  const pieces: Array<{ firstRow: number; rows: number[]; run: RowsRun }> = [];
  if (run.inputIds.length > 1 && run.startPositions.some((position) => position > 0)) throw new Error('device KV cache: a continued prefill runs one row at a time (bug)');
  pieces.push({
    firstRow: 0,
    rows: range(run.inputIds.length),
    run: { inputIds: run.inputIds.map((ids) => ids.slice(0, maxTokens)), startPositions: run.startPositions },
  });
  run.inputIds.forEach((ids, row) => {
    for (let offset = maxTokens; offset < ids.length; offset += maxTokens) {
      pieces.push({ firstRow: row, rows: [row], run: { inputIds: [ids.slice(offset, offset + maxTokens)], startPositions: [run.startPositions[row]! + offset] } });
    }
  });
  return pieces;
}

/** Runs of 32+ new tokens are wrong on some WebGPU adapters in onnxruntime 1.30 (seen on llvmpipe: ~3e-2 relative error). */
const SHORT_RUN_TOKENS = 31;
const PROBE_RUN_TOKENS = 96;

/**
 * The longest prefill run the device's GroupQueryAttention computes exactly: one long run of the
 * model's attention shape on the device against the CPU provider (a few ms at load). Exact →
 * no limit; otherwise SHORT_RUN_TOKENS, which every adapter seen computes exactly.
 */
export interface AttentionProbe {
  maxRunTokens: number;
  maxRelativeError: number;
}

async function longestExactRun(graph: GraphContract, kvType: KvElementType): Promise<AttentionProbe> {
  const { numKvHeads, headDim } = graph;
  const numHeads = numKvHeads * 2;
  const attentionGraph = (type: KvElementType) => {
    const g = new GraphBuilder(null);
    const [q, k, v] = [g.input('q', type, [1, PROBE_RUN_TOKENS, numHeads * headDim]), g.input('k', type, [1, PROBE_RUN_TOKENS, numKvHeads * headDim]), g.input('v', type, [1, PROBE_RUN_TOKENS, numKvHeads * headDim])];
    const pastKey = g.input('past_key', type, [1, numKvHeads, 0, headDim]);
    const pastValue = g.input('past_value', type, [1, numKvHeads, 0, headDim]);
    const seqlensK = g.input('seqlens_k', 'int32', [1]);
    const total = g.input('total_sequence_length', 'int32', []);
    g.node('GroupQueryAttention', [q, k, v, pastKey, pastValue, seqlensK, total], { domain: 'com.microsoft', attributes: { num_heads: numHeads, kv_num_heads: numKvHeads }, outputs: ['out', 'present_key', 'present_value'] });
    g.output('out', type, [1, PROBE_RUN_TOKENS, numHeads * headDim]);
    return g.encodeModel({ '': 17, 'com.microsoft': 1 }, 'hearth-attention-probe');
  };
  let state = 12345;
  // fp16-representable values, so both precisions see the same inputs.
  const random = (count: number) => Float32Array.from(fromHalf(toFloat16Bits(Float32Array.from({ length: count }, () => ((state = (state * 16807) % 2147483647) / 2147483647) - 0.5))));
  const inputs = { q: random(PROBE_RUN_TOKENS * numHeads * headDim), k: random(PROBE_RUN_TOKENS * numKvHeads * headDim), v: random(PROBE_RUN_TOKENS * numKvHeads * headDim) };
  const feeds = (type: KvElementType) => {
    const tensor = (values: Float32Array, dims: number[]) => (type === 'float16' ? new ort.Tensor('float16', toFloat16Bits(values), dims) : new ort.Tensor('float32', values, dims));
    return {
      q: tensor(inputs.q, [1, PROBE_RUN_TOKENS, numHeads * headDim]),
      k: tensor(inputs.k, [1, PROBE_RUN_TOKENS, numKvHeads * headDim]),
      v: tensor(inputs.v, [1, PROBE_RUN_TOKENS, numKvHeads * headDim]),
      past_key: tensor(new Float32Array(0), [1, numKvHeads, 0, headDim]),
      past_value: tensor(new Float32Array(0), [1, numKvHeads, 0, headDim]),
      seqlens_k: new ort.Tensor('int32', Int32Array.of(PROBE_RUN_TOKENS - 1), [1]),
      total_sequence_length: new ort.Tensor('int32', Int32Array.of(PROBE_RUN_TOKENS), []),
    };
  };
  const run = async (provider: string, type: KvElementType): Promise<Float32Array> => {
    const session = await ort.InferenceSession.create(attentionGraph(type), { executionProviders: [provider] });
    try {
      const out = (await session.run(feeds(type), ['out'])).out!;
      return type === 'float16' ? fromHalf(out.data as Uint16Array) : (out.data as Float32Array);
    } finally {
      await session.release();
    }
  };
  const reference = await run('cpu', 'float32');
  const device = await run('webgpu', kvType);
  let maxError = 0;
  let maxValue = 0;
  for (let i = 0; i < reference.length; i++) {
    maxError = Math.max(maxError, Math.abs(reference[i]! - device[i]!));
    maxValue = Math.max(maxValue, Math.abs(reference[i]!));
  }
  const maxRelativeError = maxError / maxValue;
  return { maxRunTokens: maxRelativeError <= EXACT_ATTENTION[kvType] ? Number.POSITIVE_INFINITY : SHORT_RUN_TOKENS, maxRelativeError };
}

/** Largest relative error a correct attention kernel shows on the probe, by precision (fp16: ~1e-3 rounding). */
const EXACT_ATTENTION: Record<KvElementType, number> = { float32: 1e-4, float16: 5e-3 };

const fromHalf = (halves: Uint16Array) => fromFloat16Array(halves);

function range(count: number, start = 0): number[] {
  return Array.from({ length: count }, (_, index) => start + index);
}
