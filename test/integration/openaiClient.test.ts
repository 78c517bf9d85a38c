// The official `openai` npm client against the real server on the tiny fixture package.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startHarness, type Harness } from './serverHarness.js';

let h: Harness;
let client: OpenAI;

before(async () => {
  h = await startHarness({ server: { apiKey: 'sk-openai-client-test' } });
  client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'sk-openai-client-test', maxRetries: 0 });
});
after(async () => {
  await h?.stop();
});

test('models.list', async () => {
  const page = await client.models.list();
  assert.deepEqual(page.data.map((m) => m.id), [h.model]);
});

test('chat.completions.create, non-stream', async () => {
  const completion = await client.chat.completions.create({
    model: h.model,
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello!' }],
    max_tokens: 8,
    temperature: 0,
    logprobs: true,
    top_logprobs: 2,
  });
  assert.equal(completion.object, 'chat.completion');
  assert.equal(completion.model, h.model);
  const choice = completion.choices[0]!;
  assert.equal(choice.message.role, 'assistant');
  assert.equal(typeof choice.message.content, 'string');
  assert.ok(choice.finish_reason === 'length' || choice.finish_reason === 'stop');
  assert.equal(choice.logprobs!.content!.length, completion.usage!.completion_tokens);
  assert.equal(completion.usage!.total_tokens, completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
});

test('chat.completions.create, stream, equals the non-stream text', async () => {
  const request = { model: h.model, messages: [{ role: 'user' as const, content: 'Count to five' }], max_tokens: 16, temperature: 0 };
  const whole = await client.chat.completions.create(request);
  const stream = await client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? '';
      finish = choice.finish_reason ?? finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, whole.choices[0]!.message.content);
  assert.equal(finish, whole.choices[0]!.finish_reason);
  // The streamed request may reuse the first one's prompt from the prefix cache: compare counts.
  const counts = (u: OpenAI.CompletionUsage | null | undefined) => u && [u.prompt_tokens, u.completion_tokens, u.total_tokens];
  assert.deepEqual(counts(usage), counts(whole.usage));
});

test('the next chat turn reuses the previous turn from the prefix cache: usage.prompt_tokens_details.cached_tokens and /metrics count it', async () => {
  const metric = async (name: string) => Number((await (await fetch(`${h.url}/metrics`)).text()).match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1] ?? NaN);
  const [hitsBefore, tokensBefore] = [await metric('hearth_prefix_cache_hits_total'), await metric('hearth_prefix_cache_hit_tokens_total')];
  const messages: OpenAI.ChatCompletionMessageParam[] = [
    { role: 'system', content: 'You are a patient assistant for a prefix cache test. Answer every question about the weather in Lisbon in one short line.' },
    { role: 'user', content: 'What is the weather like in Lisbon in spring, and should I bring an umbrella?' },
  ];
  const first = await client.chat.completions.create({ model: h.model, messages, max_tokens: 12, temperature: 0 });
  assert.equal(first.usage!.prompt_tokens_details!.cached_tokens, 0, 'a new conversation');
  messages.push({ role: 'assistant', content: first.choices[0]!.message.content }, { role: 'user', content: 'And in autumn?' });
  const second = await client.chat.completions.create({ model: h.model, messages, max_tokens: 12, temperature: 0 });
  const cached = second.usage!.prompt_tokens_details!.cached_tokens!;
  assert.ok(cached >= first.usage!.prompt_tokens, `turn 2 reused at least turn 1's prompt: ${cached} of ${second.usage!.prompt_tokens}`);
  assert.ok(cached < second.usage!.prompt_tokens);
  assert.equal(await metric('hearth_prefix_cache_hits_total'), hitsBefore + 1);
  assert.equal(await metric('hearth_prefix_cache_hit_tokens_total'), tokensBefore + cached);
});

test('completions.create, non-stream and stream', async () => {
  const whole = await client.completions.create({ model: h.model, prompt: 'Once upon a time', max_tokens: 10, temperature: 0, stop: ['\n\n'] });
  assert.equal(whole.object, 'text_completion');
  assert.equal(whole.choices.length, 1);
  const stream = await client.completions.create({ model: h.model, prompt: 'Once upon a time', max_tokens: 10, temperature: 0, stop: ['\n\n'], stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
  assert.equal(text, whole.choices[0]!.text);
});

test('errors surface as the client library\'s typed errors', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }),
    (error: unknown) => error instanceof OpenAI.NotFoundError && /no-such-model/.test(error.message),
  );
  await assert.rejects(
    client.chat.completions.create({ model: h.model, messages: [{ role: 'user', content: 'hi' }], temperature: 7 }),
    (error: unknown) => error instanceof OpenAI.BadRequestError && error.param === 'temperature',
  );
  const anonymous = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(anonymous.models.list(), (error: unknown) => error instanceof OpenAI.AuthenticationError);
});
