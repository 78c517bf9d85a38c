// Metrics that say why: hearth_num_preemptions_total counts the engine's preemptions (a KV cache
// too small for the batch), hearth_requests_rejected_total{reason} counts refusals by their reason
// (the admission limit for 429s, the error code otherwise), on the real engine over real HTTP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StepStats } from '../../engine/runtime/index.js';
import { loadEngine, type LoadedEngine } from '../../engine/runtime/index.js';
import { createServer, type HearthServer } from '../../engine/server/index.js';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { postJson, readSse, waitFor } from './serverHarness.js';

const engines: LoadedEngine[] = [];
const servers: HearthServer[] = [];
let packageDir: string;
let vocabSize: number;

before(async () => {
  const fixture = await ensureFixturePackage({ arch: 'llama', dtype: 'fp32' });
  packageDir = fixture.packageDir;
  vocabSize = fixture.manifest.shape.vocabSize;
});
after(async () => {
  for (const server of servers) await server.close(1000);
  for (const engine of engines) await engine.shutdown(1000);
});

async function serve(batching: Parameters<typeof loadEngine>[0]['batching']): Promise<{ engine: LoadedEngine; server: HearthServer }> {
  const engine = await loadEngine({ packageDir, device: 'cpu', batching, log: () => {} });
  engines.push(engine);
  const server = await createServer({ engine, port: 0, warmUp: false, log: () => {} });
  servers.push(server);
  await server.ready;
  return { engine, server };
}

async function metric(server: HearthServer, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const match = pattern.exec(text);
  return match ? Number(match[1]) : 0;
}

test('hearth_num_preemptions_total counts every preemption the engine reports', async () => {
  // A cache of 4 rows × 64 tokens for 8 concurrent 60-token generations: the newest are preempted.
  const { engine, server } = await serve({ maxPrefillTokens: 8, kvCacheBytes: 256 * 512 });
  let numPreempted = 0;
  engine.onStep((stats: StepStats) => (numPreempted += stats.numPreempted));
  const prompts = Array.from({ length: 8 }, (_, i) => Array.from({ length: 1 + ((i * 13) % 40) }, (_, j) => (3 + i * 31 + j * 7) % vocabSize));
  const answers = await Promise.all(
    prompts.map((prompt) => postJson(`${server.url}/v1/completions`, { prompt, max_tokens: 60, ignore_eos: true, temperature: 0 })),
  );
  assert.deepEqual(answers.map((answer) => answer.status), Array(8).fill(200));
  assert.ok(numPreempted > 0, 'the tight cache preempted someone');
  assert.equal(await metric(server, /^hearth_num_preemptions_total (\d+)/m), numPreempted);
});

test('hearth_requests_rejected_total{reason} counts refusals by reason; existing metrics are unchanged', async () => {
  const { engine, server } = await serve({ maxConcurrentRequests: 1 });
  const rejected = (reason: string) => metric(server, new RegExp(`^hearth_requests_rejected_total\\{reason="${reason}"\\} (\\d+)`, 'm'));
  const controller = new AbortController();
  const running = await fetch(`${server.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'hold the only slot', stream: true, ignore_eos: true }),
    signal: controller.signal,
  });
  assert.equal(running.status, 200);
  try {
    for (let i = 0; i < 3; i++) assert.equal((await postJson(`${server.url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] })).status, 429);
  } finally {
    controller.abort();
  }
  await readSse(running).catch(() => []);
  assert.ok(await waitFor(() => engine.snapshot().runningSize === 0));
  const textPlain = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
  assert.equal(textPlain.status, 415);
  assert.equal((await fetch(`${server.url}/v1/models`, { headers: { origin: 'https://evil.example' } })).status, 403);
  assert.equal((await fetch(`${server.url}/v1/nothing`)).status, 404);
  assert.equal((await postJson(`${server.url}/v1/completions`, { prompt: 'x', max_tokens: 1 << 20 })).status, 400);

  assert.equal(await rejected('max_concurrent_requests'), 3);
  assert.equal(await rejected('max_queued_tokens'), 0);
  assert.equal(await rejected('unsupported_media_type'), 1);
  assert.equal(await rejected('origin_not_allowed'), 1);
  assert.equal(await rejected('route_not_found'), 1);
  assert.equal(await metric(server, /^hearth_requests_total\{endpoint="\/v1\/chat\/completions",status="429",finish_reason="none"\} (\d+)/m), 3);
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const reasons = [...text.matchAll(/^hearth_requests_rejected_total\{reason="([^"]+)"\} (\d+)/gm)].map((match) => match[1]);
  assert.equal(reasons.length, 5, `one 400 reason besides the four above: ${reasons.join(', ')}`);
});
