// `hearth tune`: auto-tune batching settings against a latency objective, on the real engine.
// Clean functions for the CLI (engine/cli/commands/tune.ts) and the desktop host:
//
//   const result = await autoTune({ packageDir, objective: { ttftP95Ms: 500, itlP95Ms: 50 }, onTrial, signal });
//   result.config   → the ServingConfig to write as tuned.json (tuning filled), or null
//   result.trials   → every candidate with its effective settings, its BenchRun and per-level verdicts
//   result.summary  → one line: what won and why (or why nothing did)
//
// Each trial loads the package and starts an HTTP server on 127.0.0.1:0 in this process, runs
// the bench sweep against it (streamed /v1/completions), and shuts both down.
export { autoTune, candidateKvCacheBytes, type TuneOptions, type TuneResult, type TuneTrial } from './tuner.js';
export { judgeLevel, bestMeetingLevel, pickBest, describeObjective, type TuneObjective, type LevelVerdict } from './objective.js';
export { batchSizeCandidates, prefillCandidates, budgetCandidates, candidateFor, describeCandidate, DEFAULT_BATCH_SIZES, DEFAULT_PREFILL_TOKENS, type TuneCandidate } from './candidates.js';
export { tunedServingConfig, type BaseServingConfig } from './tunedConfig.js';
