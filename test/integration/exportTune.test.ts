// Auto-tune on the tiny fixture (real engine + server per candidate), then the promise of the
// export: a headless `hearth serve` started from the exported tuned.json serves with exactly the
// exported batching settings, read back from /info and /metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { pollUntil } from '../fixtures/poll.js';
import { autoTune, candidateKvCacheBytes, judgeLevel, type TuneResult } from '../../engine/tune/index.js';
import { writeBundle } from '../../engine/export/index.js';
import { parseServingConfig } from '../../engine/server/servingConfigFile.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
let packageDir: string;
let tuned: TuneResult;
let bytesPerToken: number;

// Small and quick: two candidates, one load level, a handful of short requests.
const bench = { concurrencyLevels: [4], promptTokens: 16, maxTokens: 8, requestsPerLevel: 8 };
const candidates = [
  { maxBatchSize: 1, maxBatchTotalTokens: 256, maxPrefillTokens: 32 },
  { maxBatchSize: 4, maxBatchTotalTokens: 512, maxPrefillTokens: 64 },
];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-tune-'));
  const fixture = await ensureFixturePackage({ shape: 'tiny' });
  packageDir = fixture.packageDir;
  const { numLayers, numKvHeads, headDim } = fixture.manifest.graph;
  bytesPerToken = 2 * numLayers * numKvHeads * headDim * (fixture.manifest.graph.kvDtype === 'float16' ? 2 : 4);
  tuned = await autoTune({ packageDir, objective: { ttftP95Ms: 60_000, itlP95Ms: 60_000 }, candidates, ...bench, base: { device: 'cpu', cpuThreads: 1 } });
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('auto-tune measures every candidate on the real engine and picks the fastest that meets the objective', () => {
  assert.equal(tuned.trials.length, 2);
  for (const [i, trial] of tuned.trials.entries()) {
    assert.equal(trial.error, null, `trial ${i}: ${trial.error}`);
    assert.ok(trial.run, 'each trial has its benchmark run');
    assert.equal(trial.run!.levels[0]!.errors, 0);
    assert.equal(trial.run!.levels[0]!.completionTokens, bench.requestsPerLevel * bench.maxTokens, 'ignore_eos: every request generates max_tokens');
    assert.equal(trial.run!.measuredPromptTokens, bench.promptTokens, 'the prompt was calibrated to the exact token count');
    // The engine ran with the candidate's settings, as its /info reported them.
    assert.equal(trial.effective!.maxBatchSize, candidates[i]!.maxBatchSize);
    assert.equal(trial.effective!.maxPrefillTokens, candidates[i]!.maxPrefillTokens);
    assert.deepEqual(trial.run!.server.batching, trial.effective);
    // The KV budget is the candidate's token budget, not a share of this machine's free memory.
    assert.equal(trial.effective!.kvCacheBytes, candidateKvCacheBytes(candidates[i]!, bytesPerToken));
  }
  assert.ok(tuned.best && tuned.config, tuned.summary);
  const bestLevel = tuned.best.bestLevel!;
  assert.ok(judgeLevel(bestLevel, tuned.objective).meets);
  for (const trial of tuned.trials) assert.ok(trial.bestLevel!.throughputTokensPerSec <= bestLevel.throughputTokensPerSec * 1.02 + 1e-9);
  // The written config is the winner's effective settings, and the server's schema accepts it.
  assert.deepEqual(tuned.config.batching, tuned.best.effective);
  parseServingConfig(JSON.parse(JSON.stringify(tuned.config)), 'tuned.json');
  assert.equal(tuned.config.tuning!.throughputTokensPerSec, bestLevel.throughputTokensPerSec);
  assert.deepEqual(tuned.config.tuning!.objective, tuned.objective);
});

test('an objective no candidate can meet writes no config and says which came closest', async () => {
  const impossible = await autoTune({ packageDir, objective: { ttftP95Ms: 0.001 }, candidates: [candidates[0]!], ...bench, requestsPerLevel: 4, base: { device: 'cpu', cpuThreads: 1 } });
  assert.equal(impossible.config, null);
  assert.match(impossible.summary, /no candidate met p95 TTFT ≤ 0\.001 ms; closest: .*ttft p95/);
});

test('a headless server started from the exported tuned.json serves with exactly the exported settings', { timeout: 180_000 }, async (t) => {
  assert.ok(tuned.config);
  const bundle = writeBundle({ config: tuned.config, outDir: join(dir, 'bundle'), target: 'cpu', bakeModel: true });
  const exported = JSON.parse(readFileSync(join(bundle.outDir, 'config/tuned.json'), 'utf8'));
  assert.deepEqual(exported.batching, tuned.config.batching);

  // The container's command, with the bundle's model dir and a loopback port instead of 0.0.0.0:8080.
  const child = spawn(process.execPath, [join(repoRoot, 'bin/hearth.mjs'), 'serve', join(bundle.outDir, 'model'), '--config', join(bundle.outDir, 'config/tuned.json'), '--host', '127.0.0.1', '--port', '0', '--device', 'cpu'], {
    env: { ...process.env, HEARTH_HOME: join(dir, 'home') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`hearth serve exited with ${code}:\n${output}`)));
  });
  await pollUntil(`hearth serve healthy (output so far:\n${output})`, async () => (await fetch(`${url}/health`)).status, (status) => status === 200, { timeoutMs: 90_000 });
  const info = (await (await fetch(`${url}/info`)).json()) as { hearth: { batching: Record<string, number> }; max_batch_size: number; max_batch_total_tokens: number; max_batch_prefill_tokens: number };
  const served = Object.fromEntries(Object.keys(exported.batching).map((key) => [key, info.hearth.batching[key]]));
  assert.deepEqual(served, exported.batching, 'every batching setting is served exactly as exported');
  assert.equal(info.max_batch_size, exported.batching.maxBatchSize);
  assert.equal(info.max_batch_total_tokens, exported.batching.maxBatchTotalTokens);
  assert.equal(info.max_batch_prefill_tokens, exported.batching.maxPrefillTokens);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, new RegExp(`^hearth_kv_cache_bytes ${exported.batching.kvCacheBytes}$`, 'm'));
  assert.match(metrics, /^hearth_queue_size 0$/m, 'the HPA metric is served');

  // The exported config turns on Vertex AI's contract, as vertex-ai.sh's routes expect.
  const predict = await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [{ prompt: 'hello', max_tokens: 2 }, { messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }] }) });
  assert.equal(predict.status, 200);
  const predictions = ((await predict.json()) as { predictions: unknown[] }).predictions;
  assert.equal(predictions.length, 2);

  const exitCode = new Promise<number | null>((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  assert.equal(await exitCode, 0, 'graceful shutdown');
});
