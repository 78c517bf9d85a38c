// Granite 3, OLMo 2, Phi-3.5-mini and Phi-4-mini packages through `hearth serve`'s server and the
// official openai client, on their models' real chat templates (read at test time from
// @huggingface/ollama-utils, which ships the templates of Ollama's GGUF files: the checkpoints'
// own tokenizer_config.json templates; see test/fixtures/hubChatTemplates.ts). The tokenizer is
// synthetic, with each model's special tokens and its BOS / EOS / end-of-turn ids as its
// tokenizer_config.json and generation_config.json name them. What each template does with a
// system message, the generation prompt and the end of a turn is pinned as written there, and
// Granite 3.2/3.3's thinking markup splits into reasoning_content and content.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type OpenAI from 'openai';
import { reasoningFormatForTemplate } from '../../engine/server/reasoningFormats.js';
import type { FixtureOptions } from '../fixtures/generateCheckpoint.js';
import { hubChatTemplateText, type HubChatTemplateName } from '../fixtures/hubChatTemplates.js';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { TIME_PARAMS, TOOLS, assertValidCall, validators } from '../fixtures/weatherTools.js';
import { assertGreedyReply, postJson, startChatHarness, type ChatHarness } from './serverHarness.js';

const CONVERSATION = [
  { role: 'system' as const, content: 'Be brief.' },
  { role: 'user' as const, content: 'Hello!' },
  { role: 'assistant' as const, content: 'Hi.' },
  { role: 'user' as const, content: 'Again' },
];

const WEATHER_TOOL = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'Current weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

/** strftime('%B %d, %Y') of the days a request made between `from` and now can see (a run over midnight sees either). */
function graniteDates(from: Date): string[] {
  const format = (date: Date) => `${date.toLocaleString('en-US', { month: 'long' })} ${String(date.getDate()).padStart(2, '0')}, ${date.getFullYear()}`;
  return [...new Set([format(from), format(new Date())])];
}

function withHarness(template: HubChatTemplateName, fixture: FixtureOptions): () => ChatHarness {
  let h: ChatHarness | undefined;
  before(async () => {
    h = await startChatHarness({ fixture: () => ensureFixturePackage({ ...fixture, hubChatTemplate: template, dtype: 'fp32' }) });
  });
  after(async () => {
    await h?.stop();
  });
  return () => h!;
}

function tokenId(h: ChatHarness, token: string): number {
  const ids = h.tokenizer.encode(token, { addSpecialTokens: false });
  assert.equal(ids.length, 1, `${token} is one special token`);
  return ids[0]!;
}

/** Hearth's request fields beyond OpenAI's (chat_template_kwargs, structured_outputs), sent by the openai client as they are. */
type ChatRequest = OpenAI.ChatCompletionCreateParamsNonStreaming & Record<string, unknown>;

interface ThinkingReply {
  reasoning: string | undefined;
  content: string | null;
  calls: OpenAI.ChatCompletionMessageToolCall[];
  finishReason: string;
  /** The streamed reply's reasoning, content and call arguments, as their deltas add up. */
  streamed: { reasoning: string; content: string; calls: { name: string; arguments: string }[] };
  /** Every streamed delta's reasoning and content text. */
  deltaTexts: string[];
}

/** A request through the openai client, not streamed and streamed (the same seed: the same tokens). */
async function thinkingReply(h: ChatHarness, request: ChatRequest): Promise<ThinkingReply> {
  const completion = await h.client.chat.completions.create(request);
  const choice = completion.choices[0]!;
  const streamed = { reasoning: '', content: '', calls: [] as { name: string; arguments: string }[] };
  const deltaTexts: string[] = [];
  for await (const chunk of await h.client.chat.completions.create({ ...request, stream: true } as OpenAI.ChatCompletionCreateParamsStreaming)) {
    const delta = (chunk.choices[0]?.delta ?? {}) as OpenAI.ChatCompletionChunk.Choice.Delta & { reasoning_content?: string };
    streamed.reasoning += delta.reasoning_content ?? '';
    streamed.content += delta.content ?? '';
    deltaTexts.push(`${delta.reasoning_content ?? ''}${delta.content ?? ''}`);
    for (const call of delta.tool_calls ?? []) {
      streamed.calls[call.index] ??= { name: call.function?.name ?? '', arguments: '' };
      streamed.calls[call.index]!.arguments += call.function?.arguments ?? '';
    }
  }
  return {
    reasoning: (choice.message as { reasoning_content?: string }).reasoning_content,
    content: choice.message.content,
    calls: choice.message.tool_calls ?? [],
    finishReason: choice.finish_reason,
    streamed,
    deltaTexts,
  };
}

/** The LongRoPE fixtures' original_max_position_embeddings (test/fixtures/generateCheckpoint.ts). */
const LONGROPE_ORIGINAL = 32;

describe('Granite 3.3 on its real chat template', () => {
  const h = withHarness('granite3.3', { arch: 'granite' });

  test('<|end_of_text|> ends generation (it is EOS in tokenizer_config and generation_config)', () => {
    assert.deepEqual(h().manifest.tokenizer.eosTokenIds, [tokenId(h(), '<|end_of_text|>')]);
  });

  test('a system message is the system turn; roles are written as they come; the prompt ends with the assistant role', async () => {
    const rendered = await h().renderedPrompt({ messages: CONVERSATION });
    assert.equal(
      rendered,
      '<|start_of_role|>system<|end_of_role|>Be brief.<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Hello!<|end_of_text|>\n' +
        '<|start_of_role|>assistant<|end_of_role|>Hi.<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Again<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>',
    );
  });

  test("without a system message the template writes its own, dated today (strftime_now), and no BOS", async () => {
    const from = new Date();
    const rendered = await h().renderedPrompt({ messages: [{ role: 'user', content: 'Hi' }] });
    const dates = graniteDates(from);
    assert.ok(
      dates.some((date) => rendered === `<|start_of_role|>system<|end_of_role|> Knowledge Cutoff Date: April 2024.\n Today's Date: ${date}. You are Granite, developed by IBM. You are a helpful AI assistant.<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Hi<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>`),
      `${JSON.stringify(rendered)} (today: ${dates.join(' or ')})`,
    );
  });

  test('documents and controls (chat_template_kwargs) render as document turns, and controls after the assistant role', async () => {
    const rendered = await h().renderedPrompt({
      messages: [{ role: 'user', content: 'Where is Paris?' }],
      chat_template_kwargs: { documents: [{ doc_id: 7, text: 'Paris is in France.' }], controls: { citations: true } },
    });
    assert.match(rendered, /Write the response to the user's input by strictly aligning with the facts in the provided documents/);
    assert.match(rendered, /Use the symbols <\|start_of_cite\|> and <\|end_of_cite\|>/, "'citations' in controls");
    assert.ok(rendered.includes('<|start_of_role|>document {"document_id": "7"}<|end_of_role|>\nParis is in France.<|end_of_text|>\n'), rendered);
    assert.ok(rendered.endsWith('<|start_of_role|>user<|end_of_role|>Where is Paris?<|end_of_text|>\n<|start_of_role|>assistant {"citations": true}<|end_of_role|>'), rendered);
    // vLLM's top-level documents field is the same variable.
    const topLevel = await h().renderedPrompt({ messages: [{ role: 'user', content: 'Where is Paris?' }], documents: [{ doc_id: 7, text: 'Paris is in France.' }], chat_template_kwargs: { controls: { citations: true } } });
    assert.equal(topLevel, rendered);
    const { status } = await postJson(`${h().url}/v1/chat/completions`, { model: h().model, messages: [{ role: 'user', content: 'x' }], documents: 'Paris', max_tokens: 1 });
    assert.equal(status, 400);
  });

  test('tools render as the available_tools turn, indented JSON (tojson(indent=4))', async () => {
    const rendered = await h().renderedPrompt({ messages: CONVERSATION.slice(0, 2), tools: [WEATHER_TOOL] });
    assert.ok(rendered.includes(`<|start_of_role|>available_tools<|end_of_role|>${JSON.stringify([WEATHER_TOOL], null, 4)}<|end_of_text|>\n`), rendered);
  });

  test('openai client: greedy reply equals the float64 reference, streamed and not', async () => {
    await assertGreedyReply(h(), CONVERSATION.slice(0, 2));
  });

  // The random-weight model never thinks on its own: a regex grammar (structured_outputs) makes
  // it write what the template's thinking instructions ask for.
  const THOUGHT = '[a-z]{3,8}( [a-z]{3,8}){0,3}';
  const ANSWER = '[A-Z][a-z]{3,8}( [a-z]{3,8}){0,2}';

  test("thinking (chat_template_kwargs): the template asks for <think></think> and <response></response>, and the reply splits on them", async () => {
    assert.equal(reasoningFormatForTemplate(hubChatTemplateText('granite3.3'), { thinking: true })?.name, 'granite_tags');
    const messages = [{ role: 'user' as const, content: 'Hi' }];
    assert.match(await h().renderedPrompt({ messages, chat_template_kwargs: { thinking: true } }), /Write your thoughts between <think><\/think> and write your response between <response><\/response>/);
    for (let seed = 1; seed <= 3; seed++) {
      const reply = await thinkingReply(h(), {
        model: h().model, messages, chat_template_kwargs: { thinking: true }, structured_outputs: { regex: `<think>${THOUGHT}\\.</think><response>${ANSWER}\\.</response>` }, temperature: 1, seed, max_tokens: 200,
      });
      assert.equal(reply.finishReason, 'stop');
      assert.match(reply.reasoning ?? '', new RegExp(`^${THOUGHT}\\.$`), JSON.stringify(reply));
      assert.match(reply.content ?? '', new RegExp(`^${ANSWER}\\.$`), JSON.stringify(reply));
      assert.deepEqual(reply.streamed, { reasoning: reply.reasoning, content: reply.content, calls: [] });
      // The reply's own text has no < or >: any in a delta would be part of a tag.
      for (const text of reply.deltaTexts) assert.doesNotMatch(text, /[<>]/, `a delta leaked a tag: ${JSON.stringify(text)}`);
    }
  });

  test('thinking with tools: the thoughts are reasoning_content, the call after them is parsed (Granite syntax), streamed and not', async () => {
    const call = '<\\|tool_call\\|>\\[\\{"name": "get_time", "arguments": \\{"zone": "(UTC|CET)"\\}\\}\\]';
    for (const [seed, answer] of [[1, ''], [2, `<response>${ANSWER}\\.</response>`]] as const) {
      const reply = await thinkingReply(h(), {
        model: h().model, messages: [{ role: 'user', content: 'What time is it?' }], tools: TOOLS, chat_template_kwargs: { thinking: true },
        structured_outputs: { regex: `<think>${THOUGHT}\\.</think>${answer}${call}` }, temperature: 1, seed, max_tokens: 200,
      });
      assert.equal(reply.finishReason, 'tool_calls', JSON.stringify(reply));
      assert.match(reply.reasoning ?? '', new RegExp(`^${THOUGHT}\\.$`));
      if (answer === '') assert.equal(reply.content, null);
      else assert.match(reply.content ?? '', new RegExp(`^${ANSWER}\\.$`));
      assert.equal(reply.calls.length, 1);
      assertValidCall(reply.calls[0]!);
      const fn = (reply.calls[0] as OpenAI.ChatCompletionMessageFunctionToolCall).function;
      assert.equal(fn.name, 'get_time');
      assert.deepEqual(reply.streamed.calls, [{ name: fn.name, arguments: fn.arguments }]);
      assert.equal(reply.streamed.reasoning, reply.reasoning);
      assert.equal(reply.streamed.content, reply.content ?? '');
      for (const text of reply.deltaTexts) assert.doesNotMatch(text, /[<>]/, `a delta leaked a tag: ${JSON.stringify(text)}`);
    }
  });

  test('thinking with response_format json_schema: the grammar-forced JSON is the content, untouched', async () => {
    const reply = await thinkingReply(h(), {
      model: h().model, messages: [{ role: 'user', content: 'Time zone?' }], chat_template_kwargs: { thinking: true },
      response_format: { type: 'json_schema', json_schema: { name: 'zone', schema: TIME_PARAMS } }, temperature: 1, seed: 1, max_tokens: 200,
    });
    assert.equal(reply.finishReason, 'stop');
    assert.equal(reply.reasoning, undefined);
    assert.ok(validators.get_time(JSON.parse(reply.content!)), reply.content!);
    assert.equal(reply.streamed.content, reply.content);
  });
});

describe('Granite 3.2 on its real chat template', () => {
  const h = withHarness('granite3.2', { arch: 'granite' });

  test("the thinking flag (chat_template_kwargs) changes the template's own system message", async () => {
    const plain = await h().renderedPrompt({ messages: [{ role: 'user', content: 'Hi' }] });
    const thinking = await h().renderedPrompt({ messages: [{ role: 'user', content: 'Hi' }], chat_template_kwargs: { thinking: true } });
    assert.match(plain, /^<\|start_of_role\|>system<\|end_of_role\|>Knowledge Cutoff Date: April 2024\.\nToday's Date: .+\.\nYou are Granite, developed by IBM\. You are a helpful AI assistant\.<\|end_of_text\|>\n/);
    assert.match(thinking, /Write your thoughts after 'Here is my thought process:'/);
    assert.doesNotMatch(plain, /thought process/);
  });

  test("thinking: the reply's 'Here is my thought process:' … 'Here is my response:' splits into reasoning_content and content, streamed and not", async () => {
    const template = hubChatTemplateText('granite3.2');
    assert.equal(reasoningFormatForTemplate(template, { thinking: true })?.name, 'granite_phrases');
    assert.equal(reasoningFormatForTemplate(template, {}), null, 'without thinking the template asks for no markup');
    const thought = '[a-z]{3,8}( [a-z]{3,8}){0,3}';
    const answer = '[A-Z][a-z]{3,8}( [a-z]{3,8}){0,2}';
    for (let seed = 1; seed <= 2; seed++) {
      const reply = await thinkingReply(h(), {
        model: h().model, messages: [{ role: 'user', content: 'Hi' }], chat_template_kwargs: { thinking: true },
        structured_outputs: { regex: `Here is my thought process:\\n${thought}\\.\\n\\nHere is my response:\\n${answer}\\.` }, temperature: 1, seed, max_tokens: 200,
      });
      assert.match(reply.reasoning ?? '', new RegExp(`^${thought}\\.$`), JSON.stringify(reply));
      assert.match(reply.content ?? '', new RegExp(`^${answer}\\.$`), JSON.stringify(reply));
      assert.deepEqual(reply.streamed, { reasoning: reply.reasoning, content: reply.content, calls: [] });
      for (const text of reply.deltaTexts) assert.doesNotMatch(text, /Here|:/, `a delta leaked a marker: ${JSON.stringify(text)}`);
    }
  });
});

describe('Granite 3.0 on its real chat template', () => {
  const h = withHarness('granite3.0', { arch: 'granite' });

  test('no system message of its own: only the turns given, then the assistant role', async () => {
    const rendered = await h().renderedPrompt({ messages: [{ role: 'user', content: 'Hi' }] });
    assert.equal(rendered, '<|start_of_role|>user<|end_of_role|>Hi<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>');
    assert.equal(reasoningFormatForTemplate(hubChatTemplateText('granite3.0'), { thinking: true }), null, 'no thinking mode: the reply is all content');
  });
});

describe('OLMo 2 on its real chat template', () => {
  const h = withHarness('olmo2', { arch: 'olmo2' });

  test('the template writes BOS (<|endoftext|>) once; the tokenizer adds none', async () => {
    const bos = tokenId(h(), '<|endoftext|>');
    assert.deepEqual(h().manifest.tokenizer.eosTokenIds, [bos], 'EOS is the same token');
    const rendered = await h().renderedPrompt({ messages: CONVERSATION });
    assert.equal(rendered, '<|endoftext|><|system|>\nBe brief.\n<|user|>\nHello!\n<|assistant|>\nHi.<|endoftext|>\n<|user|>\nAgain\n<|assistant|>\n');
    const { json } = await postJson(`${h().url}/v1/chat/completions`, { model: h().model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1, temperature: 0, return_token_ids: true });
    const ids: number[] = json.choices[0].prompt_token_ids;
    assert.equal(ids[0], bos);
    assert.equal(ids.filter((id) => id === bos).length, 1);
  });

  test('openai client: greedy reply equals the float64 reference, streamed and not', async () => {
    await assertGreedyReply(h(), CONVERSATION);
  });
});

describe('Phi-3.5-mini (LongRoPE) on its real chat template', () => {
  const h = withHarness('phi3.5', { arch: 'phi3', ropeScaling: 'longrope' });

  test("<|end|> ends generation (generation_config's eos_token_id), beside <|endoftext|> and <|assistant|>", () => {
    const expected = ['<|end|>', '<|assistant|>', '<|endoftext|>'].map((token) => tokenId(h(), token)).sort((a, b) => a - b);
    assert.deepEqual(h().manifest.tokenizer.eosTokenIds, expected);
  });

  test('turns end with <|end|>, an empty system message is left out, and the prompt ends with <|assistant|>', async () => {
    assert.equal(
      await h().renderedPrompt({ messages: CONVERSATION }),
      '<|system|>\nBe brief.<|end|>\n<|user|>\nHello!<|end|>\n<|assistant|>\nHi.<|end|>\n<|user|>\nAgain<|end|>\n<|assistant|>\n',
    );
    assert.equal(await h().renderedPrompt({ messages: [{ role: 'system', content: '' }, { role: 'user', content: 'Hi' }] }), '<|user|>\nHi<|end|>\n<|assistant|>\n');
    assert.equal(
      await h().renderedPrompt({ messages: CONVERSATION.slice(0, 3), add_generation_prompt: false }),
      '<|system|>\nBe brief.<|end|>\n<|user|>\nHello!<|end|>\n<|assistant|>\nHi.<|end|>\n<|endoftext|>',
      'without the generation prompt the template closes with eos_token',
    );
  });

  test('openai client: a prompt within original_max_position_embeddings, then decoding past it, equals transformers (the reference, step by step), streamed and not', async () => {
    // The case every chat meets: the prompt's pass uses the short factors, each decode step past
    // position 32 the long ones, the cached keys keep theirs (transformers' incremental semantics).
    const { promptIds } = await assertGreedyReply(h(), [{ role: 'user', content: 'Hi there' }], { numNew: 30, ignoreEos: true });
    assert.ok(promptIds.length < LONGROPE_ORIGINAL && promptIds.length + 30 > LONGROPE_ORIGINAL + 8, `prompt ${promptIds.length} tokens`);
  });

  test('a prompt that straddles original_max_position_embeddings in one request: each position keeps its own factors (hearth\'s documented choice)', async () => {
    // transformers' single forward pass would rotate positions 0..31 with the long factors too;
    // hearth equals the reference fed as the two passes on either side of position 32.
    const { promptIds } = await assertGreedyReply(h(), CONVERSATION, { splitPromptAt: LONGROPE_ORIGINAL });
    assert.ok(promptIds.length > LONGROPE_ORIGINAL, `prompt ${promptIds.length} tokens`);
  });
});

describe('Phi-4-mini (partial rotary, LongRoPE) on its real chat template', () => {
  const h = withHarness('phi4-mini', { arch: 'phi3', ropeScaling: 'longrope', partialRotaryFactor: 0.75 });

  test("<|end|> and <|endoftext|> end generation (generation_config's eos_token_id)", () => {
    assert.deepEqual(h().manifest.tokenizer.eosTokenIds, [tokenId(h(), '<|endoftext|>'), tokenId(h(), '<|end|>')].sort((a, b) => a - b));
  });

  test('every role is <|role|>…<|end|> with no newlines, and the prompt ends with <|assistant|>', async () => {
    assert.equal(await h().renderedPrompt({ messages: CONVERSATION }), '<|system|>Be brief.<|end|><|user|>Hello!<|end|><|assistant|>Hi.<|end|><|user|>Again<|end|><|assistant|>');
  });

  test("tools go into the system message's tools string, between <|tool|> and <|/tool|> (a system message is added when there is none)", async () => {
    const functions = JSON.stringify([WEATHER_TOOL.function]);
    assert.equal(
      await h().renderedPrompt({ messages: CONVERSATION.slice(0, 2), tools: [WEATHER_TOOL] }),
      `<|system|>Be brief.<|tool|>${functions}<|/tool|><|end|><|user|>Hello!<|end|><|assistant|>`,
    );
    assert.equal(await h().renderedPrompt({ messages: [{ role: 'user', content: 'Hi' }], tools: [WEATHER_TOOL] }), `<|system|><|tool|>${functions}<|/tool|><|end|><|user|>Hi<|end|><|assistant|>`);
  });

  test('openai client: greedy reply equals the float64 reference, streamed and not', async () => {
    await assertGreedyReply(h(), CONVERSATION, { splitPromptAt: LONGROPE_ORIGINAL });
  });
});
