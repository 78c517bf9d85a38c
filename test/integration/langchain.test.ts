// LangChain's ChatOpenAI (invoke, stream, batch) against the real server on the tiny fixture.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatOpenAI } from '@langchain/openai';
import { HumanMessage, SystemMessage } from '@langchain/core/messages';
import { startHarness, type Harness } from './serverHarness.js';

let h: Harness;
let chat: ChatOpenAI;

before(async () => {
  h = await startHarness();
  chat = new ChatOpenAI({
    model: h.model,
    apiKey: 'unused',
    temperature: 0,
    maxTokens: 12,
    maxRetries: 0,
    configuration: { baseURL: `${h.url}/v1` },
  });
});
after(async () => {
  await h?.stop();
});

test('invoke', async () => {
  const reply = await chat.invoke([new SystemMessage('Be brief.'), new HumanMessage('Hi there')]);
  assert.equal(typeof reply.content, 'string');
  assert.ok(reply.usage_metadata!.output_tokens > 0);
  assert.equal(reply.usage_metadata!.total_tokens, reply.usage_metadata!.input_tokens + reply.usage_metadata!.output_tokens);
});

test('stream equals invoke (greedy)', async () => {
  const messages = [new HumanMessage('Tell me something')];
  const whole = await chat.invoke(messages);
  let text = '';
  let numChunks = 0;
  for await (const chunk of await chat.stream(messages)) {
    text += chunk.content as string;
    numChunks++;
  }
  assert.ok(numChunks > 1, 'tokens arrive as several chunks');
  assert.equal(text, whole.content);
});

test('batch runs requests concurrently with the same results as one by one', async () => {
  const inputs = ['alpha', 'beta', 'gamma'].map((word) => [new HumanMessage(word)]);
  const batched = await chat.batch(inputs);
  const single = [];
  for (const input of inputs) single.push(await chat.invoke(input));
  assert.deepEqual(batched.map((m) => m.content), single.map((m) => m.content));
});
