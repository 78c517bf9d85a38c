// The model runner's worker thread: owns the ONNX session and the KV cache buffers. ORT's `run`
// blocks its thread for the whole step, so it lives here and the main thread stays free for HTTP.
// Per step: apply cache ops → decode run (rows 0..n-1 as one zero-copy view) → prefill runs
// (B=1 on one row's view) → scatter new K/V into rows → sample.
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { performance } from 'node:perf_hooks';
import { createSession } from './executionProviders.js';
import { applyCacheOp, STRIDE_STEP_TOKENS } from './kvCache.js';
import { SamplerScratch, SamplerState, sample } from './sampler.js';
import { serializeError } from './errors.js';
import { GrammarRuntime, type GrammarConstraint } from './grammar/grammarRuntime.js';
import type { FromRunner, InitMessage, RunFailure, SamplerInit, StepMessage, ToRunner, TokenSample } from './runnerMessages.js';
import type { GraphContract } from '../common/manifest.js';

const port = parentPort;
if (!port) throw new Error('runnerWorker must run in a worker thread');
const post = (message: FromRunner) => port.postMessage(message);
const log = (line: string) => post({ type: 'log', line });

interface Runner {
  session: ort.InferenceSession;
  graph: GraphContract;
  vocabSize: number;
  keys: Float32Array[];
  values: Float32Array[];
  stride: number;
  /** total_sequence_length's rank as the graph declares it (GQA takes a scalar; some exports use [1]). */
  totalSequenceLengthDims: number[];
  names: { pastKey: string[]; pastValue: string[]; newKey: string[]; newValue: string[] };
  samplers: Map<string, SamplerState>;
  scratch: SamplerScratch;
  grammar: GrammarRuntime;
  /** The matchers of constrained requests (also their SamplerState's constraint). */
  matchers: Map<string, GrammarConstraint>;
}

let runner: Runner | null = null;

/** Where a step's time goes outside session.run (reported with each step; see bench-engine). */
const phases = { cacheOpsMs: 0, scatterMs: 0, sampleMs: 0 };

function layerNames(template: string, numLayers: number): string[] {
  return Array.from({ length: numLayers }, (_, layer) => template.replace('{layer}', String(layer)));
}

async function init(message: InitMessage): Promise<void> {
  const { session, device } = await createSession(message.modelPath, message.session, log);
  const { graph } = message;
  const elements = message.kvCapacityTokens * graph.numKvHeads * graph.headDim;
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  for (let layer = 0; layer < graph.numLayers; layer++) {
    keys.push(new Float32Array(elements));
    values.push(new Float32Array(elements));
  }
  const totalMeta = session.inputMetadata.find((meta) => meta.name === graph.inputs.totalSequenceLength);
  const totalSequenceLengthDims = totalMeta && totalMeta.isTensor && totalMeta.shape.length === 1 ? [1] : [];
  runner = {
    session,
    graph,
    vocabSize: message.vocabSize,
    keys,
    values,
    stride: STRIDE_STEP_TOKENS,
    totalSequenceLengthDims,
    names: {
      pastKey: layerNames(graph.inputs.pastKey, graph.numLayers),
      pastValue: layerNames(graph.inputs.pastValue, graph.numLayers),
      newKey: layerNames(graph.outputs.newKey, graph.numLayers),
      newValue: layerNames(graph.outputs.newValue, graph.numLayers),
    },
    samplers: new Map(),
    scratch: new SamplerScratch(),
    grammar: new GrammarRuntime(message.grammar.tokenizerJsonPath, message.vocabSize, message.grammar.stopTokenIds),
    matchers: new Map(),
  };
  post({ type: 'ready', device, kvCacheBytes: elements * 4 * 2 * graph.numLayers });
}

const int64 = (values: number[]) => BigInt64Array.from(values, (value) => BigInt(value));

/**
 * One session.run over `numRows` consecutive cache rows starting at `firstRow`, each fed
 * `inputIds[row]` (right-padded to S) at `startPositions[row]`; writes the new K/V of the first
 * `numTokens[row]` tokens of each row (0 = don't store) and returns the logits.
 */
async function runRows(
  r: Runner,
  firstRow: number,
  inputIds: number[][],
  startPositions: number[],
  numTokens: number[],
): Promise<{ logits: Float32Array; logitsWidth: number; runMs: number }> {
  const { graph, stride } = r;
  const numRows = inputIds.length;
  const sequenceLength = Math.max(...inputIds.map((ids) => ids.length));
  const flatIds: number[] = [];
  const flatPositions: number[] = [];
  const seqlensK = new Int32Array(numRows);
  const lastTokenIndex: number[] = [];
  let totalSequenceLength = 0;
  for (let row = 0; row < numRows; row++) {
    const ids = inputIds[row]!;
    for (let s = 0; s < sequenceLength; s++) {
      flatIds.push(s < ids.length ? ids[s]! : 0);
      flatPositions.push(startPositions[row]! + Math.min(s, ids.length - 1));
    }
    const lengthAfter = startPositions[row]! + ids.length;
    seqlensK[row] = lengthAfter - 1;
    lastTokenIndex.push(ids.length - 1);
    totalSequenceLength = Math.max(totalSequenceLength, lengthAfter);
  }
  const rowElements = graph.numKvHeads * stride * graph.headDim;
  const pastDims = [numRows, graph.numKvHeads, stride, graph.headDim];
  const feeds: Record<string, ort.Tensor> = {
    [graph.inputs.inputIds]: new ort.Tensor('int64', int64(flatIds), [numRows, sequenceLength]),
    [graph.inputs.positionIds]: new ort.Tensor('int64', int64(flatPositions), [numRows, sequenceLength]),
    [graph.inputs.seqlensK]: new ort.Tensor('int32', seqlensK, [numRows]),
    [graph.inputs.totalSequenceLength]: new ort.Tensor('int32', Int32Array.of(totalSequenceLength), r.totalSequenceLengthDims),
    [graph.inputs.lastTokenIndex]: new ort.Tensor('int64', int64(lastTokenIndex), [numRows]),
  };
  const begin = firstRow * rowElements;
  const end = (firstRow + numRows) * rowElements;
  for (let layer = 0; layer < graph.numLayers; layer++) {
    // Views, not copies: ORT reads input buffers in place.
    feeds[r.names.pastKey[layer]!] = new ort.Tensor('float32', r.keys[layer]!.subarray(begin, end), pastDims);
    feeds[r.names.pastValue[layer]!] = new ort.Tensor('float32', r.values[layer]!.subarray(begin, end), pastDims);
  }
  const started = performance.now();
  const outputs = await r.session.run(feeds);
  const runMs = performance.now() - started;
  const scatterStarted = performance.now();
  // Scatter new K/V ([B, S, kvH, D]) into rows laid out [row, kvH, stride, D]. Plain index
  // loops: a decode step at B=64 copies ~12k head vectors, and a subarray per copy costs more
  // than the copy.
  const { numKvHeads, headDim } = graph;
  for (let layer = 0; layer < graph.numLayers; layer++) {
    scatter(outputs[r.names.newKey[layer]!]!.data as Float32Array, r.keys[layer]!);
    scatter(outputs[r.names.newValue[layer]!]!.data as Float32Array, r.values[layer]!);
  }
  function scatter(data: Float32Array, cache: Float32Array): void {
    for (let row = 0; row < numRows; row++) {
      const count = numTokens[row]!;
      const startPosition = startPositions[row]!;
      for (let s = 0; s < count; s++) {
        for (let head = 0; head < numKvHeads; head++) {
          let from = ((row * sequenceLength + s) * numKvHeads + head) * headDim;
          let to = (((firstRow + row) * numKvHeads + head) * stride + startPosition + s) * headDim;
          const end = from + headDim;
          while (from < end) cache[to++] = data[from++]!;
        }
      }
    }
  }
  phases.scatterMs += performance.now() - scatterStarted;
  const logits = outputs[graph.outputs.logits]!;
  return { logits: logits.data as Float32Array, logitsWidth: logits.dims[1]!, runMs };
}

function sampleRow(r: Runner, requestId: string, out: { logits: Float32Array; logitsWidth: number }, row: number): TokenSample {
  const state = r.samplers.get(requestId);
  if (!state) throw new Error(`runner: no sampler state for ${requestId} (bug)`);
  const width = out.logitsWidth;
  const sampleStarted = performance.now();
  const result = sample(out.logits.subarray(row * width, (row + 1) * width), state, r.scratch);
  phases.sampleMs += performance.now() - sampleStarted;
  state.record(result.tokenId);
  return { requestId, ...result, ...(state.constraint?.isTerminated ? { grammarComplete: true } : {}) };
}

/**
 * Drops released sampler states, creates new ones (compiling their grammars), and brings every
 * grammar's mask up to date for this step's sampling. A grammar that fails to compile fails only
 * its request (the engine discards that request's samples).
 */
async function prepareSamplers(r: Runner, releasedIds: string[], inits: SamplerInit[]): Promise<RunFailure[]> {
  const failures: RunFailure[] = [];
  for (const id of releasedIds) {
    r.samplers.delete(id);
    r.matchers.get(id)?.dispose();
    r.matchers.delete(id);
  }
  for (const init of inits) {
    if (r.samplers.has(init.requestId)) continue;
    const state = new SamplerState(init.sampling, init.promptTokenIds, init.topLogprobs, init.fallbackSeed);
    r.samplers.set(init.requestId, state);
    if (!init.constraint) continue;
    try {
      const matcher = await r.grammar.constraint(init.constraint);
      r.matchers.set(init.requestId, matcher);
      state.constraint = matcher;
    } catch (error) {
      failures.push({ requestIds: [init.requestId], error: serializeError(error) });
    }
  }
  const sampleStarted = performance.now();
  for (const matcher of r.matchers.values()) if (matcher.isStale) await matcher.refresh();
  phases.sampleMs += performance.now() - sampleStarted;
  return failures;
}

async function step(message: StepMessage): Promise<void> {
  const r = runner;
  if (!r) throw new Error('runner: step before init (bug)');
  const started = performance.now();
  phases.cacheOpsMs = phases.scatterMs = phases.sampleMs = 0;
  for (const op of message.cacheOps) {
    for (let layer = 0; layer < r.graph.numLayers; layer++) {
      applyCacheOp(r.keys[layer]!, op, r.graph.numKvHeads, r.graph.headDim, r.stride);
      applyCacheOp(r.values[layer]!, op, r.graph.numKvHeads, r.graph.headDim, r.stride);
    }
    if (op.kind === 'restride') r.stride = op.toStride;
  }
  phases.cacheOpsMs = performance.now() - started;
  const failures = await prepareSamplers(r, message.releasedIds, message.samplerInits);
  const samples: TokenSample[] = [];
  let runMs = 0;
  if (message.decode) {
    const { numRows, inputIds, positions, requestIds } = message.decode;
    const realIds = requestIds.filter((id): id is string => id !== null);
    try {
      const out = await runRows(r, 0, inputIds.map((id) => [id]), positions, requestIds.map((id) => (id === null ? 0 : 1)));
      runMs += out.runMs;
      for (let row = 0; row < numRows; row++) {
        const id = requestIds[row];
        if (id) samples.push(sampleRow(r, id, out, row));
      }
    } catch (error) {
      failures.push({ requestIds: realIds, error: serializeError(error) });
    }
  }
  for (const batch of message.prefills) {
    try {
      const out = await runRows(
        r,
        batch.firstRow,
        batch.runs.map((run) => run.inputIds),
        batch.runs.map((run) => run.startPosition),
        batch.runs.map((run) => run.inputIds.length),
      );
      runMs += out.runMs;
      batch.runs.forEach((run, row) => {
        if (run.sample) samples.push(sampleRow(r, run.requestId, out, row));
      });
    } catch (error) {
      failures.push({ requestIds: batch.runs.map((run) => run.requestId), error: serializeError(error) });
    }
  }
  post({ type: 'stepDone', stepId: message.stepId, samples, failures, runMs, overheadMs: performance.now() - started - runMs, phases: { ...phases } });
}

async function shutdown(): Promise<void> {
  let profileFile: string | undefined;
  if (runner) {
    try {
      const ended = (runner.session as unknown as { endProfiling(): string | undefined }).endProfiling();
      if (typeof ended === 'string' && ended) profileFile = ended;
    } catch {
      // profiling was off
    }
    await runner.session.release();
    runner = null;
  }
  post({ type: 'closed', profileFile });
}

// Messages are handled one at a time, in order (a step must never overlap the next).
let queue = Promise.resolve();
port.on('message', (message: ToRunner) => {
  queue = queue.then(async () => {
    switch (message.type) {
      case 'init':
        try {
          await init(message);
        } catch (error) {
          post({ type: 'initFailed', error: serializeError(error) });
        }
        return;
      case 'step':
        try {
          await step(message);
        } catch (error) {
          // A bug outside any run: fail every request in the step; the engine keeps serving.
          const ids = [...(message.decode?.requestIds.filter((id): id is string => id !== null) ?? []), ...message.prefills.flatMap((batch) => batch.runs.map((run) => run.requestId))];
          post({ type: 'stepDone', stepId: message.stepId, samples: [], failures: [{ requestIds: ids, error: serializeError(error) }], runMs: 0, overheadMs: 0, phases: { cacheOpsMs: 0, scatterMs: 0, sampleMs: 0 } });
        }
        return;
      case 'shutdown':
        await shutdown();
        return;
    }
  });
});
