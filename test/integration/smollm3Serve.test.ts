// A SmolLM3 package through `hearth serve` and the openai client, on a template in SmolLM3's shape
// (test/fixtures/chatTemplates.ts: no npm package ships SmolLM3's own): the system turn it always
// writes, dated by strftime_now; enable_thinking and the /think, /no_think system flags; the
// empty think block of /no_think mode in the prompt; tools listed as XML; and the Jinja
// constructs SmolLM3's real template relies on, rendered by our pipeline.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { assertGreedyReply, postJson, startChatHarness, type ChatHarness } from './serverHarness.js';

let h: ChatHarness;

before(async () => {
  h = await startChatHarness({ fixture: () => ensureFixturePackage({ arch: 'smollm3', chatTemplate: 'smollm3', dtype: 'fp32' }) });
});
after(async () => {
  await h?.stop();
});

/** strftime('%d %B %Y') of the days a request made between `from` and now can see. */
function smolDates(from: Date): string[] {
  const format = (date: Date) => `${String(date.getDate()).padStart(2, '0')} ${date.toLocaleString('en-US', { month: 'long' })} ${date.getFullYear()}`;
  return [...new Set([format(from), format(new Date())])];
}

function systemTurn(date: string, mode: '/think' | '/no_think', instructions: string, xmlTools = 'None'): string {
  return `<|im_start|>system\n## Metadata\n\nKnowledge Cutoff Date: June 2025\nToday Date: ${date}\nReasoning Mode: ${mode}\n\n## Custom Instructions\n\n${instructions}\n\n## Tools\n\n### XML Tools\n\n${xmlTools}\n\n### Python Tools\n\nNone\n\n<|im_end|>\n`;
}

const NO_THINK_BLOCK = '<think>\n\n</think>\n';

describe('SmolLM3 chat template through hearth serve', () => {
  test('<|im_end|> ends generation', () => {
    assert.deepEqual(h.manifest.tokenizer.eosTokenIds, h.tokenizer.encode('<|im_end|>', { addSpecialTokens: false }));
  });

  test('without a system message: its own system turn, dated today, in /think mode; the generation prompt opens the assistant turn', async () => {
    const from = new Date();
    const rendered = await h.renderedPrompt({ messages: [{ role: 'user', content: 'Hi' }] });
    const expected = smolDates(from).map((date) => `${systemTurn(date, '/think', 'You are a helpful assistant.')}<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n`);
    assert.ok(expected.includes(rendered), rendered);
  });

  test('enable_thinking false (chat_template_kwargs): /no_think, and every assistant turn and the generation prompt carry an empty think block', async () => {
    const from = new Date();
    const rendered = await h.renderedPrompt({
      messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: '\nHello.' }, { role: 'user', content: 'Again' }],
      chat_template_kwargs: { enable_thinking: false },
    });
    const turns = `<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n${NO_THINK_BLOCK}Hello.<|im_end|>\n<|im_start|>user\nAgain<|im_end|>\n<|im_start|>assistant\n${NO_THINK_BLOCK}`;
    assert.ok(smolDates(from).some((date) => rendered === systemTurn(date, '/no_think', 'You are a helpful assistant.') + turns), rendered);
  });

  test('a /no_think or /think in the system message overrides enable_thinking and is removed from the instructions', async () => {
    const noThink = await h.renderedPrompt({ messages: [{ role: 'system', content: 'Be brief. /no_think' }, { role: 'user', content: 'Hi' }] });
    assert.match(noThink, /Reasoning Mode: \/no_think\n\n## Custom Instructions\n\nBe brief\.\n\n/);
    assert.ok(noThink.endsWith(`<|im_start|>assistant\n${NO_THINK_BLOCK}`));
    const think = await h.renderedPrompt({ messages: [{ role: 'system', content: '/think Be brief.' }, { role: 'user', content: 'Hi' }], chat_template_kwargs: { enable_thinking: false } });
    assert.match(think, /Reasoning Mode: \/think\n\n## Custom Instructions\n\n Be brief\.\n\n/);
    assert.ok(think.endsWith('<|im_start|>assistant\n'));
  });

  test('/system_override replaces the whole system turn', async () => {
    const rendered = await h.renderedPrompt({ messages: [{ role: 'system', content: 'Only this. /system_override' }, { role: 'user', content: 'Hi' }] });
    assert.equal(rendered, '<|im_start|>system\nOnly this.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
  });

  test('tools are listed one JSON object a line inside <tools>, and python_tools (chat_template_kwargs) has its own section', async () => {
    const tool = { type: 'function' as const, function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
    const rendered = await h.renderedPrompt({ messages: [{ role: 'user', content: 'Weather?' }], tools: [tool], chat_template_kwargs: { python_tools: 'def get_weather(city: str) -> str: ...' } });
    // tojson writes Python's json.dumps spacing: ", " and ": ".
    const json = JSON.stringify(tool).replaceAll('":', '": ').replaceAll(',"', ', "');
    assert.ok(rendered.includes(`### XML Tools\n\n<tools>\n${json}\n</tools>\n\nCall a function as a JSON object within <tool_call></tool_call> XML tags.\n\n### Python Tools\n\ndef get_weather(city: str) -> str: ...\n\n`), rendered);
  });

  test("a role the template does not know is a 400 carrying its raise_exception message", async () => {
    const { status, json } = await postJson(`${h.url}/v1/chat/completions`, { model: h.model, messages: [{ role: 'user', content: 'a' }, { role: 'system', content: 'late' }], max_tokens: 1 });
    assert.equal(status, 400, JSON.stringify(json));
    assert.match(json.error.message, /Unexpected role system/);
  });

  test('openai client, /no_think: the greedy reply equals the float64 reference on the rendered prompt, as content (no reasoning), streamed and not', async () => {
    const { message } = await assertGreedyReply(h, [{ role: 'system', content: 'Answer briefly. /no_think' }, { role: 'user', content: 'What is 2 + 2?' }]);
    assert.equal((message as { reasoning_content?: string }).reasoning_content, undefined);
  });
});
