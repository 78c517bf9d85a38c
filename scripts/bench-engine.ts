// In-process engine benchmark (no HTTP): tokens/s at several concurrencies for one package.
//
//   node --import tsx scripts/bench-engine.ts --package DIR
//   node --import tsx scripts/bench-engine.ts --fixture smollm2-135m --dtype int4      (H1's generated fixture)
//   node --import tsx scripts/bench-engine.ts --fixture qwen2.5-0.5b --arch qwen2       (the Qwen2.5-0.5B shape)
//   options: --concurrency 1,4,16,64  --new-tokens 64  --prompt-tokens 32  --threads N  --int4-block-size 32|64|128
//            --spinning  --int8-matmul  --int8-prefill  --profile  --max-prefill-tokens N  --json  --no-warmup
//
// Every stream gets a distinct prompt of --prompt-tokens tokens and generates exactly
// --new-tokens tokens greedily (EOS ignored). Reported per concurrency: aggregate tokens/s
// (generated tokens / wall time), per-stream decode tokens/s (after the first token), TTFT and
// ITL percentiles, mean step time and batch size. Figures are only meaningful on an idle machine.
import { parseArgs } from 'node:util';
import { loadEngine, type StepStats } from '../engine/runtime/index.js';
import { benchPackage, decodeTokensPerSecond, int8ModeOf, runStreams, syntheticPrompt, ttftMs } from './engineRuns.js';

const { values } = parseArgs({
  options: {
    package: { type: 'string' },
    fixture: { type: 'string' },
    dtype: { type: 'string', default: 'int4' },
    'int4-block-size': { type: 'string' },
    arch: { type: 'string', default: 'llama' },
    concurrency: { type: 'string', default: '1,4,16,64' },
    'new-tokens': { type: 'string', default: '64' },
    'prompt-tokens': { type: 'string', default: '32' },
    threads: { type: 'string', default: '0' },
    'max-prefill-tokens': { type: 'string' },
    spinning: { type: 'boolean', default: false },
    'int8-matmul': { type: 'boolean', default: false },
    'int8-prefill': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'no-warmup': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help || (!values.package && !values.fixture)) {
  console.log('usage: node --import tsx scripts/bench-engine.ts (--package DIR | --fixture smollm2-135m|qwen2.5-0.5b [--arch llama|qwen2] [--dtype int4|fp32|fp16]) [--concurrency 1,4,16,64] [--new-tokens 64] [--prompt-tokens 32] [--threads N] [--spinning] [--profile] [--json]');
  process.exit(values.help ? 0 : 2);
}

const { packageDir } = await benchPackage(values);
const newTokens = Number(values['new-tokens']);
const promptTokens = Number(values['prompt-tokens']);
const levels = values.concurrency!.split(',').map(Number);
const engine = await loadEngine({
  packageDir,
  cpuThreads: Number(values.threads),
  allowSpinning: values.spinning,
  cpuInt8MatMul: int8ModeOf(values),
  enableProfiling: values.profile,
  batching: {
    maxBatchSize: Math.max(...levels),
    ...(values['max-prefill-tokens'] ? { maxPrefillTokens: Number(values['max-prefill-tokens']) } : {}),
  },
  log: (line) => console.error(`[engine] ${line}`),
});
const vocabSize = engine.manifest.shape.vocabSize;
let steps: StepStats[] = [];
engine.onStep((stats) => steps.push(stats));

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0);

async function runLevel(concurrency: number) {
  steps = [];
  const cpuBefore = process.cpuUsage();
  const prompts = Array.from({ length: concurrency }, (_, stream) => syntheticPrompt(promptTokens, vocabSize, stream));
  const { wallMs, results } = await runStreams(engine, prompts, newTokens);
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const generated = results.reduce((sum, r) => sum + r.tokenTimesMs.length, 0);
  const errors = results.filter((r) => r.finishReason !== 'length').length;
  const ttft = results.map(ttftMs).sort((a, b) => a - b);
  const itl = results.flatMap((r) => r.tokenTimesMs.slice(1).map((t, i) => t - r.tokenTimesMs[i]!)).sort((a, b) => a - b);
  const decodeRates = results.map(decodeTokensPerSecond);
  const decodeSteps = steps.filter((s) => s.numPrefillTokens === 0 && s.numDecodeTokens > 0);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return {
    concurrency,
    generatedTokens: generated,
    errors,
    wallSeconds: wallMs / 1000,
    aggregateTokensPerSecond: generated / (wallMs / 1000),
    /** CPU seconds (all threads of this process) per generated token: robust to other load, unlike wall time. */
    cpuMsPerToken: (cpuSeconds * 1000) / generated,
    cpuUtilisation: cpuSeconds / (wallMs / 1000),
    perStreamDecodeTokensPerSecond: mean(decodeRates),
    ttftMs: { p50: percentile(ttft, 50), p95: percentile(ttft, 95) },
    itlMs: { p50: percentile(itl, 50), p95: percentile(itl, 95), p99: percentile(itl, 99) },
    steps: steps.length,
    meanDecodeStepMs: mean(decodeSteps.map((s) => s.stepMs)),
    meanDecodeRunMs: mean(decodeSteps.map((s) => s.runMs)),
    meanDecodeOverheadMs: mean(decodeSteps.map((s) => s.overheadMs)),
    overheadBreakdownMs: {
      cacheOps: mean(decodeSteps.map((s) => s.cacheOpsMs)),
      scatter: mean(decodeSteps.map((s) => s.scatterMs)),
      sample: mean(decodeSteps.map((s) => s.sampleMs)),
      maxCacheOps: Math.max(0, ...steps.map((s) => s.cacheOpsMs)),
    },
    meanMainThreadGapMs: mean(decodeSteps.map((s) => s.stepMs - s.runMs - s.overheadMs)),
    meanBatchSize: mean(steps.map((s) => s.batchSize)),
  };
}

// Warm-up: the largest level once (same lengths), so first-touch page faults of the KV cache
// (the OS maps its pages lazily) and ORT's per-shape allocations are not billed to the
// measurement — a long-running server pays them once. --no-warmup to include them.
if (!values['no-warmup']) await runLevel(Math.max(...levels));
const rows = [];
for (const level of levels) rows.push(await runLevel(level));
const snapshot = engine.snapshot();
await engine.shutdown(0);

if (values.json) console.log(JSON.stringify({ package: packageDir, device: snapshot.device, newTokens, promptTokens, results: rows }, null, 2));
else {
  console.log(`package ${packageDir} (${engine.manifest.dtype}), device ${snapshot.device}, threads ${engine.device?.intraOpThreads}, spinning ${values.spinning ? 'on' : 'off'}, prompt ${promptTokens} + ${newTokens} new tokens`);
  console.log('conc  agg tok/s  stream tok/s  ttft p50/p95 ms   itl p50/p95/p99 ms   step ms (run/overhead)  batch  errors');
  for (const r of rows) {
    console.log(
      `${String(r.concurrency).padStart(4)}  ${r.aggregateTokensPerSecond.toFixed(1).padStart(9)}  ${r.perStreamDecodeTokensPerSecond.toFixed(1).padStart(12)}  ` +
        `${r.ttftMs.p50.toFixed(0).padStart(6)}/${r.ttftMs.p95.toFixed(0).padEnd(8)}  ${r.itlMs.p50.toFixed(1).padStart(6)}/${r.itlMs.p95.toFixed(1)}/${r.itlMs.p99.toFixed(1)}`.padEnd(70) +
        `  ${r.meanDecodeStepMs.toFixed(1)} (${r.meanDecodeRunMs.toFixed(1)}/${r.meanDecodeOverheadMs.toFixed(1)})`.padEnd(24) +
        `${r.meanBatchSize.toFixed(1).padStart(5)}  ${r.errors}`,
    );
    const o = r.overheadBreakdownMs;
    console.log(`      cpu ${r.cpuMsPerToken.toFixed(2)} ms/token (process used ${r.cpuUtilisation.toFixed(2)} cores while this level ran)`);
    console.log(`      overhead: cache ops ${o.cacheOps.toFixed(1)} (max ${o.maxCacheOps.toFixed(1)}), scatter ${o.scatter.toFixed(1)}, sample ${o.sample.toFixed(1)}, main-thread/messaging ${r.meanMainThreadGapMs.toFixed(1)} ms/step`);
  }
}
