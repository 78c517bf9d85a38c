// `npm run gpu:check`: one short run that says what this machine's GPU does for Hearth.
// Prints the WebGPU adapter, then for the SmolLM2-135M-shaped int4 and fp16 packages on webgpu
// (KV cache on the device, and once in host memory for comparison), cuda (when its provider is
// installed) and cpu: decode tok/s at 1 and 16 streams, prefill tok/s of a 512-token prompt, and
// host↔device bytes per decode step at short (~40) and long (~430 tokens) context.
// Every measurement has a time cap, so a slow (software) adapter still finishes in minutes; a
// capped figure says so. Target: under 8 minutes on a machine with a real GPU.
//
//   npm run gpu:check [-- --dtypes int4,fp16] [--devices webgpu,cuda,cpu] [--cap-s 20] [--prefill-tokens 512]
// On a software adapter (llvmpipe) a full run takes far longer than 8 minutes: use e.g.
// `--dtypes int4 --cap-s 10 --prefill-tokens 96` there to see the shape of the output.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import type { GenerationRequest } from '../engine/common/engineApi.js';
import type { ModelDtype } from '../engine/common/manifest.js';
import type { DeviceChoice } from '../engine/common/servingConfig.js';
import { loadEngine, type LoadedEngine } from '../engine/runtime/index.js';
import { describeAdapter, probeWebGpuAdapter } from '../engine/runtime/gpuAdapter.js';
import { ensureFixturePackage } from '../test/fixtures/packages.js';

const { values } = parseArgs({
  options: {
    dtypes: { type: 'string', default: 'int4,fp16' },
    devices: { type: 'string', default: 'webgpu,cuda,cpu' },
    'cap-s': { type: 'string', default: '20' },
    'prefill-tokens': { type: 'string', default: '512' },
  },
});
process.env.XDG_RUNTIME_DIR ??= '/tmp';
const capMs = Number(values['cap-s']) * 1000;
const prefillTokens = Number(values['prefill-tokens']);
const started = performance.now();
const ort = (await import('onnxruntime-node')) as unknown as { listSupportedBackends?: () => Array<{ name: string }> };
const backends = new Set((ort.listSupportedBackends?.() ?? []).map((backend) => backend.name));

console.log(`gpu:check on ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.availableParallelism()} threads), onnxruntime-node providers: ${[...backends].join(', ')}`);
const probe = await probeWebGpuAdapter();
console.log(probe.adapter ? `WebGPU adapter: ${describeAdapter(probe.adapter)}` : `WebGPU adapter: none (${probe.why})`);

let nextId = 0;
function request(promptTokenIds: number[], maxNewTokens: number): GenerationRequest {
  return {
    requestId: `gpu-check-${++nextId}`, promptTokenIds, maxNewTokens, stopStrings: [], stopTokenIds: [], ignoreEos: true, arrivalTimeMs: Date.now(),
    sampling: { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1 },
  };
}
const prompt = (length: number, salt: number, vocabSize: number) => Array.from({ length }, (_, j) => (17 + salt * 131 + j * 7) % vocabSize);

/** Streams `streams` requests of `newTokens` each, cancelling what is left at the cap; decode tok/s after each stream's first token. */
async function decode(engine: LoadedEngine, streams: number, promptLength: number, newTokens: number, vocabSize: number) {
  const deadline = performance.now() + capMs;
  const handles = Array.from({ length: streams }, (_, i) => engine.submit(request(prompt(promptLength, i, vocabSize), newTokens)));
  let capped = false;
  const perStream = await Promise.all(handles.map(async (handle) => {
    let first = 0;
    let count = 0;
    let last = 0;
    for await (const event of handle) {
      if (event.type !== 'token') break;
      count++;
      last = performance.now();
      if (count === 1) first = last;
      if (last > deadline) {
        capped = true;
        handle.cancel();
      }
    }
    return { tokens: count - 1, ms: last - first, first, last };
  }));
  const begin = Math.min(...perStream.map((s) => s.first));
  const end = Math.max(...perStream.map((s) => s.last));
  const tokens = perStream.reduce((sum, s) => sum + s.tokens, 0);
  return { tokPerSec: tokens / ((end - begin) / 1000), capped };
}

async function prefill(engine: LoadedEngine, promptLength: number, vocabSize: number) {
  const begin = performance.now();
  for await (const event of engine.submit(request(prompt(promptLength, 99, vocabSize), 1))) if (event.type === 'done') break;
  return promptLength / ((performance.now() - begin) / 1000);
}

async function bytesPerStep(engine: LoadedEngine, promptLength: number, vocabSize: number) {
  const handle = engine.submit(request(prompt(promptLength, 7, vocabSize), 12));
  let seen = 0;
  let from = { bytes: 0, steps: 0 };
  let to = { bytes: 0, steps: 0 };
  const read = () => {
    const a = engine.snapshot().accelerator!;
    return { bytes: a.toDeviceBytes + a.toHostBytes, steps: a.steps };
  };
  for await (const event of handle) {
    if (event.type !== 'token') continue;
    seen++;
    if (seen === 2) from = read();
    if (seen === 12) to = read();
  }
  return to.steps > from.steps ? (to.bytes - from.bytes) / (to.steps - from.steps) : NaN;
}

const rows: string[] = [];
const fmt = (value: number, capped = false) => `${Number.isFinite(value) ? value.toFixed(1) : '—'}${capped ? '*' : ''}`;
for (const dtype of values.dtypes!.split(',') as ModelDtype[]) {
  const { packageDir, manifest } = await ensureFixturePackage({ arch: 'llama', shape: 'smollm2-135m', dtype });
  const vocabSize = manifest.shape.vocabSize;
  const targets: Array<{ device: DeviceChoice; deviceKvCache: boolean; label: string }> = [];
  for (const device of values.devices!.split(',') as DeviceChoice[]) {
    if (device === 'webgpu') {
      if (!probe.adapter) continue;
      targets.push({ device, deviceKvCache: true, label: 'webgpu (KV on device)' }, { device, deviceKvCache: false, label: 'webgpu (KV in host memory)' });
    } else if (device === 'cuda') {
      if (backends.has('cuda')) targets.push({ device, deviceKvCache: true, label: 'cuda' });
      else rows.push(`${dtype.padEnd(5)} cuda: skipped (this onnxruntime-node build has no CUDA provider)`);
    } else targets.push({ device, deviceKvCache: true, label: device });
  }
  for (const target of targets) {
    const loadStarted = performance.now();
    let engine: LoadedEngine;
    try {
      engine = await loadEngine({ packageDir, device: target.device, deviceKvCache: target.deviceKvCache, batching: { maxBatchSize: 16 } });
    } catch (error) {
      rows.push(`${dtype.padEnd(5)} ${target.label}: failed to load (${(error as Error).message.split('\n')[0]})`);
      continue;
    }
    try {
      const provider = engine.snapshot().accelerator?.executionProvider ?? '?';
      if (target.device !== 'cpu' && provider !== target.device) {
        // e.g. CUDA listed by the build but its libraries not installed (npm run gpu:cuda).
        rows.push(`${dtype.padEnd(5)} ${target.label}: skipped, fell back to ${provider} (${engine.snapshot().accelerator?.notes.join(' ') ?? ''})`);
        console.log(rows.at(-1));
        continue;
      }
      const loadMs = performance.now() - loadStarted;
      const progress = (what: string) => console.log(`  ${dtype} ${target.label}: ${what} (${((performance.now() - loadStarted) / 1000).toFixed(0)} s)`);
      progress(`loaded on ${provider}`);
      const one = await decode(engine, 1, 32, 128, vocabSize);
      progress(`decode, 1 stream: ${fmt(one.tokPerSec, one.capped)} tok/s`);
      const sixteen = await decode(engine, 16, 32, 64, vocabSize);
      progress(`decode, 16 streams: ${fmt(sixteen.tokPerSec, sixteen.capped)} tok/s`);
      const prefillTokPerSec = await prefill(engine, prefillTokens, vocabSize);
      progress(`prefill ${prefillTokens}: ${fmt(prefillTokPerSec)} tok/s`);
      const short = await bytesPerStep(engine, 40, vocabSize);
      const long = await bytesPerStep(engine, 430, vocabSize);
      rows.push(
        `${dtype.padEnd(5)} ${target.label.padEnd(27)} on ${provider.padEnd(6)} load ${(loadMs / 1000).toFixed(1)} s | decode 1 stream ${fmt(one.tokPerSec, one.capped)} tok/s | 16 streams ${fmt(sixteen.tokPerSec, sixteen.capped)} tok/s | ` +
          `prefill ${prefillTokens} ${fmt(prefillTokPerSec)} tok/s | bytes/decode step ${fmt(short)} at ~40 tokens, ${fmt(long)} at ~430 | ${((performance.now() - loadStarted) / 1000).toFixed(0)} s`,
      );
      console.log(rows.at(-1));
    } finally {
      await engine.shutdown(0);
    }
  }
}
console.log('\n== gpu:check summary (* = stopped at the time cap)');
for (const row of rows) console.log(row);
console.log(`gpu:check done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
process.exit(0);
