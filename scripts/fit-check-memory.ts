// Fit-check calibration: runs the real engine on fixture packages in fresh processes and prints the
// estimate (engine/common/memoryEstimate.ts) beside the measured peak RSS gain, per setting.
// Slow (full SmolLM2-135M shape, three dtypes): run it on a quiet machine. Prompts are half the
// context, so contexts of 512+ make every prefill step a full 256-token chunk (a busy server).
//
//   node --import tsx scripts/fit-check-memory.ts            full matrix
//   node --import tsx scripts/fit-check-memory.ts --quick    tiny + 6-layer SmolLM2 only
//   ... --json                                               one JSON object per line
//   ... --int4-blocks 32,64                                  int4 cases at each block size (hearth convert --int4-block-size)
//   ... --int4-only --arch qwen2 --shape qwen2.5-0.5b        only int4 cases, of another full shape
//   ... --int8-matmul                                        int4 cases also with hearth serve --cpu-int8-matmul
//   ... --int8-prefill                                       int4 cases also with hearth serve --cpu-int8-prefill
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Int8MatMulMode } from '../engine/common/accelerator.js';
import type { ModelDtype } from '../engine/common/manifest.js';
import { parseArgs } from 'node:util';
import { estimateMemory, int4LayoutOf, modelShapeFromHfConfig } from '../engine/common/memoryEstimate.js';
import { ensureFixturePackage, type FixturePackageOptions } from '../test/fixtures/packages.js';

const child = fileURLToPath(new URL('../test/fixtures/engineMemoryChild.ts', import.meta.url));
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'int4-blocks': { type: 'string', default: '32' },
    'int4-only': { type: 'boolean', default: false },
    arch: { type: 'string' },
    shape: { type: 'string', default: 'smollm2-135m' },
    'int8-matmul': { type: 'boolean', default: false },
    'int8-prefill': { type: 'boolean', default: false },
  },
});
const { quick, json } = values;
const int4Blocks = values['int4-blocks'].split(',').map(Number);
const MiB = 2 ** 20;

type Case = [FixturePackageOptions, ModelDtype, number, number, Int8MatMulMode?];
const cases: Case[] = [
  [{}, 'fp32', 256, 4],
  [{}, 'int4', 256, 4],
  [{ shape: 'smollm2-135m', numLayers: 6 }, 'int4', 512, 2],
  [{ shape: 'smollm2-135m', numLayers: 6 }, 'fp16', 512, 2],
  [{ shape: 'smollm2-135m', numLayers: 6 }, 'fp32', 512, 1],
];
if (!quick) {
  for (const dtype of ['int4', 'fp16', 'fp32'] as const) {
    for (const [context, sequences] of [[512, 1], [512, 4], [1024, 2], [2048, 1]] as const) {
      cases.push([{ shape: values.shape as FixturePackageOptions['shape'], ...(values.arch ? { arch: values.arch as FixturePackageOptions['arch'] } : {}) }, dtype, context, sequences]);
    }
  }
}

const runs = cases
  .filter(([, dtype]) => !values['int4-only'] || dtype === 'int4')
  .flatMap(([fixture, dtype, ...rest]) => (dtype === 'int4' ? int4Blocks : [32]).map((block) => [{ ...fixture, ...(dtype === 'int4' && block !== 32 ? { int4BlockSize: block } : {}) }, dtype, ...rest] as Case))
  .flatMap((run) => {
    const modes = ([['int8-matmul', 'all'], ['int8-prefill', 'prompt']] as const).filter(([flag]) => values[flag] && run[1] === 'int4').map(([, mode]) => mode);
    return [run, ...modes.map((mode) => [run[0], run[1], run[2], run[3], mode] as Case)];
  });
if (!json) console.log('fixture                      dtype  seqs×ctx    estimate   measured   ratio');
for (const [fixture, dtype, contextTokens, numSequences, int8MatMul = 'off'] of runs) {
  const { packageDir, checkpointDir, manifest } = await ensureFixturePackage({ ...fixture, dtype });
  const shape = modelShapeFromHfConfig(JSON.parse(readFileSync(join(checkpointDir, 'config.json'), 'utf8')));
  const estimate = estimateMemory({ shape, dtype, contextTokens, numSequences, int4Layout: int4LayoutOf(manifest), int8MatMul });
  const output = execFileSync(process.execPath, ['--import', 'tsx', child, packageDir, String(contextTokens), String(numSequences), ...(int8MatMul !== 'off' ? [int8MatMul] : [])], { encoding: 'utf8', timeout: 900_000 });
  const measured = JSON.parse(output.trim().split('\n').at(-1)!);
  const measuredBytes = measured.peakRssBytes - measured.baselineRssBytes;
  const name = `${fixture.shape ?? 'tiny'}${fixture.numLayers ? `/${fixture.numLayers}L` : ''}${fixture.int4BlockSize ? ` b${fixture.int4BlockSize}` : ''}${int8MatMul !== 'off' ? ` int8 ${int8MatMul}` : ''}`;
  if (json) {
    console.log(JSON.stringify({ fixture: name, dtype, contextTokens, numSequences, estimate, measured }));
  } else {
    console.log(
      `${name.padEnd(28)} ${dtype.padEnd(6)} ${`${numSequences}×${contextTokens}`.padEnd(10)} ${(estimate.totalBytes / MiB).toFixed(1).padStart(8)}M ${(measuredBytes / MiB).toFixed(1).padStart(8)}M   ${(estimate.totalBytes / measuredBytes).toFixed(3)}`,
    );
  }
}
