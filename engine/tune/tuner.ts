// Auto-tune: for each candidate batching config, start the real engine and HTTP server in this
// process, run the benchmark sweep against it, and keep the candidate with the highest throughput
// at a load where the latency objective holds. Two phases: batch sizes first, then the prefill
// chunk at the winning batch size (unless the caller gives the candidates).
import { freemem } from 'node:os';
import { resolvePackage } from '../hub/library.js';
import type { ServingConfig } from '../common/servingConfig.js';
import { runBenchmark } from '../bench/sweep.js';
import { describeMachine } from '../bench/sweep.js';
import { DEFAULT_BENCH_SETTINGS, type BenchEndpoint, type BenchRun, type LevelResult } from '../bench/types.js';
import { readManifest, resolveBatchingConfig } from '../runtime/index.js';
import { STRIDE_STEP_TOKENS } from '../runtime/kvCache.js';
import { startServedModel } from '../server/servedModel.js';
import { batchSizeCandidates, budgetCandidates, describeCandidate, prefillCandidates, type CandidateLimits, type TuneCandidate } from './candidates.js';
import { bestMeetingLevel, describeObjective, judgeLevel, pickBest, type LevelVerdict, type TuneObjective } from './objective.js';
import { tunedServingConfig, type BaseServingConfig } from './tunedConfig.js';
import { pickBatching } from '../common/batching.js';
import type { BatchingConfig } from '../common/batching.js';

export interface TuneOptions {
  packageDir: string;
  objective: TuneObjective;
  base?: BaseServingConfig;
  /** Explicit candidates (skips the two-phase search). */
  candidates?: TuneCandidate[];
  /** Batch sizes of phase 1 (default 4, 16, 64). */
  batchSizes?: number[];
  /** Prefill chunks of phase 2 (default 128, 256, 512; phase 1 uses the middle one). */
  prefillTokens?: number[];
  concurrencyLevels?: number[];
  promptTokens?: number;
  maxTokens?: number;
  requestsPerLevel?: number;
  endpoint?: BenchEndpoint;
  onTrial?: (trial: TuneTrial, index: number) => void;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface TuneTrial {
  candidate: TuneCandidate;
  /** The settings the engine actually ran with (defaults filled, limits derived). */
  effective: BatchingConfig | null;
  run: BenchRun | null;
  verdicts: LevelVerdict[];
  /** Highest-throughput level meeting the objective; null when none did. */
  bestLevel: LevelResult | null;
  error: string | null;
}

export interface TuneResult {
  objective: TuneObjective;
  trials: TuneTrial[];
  best: TuneTrial | null;
  /** The config to write (null when no candidate met the objective). */
  config: ServingConfig | null;
  summary: string;
}

/**
 * The KV budget of a candidate: exactly its batch token budget (rounded to the cache's stride
 * step), unless the base config pins one. Deriving it from this machine's free memory instead
 * would make the tuned config size itself to the desktop, not to the deployment.
 */
export function candidateKvCacheBytes(candidate: TuneCandidate, bytesPerToken: number, pinnedBytes?: number): number {
  if (pinnedBytes) return pinnedBytes;
  return Math.ceil(candidate.maxBatchTotalTokens / STRIDE_STEP_TOKENS) * STRIDE_STEP_TOKENS * bytesPerToken;
}

async function runTrial(options: TuneOptions, candidate: TuneCandidate, bench: { concurrencyLevels: number[]; promptTokens: number; maxTokens: number; requestsPerLevel?: number; endpoint: BenchEndpoint }, bytesPerToken: number): Promise<TuneTrial> {
  const batching = { ...options.base?.batching, ...candidate, kvCacheBytes: candidateKvCacheBytes(candidate, bytesPerToken, options.base?.batching?.kvCacheBytes) };
  const trial: TuneTrial = { candidate, effective: null, run: null, verdicts: [], bestLevel: null, error: null };
  const served = await startServedModel({
    packageDir: options.packageDir,
    engine: { device: options.base?.device, cpuThreads: options.base?.cpuThreads, batching },
    server: { host: '127.0.0.1', port: 0, warmUp: true },
    log: options.log ?? (() => {}),
  });
  try {
    let engine;
    try {
      engine = await served.ready;
    } catch (error) {
      trial.error = `the engine refused these settings: ${(error as Error).message}`;
      return trial;
    }
    trial.effective = pickBatching(engine.config);
    try {
      trial.run = await runBenchmark(
        {
          ...DEFAULT_BENCH_SETTINGS,
          baseUrl: served.url,
          endpoint: bench.endpoint,
          concurrencyLevels: bench.concurrencyLevels,
          promptTokens: bench.promptTokens,
          maxTokens: bench.maxTokens,
          requestsPerLevel: bench.requestsPerLevel,
          warmupRequests: 1,
          label: `tune ${describeCandidate(candidate)}`,
        },
        { signal: options.signal },
      );
    } catch (error) {
      trial.error = (error as Error).message;
    }
  } finally {
    await served.close(2000);
  }
  if (trial.run) {
    trial.verdicts = trial.run.levels.map((level) => judgeLevel(level, options.objective));
    trial.bestLevel = bestMeetingLevel(trial.run.levels, options.objective);
  }
  return trial;
}

const scoredTrials = (trials: TuneTrial[]) => trials.map((trial) => ({ item: trial, level: trial.bestLevel }));
/** On a throughput tie, the smaller KV budget wins: same speed, cheaper GPU. */
const smallerBudgetFirst = (a: TuneTrial, b: TuneTrial) => a.candidate.maxBatchTotalTokens - b.candidate.maxBatchTotalTokens;

export async function autoTune(options: TuneOptions): Promise<TuneResult> {
  // A package folder or a library name, as `hearth serve` accepts.
  const packageDir = resolvePackage(options.packageDir);
  const manifest = readManifest(packageDir);
  const promptTokens = options.promptTokens ?? DEFAULT_BENCH_SETTINGS.promptTokens;
  const maxTokens = options.maxTokens ?? DEFAULT_BENCH_SETTINGS.maxTokens;
  const concurrencyLevels = options.concurrencyLevels ?? DEFAULT_BENCH_SETTINGS.concurrencyLevels;
  const bench = { concurrencyLevels, promptTokens, maxTokens, requestsPerLevel: options.requestsPerLevel, endpoint: options.endpoint ?? DEFAULT_BENCH_SETTINGS.endpoint };
  // The engine's own limits for this package (context, derived KV budget), before any candidate.
  const baseline = resolveBatchingConfig(options.base?.batching, manifest, { freeBytes: freemem() });
  const limits: CandidateLimits = { maxTotalTokens: baseline.maxTotalTokens, tokensPerRequest: promptTokens + maxTokens };
  const log = options.log ?? (() => {});
  const trials: TuneTrial[] = [];
  const attempt = async (candidate: TuneCandidate) => {
    if (options.signal?.aborted) throw new Error('auto-tune was cancelled');
    log(`trial ${trials.length + 1}: ${describeCandidate(candidate)}`);
    const trial = await runTrial({ ...options, packageDir }, candidate, bench, baseline.kvCacheBytesPerToken);
    trials.push(trial);
    options.onTrial?.(trial, trials.length - 1);
    return trial;
  };

  if (options.candidates) {
    for (const candidate of options.candidates) await attempt(candidate);
  } else {
    const maxConcurrency = Math.max(...concurrencyLevels);
    for (const candidate of batchSizeCandidates(limits, maxConcurrency, options.batchSizes, options.prefillTokens?.[Math.floor((options.prefillTokens.length - 1) / 2)])) await attempt(candidate);
    const phase1 = pickBest(scoredTrials(trials), smallerBudgetFirst);
    if (phase1) {
      for (const candidate of prefillCandidates(phase1.item.candidate, limits, options.prefillTokens)) await attempt(candidate);
      const phase2 = pickBest(scoredTrials(trials), smallerBudgetFirst)!;
      for (const candidate of budgetCandidates(phase2.item.candidate, limits)) await attempt(candidate);
    }
  }

  const winner = pickBest(scoredTrials(trials), smallerBudgetFirst);
  const objectiveText = describeObjective(options.objective);
  if (!winner || !winner.item.effective || !winner.level) {
    const closest = trials
      .flatMap((trial) => trial.verdicts.map((verdict) => ({ trial, verdict })))
      .sort((a, b) => a.verdict.violations.length - b.verdict.violations.length)[0];
    return {
      objective: options.objective,
      trials,
      best: null,
      config: null,
      summary: `no candidate met ${objectiveText}` + (closest ? `; closest: ${describeCandidate(closest.trial.candidate)} at concurrency ${closest.verdict.concurrency} (${closest.verdict.violations.join(', ')})` : ''),
    };
  }
  const best = winner.item;
  const level = winner.level;
  const notes = [
    `${describeCandidate(best.candidate)} won: ${level.throughputTokensPerSec.toFixed(1)} tokens/s at ${level.concurrency} concurrent streams ` +
      `(TTFT p95 ${level.ttftMs.p95?.toFixed(0)} ms, ITL p95 ${level.itlMs.p95?.toFixed(1)} ms, e2e p95 ${level.e2eMs.p95?.toFixed(0)} ms)`,
    `objective ${objectiveText} holds up to ${level.concurrency} concurrent streams of ${promptTokens} prompt + ${maxTokens} generated tokens`,
    `${trials.length} candidates measured: ` +
      trials.map((trial) => `[${describeCandidate(trial.candidate)}: ${trial.error ? `error` : trial.bestLevel ? `${trial.bestLevel.throughputTokensPerSec.toFixed(1)} tok/s @${trial.bestLevel.concurrency}` : 'missed the objective'}]`).join(' '),
    `benchmark runs: ${trials.filter((trial) => trial.run).map((trial) => trial.run!.runId).join(', ')}`,
  ];
  const config = tunedServingConfig({
    packageDir,
    base: options.base,
    effectiveBatching: best.effective!,
    tuning: {
      objective: options.objective,
      measuredAt: new Date().toISOString(),
      machine: describeMachine(),
      throughputTokensPerSec: level.throughputTokensPerSec,
      notes,
    },
  });
  return { objective: options.objective, trials, best, config, summary: notes[0]! };
}
