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
  assert.deepEqual(usage, whole.usage);
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
