// Tool calling and reasoning over HTTP on Qwen3's real tokenizer and chat template (random
// weights, so calls are forced with tool_choice and checked against their schemas; max_tokens
// leaves room for any tokenization of a forced output, which then ends by itself): the openai
// SDK, streamed deltas, an agent loop (call → tool result → answer), LangChain's bindTools and
// withStructuredOutput, <think> splitting and enable_thinking.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { ChatOpenAI } from '@langchain/openai';
import { HumanMessage } from '@langchain/core/messages';
import { tool } from '@langchain/core/tools';
import { z } from 'zod';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { postJson, qwen3Package, readSse, startChatHarness, startHarness, type ChatHarness } from './serverHarness.js';
import { TOOLS, WEATHER_PARAMS, assertValidCall, user, validators } from '../fixtures/weatherTools.js';

let h: ChatHarness;
let client: OpenAI;

before(async () => {
  h = await startChatHarness({ fixture: qwen3Package });
  client = h.client;
});
after(async () => {
  await h?.stop();
});


test('a named tool_choice forces that call: arguments match its schema, finish_reason tool_calls', async () => {
  for (let seed = 1; seed <= 3; seed++) {
    const completion = await client.chat.completions.create({
      model: h.model, messages: user('What time is it?'), tools: TOOLS, tool_choice: { type: 'function', function: { name: 'get_time' } }, temperature: 1, seed, max_tokens: 200,
    });
    const choice = completion.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    assert.equal(choice.message.tool_calls!.length, 1);
    assert.equal((choice.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall).function.name, 'get_time');
    assertValidCall(choice.message.tool_calls![0]!);
  }
});

test("tool_choice 'required' over seeds (one call with parallel_tool_calls false); streamed deltas in OpenAI's shape equal the non-streamed call", async () => {
  for (let seed = 1; seed <= 4; seed++) {
    const request = { model: h.model, messages: user('Weather in Oslo?'), tools: TOOLS, tool_choice: 'required' as const, parallel_tool_calls: false, temperature: 1, seed, max_tokens: 200 };
    const whole = await client.chat.completions.create(request);
    const calls = whole.choices[0]!.message.tool_calls!;
    assert.equal(whole.choices[0]!.finish_reason, 'tool_calls');
    assert.equal(calls.length, 1);
    assertValidCall(calls[0]!);
    if (seed > 2) continue;
    const stream = await client.chat.completions.create({ ...request, stream: true });
    const deltas: OpenAI.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        deltas.push(...(choice.delta.tool_calls ?? []));
        finish = choice.finish_reason ?? finish;
      }
    }
    assert.equal(finish, 'tool_calls');
    assert.ok(deltas.length > 3, `a forced call's arguments stream in several fragments (${deltas.length - 1})`);
    assert.ok(deltas[0]!.id && deltas[0]!.type === 'function' && deltas[0]!.function?.name && deltas[0]!.function.arguments === '', 'index, id and name first');
    assert.ok(deltas.slice(1).every((delta) => delta.index === 0 && delta.id === undefined && delta.function?.name === undefined), 'then argument fragments');
    const fn = (calls[0] as OpenAI.ChatCompletionMessageFunctionToolCall).function;
    assert.equal(deltas[0]!.function!.name, fn.name);
    assert.equal(deltas.map((delta) => delta.function?.arguments ?? '').join(''), fn.arguments);
  }
});

test('parallel required calls: every call valid', async () => {
  const completion = await client.chat.completions.create({ model: h.model, messages: user('Weather and time?'), tools: TOOLS, tool_choice: 'required', temperature: 1, seed: 2, max_tokens: 400 });
  const calls = completion.choices[0]!.message.tool_calls ?? [];
  assert.ok(calls.length >= 1);
  calls.forEach(assertValidCall);
});

test('agent loop: call → tool result rendered into the template → final answer', async () => {
  const messages: OpenAI.ChatCompletionMessageParam[] = user('Weather in Lima?');
  const first = await client.chat.completions.create({ model: h.model, messages, tools: TOOLS, tool_choice: { type: 'function', function: { name: 'get_weather' } }, temperature: 1, seed: 5, max_tokens: 200 });
  const assistant = first.choices[0]!.message;
  const call = assistant.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
  assertValidCall(call);
  const result = JSON.stringify({ forecast: 'sunny', city: JSON.parse(call.function.arguments).city });
  messages.push({ role: 'assistant', content: assistant.content, tool_calls: assistant.tool_calls }, { role: 'tool', tool_call_id: call.id, content: result });
  const prompt = await h.renderedPrompt({ messages, tools: TOOLS });
  // The template writes the arguments with its own tojson spacing: compare them as JSON.
  const rendered = /<\|im_start\|>assistant\n<tool_call>\n\{"name": "get_weather", "arguments": (\{.*\})\}\n<\/tool_call><\|im_end\|>/.exec(prompt);
  assert.ok(rendered, prompt);
  assert.deepEqual(JSON.parse(rendered[1]!), JSON.parse(call.function.arguments));
  assert.ok(prompt.includes(`<|im_start|>user\n<tool_response>\n${result}\n</tool_response><|im_end|>`), prompt);
  const final = await client.chat.completions.create({ model: h.model, messages, tools: TOOLS, tool_choice: 'none', temperature: 0, max_tokens: 12 });
  assert.equal(typeof final.choices[0]!.message.content, 'string');
  assert.equal(final.choices[0]!.message.tool_calls, undefined);
  assert.ok(['stop', 'length'].includes(final.choices[0]!.finish_reason));
});

test("tools reach the template as transformers passes them; tool_choice 'none' leaves them out", async () => {
  const withTools = await h.renderedPrompt({ messages: user('hi'), tools: TOOLS });
  assert.ok(withTools.includes('<tools>\n{"type": "function", "function": {"name": "get_weather"'), withTools);
  assert.ok(!(await h.renderedPrompt({ messages: user('hi'), tools: TOOLS, tool_choice: 'none' })).includes('<tools>'));
});

test('tool errors are 400s naming the field', async () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ tools: TOOLS, tool_choice: { type: 'function', function: { name: 'nope' } } }, 'tool_choice.function.name', /'nope'.*not in 'tools'/],
    [{ tool_choice: 'required' }, 'tool_choice', /needs 'tools'/],
    [{ tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { not: {} } } } } }] }, 'tools[0].function.parameters', /'not'/],
    [{ tools: [{ type: 'retrieval' }] }, 'tools[0].type', /'function'/],
    [{ tools: TOOLS, tool_choice: 'required', response_format: { type: 'json_object' } }, 'response_format', /cannot both/],
  ];
  for (const [body, param, why] of cases) {
    const { status, json } = await postJson(`${h.url}/v1/chat/completions`, { model: h.model, messages: user('hi'), ...body });
    assert.equal(status, 400, JSON.stringify(json));
    assert.equal(json.error.param, param);
    assert.match(json.error.message, why);
  }
});

test('LangChain: bindTools with a forced tool, withStructuredOutput (jsonSchema and functionCalling) with a zod schema', async () => {
  const chat = new ChatOpenAI({ model: h.model, apiKey: 'unused', temperature: 1, maxTokens: 200, maxRetries: 0, configuration: { baseURL: `${h.url}/v1` }, modelKwargs: { seed: 3 } });
  const getWeather = tool(async ({ city }) => `sunny in ${city}`, {
    name: 'get_weather',
    description: 'Forecast for a city',
    schema: z.object({ city: z.enum(['Paris', 'Oslo', 'Lima']), days: z.number().int().min(1).max(5) }),
  });
  const reply = await chat.bindTools([getWeather], { tool_choice: 'get_weather' }).invoke([new HumanMessage('Weather in Paris?')]);
  assert.equal(reply.tool_calls!.length, 1);
  assert.equal(reply.tool_calls![0]!.name, 'get_weather');
  assert.ok(validators.get_weather(reply.tool_calls![0]!.args), JSON.stringify(reply.tool_calls![0]!.args));
  assert.match(String((await getWeather.invoke(reply.tool_calls![0]!)).content), /sunny in (Paris|Oslo|Lima)/);

  const Answer = z.object({ verdict: z.enum(['yes', 'no']), confidence: z.number().int().min(0).max(9) });
  for (const method of ['jsonSchema', 'functionCalling'] as const) {
    const structured = await chat.withStructuredOutput(Answer, { method, name: 'answer' }).invoke([new HumanMessage('Is it sunny?')]);
    assert.deepEqual(structured, Answer.parse(structured), method);
  }
});

test('reasoning: <think> splits into reasoning_content, streamed and not', async () => {
  // The random-weight model never thinks on its own: a regex grammar makes it write a think block.
  const body = { model: h.model, messages: user('Think first.'), structured_outputs: { regex: '<think>\n[a-z]{3,8}( [a-z]{3,8}){0,3}\n</think>\n\n[A-Z][a-z]{3,8}' }, temperature: 1, seed: 4, max_tokens: 200 };
  const { json } = await postJson(`${h.url}/v1/chat/completions`, body);
  const message = json.choices[0].message;
  assert.match(message.reasoning_content, /^[a-z]{3,8}( [a-z]{3,8}){0,3}$/);
  assert.match(message.content, /^[A-Z][a-z]{3,8}$/);
  const response = await fetch(`${h.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
  const deltas = (await readSse(response)).flatMap((event) => event.choices).map((choice: any) => choice.delta);
  assert.equal(deltas.map((delta: any) => delta.reasoning_content ?? '').join(''), message.reasoning_content);
  assert.equal(deltas.map((delta: any) => delta.content ?? '').join(''), message.content);
  assert.ok(deltas.some((delta: any) => delta.reasoning_content) && deltas.findIndex((delta: any) => delta.reasoning_content) < deltas.findIndex((delta: any) => delta.content));
});

test('chat_template_kwargs enable_thinking:false renders the no-think form', async () => {
  assert.ok((await h.renderedPrompt({ messages: user('hi'), chat_template_kwargs: { enable_thinking: false } })).endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n'));
  assert.ok((await h.renderedPrompt({ messages: user('hi') })).endsWith('<|im_start|>assistant\n'));
});

test("Llama 3.1's real tokenizer: its packaged template never renders tools (400), and grammars work over its 128k vocabulary", async () => {
  const llama = await startHarness({ fixture: () => ensureFixturePackage({ arch: 'llama', dtype: 'fp32', shape: 'tiny', tokenizer: 'llama3_1' }) });
  try {
    const refused = await postJson(`${llama.url}/v1/chat/completions`, { messages: user('hi'), tools: TOOLS });
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error.param, 'tools');
    assert.match(refused.json.error.message, /never renders 'tools'/);
    const { status, json } = await postJson(`${llama.url}/v1/chat/completions`, {
      messages: user('hi'), response_format: { type: 'json_schema', json_schema: { name: 'w', schema: WEATHER_PARAMS } }, temperature: 1, seed: 1, max_tokens: 200,
    });
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(json.choices[0].finish_reason, 'stop');
    assert.ok(validators.get_weather(JSON.parse(json.choices[0].message.content)), json.choices[0].message.content);
  } finally {
    await llama.stop();
  }
});
