// Drives a loaded engine for the benchmark scripts (bench-engine.ts, bench-cpu.ts): a fixture or
// package opened with the options both pass, greedy requests that generate an exact number of
// tokens, and the arrival time of every token.
import { performance } from 'node:perf_hooks';
import type { GenerationRequest } from '../engine/common/engineApi.js';
import type { Int8MatMulMode } from '../engine/common/accelerator.js';
import type { Architecture, ModelDtype } from '../engine/common/manifest.js';
import type { LoadedEngine } from '../engine/runtime/index.js';
import type { FixtureShapeName } from '../test/fixtures/generateCheckpoint.js';

/**
 * The package of --package, or of a generated fixture (converted once, cached under os.tmpdir());
 * checkpointDir is the fixture's Hugging Face checkpoint (null for --package).
 */
export async function benchPackage(options: { package?: string; fixture?: string; arch?: string; dtype?: string; 'int4-block-size'?: string }): Promise<{ packageDir: string; checkpointDir: string | null }> {
  if (options.package) return { packageDir: options.package, checkpointDir: null };
  const { FIXTURE_SHAPES } = await import('../test/fixtures/generateCheckpoint.js');
  if (!options.fixture || !(options.fixture in FIXTURE_SHAPES)) {
    throw new Error(`--fixture must be one of ${Object.keys(FIXTURE_SHAPES).join(', ')} (got ${options.fixture ?? 'nothing'})`);
  }
  const { ensureFixturePackage } = await import('../test/fixtures/packages.js');
  const { packageDir, checkpointDir } = await ensureFixturePackage({
    arch: (options.arch ?? 'llama') as Architecture,
    dtype: (options.dtype ?? 'int4') as ModelDtype,
    shape: options.fixture as FixtureShapeName,
    ...(options['int4-block-size'] ? { int4BlockSize: Number(options['int4-block-size']) } : {}),
  });
  return { packageDir, checkpointDir };
}

/** A distinct deterministic prompt per salt (token ids below vocabSize). */
/** The engine's cpuInt8MatMul from a script's --int8-matmul (every token) / --int8-prefill (prompt tokens) flags. */
export function int8ModeOf(options: { 'int8-matmul'?: boolean; 'int8-prefill'?: boolean }): Int8MatMulMode {
  if (options['int8-matmul'] && options['int8-prefill']) throw new Error('--int8-matmul and --int8-prefill exclude each other');
  return options['int8-prefill'] ? 'prompt' : options['int8-matmul'] ? 'all' : 'off';
}

export function syntheticPrompt(numTokens: number, vocabSize: number, salt: number): number[] {
  return Array.from({ length: numTokens }, (_, i) => (17 + salt * 101 + i * 13) % vocabSize);
}

export interface StreamResult {
  submittedMs: number;
  /** performance.now() at each generated token. */
  tokenTimesMs: number[];
  tokenIds: number[];
  finishReason: string;
}

let requestSeq = 0;

/** Submits one greedy request per prompt at once; each generates exactly newTokens tokens (EOS ignored). `onFirstToken(i)`: prompt i's first token arrived. */
export async function runStreams(engine: LoadedEngine, prompts: number[][], newTokens: number, onFirstToken?: (index: number) => void): Promise<{ wallMs: number; results: StreamResult[] }> {
  const started = performance.now();
  const results = await Promise.all(
    prompts.map(async (prompt, index) => {
      const request: GenerationRequest = {
        requestId: `bench-${++requestSeq}`,
        promptTokenIds: prompt,
        sampling: { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1 },
        maxNewTokens: newTokens,
        stopStrings: [],
        stopTokenIds: [],
        ignoreEos: true,
        arrivalTimeMs: Date.now(),
      };
      const result: StreamResult = { submittedMs: performance.now(), tokenTimesMs: [], tokenIds: [], finishReason: '' };
      for await (const event of engine.submit(request)) {
        if (event.type === 'token') {
          result.tokenTimesMs.push(performance.now());
          result.tokenIds.push(event.tokenId);
          if (result.tokenIds.length === 1) onFirstToken?.(index);
        } else result.finishReason = event.finishReason;
      }
      return result;
    }),
  );
  return { wallMs: performance.now() - started, results };
}

export const ttftMs = (result: StreamResult): number => result.tokenTimesMs[0]! - result.submittedMs;

/** Tokens per second after the first token (the decode rate a reader sees). */
export function decodeTokensPerSecond(result: StreamResult): number {
  const times = result.tokenTimesMs;
  return (times.length - 1) / ((times.at(-1)! - times[0]!) / 1000);
}
