// A whole benchmark run: probe the server, warm it up, then one level per (mode, concurrency).
import { randomBytes } from 'node:crypto';
import { cpus, platform, release, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { runLevel } from './loadGenerator.js';
import { describeServer, probePrompt } from './serverProbe.js';
import { streamRequest } from './streamRequest.js';
import { requestsForLevel, type BenchRun, type BenchSettings, type LevelResult } from './types.js';

export interface SweepHooks {
  /** Called after each level, with how many are done out of how many. */
  onLevel?: (level: LevelResult, levelsDone: number, levelsTotal: number) => void;
  signal?: AbortSignal;
}

export function describeMachine(): string {
  const cpuList = cpus();
  const gib = (totalmem() / 2 ** 30).toFixed(1);
  return `${cpuList[0]?.model.trim() ?? 'unknown CPU'} × ${cpuList.length} logical cores, ${gib} GiB RAM, ${platform()} ${release()}`;
}

export function newRunId(nowMs = Date.now()): string {
  const stamp = new Date(nowMs).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

export function validateSettings(settings: BenchSettings): void {
  const positive = (name: string, value: number) => {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  };
  if (settings.concurrencyLevels.length === 0) throw new RangeError('give at least one concurrency level');
  settings.concurrencyLevels.forEach((level) => positive('each concurrency level', level));
  positive('promptTokens', settings.promptTokens);
  positive('maxTokens', settings.maxTokens);
  if (settings.requestsPerLevel !== undefined) positive('requestsPerLevel', settings.requestsPerLevel);
  if (settings.modes.length === 0) throw new RangeError('give at least one mode (batched, sequential)');
}

export async function runBenchmark(settings: BenchSettings, hooks: SweepHooks = {}): Promise<BenchRun> {
  validateSettings(settings);
  const startedAtMs = Date.now();
  const target = { baseUrl: settings.baseUrl, apiKey: settings.apiKey, timeoutMs: settings.requestTimeoutMs };
  const server = await describeServer(target, settings.model);
  const probe = await probePrompt({ ...target, endpoint: settings.endpoint, model: server.model, promptTokens: settings.promptTokens, ignoreEos: settings.ignoreEos });
  const common = {
    ...target,
    endpoint: settings.endpoint,
    model: server.model,
    prompt: probe.prompt,
    maxTokens: settings.maxTokens,
    ignoreEos: probe.ignoreEosHonoured,
    responseFormat: settings.responseFormat,
    signal: hooks.signal,
  };
  for (let i = 0; i < settings.warmupRequests; i++) {
    const sample = await streamRequest({ ...common, scheduledAtMs: performance.now() });
    if (!sample.ok) throw new Error(`the warm-up request failed: ${sample.error}`);
  }

  const notes = [...probe.notes];
  const levels: LevelResult[] = [];
  const levelsTotal = settings.modes.length * settings.concurrencyLevels.length;
  for (const mode of settings.modes) {
    for (const concurrency of settings.concurrencyLevels) {
      const level = await runLevel({ ...common, mode, concurrency, numRequests: requestsForLevel(settings, concurrency) });
      levels.push(level);
      hooks.onLevel?.(level, levels.length, levelsTotal);
    }
  }
  const short = levels.reduce((sum, level) => sum + level.shortCompletions, 0);
  if (short > 0) notes.push(`${short} requests stopped before max_tokens (EOS); their tokens still count`);

  const { apiKey: _omitted, ...storedSettings } = settings;
  return {
    runId: newRunId(startedAtMs),
    label: settings.label ?? `${server.model} ${settings.promptTokens}→${settings.maxTokens} tokens`,
    startedAtMs,
    finishedAtMs: Date.now(),
    machine: describeMachine(),
    settings: storedSettings,
    server,
    measuredPromptTokens: probe.promptTokens,
    ignoreEosHonoured: probe.ignoreEosHonoured,
    levels,
    notes,
  };
}
