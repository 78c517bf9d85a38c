// The model runner's worker thread: owns the ONNX session and the KV cache. ORT's `run` blocks
// its thread for the whole step, so it lives here and the main thread stays free for HTTP.
// Per step: apply cache ops → decode run (rows 0..n-1) → prefill runs → sample. With int8 matmuls
// for prompts (`--cpu-int8-prefill`) a second CPU session runs the prompt-path prefill runs over the
// same host cache; decode and recomputed generated tokens stay on the int4 session. Where the cache
// lives is the store's business: host memory (HostKvCache: zero-copy views in, new K/V scattered
// back) or the GPU device (DeviceKvCache: present_* fed back as past_*, nothing copied).
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { performance } from 'node:perf_hooks';
import { inPlaceAttentionVariant, webGpuProblem } from './cacheAttention.js';
import { createCpuSession, createSession, type CpuModel } from './executionProviders.js';
import { loadInt8MatMulVariant } from './int8MatMul.js';
import { DeviceKvCache, deviceOutputLocations, deviceResidencyProblem } from './deviceKvCache.js';
import { HostKvCache } from './hostKvCache.js';
import { TransferMeter, type KvStorePhases, type RunOutput } from './decoderFeeds.js';
import { SamplerScratch, SamplerState, sample } from './sampler.js';
import { serializeError } from './errors.js';
import { GrammarRuntime, type GrammarConstraint } from './grammar/grammarRuntime.js';
import type { FromRunner, InitMessage, RunFailure, RunnerReport, SamplerInit, StepMessage, ToRunner, TokenSample } from './runnerMessages.js';
import { kvBytesPerToken } from '../common/memoryEstimate.js';

const port = parentPort;
if (!port) throw new Error('runnerWorker must run in a worker thread');
const post = (message: FromRunner) => port.postMessage(message);
const log = (line: string) => post({ type: 'log', line });

interface Runner {
  session: ort.InferenceSession;
  /** Runs prompt-path prefills when int8MatMul is 'prompt' (null: `session` runs everything). */
  promptSession: ort.InferenceSession | null;
  kv: HostKvCache | DeviceKvCache;
  meter: TransferMeter;
  samplers: Map<string, SamplerState>;
  scratch: SamplerScratch;
  grammar: GrammarRuntime;
  /** The matchers of constrained requests (also their SamplerState's constraint). */
  matchers: Map<string, GrammarConstraint>;
}

let runner: Runner | null = null;

/** Where a step's time goes outside session.run (reported with each step; see bench-engine). */
const phases: KvStorePhases & { sampleMs: number } = { cacheOpsMs: 0, scatterMs: 0, sampleMs: 0 };

/**
 * The CPU provider's graphs. The host cache feeds past_* and fetches new_* only, so attention can
 * read the cache in place (HEARTH_CPU_ATTENTION=group-query keeps the package's attention, for A/B
 * benchmarks); int8MatMul 'all' runs the layers' int4 matmuls in int8 (int8MatMul.ts), 'prompt'
 * keeps this graph int4 and builds the int8 one for the prompt session (`int8`).
 */
class CpuGraphs {
  private inPlace: Uint8Array | null | undefined;

  constructor(
    private readonly message: InitMessage,
    private readonly modelBytes: Uint8Array,
  ) {}

  /** The graph with in-place attention, or null where it does not apply. */
  private attentionVariant(): Uint8Array | null {
    this.inPlace ??= process.env.HEARTH_CPU_ATTENTION === 'group-query' ? null : inPlaceAttentionVariant(this.modelBytes, this.message.graph);
    return this.inPlace;
  }

  /** The main session's graph (null: the package's graph as stored). */
  main(): CpuModel | null {
    const inPlace = this.attentionVariant();
    const attention = inPlace ? 'cache-in-place' : 'group-query';
    if (this.message.session.cpuInt8MatMul === 'all') {
      const int8 = this.int8();
      if (int8) return { bytes: int8, attention, int8MatMul: true };
    }
    return inPlace ? { bytes: inPlace, attention, int8MatMul: false } : null;
  }

  /** The int8 graph (from the package folder's cache, built there at the first load), or null for a package without int4 matmuls. */
  int8(): Uint8Array | null {
    const { message } = this;
    const started = performance.now();
    const int8 = loadInt8MatMulVariant(this.attentionVariant() ?? this.modelBytes, dirname(message.modelDataPath), basename(message.modelDataPath), message.vocabSize, log);
    if (!int8) {
      log('int8 matmuls: this package has no int4 matmuls to expand (fp32 or fp16 weights); running as stored');
      return null;
    }
    const how = int8.from === 'cache' ? 'mapped from the package folder\'s cache' : int8.from === 'expanded' ? 'expanded and cached in the package folder' : `expanded into memory: ${int8.note}`;
    const which = message.session.cpuInt8MatMul === 'prompt' ? 'for prompt tokens (generated tokens run int4)' : 'for every token';
    log(`int8 matmuls ${which}: ${int8.matrices} matrices, ${(int8.int8Bytes / 2 ** 20).toFixed(0)} MiB of int8, ${how} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    return int8.model;
  }
}

async function init(message: InitMessage): Promise<void> {
  const { graph } = message;
  const modelBytes = readFileSync(message.modelPath);
  const cpuGraphs = new CpuGraphs(message, modelBytes);
  const created = await createSession(message.modelPath, message.session, log, {
    webgpuProblem: webGpuProblem(modelBytes),
    // Only for a device cache: these locations assume the device fetch list (see deviceFetches).
    webgpuOutputLocations: message.deviceKvCache && graph.outputs.presentKey ? deviceOutputLocations(graph) : undefined,
    webgpuHalfModelPath: message.deviceKvCache && graph.outputs.presentKey ? message.halfModelPath : undefined,
    cpuModel: () => cpuGraphs.main(),
  });
  const { session } = created;
  let { device } = created;
  let promptSession: ort.InferenceSession | null = null;
  if (message.session.cpuInt8MatMul === 'prompt' && device.executionProvider === 'cpu') {
    const int8 = cpuGraphs.int8();
    if (int8) {
      promptSession = await createCpuSession(int8, message.modelPath, message.session);
      device = { ...device, int8MatMul: 'prompt' };
    }
  }
  const totalMeta = session.inputMetadata.find((meta) => meta.name === graph.inputs.totalSequenceLength);
  const totalSequenceLengthDims = totalMeta && totalMeta.isTensor && totalMeta.shape.length === 1 ? [1] : [];
  const meter = new TransferMeter(device.executionProvider !== 'cpu');
  let kvResidencyNote: string | null = null;
  let kv: HostKvCache | DeviceKvCache;
  if (device.executionProvider === 'webgpu') {
    const problem = message.deviceKvCache ? deviceResidencyProblem(graph, session.outputNames) : 'host memory was asked for (deviceKvCache: false)';
    if (problem === null) {
      kv = await DeviceKvCache.create(session, graph, device.precision === 'fp16' ? 'float16' : 'float32', totalSequenceLengthDims, meter, phases);
      const { maxRunTokens, maxRelativeError } = kv.attention;
      if (Number.isFinite(maxRunTokens)) {
        kvResidencyNote = `this adapter's attention is inexact for runs of ${maxRunTokens + 1}+ tokens (measured relative error ${maxRelativeError.toExponential(1)}); prefills run in pieces of ${maxRunTokens} tokens.`;
        log(kvResidencyNote);
      }
    }
    else {
      kvResidencyNote = `KV cache in host memory, copied to the device every step: ${problem}.`;
      log(kvResidencyNote);
      kv = new HostKvCache(session, graph, message.kvCapacityTokens, totalSequenceLengthDims, meter, phases);
    }
  } else {
    if (device.executionProvider !== 'cpu') kvResidencyNote = `the ${device.executionProvider} provider returns every output to the host, so the KV cache lives in host memory.`;
    kv = new HostKvCache(session, graph, message.kvCapacityTokens, totalSequenceLengthDims, meter, phases);
  }
  runner = {
    session, promptSession, kv, meter, samplers: new Map(), scratch: new SamplerScratch(),
    grammar: new GrammarRuntime(message.grammar.tokenizerJsonPath, message.vocabSize, message.grammar.stopTokenIds),
    matchers: new Map(),
  };
  const report: RunnerReport = { ...device, kvResidency: kv.residency, kvResidencyNote };
  log(`KV cache: ${kv.residency === 'device' ? 'resident on the device' : 'in host memory'}`);
  // The budget as the cache's capacity in float32 (the host cache's element type).
  const kvCacheBytes = message.kvCapacityTokens * kvBytesPerToken(graph, 'float32');
  post({ type: 'ready', device: report, kvCacheBytes });
}

/** Test hook: a run that feeds this token id fails, as a device fault would (HEARTH_TEST_FAIL_ON_TOKEN). */
const failOnToken = process.env.HEARTH_TEST_FAIL_ON_TOKEN ? Number(process.env.HEARTH_TEST_FAIL_ON_TOKEN) : null;

/** One decoder run: the decode batch (rows 0..n-1) or a prefill group (rows firstRow..), `promptPath` for prompt tokens. */
function runRows(r: Runner, kind: 'decode' | 'prefill', promptPath: boolean, firstRow: number, inputIds: number[][], startPositions: number[], numTokens: number[]): Promise<RunOutput> {
  const run = { inputIds, startPositions };
  if (failOnToken !== null && inputIds.some((ids) => ids.includes(failOnToken))) {
    return Promise.reject(new Error(`injected run failure: token ${failOnToken} (HEARTH_TEST_FAIL_ON_TOKEN)`));
  }
  if (r.kv.residency === 'host') return r.kv.run(firstRow, run, numTokens, promptPath && r.promptSession ? r.promptSession : undefined);
  return kind === 'decode' ? r.kv.decode(run) : r.kv.prefill(firstRow, run);
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
      const matcher = await r.grammar.constraint(init.requestId, init.constraint);
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
  if (r.kv.residency === 'host') await r.kv.applyCacheOps(message.cacheOps, message.rowPlacements);
  else await r.kv.applyCacheOps(message.cacheOps, message.numCacheRows);
  const failures = await prepareSamplers(r, message.releasedIds, message.samplerInits);
  const samples: TokenSample[] = [];
  let runMs = 0;
  if (message.decode) {
    const { numRows, inputIds, positions, requestIds } = message.decode;
    const realIds = requestIds.filter((id): id is string => id !== null);
    try {
      const out = await runRows(r, 'decode', false, 0, inputIds.map((id) => [id]), positions, requestIds.map((id) => (id === null ? 0 : 1)));
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
        'prefill',
        batch.promptPath,
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
  post({
    type: 'stepDone', stepId: message.stepId, samples, failures, runMs, overheadMs: performance.now() - started - runMs, phases: { ...phases },
    transfer: r.meter.take(), deviceKvCacheBytes: r.kv.deviceBytes,
  });
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
    runner.kv.release();
    await runner.grammar.close();
    await runner.session.release();
    await runner.promptSession?.release();
    runner = null;
  }
  post({ type: 'closed', profileFile });
}

// Messages are handled one at a time, in order (a step must never overlap the next), except
// grammar compiles: they run on the grammar thread while steps go on.
let queue = Promise.resolve();
port.on('message', (message: ToRunner) => {
  if (message.type === 'prepareGrammar') {
    const prepared = runner ? runner.grammar.prepare(message.spec) : Promise.reject(new Error('runner: grammar before init (bug)'));
    prepared.then(
      () => post({ type: 'grammarPrepared', id: message.id }),
      (error: unknown) => post({ type: 'grammarPrepared', id: message.id, error: serializeError(error) }),
    );
    return;
  }
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
          post({
            type: 'stepDone', stepId: message.stepId, samples: [], failures: [{ requestIds: ids, error: serializeError(error) }], runMs: 0, overheadMs: 0,
            phases: { cacheOpsMs: 0, scatterMs: 0, sampleMs: 0 }, transfer: runner?.meter.take() ?? { toDeviceBytes: 0, toHostBytes: 0 }, deviceKvCacheBytes: runner?.kv.deviceBytes ?? 0,
          });
        }
        return;
      case 'shutdown':
        await shutdown();
        return;
    }
  });
});
