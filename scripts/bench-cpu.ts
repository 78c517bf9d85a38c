// Issue 12's CPU table for one model shape: Hearth's side of every row and, when the llama.cpp
// anchor is set up (../shared/anchors/llamacpp/README.md), llama.cpp's on a Q4_0 GGUF of the same
// shape, row by row in the same minutes, with the ratios.
//
//   node --import tsx scripts/bench-cpu.ts --fixture qwen2.5-0.5b --arch qwen2
//   node --import tsx scripts/bench-cpu.ts --fixture smollm2-135m
//   options: --package DIR (instead of a fixture)  --dtype int4  --int4-block-size 32|64|128  --threads 2  --spinning (hearth serve --cpu-spinning)
//            --int8-matmul (hearth serve --cpu-int8-matmul)  --int8-prefill (hearth serve --cpu-int8-prefill)
//            --llamacpp DIR (default ../llamacpp-anchor; 'none' skips llama.cpp)
//            --gguf FILE (default DIR/<fixture>-q4_0.gguf, written by the anchor's to_gguf.py if missing)
//            --rows decode1,decode16,prefill2000,prefill512,decodeAt2000,secondTurn,mixed16  --max-prefill-tokens N  --json
//
// Rows, measured as the anchor's scripts measure llama.cpp: decode = generated tokens / wall time of
// 64 greedy tokens per stream after a short prompt (1 and 16 streams); prefill = prompt tokens / time
// to the first token (median of 3 distinct prompts); decode at 2000 tokens of context = tokens after
// the first / their time, 65 tokens after a 2000-token prompt; second chat turn = TTFT of a request
// whose prompt is a 1500-token turn 1 + its 32 generated tokens + 64 new tokens, against turn 1's
// (the anchor has no llama.cpp counterpart); 16 streams at mixed lengths = the decode rate of 15
// short streams (as decode16's) next to one decoding at 2000+ tokens of context, against the same
// 15 alone, on the same 4096-token cache (the long one in a region of its own, at most 2176 tokens
// for its 2000 + 175, next to the 15 at stride 128: it fills the cache exactly; no llama.cpp
// counterpart); package size = every file of the package (its int8 cache reported apart) against the
// GGUF file; RSS = peak resident memory of the process (Hearth: this one, ORT's worker included;
// llama.cpp: the largest of its runs). Hearth's KV cache is sized like the anchor's 16-stream
// context: 4096 tokens. Figures are only meaningful on an idle machine; compare ratios of one run.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { kvBytesPerToken, loadEngine, readManifest } from '../engine/runtime/index.js';
import { int4LayoutOf } from '../engine/common/memoryEstimate.js';
import { PACKAGE_CACHE_FILES } from '../engine/convert/modelPackage.js';
import { benchPackage, decodeTokensPerSecond, int8ModeOf, runStreams, syntheticPrompt, ttftMs, type StreamResult } from './engineRuns.js';

const ROWS = ['decode1', 'decode16', 'prefill2000', 'prefill512', 'decodeAt2000', 'secondTurn', 'mixed16'] as const;
type RowName = (typeof ROWS)[number];

const { values } = parseArgs({
  options: {
    package: { type: 'string' },
    fixture: { type: 'string' },
    arch: { type: 'string', default: 'llama' },
    dtype: { type: 'string', default: 'int4' },
    'int4-block-size': { type: 'string' },
    threads: { type: 'string', default: '2' },
    spinning: { type: 'boolean', default: false },
    'int8-matmul': { type: 'boolean', default: false },
    'int8-prefill': { type: 'boolean', default: false },
    llamacpp: { type: 'string' },
    gguf: { type: 'string' },
    rows: { type: 'string', default: ROWS.join(',') },
    'max-prefill-tokens': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help || (!values.package && !values.fixture)) {
  console.log('usage: node --import tsx scripts/bench-cpu.ts (--fixture smollm2-135m|qwen2.5-0.5b [--arch llama|qwen2] | --package DIR) [--threads 2] [--spinning] [--int8-matmul|--int8-prefill] [--llamacpp DIR|none] [--gguf FILE] [--rows ...] [--json]');
  process.exit(values.help ? 0 : 2);
}
const rows = values.rows!.split(',') as RowName[];
for (const row of rows) if (!ROWS.includes(row)) throw new Error(`unknown row ${row}; rows: ${ROWS.join(', ')}`);
const threads = Number(values.threads);
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

// --- Hearth ---
const { packageDir, checkpointDir } = await benchPackage(values);
const manifest = readManifest(packageDir);
const KV_CACHE_TOKENS = 4096; // node-llama-cpp's context for the anchor's 16 streams: max(512, 16 × 256)
const engine = await loadEngine({
  packageDir,
  cpuThreads: threads,
  allowSpinning: values.spinning,
  cpuInt8MatMul: int8ModeOf(values),
  batching: {
    maxBatchSize: 16,
    maxTotalTokens: 2560,
    kvCacheBytes: KV_CACHE_TOKENS * kvBytesPerToken(manifest),
    ...(values['max-prefill-tokens'] ? { maxPrefillTokens: Number(values['max-prefill-tokens']) } : {}),
  },
  log: (line) => console.error(`[engine] ${line}`),
});
const vocabSize = manifest.shape.vocabSize;
const SHORT_PROMPT_TOKENS = 12; // about what the anchor's "Request number i: tell me a story about the sea." is
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function hearthDecode(streams: number): Promise<number> {
  const prompts = Array.from({ length: streams }, (_, i) => syntheticPrompt(SHORT_PROMPT_TOKENS, vocabSize, 1000 + i));
  const { wallMs, results } = await runStreams(engine, prompts, 64);
  return results.reduce((sum, r) => sum + r.tokenIds.length, 0) / (wallMs / 1000);
}

async function hearthPrefill(promptTokens: number): Promise<number> {
  const ttfts: number[] = [];
  for (let k = 0; k < 3; k++) ttfts.push(ttftMs((await runStreams(engine, [syntheticPrompt(promptTokens, vocabSize, 2000 + k)], 1)).results[0]!));
  return promptTokens / (median(ttfts) / 1000);
}

/** 15 short streams alone, then next to one long stream that is decoding: their tok/s, and the long one's meanwhile. */
async function hearthMixed(): Promise<{ aloneTokS: number; mixedTokS: number; longTokS: number }> {
  const LONG_PROMPT_TOKENS = 2000;
  // The most the 4096-token cache holds next to 15 short rows at stride 128 (see the header).
  const LONG_NEW_TOKENS = 175;
  const shortPrompts = Array.from({ length: 15 }, (_, i) => syntheticPrompt(SHORT_PROMPT_TOKENS, vocabSize, 5000 + i));
  const tokS = (run: { wallMs: number; results: StreamResult[] }) => run.results.reduce((sum, r) => sum + r.tokenIds.length, 0) / (run.wallMs / 1000);
  await runStreams(engine, shortPrompts, 8); // warm-up
  const alone = await runStreams(engine, shortPrompts, 64);
  let shortRun: Promise<{ wallMs: number; results: StreamResult[] }> | null = null;
  let mostRunning = 0;
  const stopWatching = engine.onStep((stats) => (mostRunning = Math.max(mostRunning, stats.runningSize)));
  const long = await runStreams(engine, [syntheticPrompt(LONG_PROMPT_TOKENS, vocabSize, 6000)], LONG_NEW_TOKENS, () => {
    shortRun = runStreams(engine, shortPrompts, 64);
  });
  const short = await shortRun!;
  stopWatching();
  if (mostRunning < 16) console.error(`mixed16: at most ${mostRunning} streams ran at once (16 expected): the cache did not admit them all next to the long one`);
  const window = short.results.flatMap((r) => [r.submittedMs, r.tokenTimesMs.at(-1)!]);
  const [from, to] = [Math.min(...window), Math.max(...window)];
  const longTimes = long.results[0]!.tokenTimesMs.filter((t) => t >= from && t <= to);
  if (long.results[0]!.tokenTimesMs.at(-1)! <= to) console.error('mixed16: the long stream ended before the short ones (its rate covers only part of their window)');
  return { aloneTokS: tokS(alone), mixedTokS: tokS(short), longTokS: (longTimes.length - 1) / ((longTimes.at(-1)! - longTimes[0]!) / 1000) };
}

async function hearthSecondTurn(): Promise<{ turn1Ms: number; turn2Ms: number }> {
  const turn1Prompt = syntheticPrompt(1500, vocabSize, 3000);
  const turn1 = (await runStreams(engine, [turn1Prompt], 32)).results[0]!;
  const turn2Prompt = [...turn1Prompt, ...turn1.tokenIds, ...syntheticPrompt(64, vocabSize, 3001)];
  const turn2 = (await runStreams(engine, [turn2Prompt], 1)).results[0]!;
  return { turn1Ms: ttftMs(turn1), turn2Ms: ttftMs(turn2) };
}

// --- llama.cpp (the anchor's scripts, one child process per measurement) ---
const llamaDir = values.llamacpp === 'none' ? null : resolve(values.llamacpp ?? join(repoRoot, '..', 'llamacpp-anchor'));
const llamaReady = llamaDir !== null && existsSync(join(llamaDir, 'node_modules', 'node-llama-cpp')) && existsSync(join(llamaDir, 'bench.mjs'));
if (llamaDir !== null && !llamaReady) console.error(`llama.cpp anchor not set up in ${llamaDir} (see ../shared/anchors/llamacpp/README.md): Hearth only.`);
let gguf: string | null = null;
if (llamaReady) {
  gguf = values.gguf ?? join(llamaDir!, `${values.fixture ?? 'package'}-q4_0.gguf`);
  if (!existsSync(gguf)) {
    if (!checkpointDir) throw new Error(`${gguf} does not exist; pass --gguf for a --package run`);
    const toGguf = join(repoRoot, '..', 'shared', 'anchors', 'llamacpp', 'to_gguf.py');
    console.error(`writing ${gguf} from ${checkpointDir} (${toGguf})`);
    const written = spawnSync('python3', [toGguf, checkpointDir, gguf, 'q4_0'], { stdio: 'inherit' });
    if (written.status !== 0) throw new Error(`to_gguf.py failed (exit ${written.status})`);
  }
}
let llamaPeakRssBytes = 0;

const llamaRuns = new Map<string, Promise<Record<string, number>>>();
/** One anchor script's JSON line, run once per argument list (prefill.mjs 2000 serves two rows). */
function llama(script: string, args: string[]): Promise<Record<string, number>> {
  const key = [script, ...args].join(' ');
  if (!llamaRuns.has(key)) llamaRuns.set(key, runLlama(script, args));
  return llamaRuns.get(key)!;
}

/** Runs one anchor script; returns its JSON line. Tracks the child's peak RSS (VmHWM). */
async function runLlama(script: string, args: string[]): Promise<Record<string, number>> {
  const child = spawn(process.execPath, [join(llamaDir!, script), gguf!, ...args], { cwd: llamaDir!, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  const readPeak = () => {
    try {
      const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (match) llamaPeakRssBytes = Math.max(llamaPeakRssBytes, Number(match[1]) * 1024);
    } catch {
      // Exited between polls: the last reading stands.
    }
  };
  const poll = setInterval(readPeak, 50);
  const code = await new Promise<number>((done) => child.on('close', (exitCode) => done(exitCode ?? 1)));
  clearInterval(poll);
  if (code !== 0) throw new Error(`${script} ${args.join(' ')} exited with ${code}`);
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, number>;
}

// --- the table ---
interface Row { label: string; unit: string; hearth: number | null; llama: number | null; note?: string }
const table: Row[] = [];

await hearthDecode(16); // warm-up: first-touch pages of the KV cache and ORT's per-shape allocations
for (const row of rows) {
  console.error(`measuring ${row}`);
  if (row === 'decode1' || row === 'decode16') {
    const streams = row === 'decode1' ? 1 : 16;
    const hearth = await hearthDecode(streams);
    const other = llamaReady ? (await llama('bench.mjs', [String(streams), '64'])).tok_per_s! : null;
    table.push({ label: streams === 1 ? 'decode, 1 stream, short prompt' : 'decode, 16 streams', unit: 'tok/s', hearth, llama: other });
  } else if (row === 'prefill2000' || row === 'prefill512') {
    const promptTokens = row === 'prefill2000' ? 2000 : 512;
    const hearth = await hearthPrefill(promptTokens);
    const other = llamaReady ? (await llama('prefill.mjs', [String(promptTokens)])).prefill_tok_s! : null;
    table.push({ label: `prefill, ${promptTokens}-token prompt`, unit: 'tok/s', hearth, llama: other });
  } else if (row === 'decodeAt2000') {
    const hearth = decodeTokensPerSecond((await runStreams(engine, [syntheticPrompt(2000, vocabSize, 4000)], 65)).results[0]!);
    const other = llamaReady ? (await llama('prefill.mjs', ['2000'])).decode_tok_s_at_ctx! : null;
    table.push({ label: 'decode at 2000 tokens of context', unit: 'tok/s', hearth, llama: other });
  } else if (row === 'mixed16') {
    const { aloneTokS, mixedTokS, longTokS } = await hearthMixed();
    table.push({
      label: '15 short streams next to one at 2000+ tokens of context', unit: 'tok/s', hearth: mixedTokS, llama: null,
      note: `${(mixedTokS / aloneTokS).toFixed(2)} of the 15 alone (${aloneTokS.toFixed(1)}); the long one meanwhile ${longTokS.toFixed(1)} tok/s`,
    });
  } else {
    const { turn1Ms, turn2Ms } = await hearthSecondTurn();
    table.push({ label: '2nd chat turn extending a 1500-token prompt: TTFT', unit: 'ms', hearth: turn2Ms, llama: null, note: `${(turn2Ms / turn1Ms).toFixed(2)} of turn 1 (${turn1Ms.toFixed(0)} ms)` });
  }
}
const hearthPeakRssBytes = process.resourceUsage().maxRSS * 1024;
const snapshot = engine.snapshot();
await engine.shutdown(0);

// The package's own files; the engine's caches there (PACKAGE_CACHE_FILES) are reported apart.
const caches = new Set<string>(Object.values(PACKAGE_CACHE_FILES));
const dirBytes = (dir: string, cached: boolean) => readdirSync(dir).filter((name) => caches.has(name) === cached).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
const MB = 1e6;
const cacheBytes = dirBytes(packageDir, true);
table.push({
  label: 'package / GGUF size', unit: 'MB', hearth: dirBytes(packageDir, false) / MB, llama: gguf ? statSync(gguf).size / MB : null,
  note: `weights ${(manifest.weightsBytes / MB).toFixed(1)} MB${cacheBytes ? `; + ${(cacheBytes / MB).toFixed(0)} MB int8 cache beside it` : ''}`,
});
table.push({ label: 'peak RSS', unit: 'MB', hearth: hearthPeakRssBytes / MB, llama: llamaReady ? llamaPeakRssBytes / MB : null, note: `Hearth KV cache ${(snapshot.kvCacheBytes / MB).toFixed(0)} MB for ${KV_CACHE_TOKENS} tokens` });

if (values.json) {
  console.log(JSON.stringify({ package: packageDir, gguf, threads, spinning: values.spinning, int8MatMul: int8ModeOf(values), shape: manifest.shape, rows: table }, null, 2));
} else {
  const s = manifest.shape;
  console.log(`Hearth ${manifest.dtype}${manifest.dtype === 'int4' ? ` (block ${int4LayoutOf(manifest).blockSize})` : ''} ${packageDir}`);
  console.log(`shape: hidden ${s.hiddenSize}, ${s.numLayers} layers, ${s.numHeads}/${s.numKvHeads} heads, vocab ${s.vocabSize}${s.tiedEmbeddings ? ', tied' : ''}; ${threads} threads${values.spinning ? ', spinning' : ''}${int8ModeOf(values) === 'off' ? '' : `, int8 matmuls (${int8ModeOf(values)})`}`);
  console.log(`llama.cpp: ${gguf ?? 'not run'}\n`);
  console.log('| | Hearth | llama.cpp | ratio |');
  console.log('|---|---|---|---|');
  for (const row of table) {
    const fmt = (x: number | null) => (x === null ? '' : `${x.toFixed(x >= 100 ? 0 : 1)} ${row.unit}`);
    // Hearth / llama.cpp, as the issue's tables write it (speed: above 1 is faster; size: above 1 is larger).
    const ratio = row.hearth !== null && row.llama !== null ? `${(row.hearth / row.llama).toFixed(2)}×` : '';
    console.log(`| ${row.label} | ${fmt(row.hearth)}${row.note ? ` (${row.note})` : ''} | ${fmt(row.llama)} | ${ratio} |`);
  }
}
