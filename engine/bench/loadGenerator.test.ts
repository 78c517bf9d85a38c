// The load generator against a scripted OpenAI-style SSE server (the shape vLLM, TGI and
// `hearth serve` share), to check what the generator itself controls: how many requests are in
// flight per mode, the usage-based token count, prompt calibration, and the ignore_eos fallback.
// The real engine is benchmarked in test/integration/export*.test.ts and by the bench script.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runLevel } from './loadGenerator.js';
import { probePrompt } from './serverProbe.js';

interface Scripted {
  url: string;
  server: Server;
  maxInFlight: number;
  bodies: Record<string, unknown>[];
}

async function scriptedServer(options: { refuseIgnoreEos?: boolean; templateTokens?: number } = {}): Promise<Scripted> {
  const state: Scripted = { url: '', server: undefined as unknown as Server, maxInFlight: 0, bodies: [] };
  let inFlight = 0;
  state.server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', async () => {
      const body = JSON.parse(raw) as { prompt: string; max_tokens: number; stream?: boolean; ignore_eos?: boolean };
      state.bodies.push(body);
      if (options.refuseIgnoreEos && body.ignore_eos !== undefined) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: "unknown field 'ignore_eos'", type: 'invalid_request_error', param: 'ignore_eos', code: null } }));
        return;
      }
      const promptTokens = body.prompt.split(' ').length + (options.templateTokens ?? 0);
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ text: 'x', finish_reason: 'length' }], usage: { prompt_tokens: promptTokens, completion_tokens: 1 } }));
        return;
      }
      inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, inFlight);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < body.max_tokens; i++) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        res.write(`data: ${JSON.stringify({ choices: [{ index: 0, text: ` t${i}`, finish_reason: null }] })}\n\n`);
      }
      res.write(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: body.max_tokens } })}\n\n`);
      res.end('data: [DONE]\n\n');
      inFlight--;
    });
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

const base = { endpoint: 'completions' as const, model: 'm', prompt: 'a b c', maxTokens: 5, ignoreEos: true, timeoutMs: 10_000 };

test('batched mode keeps every client in flight; sequential mode never more than one', async () => {
  const scripted = await scriptedServer();
  try {
    const batched = await runLevel({ ...base, baseUrl: scripted.url, mode: 'batched', concurrency: 4, numRequests: 8 });
    assert.equal(scripted.maxInFlight, 4);
    assert.equal(batched.requests, 8);
    assert.equal(batched.errors, 0);
    assert.equal(batched.completionTokens, 40, 'tokens come from usage');
    assert.equal(batched.itlMs.count, 8 * 4);
    assert.ok(batched.ttftMs.p50! <= batched.e2eMs.p50!);

    scripted.maxInFlight = 0;
    const sequential = await runLevel({ ...base, baseUrl: scripted.url, mode: 'sequential', concurrency: 4, numRequests: 8 });
    assert.equal(scripted.maxInFlight, 1);
    assert.equal(sequential.requests, 8);
    assert.equal(sequential.errors, 0);
    // Waiting in the client's own line counts: the slowest client waited for three others.
    assert.ok(sequential.e2eMs.maxMs! > sequential.e2eMs.minMs!);
  } finally {
    scripted.server.close();
  }
});

test('an unreachable server is an error per request with a hint, not a crash', async () => {
  const scripted = await scriptedServer();
  const url = scripted.url;
  await new Promise((resolve) => scripted.server.close(resolve));
  const level = await runLevel({ ...base, baseUrl: url, mode: 'batched', concurrency: 2, numRequests: 2 });
  assert.equal(level.errors, 2);
  assert.match(level.errorSamples[0]!, /hearth serve/);
});

test('the prompt is calibrated to the server-counted token length, and a refused ignore_eos is dropped with a note', async () => {
  const scripted = await scriptedServer({ refuseIgnoreEos: true, templateTokens: 3 });
  try {
    const probe = await probePrompt({ baseUrl: scripted.url, timeoutMs: 10_000, endpoint: 'completions', model: 'm', promptTokens: 20, ignoreEos: true });
    assert.equal(probe.promptTokens, 20);
    assert.equal(probe.prompt.split(' ').length, 17);
    assert.equal(probe.ignoreEosHonoured, false);
    assert.match(probe.notes.join(' '), /ignore_eos/);
  } finally {
    scripted.server.close();
  }
});
