// Prometheus metrics (own Registry per server, so several servers can live in one process).
// Names and their vLLM/TGI counterparts: docs/metrics.md.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DoneEvent, EngineSnapshot } from '../common/engineApi.js';
import type { StepStats } from './servedEngine.js';

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

  observeRequest(endpoint: string, status: number, finishReason: string | null): void {
    this.requests.inc({ endpoint, status: String(status), finish_reason: finishReason ?? 'none' });
  }
}
