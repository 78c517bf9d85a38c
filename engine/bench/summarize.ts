// From the samples of one concurrency level to its figures. Pure, so it is unit-tested.
import { summarizeLatencies } from '../common/percentiles.js';
import type { BenchMode, LevelResult, RequestSample } from './types.js';

export function summarizeLevel(input: {
  mode: BenchMode;
  concurrency: number;
  maxTokens: number;
  wallMs: number;
  samples: readonly RequestSample[];
}): LevelResult {
  const { samples, wallMs } = input;
  const succeeded = samples.filter((sample) => sample.ok);
  const failed = samples.filter((sample) => !sample.ok);
  const completionTokens = succeeded.reduce((sum, sample) => sum + sample.completionTokens, 0);
  const promptTokens = succeeded.reduce((sum, sample) => sum + (sample.promptTokens ?? 0), 0);
  const wallSeconds = wallMs / 1000;
  const tpot = succeeded
    .filter((sample) => sample.ttftMs !== null && sample.completionTokens > 1)
    .map((sample) => (sample.e2eMs - sample.ttftMs!) / (sample.completionTokens - 1));
  return {
    mode: input.mode,
    concurrency: input.concurrency,
    requests: samples.length,
    errors: failed.length,
    errorSamples: [...new Set(failed.map((sample) => sample.error ?? `HTTP ${sample.status}`))].slice(0, 5),
    wallMs,
    promptTokens,
    completionTokens,
    throughputTokensPerSec: wallSeconds > 0 ? completionTokens / wallSeconds : 0,
    requestsPerSec: wallSeconds > 0 ? succeeded.length / wallSeconds : 0,
    ttftMs: summarizeLatencies(succeeded.filter((sample) => sample.ttftMs !== null).map((sample) => sample.ttftMs!)),
    itlMs: summarizeLatencies(succeeded.flatMap((sample) => sample.itlMs)),
    e2eMs: summarizeLatencies(succeeded.map((sample) => sample.e2eMs)),
    tpotMs: summarizeLatencies(tpot),
    shortCompletions: succeeded.filter((sample) => sample.completionTokens < input.maxTokens).length,
  };
}
