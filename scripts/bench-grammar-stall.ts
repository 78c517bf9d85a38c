// Does compiling a new grammar stall the streams already running? One free stream decodes
// (EOS ignored); once it has settled, requests with a JSON schema never seen before arrive, one
// after another. Reported: the running stream's inter-token gaps before the first arrival and
// while the compiles happen (median, max), and each constrained request's time to first token.
//
//   node --import tsx scripts/bench-grammar-stall.ts [--package DIR] [--schemas 3] [--new-tokens 400]
//
// Default package: the Qwen3-tokenizer fixture (tiny random weights, the real 152k vocabulary, where
// a compile costs ~0.3-0.4 s). Figures are only meaningful on an idle machine.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import type { GenerationRequest, SamplingParams } from '../engine/common/engineApi.js';
import { loadEngine } from '../engine/runtime/index.js';
import { ensureFixturePackage } from '../test/fixtures/packages.js';

const { values } = parseArgs({
  options: { package: { type: 'string' }, schemas: { type: 'string', default: '3' }, 'new-tokens': { type: 'string', default: '400' } },
});
const numSchemas = Number(values.schemas);
const packageDir = values.package ?? (await ensureFixturePackage({ arch: 'qwen3', dtype: 'fp32', shape: 'tiny', tokenizer: 'qwen3' })).packageDir;
const engine = await loadEngine({ packageDir, device: 'cpu', log: () => {} });
await engine.ready;

const GREEDY: SamplingParams = { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1 };
const request = (requestId: string, extra: Partial<GenerationRequest>): GenerationRequest => ({
  requestId, promptTokenIds: [1, 2, 3, 4, 5, 6, 7, 8], sampling: GREEDY, maxNewTokens: 60, stopStrings: [], stopTokenIds: [], ignoreEos: false, arrivalTimeMs: Date.now(), ...extra,
});
/** A schema no earlier run compiled (the cache is per process, the nonce per run). */
const nonce = Date.now();
const schema = (i: number) => ({
  type: 'object',
  properties: { [`field_${nonce}_${i}`]: { type: 'string', maxLength: 12 }, level: { type: 'integer', minimum: 0, maximum: 9 }, tags: { type: 'array', items: { enum: ['a', 'b', `c${i}`] } } },
  required: [`field_${nonce}_${i}`, 'level'],
  additionalProperties: false,
});

const arrivals: number[] = [];
let compilesDone = 0;
let compileWindowEnd = Infinity;
const ttfts: number[] = [];

async function constrainedRequests(): Promise<void> {
  for (let i = 0; i < numSchemas; i++) {
    const submitted = performance.now();
    arrivals.push(submitted);
    let first: number | null = null;
    for await (const event of engine.submit(request(`schema-${i}`, { constraint: { type: 'json_schema', schema: schema(i) } }))) {
      if (event.type === 'token') first ??= performance.now();
      else if (event.type === 'done' && event.finishReason === 'error') throw new Error(event.error?.message);
    }
    ttfts.push((first ?? performance.now()) - submitted);
    compilesDone++;
  }
  compileWindowEnd = performance.now();
}

const tokenTimes: number[] = [];
let constrained: Promise<void> | null = null;
for await (const event of engine.submit(request('running', { maxNewTokens: Number(values['new-tokens']), ignoreEos: true }))) {
  if (event.type !== 'token') break;
  tokenTimes.push(performance.now());
  if (tokenTimes.length === 40) constrained = constrainedRequests();
  if (compilesDone === numSchemas && tokenTimes.length > 0 && tokenTimes.at(-1)! > compileWindowEnd + 200) break;
}
await constrained;

const gapsBetween = (from: number, to: number) => {
  const gaps: number[] = [];
  for (let i = 1; i < tokenTimes.length; i++) if (tokenTimes[i]! > from && tokenTimes[i]! <= to) gaps.push(tokenTimes[i]! - tokenTimes[i - 1]!);
  return gaps.sort((a, b) => a - b);
};
const summary = (gaps: number[]) => `median ${gaps[Math.floor(gaps.length / 2)]?.toFixed(1)} ms, max ${gaps.at(-1)?.toFixed(1)} ms over ${gaps.length} gaps`;
console.log(`package ${packageDir}`);
console.log(`running stream before the first schema arrived: ${summary(gapsBetween(tokenTimes[5]!, arrivals[0]!))}`);
console.log(`running stream while ${numSchemas} new schemas compiled and ran: ${summary(gapsBetween(arrivals[0]!, compileWindowEnd))}`);
console.log(`constrained requests' time to first token: ${ttfts.map((ms) => ms.toFixed(0)).join(', ')} ms`);
await engine.shutdown(0);
