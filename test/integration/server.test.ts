// The real server on the real engine (tiny generated fixture), driven over raw HTTP: error
// statuses, greedy parity with the reference forward, batched == sequential, seeds, stop strings
// split across tokens, UTF-8 streaming, disconnect cancellation, TGI routes, log rows, metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelTokenizer } from '../../engine/runtime/index.js';
import { createServer } from '../../engine/server/index.js';
import { referenceGreedy } from '../fixtures/referenceModel.js';
import { postJson, readSse, startHarness, waitFor, type Harness } from './serverHarness.js';

let h: Harness;
let tokenizer: ModelTokenizer;

before(async () => {
  h = await startHarness({ server: { maxBodyBytes: 64 * 1024 } });
  tokenizer = ModelTokenizer.fromPackage(h.packageDir, h.manifest.tokenizer);
});
after(async () => {
  await h?.stop();
});

const chat = (body: Record<string, unknown>) => postJson(`${h.url}/v1/chat/completions`, { model: h.model, ...body });
const complete = (body: Record<string, unknown>) => postJson(`${h.url}/v1/completions`, { model: h.model, ...body });
const user = (content: string) => [{ role: 'user', content }];

async function streamText(path: string, body: Record<string, unknown>): Promise<{ text: string; events: any[] }> {
  const response = await fetch(`${h.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: h.model, ...body, stream: true }),
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
  const events = await readSse(response);
  const text = events
    .flatMap((event) => event.choices ?? [])
    .map((choice: any) => choice.delta?.content ?? choice.text ?? '')
    .join('');
  return { text, events };
}

describe('errors', () => {
  test('400 names the invalid field and says why', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ messages: [] }, 'messages', /at least one message/],
      [{ messages: user('hi'), temperature: 3 }, 'temperature', /between 0 and 2/],
      [{ messages: user('hi'), top_p: 0 }, 'top_p', /greater than 0/],
      [{ messages: user('hi'), max_tokens: 0 }, 'max_tokens', /at least 1/],
      [{ messages: user('hi'), max_tokens: 1.5 }, 'max_tokens', /integer/],
      [{ messages: user('hi'), n: 99 }, 'n', /between 1 and 16/],
      [{ messages: [{ role: 'wizard', content: 'hi' }] }, 'messages[0].role', /must be one of/],
      [{ messages: user('hi'), stop: 5 }, 'stop', /string or an array of strings/],
      [{ messages: user('hi'), top_logprobs: 2 }, 'top_logprobs', /logprobs/],
      [{ messages: user('hi'), presence_penalty: -3 }, 'presence_penalty', /between -2 and 2/],
    ];
    for (const [body, param, why] of cases) {
      const { status, json } = await chat(body);
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(json.error.type, 'invalid_request_error');
      assert.equal(json.error.param, param, JSON.stringify(json));
      assert.match(json.error.message, why);
      assert.ok(json.error.message.includes(param), `message names the field: ${json.error.message}`);
      assert.ok('code' in json.error);
    }
    const { status, json } = await postJson(`${h.url}/v1/completions`, { model: h.model });
    assert.equal(status, 400);
    assert.equal(json.error.param, 'prompt');
    assert.match(json.error.message, /required/);
  });

  test('400 for a body that is not JSON', async () => {
    const response = await fetch(`${h.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": ' });
    assert.equal(response.status, 400);
    const json = (await response.json()) as any;
    assert.match(json.error.message, /not valid JSON/);
  });

  test('prompt + max_tokens beyond the context → 400 with the numbers', async () => {
    const { maxTotalTokens } = h.engine.config;
    const { status, json } = await complete({ prompt: [5, 6, 7, 8], max_tokens: maxTotalTokens });
    assert.equal(status, 400);
    assert.equal(json.error.param, 'max_tokens');
    assert.equal(json.error.code, 'context_length_exceeded');
    assert.ok(json.error.message.includes(String(maxTotalTokens)), json.error.message);
    assert.ok(json.error.message.includes(String(maxTotalTokens + 4)), json.error.message);
    assert.ok(json.error.message.includes('4 in the prompt'), json.error.message);
    const long = await complete({ prompt: Array.from({ length: maxTotalTokens + 10 }, () => 7), max_tokens: 1 });
    assert.equal(long.status, 400);
    assert.ok(long.json.error.message.includes(String(maxTotalTokens + 10)), long.json.error.message);
  });

  test('404 for an unknown model and an unknown route', async () => {
    const { status, json } = await chat({ model: 'gpt-4o', messages: user('hi') });
    assert.equal(status, 404);
    assert.equal(json.error.code, 'model_not_found');
    assert.match(json.error.message, /gpt-4o/);
    assert.ok(json.error.message.includes(h.model));
    const models = await fetch(`${h.url}/v1/models/gpt-4o`);
    assert.equal(models.status, 404);
    const route = await fetch(`${h.url}/v1/embeddings`, { method: 'POST', body: '{}' });
    assert.equal(route.status, 404);
    assert.equal(((await route.json()) as any).error.code, 'route_not_found');
  });

  test('413 for a body over the limit', async () => {
    const { status, json } = await chat({ messages: user('x'.repeat(100 * 1024)) });
    assert.equal(status, 413);
    assert.equal(json.error.code, 'request_too_large');
    assert.match(json.error.message, /65536 bytes/);
  });
});

describe('models', () => {
  test('GET /v1/models lists the served model', async () => {
    const json = (await (await fetch(`${h.url}/v1/models`)).json()) as any;
    assert.equal(json.object, 'list');
    assert.deepEqual(json.data.map((m: any) => m.id), [h.model]);
    assert.equal(json.data[0].max_model_len, h.engine.config.maxTotalTokens);
    const one = await fetch(`${h.url}/v1/models/${h.model}`);
    assert.equal(one.status, 200);
  });
});

describe('generation', () => {
  test('greedy output through the API equals the reference forward', async () => {
    const promptIds = [3 + 72, 3 + 101, 3 + 108, 3 + 108, 3 + 111, 300, 420];
    const numNew = 20;
    const expected = referenceGreedy(h.checkpointDir, promptIds, numNew);
    const { status, json } = await complete({ prompt: promptIds, max_tokens: numNew, temperature: 0, ignore_eos: true, return_token_ids: true });
    assert.equal(status, 200);
    assert.deepEqual(json.choices[0].token_ids, expected);
    assert.equal(json.choices[0].finish_reason, 'length');
    assert.deepEqual(json.usage, { prompt_tokens: promptIds.length, completion_tokens: numNew, total_tokens: promptIds.length + numNew, prompt_tokens_details: { cached_tokens: 0 } });
    assert.equal(json.choices[0].text, tokenizer.decode(expected));
    // The same through the chat route: the package's chat template, then the same forward.
    const messages = user('Hello there');
    const chatIds = tokenizer.encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }), { addSpecialTokens: false });
    const chatExpected = referenceGreedy(h.checkpointDir, chatIds, 12);
    const viaChat = await chat({ messages, max_tokens: 12, temperature: 0, ignore_eos: true, return_token_ids: true });
    assert.deepEqual(viaChat.json.choices[0].prompt_token_ids, chatIds);
    assert.deepEqual(viaChat.json.choices[0].token_ids, chatExpected);
  });

  test('concurrent (batched) outputs equal sequential ones', async () => {
    const prompts = ['The quick brown fox', 'Once upon a time', 'a', 'Lorem ipsum dolor sit amet, consectetur', 'ç☃ unicode'];
    const request = (prompt: string) => complete({ prompt, max_tokens: 24, temperature: 0, ignore_eos: true, return_token_ids: true });
    const sequential: number[][] = [];
    for (const prompt of prompts) sequential.push((await request(prompt)).json.choices[0].token_ids);
    const concurrent = await Promise.all(prompts.map(request));
    assert.deepEqual(concurrent.map((r) => r.json.choices[0].token_ids), sequential);
    // Streams under concurrency too.
    const streamed = await Promise.all(prompts.map((prompt) => streamText('/v1/completions', { prompt, max_tokens: 24, temperature: 0, ignore_eos: true })));
    assert.deepEqual(streamed.map((s) => s.text), sequential.map((ids) => tokenizer.decode(ids)));
  });

  test('the same seed gives the same sampled output; another seed differs', async () => {
    const body = { messages: user('Tell me a story'), max_tokens: 24, temperature: 1, ignore_eos: true, return_token_ids: true };
    const [a, b, noise] = await Promise.all([chat({ ...body, seed: 1234 }), chat({ ...body, seed: 1234 }), chat({ ...body, seed: 99 })]);
    assert.deepEqual(a.json.choices[0].token_ids, b.json.choices[0].token_ids);
    const alone = await chat({ ...body, seed: 1234 });
    assert.deepEqual(alone.json.choices[0].token_ids, a.json.choices[0].token_ids, 'batched and alone agree');
    const others = await Promise.all([99, 7, 8].map((seed) => chat({ ...body, seed })));
    assert.deepEqual(others[0]!.json.choices[0].token_ids, noise.json.choices[0].token_ids);
    assert.ok(others.some((o) => JSON.stringify(o.json.choices[0].token_ids) !== JSON.stringify(a.json.choices[0].token_ids)));
    const streamed = await streamText('/v1/chat/completions', { ...body, seed: 1234 });
    assert.equal(streamed.text, a.json.choices[0].message.content);
  });

  test('stop strings split across tokens are cut and never leaked (stream and non-stream)', async () => {
    let found: { stop: string; expected: string; prompt: string } | null = null;
    for (const prompt of ['The quick brown fox', 'Once upon a time', 'Hello world', 'abc', 'zzz']) {
      const { json } = await complete({ prompt, max_tokens: 40, temperature: 0, ignore_eos: true, return_token_ids: true });
      const ids: number[] = json.choices[0].token_ids;
      const text: string = json.choices[0].text;
      for (let i = 1; i + 1 < ids.length && !found; i++) {
        const left = tokenizer.tokenBytes(ids[i]!);
        const right = tokenizer.tokenBytes(ids[i + 1]!);
        const printable = (byte: number | undefined) => byte !== undefined && byte >= 0x21 && byte <= 0x7e;
        if (!printable(left.at(-1)) || !printable(right[0])) continue;
        const prefix = tokenizer.decode(ids.slice(0, i + 1));
        if (!text.startsWith(prefix)) continue;
        const stop = String.fromCharCode(left.at(-1)!, right[0]!);
        if (text.indexOf(stop) !== prefix.length - 1) continue; // the first occurrence must be the split one
        found = { stop, expected: prefix.slice(0, -1), prompt };
      }
      if (found) break;
    }
    assert.ok(found, 'the fixture produced a printable token boundary to split a stop string across');
    const { stop, expected, prompt } = found;
    const body = { prompt, max_tokens: 40, temperature: 0, ignore_eos: true, stop: ['never-appears', stop] };
    const { json } = await complete(body);
    assert.equal(json.choices[0].text, expected);
    assert.equal(json.choices[0].finish_reason, 'stop');
    assert.ok(!json.choices[0].text.includes(stop));
    const streamed = await streamText('/v1/completions', body);
    assert.equal(streamed.text, expected);
    assert.ok(!streamed.text.includes(stop));
    const finish = streamed.events.flatMap((e) => e.choices).find((c: any) => c.finish_reason)?.finish_reason;
    assert.equal(finish, 'stop');
    // Through chat with a single-string stop as well.
    const chatBody = { messages: user('x'), max_tokens: 30, temperature: 0, ignore_eos: true };
    const plain = (await chat(chatBody)).json.choices[0].message.content as string;
    if (plain.length >= 4) {
      const chatStop = plain.slice(2, 4);
      const cut = await chat({ ...chatBody, stop: chatStop });
      assert.equal(cut.json.choices[0].message.content, plain.slice(0, plain.indexOf(chatStop)));
    }
  });

  test('UTF-8 streaming: deltas concatenate to the full text, with no U+FFFD the full decode lacks', async () => {
    const multiByteSplit = (ids: number[]) => {
      const bytes = ids.map((id) => tokenizer.tokenBytes(id));
      for (let t = 0; t < bytes.length; t++) {
        const token = bytes[t]!;
        for (let b = 0; b < token.length; b++) {
          const lead = token[b]!;
          const width = lead >= 0xf0 && lead <= 0xf4 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 && lead <= 0xdf ? 2 : 0;
          if (width === 0 || token.length - b >= width) continue;
          const flat = bytes.slice(t).flat().slice(b, b + width);
          if (flat.length < width) continue;
          try {
            const char = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(flat));
            return char;
          } catch {
            // not a valid character
          }
        }
      }
      return null;
    };
    let checked = false;
    for (let seed = 0; seed < 40 && !checked; seed++) {
      const body = { messages: user('ünïcödé ☃'), max_tokens: 48, temperature: 2, seed, ignore_eos: true, return_token_ids: true };
      const { json } = await chat(body);
      const ids: number[] = json.choices[0].token_ids;
      const split = multiByteSplit(ids);
      if (split === null) continue;
      const full = tokenizer.decode(ids);
      const text: string = json.choices[0].message.content;
      assert.equal(text, full, 'non-stream text is the full decode');
      const streamed = await streamText('/v1/chat/completions', body);
      assert.equal(streamed.text, full, 'concatenated deltas are the full decode');
      const count = (s: string) => [...s].filter((c) => c === '\uFFFD').length;
      assert.equal(count(streamed.text), count(full));
      assert.ok(streamed.text.includes(split), `the split character ${JSON.stringify(split)} came through whole`);
      for (const event of streamed.events) {
        const delta: string = event.choices[0]?.delta?.content ?? '';
        assert.doesNotThrow(() => new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(delta, 'utf8')));
      }
      checked = true;
    }
    assert.ok(checked, 'some seed produced a multi-byte character split across tokens');
  });

  test('chat: n, logprobs + top_logprobs, max_completion_tokens, usage in the stream', async () => {
    const { json } = await chat({ messages: user('hi'), n: 2, max_completion_tokens: 5, logprobs: true, top_logprobs: 3, temperature: 0, ignore_eos: true });
    assert.equal(json.object, 'chat.completion');
    assert.equal(json.choices.length, 2);
    for (const [index, choice] of json.choices.entries()) {
      assert.equal(choice.index, index);
      assert.equal(choice.finish_reason, 'length');
      assert.equal(choice.message.role, 'assistant');
      assert.equal(choice.logprobs.content.length, 5);
      for (const entry of choice.logprobs.content) {
        assert.equal(typeof entry.token, 'string');
        assert.ok(entry.logprob <= 0);
        assert.ok(Array.isArray(entry.bytes));
        assert.equal(entry.top_logprobs.length, 3);
        assert.ok(entry.top_logprobs[0].logprob >= entry.top_logprobs[2].logprob);
        // Greedy: the chosen token is the most likely one.
        assert.ok(Math.abs(entry.top_logprobs[0].logprob - entry.logprob) < 1e-6);
      }
    }
    assert.equal(json.usage.completion_tokens, 10);
    const streamed = await streamText('/v1/chat/completions', {
      messages: user('hi'), max_tokens: 6, temperature: 0, ignore_eos: true, stream_options: { include_usage: true },
    });
    const last = streamed.events.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.completion_tokens, 6);
    assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + 6);
    assert.equal(streamed.events[0].choices[0].delta.role, 'assistant');
    assert.ok(streamed.events.slice(0, -1).every((e) => e.usage === null));
    assert.equal(streamed.events.at(-2).choices[0].finish_reason, 'length');
  });

  test('completions: array prompt, echo, logprobs', async () => {
    const { status, json } = await complete({ prompt: ['one', 'two'], max_tokens: 3, temperature: 0, ignore_eos: true, logprobs: 2, echo: true });
    assert.equal(status, 200);
    assert.equal(json.object, 'text_completion');
    assert.equal(json.choices.length, 2);
    assert.ok(json.choices[0].text.startsWith('one'));
    assert.ok(json.choices[1].text.startsWith('two'));
    assert.equal(json.choices[0].logprobs.tokens.length, 3);
    assert.equal(Object.keys(json.choices[0].logprobs.top_logprobs[0]).length <= 2, true);
    assert.equal(json.usage.completion_tokens, 6);
  });

  test('TGI /generate, /generate_stream and /info', async () => {
    const { status, json } = await postJson(`${h.url}/generate`, { inputs: 'Hello', parameters: { max_new_tokens: 6, details: true } });
    assert.equal(status, 200);
    assert.equal(json.details.generated_tokens, json.details.tokens.length);
    assert.equal(json.generated_text, json.details.tokens.map((t: any) => t.text).join(''));
    const stream = await fetch(`${h.url}/generate_stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: 'Hello', parameters: { max_new_tokens: 6 } }) });
    const events = await readSse(stream);
    assert.equal(events.at(-1).generated_text, json.generated_text, 'greedy stream == greedy non-stream');
    assert.ok(events.slice(0, -1).every((e) => e.generated_text === null));
    // TGI answers validation errors with 422 (the OpenAI routes keep 400), in its own shape.
    const bad = await postJson(`${h.url}/generate`, { inputs: 'x', parameters: { temperature: 0 } });
    assert.equal(bad.status, 422);
    assert.match(bad.json.error, /temperature/);
    assert.equal(bad.json.error_type, 'validation');
    const badStream = await postJson(`${h.url}/generate_stream`, { parameters: { max_new_tokens: 2 } });
    assert.equal(badStream.status, 422);
    assert.match(badStream.json.error, /inputs/);
    assert.equal(badStream.json.error_type, 'validation');
    const tooLong = await postJson(`${h.url}/generate`, { inputs: 'x', parameters: { max_new_tokens: h.engine.config.maxTotalTokens } });
    assert.equal(tooLong.status, 422, 'context-length errors are validation errors in TGI');
    const notJson = await fetch(`${h.url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{oops' });
    assert.equal(notJson.status, 400, 'a body that is not JSON stays 400, as in TGI');
    assert.equal(((await notJson.json()) as any).error_type, 'validation');
    const info = (await (await fetch(`${h.url}/info`)).json()) as any;
    assert.deepEqual(info.hearth.batching, JSON.parse(JSON.stringify(h.engine.config)), 'the exact effective batching settings');
    assert.equal(info.max_batch_total_tokens, h.engine.config.maxBatchTotalTokens);
    assert.equal(info.max_concurrent_requests, h.engine.config.maxConcurrentRequests);
    assert.equal(info.model_id, h.model);
  });
});

describe('vertex', () => {
  test('Vertex AI: predict and health on the AIP_* routes', async () => {
    const server = await createServer({ engine: h.engine, port: 0, vertex: true, env: { AIP_PREDICT_ROUTE: '/v1/endpoints/e1:predict', AIP_HEALTH_ROUTE: '/ping' }, log: () => {} });
    await server.ready;
    try {
      assert.equal((await fetch(`${server.url}/ping`)).status, 200);
      const { status, json } = await postJson(`${server.url}/v1/endpoints/e1:predict`, {
        instances: [{ messages: [{ role: 'user', content: 'hi' }] }, { prompt: 'Hello' }],
        parameters: { max_tokens: 3, temperature: 0 },
      });
      assert.equal(status, 200, JSON.stringify(json));
      assert.equal(json.predictions.length, 2);
      assert.equal(json.predictions[0].object, 'chat.completion');
      assert.equal(json.predictions[0].usage.completion_tokens, 3);
      assert.equal(json.predictions[1].object, 'text_completion');
      const bad = await postJson(`${server.url}/v1/endpoints/e1:predict`, { instances: [{ nothing: 1 }] });
      assert.equal(bad.status, 400);
      assert.match(bad.json.error.message, /instances\[0\]/);
    } finally {
      await server.close(1000);
    }
  });
});

describe('cancellation', () => {
  test('a client that disconnects mid-stream cancels its request and frees its slot', async () => {
    const sinceMs = Date.now();
    const controller = new AbortController();
    const response = await fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'disconnect-test' },
      body: JSON.stringify({ model: h.model, messages: user('go on forever'), stream: true, ignore_eos: true, temperature: 0 }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    let received = 0;
    while (received < 3) {
      const { value } = await reader.read();
      received += (new TextDecoder().decode(value).match(/data: /g) ?? []).length;
    }
    assert.equal(h.engine.snapshot().runningSize + h.engine.snapshot().queueSize, 1, 'running while streaming');
    controller.abort();
    assert.ok(await waitFor(() => h.engine.snapshot().runningSize === 0 && h.engine.snapshot().queueSize === 0), 'slot freed');
    let row;
    assert.ok(await waitFor(() => (row = h.requestLog.list({ sinceMs }).find((r) => r.userAgent === 'disconnect-test')) !== undefined));
    assert.equal(row!.finishReason, 'cancelled');
    assert.equal(row!.status, 499);
    assert.ok(row!.completionTokens! < h.engine.config.maxTotalTokens - row!.promptTokens!, 'stopped before max tokens');
  });
});

describe('cancellation (non-stream)', () => {
  test('a non-stream client that goes away cancels its request too', async () => {
    const sinceMs = Date.now();
    const controller = new AbortController();
    const pending = fetch(`${h.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'disconnect-nonstream' },
      body: JSON.stringify({ model: h.model, prompt: 'long', ignore_eos: true, temperature: 0 }),
      signal: controller.signal,
    }).catch((error: Error) => error);
    assert.ok(await waitFor(() => h.engine.snapshot().runningSize === 1), 'admitted');
    controller.abort();
    assert.ok((await pending) instanceof Error);
    assert.ok(await waitFor(() => h.engine.snapshot().runningSize === 0), 'slot freed');
    let row;
    assert.ok(await waitFor(() => (row = h.requestLog.list({ sinceMs }).find((r) => r.userAgent === 'disconnect-nonstream')) !== undefined));
    assert.equal(row!.finishReason, 'cancelled');
    assert.equal(row!.status, 499);
  });
});

describe('request log and metrics', () => {
  test('one row per request, including failed ones', async () => {
    const sinceMs = Date.now();
    await chat({ messages: user('logged prompt'), max_tokens: 4, temperature: 0, ignore_eos: true });
    await chat({ messages: user('hi'), temperature: 9 });
    await chat({ model: 'nope', messages: user('hi') });
    await fetch(`${h.url}/v1/models`);
    await fetch(`${h.url}/health`); // not logged: probes would drown the log
    h.requestLog.flush();
    const rows = h.requestLog.list({ sinceMs }).reverse();
    assert.deepEqual(rows.map((r) => [r.endpoint, r.status]), [
      ['/v1/chat/completions', 200],
      ['/v1/chat/completions', 400],
      ['/v1/chat/completions', 404],
      ['/v1/models', 200],
    ]);
    const [ok, bad, missing] = rows;
    assert.equal(ok!.finishReason, 'length');
    assert.equal(ok!.completionTokens, 4);
    assert.ok(ok!.promptTokens! > 0);
    assert.ok(ok!.ttftMs! >= 0 && ok!.queueMs! >= 0 && ok!.totalMs >= ok!.ttftMs!);
    assert.ok(ok!.prompt!.includes('logged prompt'), 'content logging is on in this harness');
    assert.equal(typeof ok!.response, 'string');
    assert.equal(ok!.clientIp, '127.0.0.1');
    assert.match(bad!.error!, /temperature/);
    assert.equal(bad!.finishReason, null);
    assert.match(missing!.error!, /nope/);
    assert.equal(missing!.model, 'nope');
    assert.equal(h.requestLog.get(ok!.id)?.id, ok!.id);
  });

  test('the API key and Authorization header never reach the log', async () => {
    const sinceMs = Date.now();
    await postJson(`${h.url}/v1/chat/completions`, { model: h.model, messages: user('hi'), max_tokens: 1 }, { authorization: 'Bearer sk-secret-123' });
    h.requestLog.flush();
    const csv = h.requestLog.exportCsv({ sinceMs });
    assert.ok(!csv.includes('sk-secret-123'));
  });

  test('/metrics reports traffic, engine gauges and process memory', async () => {
    await chat({ messages: user('metrics'), max_tokens: 3, temperature: 0, ignore_eos: true });
    const response = await fetch(`${h.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
    const text = await response.text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
    assert.ok(value(/^hearth_requests_total\{endpoint="\/v1\/chat\/completions",status="200",finish_reason="length"\} (\d+)/m) >= 1);
    assert.ok(value(/^hearth_requests_total\{endpoint="\/v1\/chat\/completions",status="400",finish_reason="none"\} (\d+)/m) >= 1);
    assert.ok(value(/^hearth_generation_tokens_total (\d+)/m) >= 3);
    assert.ok(value(/^hearth_prompt_tokens_total (\d+)/m) >= 1);
    assert.ok(value(/^hearth_time_to_first_token_seconds_count (\d+)/m) >= 1);
    assert.ok(value(/^hearth_inter_token_latency_seconds_count (\d+)/m) >= 2);
    assert.ok(value(/^hearth_e2e_request_latency_seconds_count (\d+)/m) >= 1);
    assert.ok(value(/^hearth_request_queue_time_seconds_count (\d+)/m) >= 1);
    assert.ok(value(/^hearth_batch_size_count (\d+)/m) >= 1);
    assert.equal(value(/^hearth_queue_size (\d+)/m), 0);
    assert.equal(value(/^hearth_running_batch_size (\d+)/m), 0);
    assert.equal(value(/^hearth_kv_cache_capacity_tokens (\d+)/m), h.engine.snapshot().kvCacheCapacityTokens);
    assert.ok(value(/^hearth_kv_cache_usage_ratio ([\d.e-]+)/m) >= 0);
    assert.ok(value(/^hearth_process_memory_rss_bytes (\d+)/m) > 0);
    assert.ok(value(/^hearth_process_resident_memory_bytes (\d+)/m) > 0);
    assert.equal(value(/^hearth_engine_ready (\d+)/m), 1);
  });
});
