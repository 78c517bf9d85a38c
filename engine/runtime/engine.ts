// The engine loop (vLLM's shape): scheduler.schedule() → runner.step() in the worker →
// updateFromOutput() → emit events. Admission is bounded; a failed run fails only its requests.
import { randomInt } from 'node:crypto';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DoneEvent, Engine, EngineSnapshot, FinishReason, GenerationRequest, SerializedError, TokenEvent } from '../common/engineApi.js';
import type { ModelManifest } from '../common/manifest.js';
import type { DeviceChoice } from '../common/servingConfig.js';
import type { BatchingConfig } from '../common/batching.js';
import { resolveBatchingConfig, type ResolvedBatchingConfig } from './config.js';
import { NotReadyError, OverloadedError, ValidationError, deserializeError, serializeError } from './errors.js';
import { KvCacheManager } from './kvCache.js';
import { ModelRunner } from './modelRunner.js';
import type { RunnerReport, SamplerInit, StepDoneMessage, StepMessage, TokenSample } from './runnerMessages.js';
import type { AcceleratorSnapshot, Int8MatMulMode } from '../common/accelerator.js';
import { Scheduler, type PlannedRun, type StepPlan } from './scheduler.js';
import { PrefixCache } from './prefixCache.js';
import { StreamDetokenizer } from './detokenizer.js';
import { ModelTokenizer } from './tokenizer.js';
import { RequestChannel } from './requestChannel.js';
import { readManifest } from '../convert/modelPackage.js';

export interface LoadEngineOptions {
  packageDir: string;
  device?: DeviceChoice;
  /** Intra-op threads; 0/undefined = one per physical core. */
  cpuThreads?: number;
  batching?: Partial<BatchingConfig>;
  servedName?: string;
  log?: (line: string) => void;
  /**
   * ORT intra-op spinning during a run (parked when the run ends). Off by default: it speeds decode
   * on an idle machine but collapses when other processes compete for the cores (docs/benchmarks.md).
   */
  allowSpinning?: boolean;
  /**
   * int4 packages on the CPU provider: run the layers' matmuls in int8, expanded at the first
   * load into a cache in the package folder (int8MatMul.ts). 'all' (every token): prefill about
   * twice as fast, one stream 10–28 % slower. 'prompt' (prompt tokens only; generated tokens keep
   * int4 on a second session): the fast prefill at int4's decode speed, both weight copies in
   * memory (docs/benchmarks.md). 'off' by default.
   */
  cpuInt8MatMul?: Int8MatMulMode;
  /** Write an ORT profile (per-op times) to os.tmpdir(); its path is logged at shutdown. */
  enableProfiling?: boolean;
  /**
   * Keep the KV cache on the GPU device where the provider and package allow (default true).
   * false keeps it in host memory, copied to the device each step: for comparisons (gpu:check).
   */
  deviceKvCache?: boolean;
  /** 'auto' (default): fp16 on a shader-f16 GPU when the package has its half-precision graph; 'fp32' never. */
  devicePrecision?: 'auto' | 'fp32';
}

/** Per-step statistics for the metrics layer. */
export interface StepStats {
  stepId: number;
  /** Requests that ran in this step (decoding rows + prefill chunks). */
  batchSize: number;
  numDecodeTokens: number;
  numPrefillTokens: number;
  /** Padding rows in the decode batch (mid-prefill rows inside the decode range). */
  numPaddingRows: number;
  stepMs: number;
  runMs: number;
  overheadMs: number;
  /** Parts of overheadMs: applying cache ops (restride/moves), scattering new K/V, sampling. */
  cacheOpsMs: number;
  scatterMs: number;
  sampleMs: number;
  /** Host → device and device → host bytes of this step (0 on the CPU provider). */
  toDeviceBytes: number;
  toHostBytes: number;
  queueSize: number;
  runningSize: number;
  kvCacheUsage: number;
  /** Rows in regions of their own (long next to the short block; kvCache.ts). */
  numLongRows: number;
  numPreempted: number;
  numAdmitted: number;
  /** Admitted requests that started from a cached prefix, and the prompt tokens that saved. */
  numPrefixHits: number;
  numPrefixHitTokens: number;
  numFailedRequests: number;
}

export interface LoadedEngine extends Engine {
  readonly manifest: ModelManifest;
  readonly tokenizer: ModelTokenizer;
  readonly config: ResolvedBatchingConfig;
  /** Set once loaded. */
  readonly device: RunnerReport | null;
  /** Resolves when the model is loaded (rejects if loading failed). */
  readonly ready: Promise<void>;
  onStep(listener: (stats: StepStats) => void): () => void;
}

/**
 * Where a request is in its life. 'queued': not admitted yet (no sampler state on the runner).
 * 'admitted': has been (running, or preempted and requeued). 'finishing': its last token was
 * accepted, so it is no longer scheduled and its row and sampler are released; the done event
 * follows that token's emission. 'done': the done event went out (it is gone from `active`).
 */
type RequestPhase = 'queued' | 'admitted' | 'finishing' | 'done';

interface ActiveRequest {
  request: GenerationRequest;
  phase: RequestPhase;
  /** Set with phase 'finishing': decided when the last token was accepted (EOS/stop id, length, grammar complete). */
  finishReason: FinishReason | null;
  channel: RequestChannel;
  tokenIds: number[];
  numGenerated: number;
  detokenizer: StreamDetokenizer;
  stopIds: Set<number>;
  fallbackSeed: number;
  admittedAtMs: number | null;
  /** Prompt tokens whose K/V came from the prefix cache when first admitted (usage.prompt_tokens_details.cached_tokens). */
  cachedPromptTokens: number;
  firstTokenAtMs: number | null;
  lastTokenAtMs: number | null;
}

/** What a step's update hands to publishing and emission. */
interface StepOutcome {
  timing: Pick<StepDoneMessage, 'runMs' | 'overheadMs' | 'phases' | 'transfer'>;
  numFailed: number;
  /** Samples accepted into their requests, to be emitted while the next step runs. */
  accepted: TokenSample[];
}

const NO_TIMING: StepOutcome['timing'] = { runMs: 0, overheadMs: 0, phases: { cacheOpsMs: 0, scatterMs: 0, sampleMs: 0 }, transfer: { toDeviceBytes: 0, toHostBytes: 0 } };

export class HearthEngine implements LoadedEngine {
  readonly manifest: ModelManifest;
  readonly tokenizer: ModelTokenizer;
  readonly config: ResolvedBatchingConfig;
  readonly ready: Promise<void>;
  device: RunnerReport | null = null;

  private state: EngineSnapshot['state'] = 'loading';
  private loadError: Error | null = null;
  private runner: ModelRunner | null = null;
  private readonly scheduler: Scheduler;
  private readonly kv: KvCacheManager;
  private readonly active = new Map<string, ActiveRequest>();
  /** Constrained requests whose grammar is compiling (not yet given to the scheduler): prompt tokens by id. */
  private readonly compiling = new Map<string, number>();
  private readonly stepListeners = new Set<(stats: StepStats) => void>();
  private releasedIds: string[] = [];
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> | null = null;
  private stopLoop = false;
  private tokensGenerated = 0;
  /** Rows the runner's cache holds as of the last step sent. */
  private cacheRowsOnRunner = 0;
  private readonly transfer = { toDeviceBytes: 0, toHostBytes: 0, steps: 0, deviceKvCacheBytes: 0 };
  private hasGenerated = false;
  private readonly servedName: string;
  private readonly log: (line: string) => void;

  constructor(private readonly options: LoadEngineOptions) {
    this.log = options.log ?? (() => {});
    this.manifest = readManifest(options.packageDir);
    this.servedName = options.servedName ?? this.manifest.name;
    this.tokenizer = ModelTokenizer.fromPackage(options.packageDir, this.manifest.tokenizer);
    this.config = resolveBatchingConfig(options.batching, this.manifest, { freeBytes: os.freemem() });
    this.kv = new KvCacheManager(this.config.kvCacheCapacityTokens);
    // Prompt and generated tokens on different numeric paths: each token is always computed on its own (scheduler.ts).
    const separatePromptPath = options.cpuInt8MatMul === 'prompt';
    const prefix = this.config.prefixCacheTokens > 0 ? { cache: new PrefixCache(this.config.prefixCacheTokens, separatePromptPath), tokensOf: (id: string) => this.active.get(id)!.tokenIds } : null;
    this.scheduler = new Scheduler({ ...this.config, separatePromptPath }, this.kv, prefix);
    this.ready = this.load();
    this.ready.catch(() => {}); // observed through state/snapshot too
  }

  private async load(): Promise<void> {
    const started = performance.now();
    try {
      this.runner = await ModelRunner.start(
        {
          modelPath: join(this.options.packageDir, this.manifest.files.model),
          modelDataPath: join(this.options.packageDir, this.manifest.files.modelData),
          graph: this.manifest.graph,
          vocabSize: this.manifest.shape.vocabSize,
          kvCapacityTokens: this.config.kvCacheCapacityTokens,
          deviceKvCache: this.options.deviceKvCache ?? true,
          halfModelPath: this.manifest.files.modelF16 && this.options.devicePrecision !== 'fp32' ? join(this.options.packageDir, this.manifest.files.modelF16) : undefined,
          grammar: {
            tokenizerJsonPath: join(this.options.packageDir, this.manifest.tokenizer.tokenizerFile),
            stopTokenIds: this.manifest.tokenizer.eosTokenIds,
          },
          session: {
            device: this.options.device ?? 'auto',
            cpuThreads: this.options.cpuThreads ?? 0,
            allowSpinning: this.options.allowSpinning ?? false,
            cpuInt8MatMul: this.options.cpuInt8MatMul ?? 'off',
            enableProfiling: this.options.enableProfiling ?? false,
          },
        },
        this.log,
      );
      this.device = this.runner.device;
      // The device cache is one tensor per layer at one stride: no regions (see kvCache.ts).
      if (this.device.kvResidency === 'device') this.kv.keepOneStride();
      if (this.state === 'stopping') return; // shut down while loading: shutdown() closes the runner
      // Warm-up: the first run allocates; do it before the first client waits on it (each session
      // once). Row 0 is scratch until a request owns it (owners overwrite every position they read).
      const warmup = { requestId: '__warmup', inputIds: [this.manifest.tokenizer.bosTokenId ?? 0], startPosition: 0, sample: false };
      await this.runner.step({
        type: 'step', stepId: 0, cacheOps: [], numCacheRows: 0, rowPlacements: [], samplerInits: [], releasedIds: [], decode: null,
        prefills: [false, ...(this.device.int8MatMul === 'prompt' ? [true] : [])].map((promptPath) => ({ firstRow: 0, promptPath, runs: [warmup] })),
      });
      if ((this.state as EngineSnapshot['state']) === 'stopping') return;
      this.state = 'ready';
      this.log(
        `engine ready in ${Math.round(performance.now() - started)} ms: ${this.manifest.name} (${this.manifest.dtype}) on ${this.device.executionProvider}, ` +
          `KV cache ${this.config.kvCacheCapacityTokens} tokens (${(this.config.kvCacheBytes / 2 ** 20).toFixed(0)} MiB)`,
      );
      this.loopDone = this.loop();
    } catch (error) {
      if (this.state !== 'stopping') this.state = 'failed';
      this.loadError = error as Error;
      this.log(`engine failed to load: ${(error as Error).message}`);
      throw error;
    }
  }

  onStep(listener: (stats: StepStats) => void): () => void {
    this.stepListeners.add(listener);
    return () => this.stepListeners.delete(listener);
  }

  submit(request: GenerationRequest): RequestChannel {
    if (this.state === 'loading') throw new NotReadyError('The model is still loading; retry in a few seconds.');
    if (this.state === 'failed') throw new NotReadyError(`The model failed to load: ${this.loadError?.message ?? 'unknown error'}.`);
    if (this.state === 'stopping') throw new NotReadyError('The server is shutting down.');
    const numPromptTokens = request.promptTokenIds.length;
    const { maxInputTokens, maxTotalTokens, maxConcurrentRequests, maxQueuedTokens } = this.config;
    if (numPromptTokens === 0) throw new ValidationError('The prompt is empty: it must contain at least one token.', 'prompt');
    if (numPromptTokens > maxInputTokens) {
      throw new ValidationError(`The prompt has ${numPromptTokens} tokens; this server accepts at most ${maxInputTokens} input tokens.`, 'messages');
    }
    if (!Number.isInteger(request.maxNewTokens) || request.maxNewTokens < 1) {
      throw new ValidationError(`max_tokens must be a positive integer (got ${request.maxNewTokens}).`, 'max_tokens');
    }
    if (numPromptTokens + request.maxNewTokens > maxTotalTokens) {
      throw new ValidationError(
        `This model's maximum context length is ${maxTotalTokens} tokens. However, you requested ${numPromptTokens + request.maxNewTokens} tokens ` +
          `(${numPromptTokens} in the prompt, ${request.maxNewTokens} for the completion). Please reduce the prompt or max_tokens.`,
        'max_tokens',
      );
    }
    const vocabSize = this.manifest.shape.vocabSize;
    if (request.promptTokenIds.some((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize)) {
      throw new ValidationError(`Prompt token ids must be integers in [0, ${vocabSize}).`, 'prompt');
    }
    if (this.active.has(request.requestId)) throw new ValidationError(`Duplicate request id ${request.requestId}.`, null);
    // Requests waiting for their grammar to compile count as queued: they hold a slot and prompt tokens too.
    const inFlight = this.scheduler.numRunning + this.scheduler.numWaiting + this.compiling.size;
    if (inFlight >= maxConcurrentRequests) {
      throw new OverloadedError(`The server is at its limit of ${maxConcurrentRequests} concurrent requests; retry shortly.`, this.retryAfterSeconds(), 'max_concurrent_requests');
    }
    if (this.scheduler.queuedPromptTokens() + this.compilingTokens() + numPromptTokens > maxQueuedTokens) {
      throw new OverloadedError(`The queue holds more than ${maxQueuedTokens} prompt tokens; retry shortly.`, this.retryAfterSeconds(), 'max_queued_tokens');
    }
    const channel = new RequestChannel(request.requestId, () => this.cancel(request.requestId));
    const stopIds = new Set(request.stopTokenIds);
    if (!request.ignoreEos) for (const id of this.manifest.tokenizer.eosTokenIds) stopIds.add(id);
    this.active.set(request.requestId, {
      request,
      phase: 'queued',
      finishReason: null,
      channel,
      tokenIds: [...request.promptTokenIds],
      numGenerated: 0,
      detokenizer: new StreamDetokenizer((ids) => this.tokenizer.decode(ids), request.stopStrings, request.promptTokenIds.slice(-5)),
      stopIds,
      fallbackSeed: randomInt(2 ** 32 - 1),
      admittedAtMs: null,
      cachedPromptTokens: 0,
      firstTokenAtMs: null,
      lastTokenAtMs: null,
    });
    if (request.constraint) this.admitOnceCompiled(request.requestId, request.constraint, numPromptTokens);
    else this.admit(request.requestId, numPromptTokens);
    return channel;
  }

  private admit(requestId: string, numPromptTokens: number): void {
    this.scheduler.add(requestId, numPromptTokens);
    this.wake?.();
  }

  /**
   * A constrained request waits for its grammar to compile (on the runner's grammar thread, while
   * the running requests keep stepping) before the scheduler sees it; a rejected grammar fails it
   * before it takes a slot.
   */
  private admitOnceCompiled(requestId: string, constraint: NonNullable<GenerationRequest['constraint']>, numPromptTokens: number): void {
    this.compiling.set(requestId, numPromptTokens);
    this.runner!.prepareGrammar(constraint).then(
      () => {
        this.compiling.delete(requestId);
        if (this.active.get(requestId)?.phase === 'queued') this.admit(requestId, numPromptTokens);
      },
      (error: unknown) => {
        this.compiling.delete(requestId);
        this.finish(requestId, 'error', serializeError(error));
      },
    );
  }

  private compilingTokens(): number {
    let sum = 0;
    for (const numTokens of this.compiling.values()) sum += numTokens;
    return sum;
  }

  snapshot(): EngineSnapshot {
    return {
      state: this.state,
      model: this.servedName,
      device: this.device?.executionProvider ?? 'pending',
      queueSize: this.scheduler.numWaiting + this.compiling.size,
      runningSize: this.scheduler.numRunning,
      kvCacheUsage: this.kv.usage,
      kvCacheCapacityTokens: this.config.kvCacheCapacityTokens,
      kvCacheBytes: this.runner?.kvCacheBytes ?? 0,
      weightsBytes: this.manifest.weightsBytes,
      tokensGenerated: this.tokensGenerated,
      hasGenerated: this.hasGenerated,
      config: this.config,
      accelerator: this.accelerator(),
    };
  }

  private accelerator(): AcceleratorSnapshot | null {
    const device = this.device;
    if (!device) return null;
    const onDevice = device.executionProvider !== 'cpu';
    // fp16 packages store half-precision weights that ORT widens to fp32 at load.
    const weightsOnDevice = this.manifest.dtype === 'fp16' ? 2 * this.manifest.weightsBytes : this.manifest.weightsBytes;
    return {
      executionProvider: device.executionProvider,
      cpuThreads: device.intraOpThreads,
      cpuSpinning: device.allowSpinning,
      cpuInt8MatMul: device.int8MatMul,
      kvResidency: device.kvResidency,
      precision: device.precision,
      adapter: device.adapter,
      notes: [...device.fallbackNotes, ...(device.kvResidencyNote ? [device.kvResidencyNote] : [])],
      toDeviceBytes: this.transfer.toDeviceBytes,
      toHostBytes: this.transfer.toHostBytes,
      steps: this.transfer.steps,
      deviceKvCacheBytes: this.transfer.deviceKvCacheBytes,
      deviceWeightsBytes: onDevice ? weightsOnDevice : 0,
    };
  }

  /** `deadlineMs`: how long running requests may take to finish. */
  async shutdown(deadlineMs: number): Promise<void> {
    if (this.state === 'stopping') return;
    const wasReady = this.state === 'ready';
    this.state = 'stopping';
    const deadline = Date.now() + deadlineMs;
    // Nothing new is accepted; everything in flight (running or queued) may finish until the deadline.
    if (wasReady) {
      while (this.active.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (const id of [...this.active.keys()]) this.finish(id, 'cancelled');
    this.stopLoop = true;
    this.wake?.();
    await this.loopDone;
    await this.ready.catch(() => {});
    const profileFile = await this.runner?.close();
    if (profileFile) this.log(`ORT profile written to ${profileFile}`);
  }

  private retryAfterSeconds(): number {
    // Rough: the time to drain the running batch once at ~the last step rate is unknown here; 1–5 s.
    return Math.min(5, Math.max(1, Math.ceil(this.scheduler.numWaiting / Math.max(1, this.config.maxBatchSize))));
  }

  private cancel(requestId: string): void {
    if (this.active.has(requestId)) this.finish(requestId, 'cancelled');
  }

  /**
   * One step in flight at a time, in four parts: schedule → execute (in the worker) → update →
   * publish. Sampled tokens are accepted at once (the next step needs them), but detokenizing and
   * emitting them happens while the worker runs the next step.
   */
  private async loop(): Promise<void> {
    let toEmit: TokenSample[] = [];
    while (!this.stopLoop) {
      if (!this.scheduler.hasWork) {
        // Trim first: once a client sees its request done, the cache no longer holds its row.
        await this.trimCache();
        this.emitAll(toEmit);
        toEmit = [];
        if (this.scheduler.hasWork || this.stopLoop) continue;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
        continue;
      }
      const stepStarted = performance.now();
      const plan = this.scheduler.schedule();
      const stepDone = this.runner!.step(this.buildStep(plan));
      this.emitAll(toEmit);
      const outcome = await this.update(plan, stepDone);
      toEmit = outcome.accepted;
      this.publish(plan, outcome, performance.now() - stepStarted);
    }
    this.emitAll(toEmit);
  }

  /**
   * Apply a step's result: a failed run fails only its requests; the samples of the rest are
   * accepted (returned for emission). A dead runner thread fails everything and stops the loop.
   */
  private async update(plan: StepPlan, stepDone: Promise<StepDoneMessage>): Promise<StepOutcome> {
    let done: StepDoneMessage;
    try {
      done = await stepDone;
    } catch (error) {
      this.runnerDied(plan, error);
      return { timing: NO_TIMING, numFailed: 0, accepted: [] };
    }
    this.transfer.deviceKvCacheBytes = done.deviceKvCacheBytes;
    const failedIds = new Set<string>();
    for (const failure of done.failures) {
      this.log(`step ${plan.stepId} failed for ${failure.requestIds.length} request(s): ${failure.error.message}`);
      for (const id of failure.requestIds) failedIds.add(id);
    }
    const samples = done.samples.filter((s) => !failedIds.has(s.requestId));
    this.scheduler.updateFromOutput(plan, samples.map((s) => s.requestId), failedIds);
    for (const failure of done.failures) for (const id of failure.requestIds) this.finish(id, 'error', failure.error);
    const now = Date.now();
    const accepted: TokenSample[] = [];
    for (const sample of samples) if (this.acceptSample(sample, now)) accepted.push(sample);
    return { timing: done, numFailed: failedIds.size, accepted };
  }

  private runnerDied(plan: StepPlan, error: unknown): void {
    const ran = [...plan.prefills.map((run) => run.requestId), ...(plan.decode?.rows.flatMap((row) => (row.requestId ? [row.requestId] : [])) ?? [])];
    this.scheduler.updateFromOutput(plan, [], new Set(ran));
    this.log(`model runner failed: ${(error as Error).message}`);
    const serialized = serializeError(error);
    for (const id of [...this.active.keys()]) this.finish(id, 'error', serialized);
    this.state = 'failed';
    this.loadError = deserializeError(serialized);
    this.stopLoop = true;
  }

  /** Step statistics to the counters and the step listeners (metrics, the dashboard, benchmarks). */
  private publish(plan: StepPlan, { timing, numFailed }: StepOutcome, stepMs: number): void {
    const stepStats: StepStats = {
      stepId: plan.stepId,
      batchSize: plan.prefills.length + plan.numDecodeTokens,
      numDecodeTokens: plan.numDecodeTokens,
      numPrefillTokens: plan.numPrefillTokens,
      numPaddingRows: plan.decode ? plan.decode.numRows - plan.numDecodeTokens : 0,
      stepMs,
      runMs: timing.runMs,
      overheadMs: timing.overheadMs,
      ...timing.phases,
      ...timing.transfer,
      queueSize: this.scheduler.numWaiting,
      runningSize: this.scheduler.numRunning,
      kvCacheUsage: this.kv.usage,
      numLongRows: this.kv.numLongRows,
      numPreempted: plan.preemptedIds.length,
      numAdmitted: plan.admittedIds.length,
      numPrefixHits: plan.prefixHits.length,
      numPrefixHitTokens: plan.prefixHits.reduce((sum, hit) => sum + hit.numTokens, 0),
      numFailedRequests: numFailed,
    };
    this.transfer.toDeviceBytes += timing.transfer.toDeviceBytes;
    this.transfer.toHostBytes += timing.transfer.toHostBytes;
    this.transfer.steps++;
    for (const listener of this.stepListeners) {
      try {
        listener(stepStats);
      } catch (error) {
        this.log(`step listener failed: ${(error as Error).message}`);
      }
    }
  }

  /**
   * Before idling, apply the cache ops of requests that finished in the last step, so a device
   * cache does not hold their rows until the next request arrives.
   */
  private async trimCache(): Promise<void> {
    if (this.kv.numRows === this.cacheRowsOnRunner || !this.runner) return;
    const numCacheRows = this.kv.numRows;
    try {
      const releasedIds = this.releasedIds;
      this.releasedIds = [];
      const done = await this.runner.step({ type: 'step', stepId: 0, cacheOps: this.kv.takeOps(), numCacheRows, rowPlacements: this.kv.placements(), samplerInits: [], releasedIds, decode: null, prefills: [] });
      this.cacheRowsOnRunner = numCacheRows;
      this.transfer.toDeviceBytes += done.transfer.toDeviceBytes;
      this.transfer.toHostBytes += done.transfer.toHostBytes;
      this.transfer.deviceKvCacheBytes = done.deviceKvCacheBytes;
    } catch (error) {
      this.log(`trimming the KV cache failed: ${(error as Error).message}`);
    }
  }

  private buildStep(plan: StepPlan): StepMessage {
    this.cacheRowsOnRunner = plan.numCacheRows;
    const samplerInits: SamplerInit[] = [];
    const now = Date.now();
    const hits = new Map(plan.prefixHits.map((hit) => [hit.requestId, hit.numTokens]));
    for (const id of plan.admittedIds) {
      const active = this.active.get(id)!;
      active.admittedAtMs ??= now;
      if (active.phase === 'queued') {
        // The prompt's reuse as the client sees it (a readmission after preemption reloads its own tokens).
        active.cachedPromptTokens = Math.min(hits.get(id) ?? 0, active.request.promptTokenIds.length);
        active.phase = 'admitted';
        samplerInits.push({
          requestId: id,
          sampling: active.request.sampling,
          promptTokenIds: active.request.promptTokenIds,
          topLogprobs: active.request.topLogprobs,
          fallbackSeed: active.fallbackSeed,
          constraint: active.request.constraint,
        });
      }
    }
    const releasedIds = this.releasedIds;
    this.releasedIds = [];
    const tokenAt = (run: { requestId: string | null; startToken: number }) => {
      const tokens = run.requestId ? this.active.get(run.requestId)?.tokenIds : undefined;
      return tokens?.[run.startToken] ?? 0;
    };
    const decode = plan.decode && {
      numRows: plan.decode.numRows,
      inputIds: plan.decode.rows.map(tokenAt),
      positions: plan.decode.rows.map((row) => row.startToken),
      requestIds: plan.decode.rows.map((row) => row.requestId),
    };
    const prefills = plan.prefillGroups.map((group) => ({
      firstRow: group.firstRow,
      promptPath: group.runs[0]!.promptPath,
      runs: group.runs.map((run: PlannedRun) => ({
        requestId: run.requestId,
        inputIds: this.active.get(run.requestId)!.tokenIds.slice(run.startToken, run.startToken + run.numTokens),
        startPosition: run.startToken,
        sample: run.sample,
      })),
    }));
    return { type: 'step', stepId: plan.stepId, cacheOps: plan.cacheOps, numCacheRows: plan.numCacheRows, rowPlacements: plan.rowPlacements, samplerInits, releasedIds, decode, prefills };
  }

  /**
   * Take a sampled token into the request (the next step feeds it). Ends scheduling at once for
   * EOS/stop ids and length; stop strings are found when the token is emitted. Returns whether
   * the token is to be emitted.
   */
  private acceptSample(sample: TokenSample, now: number): boolean {
    const active = this.active.get(sample.requestId);
    if (active?.phase !== 'admitted') return false; // cancelled or finished while its step ran
    active.tokenIds.push(sample.tokenId);
    active.numGenerated++;
    active.firstTokenAtMs ??= now;
    active.lastTokenAtMs = now;
    this.tokensGenerated++;
    this.hasGenerated = true;
    if (active.stopIds.has(sample.tokenId) || sample.grammarComplete) active.finishReason = 'stop';
    else if (active.numGenerated >= active.request.maxNewTokens || active.tokenIds.length >= this.config.maxTotalTokens) active.finishReason = 'length';
    if (active.finishReason) {
      this.retire(sample.requestId, active);
      active.phase = 'finishing';
    }
    return true;
  }

  private emitAll(samples: TokenSample[]): void {
    for (const sample of samples) this.emitSample(sample);
  }

  private emitSample(sample: TokenSample): void {
    const active = this.active.get(sample.requestId);
    if (!active) return; // done (cancelled, failed) before its token went out
    const { request } = active;
    let text: string;
    let finish: FinishReason | null = null;
    if (active.finishReason === 'stop' && active.stopIds.has(sample.tokenId)) {
      text = active.detokenizer.flush(); // EOS/stop id: no text of its own; release what was held back
      finish = 'stop';
    } else {
      const step = active.detokenizer.push(sample.tokenId);
      text = step.text;
      if (step.stopped) finish = 'stop';
      else if (active.finishReason !== null) {
        // Length, or a grammar completed by a token that is not a stop id (ignore_eos).
        text += active.detokenizer.flush();
        finish = active.finishReason;
      }
    }
    const event: TokenEvent = { type: 'token', tokenId: sample.tokenId, text };
    if (request.topLogprobs !== undefined && sample.logprob !== undefined) {
      const describe = (tokenId: number, logprob: number) => ({
        token: this.tokenizer.tokenText(tokenId),
        tokenId,
        logprob,
        bytes: this.tokenizer.tokenBytes(tokenId),
      });
      event.logprob = { ...describe(sample.tokenId, sample.logprob), top: (sample.top ?? []).map((entry) => describe(entry.tokenId, entry.logprob)) };
    }
    active.channel.push(event);
    if (finish) this.finish(sample.requestId, finish);
  }

  /**
   * Stop scheduling a request and free its row and sampler state (its events may still be
   * pending). `failed`: its cache row is not offered to the prefix cache.
   */
  private retire(requestId: string, active: ActiveRequest, failed = false): void {
    if (active.phase === 'finishing' || active.phase === 'done') return; // already retired
    this.scheduler.remove(requestId, !failed);
    if (active.phase === 'admitted') this.releasedIds.push(requestId);
  }

  private finish(requestId: string, reason: FinishReason, error?: SerializedError): void {
    const active = this.active.get(requestId);
    if (!active) return;
    this.active.delete(requestId);
    this.retire(requestId, active, reason === 'error');
    active.phase = 'done';
    const now = Date.now();
    const arrival = active.request.arrivalTimeMs;
    const done: DoneEvent = {
      type: 'done',
      finishReason: reason,
      promptTokens: active.request.promptTokenIds.length,
      cachedPromptTokens: active.cachedPromptTokens,
      completionTokens: active.numGenerated,
      timings: {
        queueMs: (active.admittedAtMs ?? now) - arrival,
        ttftMs: (active.firstTokenAtMs ?? now) - arrival,
        totalMs: now - arrival,
        itlMs:
          active.numGenerated > 1 && active.firstTokenAtMs !== null && active.lastTokenAtMs !== null
            ? (active.lastTokenAtMs - active.firstTokenAtMs) / (active.numGenerated - 1)
            : 0,
      },
    };
    if (error) done.error = error;
    active.channel.push(done);
  }
}
