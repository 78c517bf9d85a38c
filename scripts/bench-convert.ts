// Conversion benchmark: time, peak RSS and output sizes for converting the SmolLM2-135M-shaped
// fixture (BF16 storage, like most Hub checkpoints) to fp32, fp16 and int4. Each conversion
// runs in its own child process so its peak RSS (getrusage maxrss) is its own; a baseline
// child that only loads the converter shows the fixed runtime overhead.
//
//   node --import tsx scripts/bench-convert.ts [--shape smollm2-135m|tiny] [--dtypes fp32,fp16,int4] [--decode] [--threads 2] [--keep]
//
// --decode also times the converted graph's single-stream decode step (session.run only,
// B = 1, S = 1, --threads intra-op threads, past of 32..96 tokens) as a feasibility check for the engine's tokens/s target.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ModelDtype, ModelManifest } from '../engine/common/manifest.js';

const self = fileURLToPath(import.meta.url);

async function child(argv: string[]): Promise<void> {
  const [mode, dtype, checkpointDir, outDir] = argv;
  const { convertCheckpoint } = await import('../engine/convert/convert.js');
  if (mode === '--child-baseline') {
    console.log(JSON.stringify({ maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
    return;
  }
  const startedMs = performance.now();
  const cpuBefore = process.cpuUsage();
  await convertCheckpoint({ checkpointDir: checkpointDir!, outDir: outDir!, dtype: dtype as ModelDtype });
  const seconds = (performance.now() - startedMs) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  console.log(JSON.stringify({ seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
}

function runChild(args: string[]): { seconds?: number; cpuSeconds?: number; maxRssBytes: number } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', self, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (result.status !== 0) throw new Error(`child ${args.join(' ')} failed with ${result.status}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!);
}

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

async function decodeProbe(packageDir: string, manifest: ModelManifest, steps: number, threads: number): Promise<{ msPerStep: number; tokensPerSecond: number }> {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(join(packageDir, manifest.files.model), { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const { numLayers, numKvHeads: kvH, headDim: d } = manifest.graph;
  const promptLength = 32;
  // Cache kept as [kvH, length, d] per layer; re-laid out per step (not timed).
  let keys = Array.from({ length: numLayers }, () => new Float32Array(0));
  let values = Array.from({ length: numLayers }, () => new Float32Array(0));
  let length = 0;
  let runMs = 0;
  let timedSteps = 0;
  let token = 5;
  for (let step = 0; step <= steps; step++) {
    const s = step === 0 ? promptLength : 1;
    const ids = BigInt64Array.from({ length: s }, (_, i) => BigInt(step === 0 ? (i * 37 + 5) % manifest.shape.vocabSize : token));
    const positions = BigInt64Array.from({ length: s }, (_, i) => BigInt(length + i));
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
      input_ids: new ort.Tensor('int64', ids, [1, s]),
      position_ids: new ort.Tensor('int64', positions, [1, s]),
      seqlens_k: new ort.Tensor('int32', Int32Array.of(length + s - 1), [1]),
      total_sequence_length: new ort.Tensor('int32', Int32Array.of(length + s), []),
      last_token_index: new ort.Tensor('int64', BigInt64Array.of(BigInt(s - 1)), [1]),
    };
    for (let i = 0; i < numLayers; i++) {
      feeds[`past_key.${i}`] = new ort.Tensor('float32', keys[i]!, [1, kvH, length, d]);
      feeds[`past_value.${i}`] = new ort.Tensor('float32', values[i]!, [1, kvH, length, d]);
    }
    const startedMs = performance.now();
    const out = await session.run(feeds);
    if (step > 0) {
      runMs += performance.now() - startedMs;
      timedSteps++;
    }
    const logits = out.logits!.data as Float32Array;
    token = logits.indexOf(Math.max(...logits));
    const grow = (old: Float32Array, fresh: Float32Array) => {
      const next = new Float32Array(kvH * (length + s) * d);
      for (let h = 0; h < kvH; h++) {
        next.set(old.subarray(h * length * d, (h + 1) * length * d), h * (length + s) * d);
        for (let t = 0; t < s; t++) next.set(fresh.subarray((t * kvH + h) * d, (t * kvH + h + 1) * d), (h * (length + s) + length + t) * d);
      }
      return next;
    };
    keys = keys.map((old, i) => grow(old, out[`new_key.${i}`]!.data as Float32Array));
    values = values.map((old, i) => grow(old, out[`new_value.${i}`]!.data as Float32Array));
    length += s;
  }
  await session.release();
  const msPerStep = runMs / timedSteps;
  return { msPerStep, tokensPerSecond: 1000 / msPerStep };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      shape: { type: 'string', default: 'smollm2-135m' },
      dtypes: { type: 'string', default: 'fp32,fp16,int4' },
      decode: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      threads: { type: 'string', default: '2' },
    },
  });
  const { ensureFixtureCheckpoint } = await import('../test/fixtures/packages.js');
  const { readFileSync } = await import('node:fs');
  const shape = values.shape as 'smollm2-135m' | 'tiny';
  console.log(`Generating (or reusing) the ${shape} fixture checkpoint (BF16)...`);
  const { checkpointDir } = await ensureFixtureCheckpoint({ shape, storage: 'BF16' });
  const checkpointBytes = dirBytes(checkpointDir);
  const workDir = mkdtempSync(join(tmpdir(), 'hearth-bench-convert-'));
  const baseline = runChild(['--child-baseline']);
  const rows: string[][] = [];
  try {
    for (const dtype of values.dtypes!.split(',') as ModelDtype[]) {
      const outDir = join(workDir, dtype);
      const result = runChild(['--child', dtype, checkpointDir, outDir]);
      const manifest = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8')) as ModelManifest;
      const row = [dtype, result.seconds!.toFixed(1), result.cpuSeconds!.toFixed(1), mb(result.maxRssBytes), (statSync(join(outDir, 'model.onnx')).size / 1024).toFixed(0), mb(manifest.weightsBytes), mb(dirBytes(outDir))];
      if (values.decode) {
        const probe = await decodeProbe(outDir, manifest, 64, Number(values.threads));
        row.push(probe.msPerStep.toFixed(2), probe.tokensPerSecond.toFixed(1));
      }
      rows.push(row);
      console.log(`  ${dtype}: done`);
    }
  } finally {
    if (!values.keep) rmSync(workDir, { recursive: true, force: true });
    else console.log(`Packages kept in ${workDir}`);
  }
  console.log(`\nCheckpoint: ${checkpointDir} (${mb(checkpointBytes)} MiB, BF16)`);
  console.log(`Baseline child (node + tsx + converter modules) peak RSS: ${mb(baseline.maxRssBytes)} MiB`);
  console.log(`Load average while running: ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')} (wall time is inflated when the machine is busy; cpu s is this process's user+system time)`);
  const header = ['dtype', 'wall s', 'cpu s', 'peak RSS MiB', 'model.onnx KiB', 'weights MiB', 'package MiB', ...(values.decode ? ['decode ms/step', 'decode tok/s'] : [])];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

const argv = process.argv.slice(2);
if (argv[0]?.startsWith('--child')) await child(argv);
else await main();
