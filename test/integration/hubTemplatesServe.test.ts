// Granite 3, OLMo 2, Phi-3.5-mini and Phi-4-mini packages through `hearth serve`'s server and the
// official openai client, on their models' real chat templates (read at test time from
// @huggingface/ollama-utils, which ships the templates of Ollama's GGUF files: the checkpoints'
// own tokenizer_config.json templates; see test/fixtures/hubChatTemplates.ts). The tokenizer is
// synthetic, with each model's special tokens and its BOS / EOS / end-of-turn ids as its
// tokenizer_config.json and generation_config.json name them. What each template does with a
// system message, the generation prompt and the end of a turn is pinned as written there.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FixtureOptions } from '../fixtures/generateCheckpoint.js';
import type { HubChatTemplateName } from '../fixtures/hubChatTemplates.js';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { referenceGreedy } from '../fixtures/referenceModel.js';
import { postJson, startChatHarness, type ChatHarness } from './serverHarness.js';

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

interface GreedyOptions {
  numNew?: number;
  /** Generate past EOS (both sides): for a reply that must reach a position. */
  ignoreEos?: boolean;
  /** The reference feeds the prompt as two passes split here (LongRoPE: hearth's per-position choice). */
  splitPromptAt?: number;
}

/** The greedy reply to `messages` equals the float64 reference on the rendered prompt (cut at the first EOS id unless ignored); streamed and not. Returns the prompt's ids. */
async function assertGreedyReply(h: ChatHarness, messages: { role: 'system' | 'user' | 'assistant'; content: string }[], options: GreedyOptions = {}): Promise<number[]> {
  const { numNew = 8, ignoreEos = false, splitPromptAt } = options;
  const extra = ignoreEos ? ({ ignore_eos: true } as object) : {};
  const { json } = await postJson(`${h.url}/v1/chat/completions`, { model: h.model, messages, max_tokens: 1, temperature: 0, return_token_ids: true });
  const promptIds: number[] = json.choices[0].prompt_token_ids;
  const eos = new Set(h.manifest.tokenizer.eosTokenIds);
  const greedy = referenceGreedy(h.checkpointDir, promptIds, numNew, { splitPromptAt });
  const stop = ignoreEos ? -1 : greedy.findIndex((id) => eos.has(id));
  const expectedIds = stop === -1 ? greedy : greedy.slice(0, stop);
  const completion = await h.client.chat.completions.create({ model: h.model, messages, max_tokens: numNew, temperature: 0, ...extra });
  assert.equal(completion.choices[0]!.message.content, h.tokenizer.decode(expectedIds));
  assert.equal(completion.usage!.prompt_tokens, promptIds.length);
  if (ignoreEos) assert.equal(completion.usage!.completion_tokens, numNew);
  let streamed = '';
  for await (const chunk of await h.client.chat.completions.create({ model: h.model, messages, max_tokens: numNew, temperature: 0, stream: true, ...extra })) {
    streamed += chunk.choices[0]?.delta.content ?? '';
  }
  assert.equal(streamed, completion.choices[0]!.message.content);
  return promptIds;
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
});

describe('Granite 3.0 on its real chat template', () => {
  const h = withHarness('granite3.0', { arch: 'granite' });

  test('no system message of its own: only the turns given, then the assistant role', async () => {
    const rendered = await h().renderedPrompt({ messages: [{ role: 'user', content: 'Hi' }] });
    assert.equal(rendered, '<|start_of_role|>user<|end_of_role|>Hi<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>');
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
    const promptIds = await assertGreedyReply(h(), [{ role: 'user', content: 'Hi there' }], { numNew: 30, ignoreEos: true });
    assert.ok(promptIds.length < LONGROPE_ORIGINAL && promptIds.length + 30 > LONGROPE_ORIGINAL + 8, `prompt ${promptIds.length} tokens`);
  });

  test('a prompt that straddles original_max_position_embeddings in one request: each position keeps its own factors (hearth\'s documented choice)', async () => {
    // transformers' single forward pass would rotate positions 0..31 with the long factors too;
    // hearth equals the reference fed as the two passes on either side of position 32.
    const promptIds = await assertGreedyReply(h(), CONVERSATION, { splitPromptAt: LONGROPE_ORIGINAL });
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
