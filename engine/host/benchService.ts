// The Benchmark view's runs, over engine/bench: sweeps start in the background against the
// served model, report each finished level as a `bench` event, and are stored in SQLite when
// done (under the id the UI was given at the start).
import type { BenchLevelResult, BenchProgress, BenchRun, BenchRunSummary, BenchSweepRequest, LatencyPercentiles } from '../common/adminApi.js';
import { DEFAULT_BENCH_SETTINGS, getRun, listRuns, migrateBench, runBenchmark, saveRun, type LevelResult, type BenchRun as StoredRun } from '../bench/index.js';
import { newRunId } from '../bench/sweep.js';
import type { Db } from '../store/db.js';
import { conflict } from './httpUtil.js';
import type { BenchService } from './services.js';

const pick = (summary: { p50: number | null; p95: number | null; p99: number | null }): LatencyPercentiles => ({
  p50: summary.p50,
  p95: summary.p95,
  p99: summary.p99,
});

export function toLevel(level: LevelResult): BenchLevelResult {
  return {
    concurrency: level.concurrency,
    requests: level.requests,
    errors: level.errors,
    throughputTokensPerSec: level.throughputTokensPerSec,
    requestsPerSec: level.requestsPerSec,
    ttftMs: pick(level.ttftMs),
    itlMs: pick(level.itlMs),
    e2eMs: pick(level.e2eMs),
  };
}

/** The batched levels (the Benchmark view plots those); sequential-only runs show theirs. */
function plottedLevels(levels: readonly LevelResult[]): LevelResult[] {
  const batched = levels.filter((level) => level.mode === 'batched');
  return batched.length > 0 ? batched : [...levels];
}

export function toAdminRun(run: StoredRun): BenchRun {
  const levels = plottedLevels(run.levels).map(toLevel);
  return {
    runId: run.runId,
    label: run.label,
    state: 'done',
    startedAtMs: run.startedAtMs,
    model: run.server.model,
    device: run.server.device ?? 'unknown',
    peakThroughputTokensPerSec: levels.length > 0 ? Math.max(...levels.map((level) => level.throughputTokensPerSec)) : null,
    sweep: {
      label: run.label,
      concurrencyLevels: run.settings.concurrencyLevels,
      promptTokens: run.settings.promptTokens,
      outputTokens: run.settings.maxTokens,
      requestsPerLevel: run.settings.requestsPerLevel ?? levels[0]?.requests ?? 0,
    },
    levels,
    error: null,
    config: null,
  };
}

interface LiveRun {
  run: BenchRun;
  abort: AbortController;
}

export function benchService(db: Db, options: { device: () => string }): BenchService {
  migrateBench(db);
  const live = new Map<string, LiveRun>();
  return {
    async list(): Promise<BenchRunSummary[]> {
      const stored: BenchRunSummary[] = listRuns(db).map((entry) => ({
        runId: entry.runId,
        label: entry.label,
        state: 'done',
        startedAtMs: entry.startedAtMs,
        model: entry.model,
        device: entry.device ?? 'unknown',
        peakThroughputTokensPerSec: entry.peakThroughputTokensPerSec,
      }));
      const storedIds = new Set(stored.map((run) => run.runId));
      const liveRuns = [...live.values()].filter((entry) => !storedIds.has(entry.run.runId)).map(({ run }) => {
        const { sweep: _sweep, levels: _levels, error: _error, config: _config, ...summary } = run;
        return summary;
      });
      return [...liveRuns, ...stored].sort((a, b) => b.startedAtMs - a.startedAtMs);
    },
    cancel(runId: string): BenchRun | null {
      const entry = live.get(runId);
      if (!entry) return null;
      if (entry.run.state === 'running') entry.abort.abort();
      return entry.run;
    },
    async get(runId: string): Promise<BenchRun | null> {
      const entry = live.get(runId);
      if (entry) return entry.run;
      try {
        return toAdminRun(getRun(db, runId));
      } catch {
        return null;
      }
    },
    async start(request: BenchSweepRequest, target, onProgress: (progress: BenchProgress) => void): Promise<string> {
      if ([...live.values()].some((entry) => entry.run.state === 'running')) {
        throw conflict('A benchmark is already running; wait for it to finish (two at once would measure each other).');
      }
      const runId = newRunId();
      const levelsTotal = request.concurrencyLevels.length;
      const label = request.label?.trim() || `batch ${target.config?.batching.maxBatchSize ?? '?'} · ${request.concurrencyLevels.join('/')}`;
      const run: BenchRun = {
        runId,
        label,
        state: 'running',
        startedAtMs: Date.now(),
        model: target.model,
        device: options.device(),
        peakThroughputTokensPerSec: null,
        sweep: { ...request, label },
        levels: [],
        error: null,
        config: target.config,
      };
      const abort = new AbortController();
      live.set(runId, { run, abort });
      onProgress({ runId, state: 'running', levelsDone: 0, levelsTotal });
      // The OpenAI routes live under /v1; engine/bench wants the server root.
      const baseUrl = target.baseUrl.replace(/\/v1\/?$/, '');
      void runBenchmark(
        {
          ...DEFAULT_BENCH_SETTINGS,
          baseUrl,
          model: target.model,
          apiKey: target.apiKey,
          concurrencyLevels: request.concurrencyLevels,
          promptTokens: request.promptTokens,
          maxTokens: request.outputTokens,
          requestsPerLevel: request.requestsPerLevel,
          modes: ['batched'],
          warmupRequests: 1,
          requestTimeoutMs: 120_000,
          label,
        },
        {
          signal: abort.signal,
          onLevel: (level, levelsDone) => {
            const converted = toLevel(level);
            run.levels = [...run.levels, converted];
            run.peakThroughputTokensPerSec = Math.max(run.peakThroughputTokensPerSec ?? 0, converted.throughputTokensPerSec);
            onProgress({ runId, state: 'running', levelsDone, levelsTotal, level: converted });
          },
        },
      ).then(
        (stored) => {
          saveRun(db, { ...stored, runId, label });
          run.state = 'done';
          run.device = stored.server.device ?? run.device;
          onProgress({ runId, state: 'done', levelsDone: levelsTotal, levelsTotal });
        },
        (error: unknown) => {
          if (abort.signal.aborted) {
            // Stopped from the UI: the levels finished so far stay visible; nothing is stored.
            run.state = 'cancelled';
            onProgress({ runId, state: 'cancelled', levelsDone: run.levels.length, levelsTotal });
            return;
          }
          run.state = 'failed';
          run.error = `The benchmark failed: ${(error as Error).message}. Check that the model is still served, then run it again.`;
          onProgress({ runId, state: 'failed', levelsDone: run.levels.length, levelsTotal, error: run.error });
        },
      );
      return runId;
    },
  };
}
