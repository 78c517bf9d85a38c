// The dashboard's numbers, built once per tick from plain inputs (engine snapshot, recent request
// log rows, a memory reading) so the arithmetic is unit-tested without a model or a server.
import type { DashboardSnapshot, MemoryReading, ModelDashboard, ServeState } from '../common/adminApi.js';
import type { EngineSnapshot } from '../common/engineApi.js';
import type { RequestLogEntry } from '../common/requestLog.js';
import { percentilesOf } from '../common/percentiles.js';

export const DASHBOARD_HISTORY_TICKS = 120;
/** Finished requests younger than this feed the TTFT/ITL percentiles. */
export const LATENCY_WINDOW_MS = 60_000;

export interface DashboardInputs {
  timeMs: number;
  serveState: ServeState;
  model: string | null;
  engine: EngineSnapshot | null;
  memory: MemoryReading;
  /** Finished requests within the latency window (any order). */
  recentRequests: readonly RequestLogEntry[];
  requestsTotal: number;
  requestsFailed: number;
  /**
   * A library server's loaded models (then `engine` is their combined snapshot); undefined when
   * one model is served. Request figures are each model's own (the log's `name:dtype`).
   */
  models?: ModelInputs[];
}

export interface ModelInputs {
  id: string;
  state: ModelDashboard['state'];
  memoryBytes: number;
  activeRequests: number;
  engine: EngineSnapshot | null;
  requestsTotal: number;
  requestsFailed: number;
}



/** Mean inter-token latency of one request: generation time after the first token / tokens after it. */
export function interTokenLatencyMs(entry: RequestLogEntry): number | null {
  if (entry.ttftMs === null || entry.completionTokens === null || entry.completionTokens < 2) return null;
  return Math.max(0, entry.totalMs - entry.ttftMs) / (entry.completionTokens - 1);
}

/** Rows-per-step figures of the steps between two ticks. */
export interface StepWindow {
  meanBatchSize: number;
  peakBatchSize: number;
  steps: number;
}

export class DashboardSampler {
  private previous: { timeMs: number; tokensGenerated: number } | null = null;
  /** A library server: each loaded model's token count at the last tick, and the tokens of models since unloaded. */
  private previousByModel = new Map<string, number>();
  private libraryTokens = 0;
  private steps = { count: 0, rows: 0, peak: 0 };
  private history: DashboardSnapshot['history'] = [];
  private latest: DashboardSnapshot | null = null;

  /** A new server: forget the tokens/s baseline (it counts from zero) and the old server's history. */
  reset(): void {
    this.previous = null;
    this.previousByModel = new Map();
    this.libraryTokens = 0;
    this.history = [];
    this.steps = { count: 0, rows: 0, peak: 0 };
  }

  /** One engine step ran `batchSize` rows. Called from the engine loop, so it only adds. */
  recordStep(batchSize: number): void {
    this.steps.count += 1;
    this.steps.rows += batchSize;
    this.steps.peak = Math.max(this.steps.peak, batchSize);
  }

  /** The steps recorded since the last call, and starts a new window. */
  private takeStepWindow(): StepWindow {
    const { count, rows, peak } = this.steps;
    this.steps = { count: 0, rows: 0, peak: 0 };
    return { meanBatchSize: count === 0 ? 0 : rows / count, peakBatchSize: peak, steps: count };
  }

  current(): DashboardSnapshot | null {
    return this.latest;
  }

  tick(inputs: DashboardInputs): DashboardSnapshot {
    const engine = inputs.engine;
    const elapsedSec = this.previous === null ? 0 : (inputs.timeMs - this.previous.timeMs) / 1000;
    const models = inputs.models?.map((model) => this.modelRow(model, inputs, elapsedSec));
    // An unloaded model is forgotten: when it loads again its count starts anew.
    const present = new Set(inputs.models?.map((model) => model.id));
    for (const id of this.previousByModel.keys()) if (!present.has(id)) this.previousByModel.delete(id);
    // A library server's total counts on across unloads (a model's own count restarts when it reloads).
    const tokensGenerated = models ? this.libraryTokens : (engine?.tokensGenerated ?? 0);
    let tokensPerSec = 0;
    if (this.previous !== null && tokensGenerated >= this.previous.tokensGenerated && elapsedSec > 0) {
      tokensPerSec = (tokensGenerated - this.previous.tokensGenerated) / elapsedSec;
    }
    this.previous = { timeMs: inputs.timeMs, tokensGenerated };

    const { ttftMs, itlMs } = latencies(inputs.recentRequests);
    const stepWindow = this.takeStepWindow();
    const running = engine?.runningSize ?? 0;
    const queued = engine?.queueSize ?? 0;
    this.history.push({ timeMs: inputs.timeMs, tokensPerSec, runningRequests: running, queuedRequests: queued });
    if (this.history.length > DASHBOARD_HISTORY_TICKS) this.history.splice(0, this.history.length - DASHBOARD_HISTORY_TICKS);

    this.latest = {
      timeMs: inputs.timeMs,
      serveState: inputs.serveState,
      model: inputs.model,
      memory: inputs.memory,
      tokensPerSec,
      tokensGenerated,
      requestsTotal: inputs.requestsTotal,
      requestsFailed: inputs.requestsFailed,
      runningRequests: running,
      queuedRequests: queued,
      batchSize: engine ? stepWindow.meanBatchSize : 0,
      peakBatchSize: engine ? stepWindow.peakBatchSize : 0,
      stepsInWindow: engine ? stepWindow.steps : 0,
      maxBatchSize: engine?.config.maxBatchSize ?? 0,
      ttftMs,
      itlMs,
      windowMs: LATENCY_WINDOW_MS,
      kvCacheUsage: engine?.kvCacheUsage ?? 0,
      kvCacheCapacityTokens: engine?.kvCacheCapacityTokens ?? 0,
      history: [...this.history],
      models: models ?? [],
    };
    return this.latest;
  }

  /** One library model's row; adds the tokens it generated since the last tick to the total. */
  private modelRow(model: ModelInputs, inputs: DashboardInputs, elapsedSec: number): ModelDashboard {
    const tokens = model.engine?.tokensGenerated ?? 0;
    const before = this.previousByModel.get(model.id);
    // A model first seen (loaded since the last tick) counts what it has generated since its load.
    const delta = before === undefined || tokens < before ? tokens : tokens - before;
    this.previousByModel.set(model.id, tokens);
    this.libraryTokens += delta;
    const { ttftMs, itlMs } = latencies(inputs.recentRequests.filter((entry) => entry.model === model.id));
    return {
      id: model.id,
      state: model.state,
      memoryBytes: model.memoryBytes,
      activeRequests: model.activeRequests,
      runningRequests: model.engine?.runningSize ?? 0,
      queuedRequests: model.engine?.queueSize ?? 0,
      tokensPerSec: before !== undefined && elapsedSec > 0 ? delta / elapsedSec : 0,
      tokensGenerated: tokens,
      requestsTotal: model.requestsTotal,
      requestsFailed: model.requestsFailed,
      ttftMs,
      itlMs,
      kvCacheUsage: model.engine?.kvCacheUsage ?? 0,
    };
  }
}

/** TTFT and inter-token latency percentiles of the requests that were served. */
function latencies(entries: readonly RequestLogEntry[]): Pick<DashboardSnapshot, 'ttftMs' | 'itlMs'> {
  const served = entries.filter((entry) => entry.status < 400);
  const ttfts = served.flatMap((entry) => (entry.ttftMs === null ? [] : [entry.ttftMs]));
  const itls = served.flatMap((entry) => {
    const itl = interTokenLatencyMs(entry);
    return itl === null ? [] : [itl];
  });
  return { ttftMs: percentilesOf(ttfts), itlMs: percentilesOf(itls) };
}
