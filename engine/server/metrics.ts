// Prometheus metrics (own Registry per server, so several servers can live in one process).
// Names and their vLLM/TGI counterparts: docs/metrics.md.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DoneEvent, EngineSnapshot } from '../common/engineApi.js';
import type { StepStats } from './servedEngine.js';
import type { ModelPool } from './modelPool.js';

const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const ITL_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

export class ServerMetrics {
  readonly registry = new Registry();
  private snapshot: (() => EngineSnapshot | null) = () => null;

  readonly requests = new Counter({
    name: 'hearth_requests_total',
    help: 'HTTP requests answered, by endpoint, status code and finish reason.',
    labelNames: ['endpoint', 'status', 'finish_reason'] as const,
    registers: [this.registry],
  });
  readonly promptTokens = new Counter({
    name: 'hearth_prompt_tokens_total',
    help: 'Prompt tokens of admitted requests.',
    registers: [this.registry],
  });
  readonly generationTokens = new Counter({
    name: 'hearth_generation_tokens_total',
    help: 'Tokens generated.',
    registers: [this.registry],
  });
  readonly ttft = new Histogram({
    name: 'hearth_time_to_first_token_seconds',
    help: 'From request arrival to its first generated token.',
    buckets: LATENCY_BUCKETS_S,
    registers: [this.registry],
  });
  readonly itl = new Histogram({
    name: 'hearth_inter_token_latency_seconds',
    help: 'Time between consecutive generated tokens of one request, as the server hands them to the client.',
    buckets: ITL_BUCKETS_S,
    registers: [this.registry],
  });
  readonly e2e = new Histogram({
    name: 'hearth_e2e_request_latency_seconds',
    help: 'From request arrival to its last token (finished generations only).',
    buckets: LATENCY_BUCKETS_S,
    registers: [this.registry],
  });
  readonly queueTime = new Histogram({
    name: 'hearth_request_queue_time_seconds',
    help: 'Time a request waited before the scheduler admitted it to the running batch.',
    buckets: LATENCY_BUCKETS_S,
    registers: [this.registry],
  });
  readonly stepBatchSize = new Histogram({
    name: 'hearth_batch_size',
    help: 'Sequences in each engine step.',
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });
  readonly deviceTransfer = new Counter({
    name: 'hearth_device_transfer_bytes_total',
    help: 'Bytes copied between host memory and the accelerator by engine steps (0 on the CPU provider).',
    labelNames: ['direction'],
    registers: [this.registry],
  });
  readonly engineSteps = new Counter({
    name: 'hearth_engine_steps_total',
    help: 'Engine steps run (bytes per step = hearth_device_transfer_bytes_total over this).',
    registers: [this.registry],
  });
  readonly stepDuration = new Histogram({
    name: 'hearth_step_duration_seconds',
    help: 'Wall time of each engine step (model forward + sampling).',
    buckets: ITL_BUCKETS_S,
    registers: [this.registry],
  });

  readonly preemptions = new Counter({
    name: 'hearth_num_preemptions_total',
    help: 'Requests preempted (KV cache full; requeued and recomputed).',
    registers: [this.registry],
  });
  readonly prefixCacheHits = new Counter({
    name: 'hearth_prefix_cache_hits_total',
    help: 'Requests admitted with a prefix of their prompt already in the prefix cache (its K/V copied, not recomputed).',
    registers: [this.registry],
  });
  readonly prefixCacheHitTokens = new Counter({
    name: 'hearth_prefix_cache_hit_tokens_total',
    help: 'Prompt tokens whose K/V came from the prefix cache instead of prefill.',
    registers: [this.registry],
  });
  /** Every answered request by the model that served it (library mode serves several). */
  readonly modelRequests = new Counter({
    name: 'hearth_model_requests_total',
    help: 'HTTP requests answered, by model (`name:dtype` in library mode, the served name otherwise), endpoint and status code.',
    labelNames: ['model', 'endpoint', 'status'] as const,
    registers: [this.registry],
  });
  readonly modelGenerationTokens = new Counter({
    name: 'hearth_model_generation_tokens_total',
    help: 'Tokens generated, by model.',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly rejections = new Counter({
    name: 'hearth_requests_rejected_total',
    help: 'Requests refused before generation, by reason (the error code, or the admission limit hit for 429).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor() {
    // Gauge collectors run with the gauge as `this`; the engine snapshot comes through this arrow.
    const currentSnapshot = () => this.snapshot();
    const read = <K extends keyof EngineSnapshot>(key: K, map: (value: EngineSnapshot[K]) => number) =>
      function (this: Gauge) {
        const snapshot = currentSnapshot();
        if (snapshot) this.set(map(snapshot[key]));
      };
    const gauge = (name: string, help: string, collect: (this: Gauge) => void) =>
      new Gauge({ name, help, registers: [this.registry], collect });
    gauge('hearth_queue_size', 'Requests waiting to be admitted to the running batch.', read('queueSize', Number));
    gauge('hearth_running_batch_size', 'Requests in the running batch.', read('runningSize', Number));
    gauge('hearth_kv_cache_usage_ratio', 'Share of KV-cache capacity in use (0..1).', read('kvCacheUsage', Number));
    gauge('hearth_kv_cache_capacity_tokens', 'Tokens the KV cache can hold.', read('kvCacheCapacityTokens', Number));
    gauge('hearth_kv_cache_bytes', 'Bytes reserved for the KV cache.', read('kvCacheBytes', Number));
    gauge('hearth_model_weights_bytes', 'Bytes of model weights loaded.', read('weightsBytes', Number));
    new Gauge({
      name: 'hearth_device_memory_bytes',
      help: 'Accelerator memory held by the engine: weights (as loaded) and the KV cache resident on the device.',
      labelNames: ['kind'],
      registers: [this.registry],
      collect(this: Gauge) {
        const accelerator = currentSnapshot()?.accelerator;
        this.set({ kind: 'weights' }, accelerator?.deviceWeightsBytes ?? 0);
        this.set({ kind: 'kv_cache' }, accelerator?.deviceKvCacheBytes ?? 0);
      },
    });
    gauge('hearth_engine_ready', '1 when the model is loaded and serving.', read('state', (state) => (state === 'ready' ? 1 : 0)));
    gauge('hearth_process_memory_rss_bytes', 'Resident memory of the serving process.', function (this: Gauge) {
      this.set(process.memoryUsage.rss());
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'hearth_' });
    // Both directions are served from the start (0 until a step moves bytes).
    this.deviceTransfer.inc({ direction: 'to_device' }, 0);
    this.deviceTransfer.inc({ direction: 'to_host' }, 0);
  }

  /** Where engine gauges read from; null while loading. */
  setSnapshotSource(source: () => EngineSnapshot | null): void {
    this.snapshot = source;
  }

  /**
   * Library mode: the engine gauges above sum over the loaded models (queue sizes, bytes), and
   * per-model series say which models are loaded, what they hold and how often they were loaded
   * and unloaded (and why).
   */
  watchPool(pool: ModelPool): void {
    const registers = [this.registry];
    const perModel = (name: string, help: string, value: (status: ReturnType<ModelPool['loadedStatus']>[number]) => number) =>
      new Gauge({
        name, help, labelNames: ['model'], registers,
        collect(this: Gauge) {
          this.reset();
          for (const model of pool.status()) this.set({ model: model.id }, model.loaded ? value(model.loaded) : 0);
        },
      });
    perModel('hearth_model_loaded', '1 while the model is loaded and serving, 0 otherwise (library mode).', (status) => (status.state === 'ready' ? 1 : 0));
    perModel('hearth_model_memory_bytes', 'Memory the model holds (weights and KV cache, as estimated for the budget).', (status) => status.memoryBytes);
    perModel('hearth_model_active_requests', 'Requests the model is serving now (a model with any is never unloaded).', (status) => status.activeRequests);
    new Gauge({
      name: 'hearth_model_memory_budget_used_bytes', help: 'Memory the loaded models hold, of the --memory-budget.', registers,
      collect(this: Gauge) { this.set(pool.usedBytes()); },
    });
    const loads = new Counter({ name: 'hearth_model_loads_total', help: 'Times the model was loaded.', labelNames: ['model'], registers });
    const loadFailures = new Counter({ name: 'hearth_model_load_failures_total', help: 'Loads of the model that failed.', labelNames: ['model'], registers });
    const unloads = new Counter({
      name: 'hearth_model_unloads_total',
      help: 'Times the model was unloaded, by reason (capacity: to make room for another; idle: its keep-alive ran out; explicit: the admin API).',
      labelNames: ['model', 'reason'],
      registers,
    });
    const loadSeconds = new Histogram({ name: 'hearth_model_load_seconds', help: 'Time to load a model and generate its warm-up token.', labelNames: ['model'], buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120], registers });
    pool.onEvent((event) => {
      if (event.type === 'loaded') {
        loads.inc({ model: event.id });
        loadSeconds.observe({ model: event.id }, event.loadMs / 1000);
      } else if (event.type === 'load_failed') loadFailures.inc({ model: event.id });
      else unloads.inc({ model: event.id, reason: event.reason });
    });
  }

  observeStep(stats: StepStats): void {
    this.stepBatchSize.observe(stats.batchSize);
    this.stepDuration.observe(stats.stepMs / 1000);
    this.engineSteps.inc();
    this.deviceTransfer.inc({ direction: 'to_device' }, stats.toDeviceBytes);
    this.deviceTransfer.inc({ direction: 'to_host' }, stats.toHostBytes);
    if (stats.numPreempted) this.preemptions.inc(stats.numPreempted);
    if (stats.numPrefixHits) this.prefixCacheHits.inc(stats.numPrefixHits);
    if (stats.numPrefixHitTokens) this.prefixCacheHitTokens.inc(stats.numPrefixHitTokens);
  }

  observeRejection(reason: string): void {
    this.rejections.inc({ reason });
  }

  observeTokenGap(gapMs: number): void {
    this.itl.observe(gapMs / 1000);
  }

  observeDone(done: DoneEvent): void {
    this.promptTokens.inc(done.promptTokens);
    this.generationTokens.inc(done.completionTokens);
    if (done.completionTokens > 0) this.ttft.observe(done.timings.ttftMs / 1000);
    if (done.finishReason === 'stop' || done.finishReason === 'length') this.e2e.observe(done.timings.totalMs / 1000);
    this.queueTime.observe(done.timings.queueMs / 1000);
  }

  observeRequest(endpoint: string, status: number, finishReason: string | null, model: string | null, generatedTokens: number): void {
    this.requests.inc({ endpoint, status: String(status), finish_reason: finishReason ?? 'none' });
    this.modelRequests.inc({ model: model ?? 'none', endpoint, status: String(status) });
    if (model && generatedTokens > 0) this.modelGenerationTokens.inc({ model }, generatedTokens);
  }
}
