// Tool calling end to end over HTTP for the families beside Hermes/Qwen (test/integration/
// toolCalling.test.ts): Llama 3.1 on its real tokenizer with a tool-capable template, Mistral
// v0.3 on the synthetic byte-level tokenizer with its markers as special tokens and a template in
// its shape (test/fixtures/chatTemplates.ts: no npm package ships one), Phi-4-mini and Granite 3.3
// on their real templates (test/fixtures/hubChatTemplates.ts) over the synthetic tokenizer with
// their special tokens. Random weights, so calls are
// forced by tool_choice; the markers a grammar forces may come out as the special token (which
// the detokenizer drops and the server puts back for the parser) or spelled in ordinary tokens.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { droppedMarkers, parserText, ChatOutputParser, mergeDeltas } from '../../engine/server/chatOutput.js';
import { TOOL_FORMATS, type ToolFormatName } from '../../engine/server/toolFormats.js';
import type { FixturePackageOptions } from '../fixtures/packages.js';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { postJson, startChatHarness, type ChatHarness } from './serverHarness.js';
import { TOOLS, assertValidCall, user } from '../fixtures/weatherTools.js';


interface Family {
  format: ToolFormatName;
  fixture: FixturePackageOptions;
  /** What the rendered prompt shows of the tools. */
  toolsInPrompt: RegExp;
  /** What the rendered prompt shows of an earlier call to get_time({"zone": "UTC"}) and its result "12:00". */
  historyInPrompt: RegExp;
}

const FAMILIES: Family[] = [
  {
    format: 'llama3_json',
    fixture: { arch: 'llama', dtype: 'fp32', shape: 'tiny', tokenizer: 'llama3_1', chatTemplate: 'llama3_1_tools' },
    toolsInPrompt: /Environment: ipython\nBe brief\.<\|eot_id\|>.*\{"type": ?"function", ?"function": ?\{"name": ?"get_weather"/s,
    historyInPrompt: /<\|start_header_id\|>assistant<\|end_header_id\|>\n\n\{"name": "get_time", "parameters": \{"zone": ?"UTC"\}\}<\|eot_id\|><\|start_header_id\|>ipython<\|end_header_id\|>\n\n12:00<\|eot_id\|>/,
  },
  {
    format: 'mistral',
    fixture: { arch: 'mistral', dtype: 'fp32', shape: 'tiny', chatTemplate: 'mistral_tools' },
    toolsInPrompt: /^<\|im_start\|>\[INST\]Be brief\.\[\/INST\]\[AVAILABLE_TOOLS\]\[\{"type": ?"function", ?"function": ?\{"name": ?"get_weather".*\[\/AVAILABLE_TOOLS\]\[INST\]/s,
    historyInPrompt: /\[TOOL_CALLS\]\[\{"name": "get_time", "arguments": \{"zone": ?"UTC"\}, "id": "call_1"\}\]<\|im_end\|>\[TOOL_RESULTS\]\{"content": "12:00", "call_id": "call_1"\}\[\/TOOL_RESULTS\]/,
  },
  {
    format: 'phi4_mini',
    fixture: { arch: 'phi3', dtype: 'fp32', shape: 'tiny', hubChatTemplate: 'phi4-mini' },
    toolsInPrompt: /^<\|system\|>Be brief\.<\|tool\|>\[\{"name":"get_weather","description":"Forecast for a city","parameters":\{.*\}\]<\|\/tool\|><\|end\|><\|user\|>/s,
    historyInPrompt: /<\|assistant\|><\|tool_call\|>\[\{"name":"get_time","arguments":\{"zone":"UTC"\}\}\]<\|\/tool_call\|><\|end\|><\|tool\|>12:00<\|end\|>/,
  },
  {
    // The template renders only contents: earlier calls are written back in Granite's syntax.
    format: 'granite',
    fixture: { arch: 'granite', dtype: 'fp32', shape: 'tiny', hubChatTemplate: 'granite3.3' },
    toolsInPrompt: /^<\|start_of_role\|>system<\|end_of_role\|>Be brief\.<\|end_of_text\|>\n<\|start_of_role\|>available_tools<\|end_of_role\|>\[\n {4}\{\n {8}"type": "function",\n {8}"function": \{\n {12}"name": "get_weather"/,
    historyInPrompt: /<\|start_of_role\|>assistant<\|end_of_role\|><\|tool_call\|>\[\{"name":"get_time","arguments":\{"zone":"UTC"\}\}\]<\|end_of_text\|>\n<\|start_of_role\|>tool<\|end_of_role\|>12:00<\|end_of_text\|>\n/,
  },
];

for (const family of FAMILIES) {
  describe(`${family.format} tool calls over HTTP`, () => {
    let h: ChatHarness;
    let client: OpenAI;

    before(async () => {
      h = await startChatHarness({ fixture: () => ensureFixturePackage(family.fixture) });
      client = h.client;
    });
    after(async () => {
      await h?.stop();
    });

    test('the template renders the tools where the family reads them, and earlier calls and results back', async () => {
      const withTools = await h.renderedPrompt({ messages: [{ role: 'system', content: 'Be brief.' }, ...user('hi')], tools: TOOLS });
      assert.match(withTools, family.toolsInPrompt);
      assert.doesNotMatch(await h.renderedPrompt({ messages: [{ role: 'system', content: 'Be brief.' }, ...user('hi')], tools: TOOLS, tool_choice: 'none' }), /get_weather/);
      const history = await h.renderedPrompt({
        messages: [
          ...user('What time is it?'),
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_time', arguments: '{"zone": "UTC"}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: '12:00' },
        ],
        tools: TOOLS,
      });
      assert.match(history, family.historyInPrompt);
    });

    test('a named tool_choice forces that call over seeds: arguments match its schema, finish_reason tool_calls', async () => {
      for (let seed = 1; seed <= 3; seed++) {
        const completion = await client.chat.completions.create({
          model: h.model, messages: user('What time is it?'), tools: TOOLS, tool_choice: { type: 'function', function: { name: 'get_time' } }, temperature: 1, seed, max_tokens: 200,
        });
        const choice = completion.choices[0]!;
        assert.equal(choice.finish_reason, 'tool_calls', JSON.stringify(choice));
        assert.equal(choice.message.tool_calls!.length, 1);
        assert.equal((choice.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall).function.name, 'get_time');
        assertValidCall(choice.message.tool_calls![0]!);
      }
    });

    test("tool_choice 'required': streamed deltas in OpenAI's shape add up to the non-streamed calls", async () => {
      for (let seed = 1; seed <= 2; seed++) {
        const request = { model: h.model, messages: user('Weather in Oslo?'), tools: TOOLS, tool_choice: 'required' as const, temperature: 1, seed, max_tokens: 300 };
        const whole = await client.chat.completions.create(request);
        assert.equal(whole.choices[0]!.finish_reason, 'tool_calls');
        const calls = whole.choices[0]!.message.tool_calls!;
        assert.ok(calls.length >= 1);
        calls.forEach(assertValidCall);
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
        calls.forEach((call, index) => {
          const own = deltas.filter((delta) => delta.index === index);
          assert.ok(own[0]!.id && own[0]!.type === 'function' && own[0]!.function?.arguments === '', 'id and name first');
          assert.ok(own.slice(1).every((delta) => delta.id === undefined && delta.function?.name === undefined), 'then argument fragments');
          const fn = (call as OpenAI.ChatCompletionMessageFunctionToolCall).function;
          assert.equal(own[0]!.function!.name, fn.name);
          assert.equal(own.map((delta) => delta.function?.arguments ?? '').join(''), fn.arguments);
        });
      }
    });

    test('call markers that are special tokens: dropped by the detokenizer, put back for the parser', async () => {
      const format = TOOL_FORMATS[family.format];
      const markers = droppedMarkers(h.tokenizer, format);
      // Llama's JSON calls have no marker of their own (<|python_tag|> is dropped and not needed).
      assert.deepEqual([...markers.values()], family.format === 'llama3_json' ? [] : format.markers);
      if (markers.size === 0) return;
      // The model writing the markers as its special tokens (as a trained model does): the
      // detokenizer's text has no marker, the parser still finds the call.
      const call = '[{"name": "get_time", "arguments": {"zone": "CET"}}]';
      const ids = [...markers.keys()];
      const tokens = [
        { tokenId: ids[0]!, text: '' },
        ...h.tokenizer.encode(call, { addSpecialTokens: false }).map((tokenId) => ({ tokenId, text: h.tokenizer.decode([tokenId]) })),
        ...ids.slice(1).map((tokenId) => ({ tokenId, text: '' })),
      ];
      assert.equal(h.tokenizer.decode(tokens.map((token) => token.tokenId)), call, 'the markers decode to nothing');
      const options = { reasoning: null, startsInReasoning: false, tools: format, parallel: true, markers };
      const parser = new ChatOutputParser(options);
      const merged = mergeDeltas([...tokens.flatMap((token) => parser.push(parserText(token, options))), ...parser.finish()]);
      assert.deepEqual(merged.calls.map(({ name, arguments: args }) => ({ name, arguments: args })), [{ name: 'get_time', arguments: format.name === 'phi4_mini' || format.name === 'granite' ? '{"zone": "CET"}' : '{"zone":"CET"}' }]);
      assert.equal(merged.content, '');
      if (family.format !== 'mistral') return; // xgrammar never lets a grammar write <...> tokens (see docs/api.md)
      // Forced calls on the real server: the grammar lets the model write [TOOL_CALLS] as its
      // special token or spelled out; either way the call parses (seeds where each happens).
      const paths = new Set<string>();
      for (let seed = 1; seed <= 6; seed++) {
        const { status, json } = await postJson(`${h.url}/v1/chat/completions`, {
          model: h.model, messages: user('Time?'), tools: TOOLS, tool_choice: { type: 'function', function: { name: 'get_time' } }, temperature: 1, seed, max_tokens: 200, return_token_ids: true,
        });
        assert.equal(status, 200, JSON.stringify(json));
        assert.equal(json.choices[0].finish_reason, 'tool_calls', JSON.stringify(json.choices[0]));
        assertValidCall(json.choices[0].message.tool_calls[0]);
        paths.add(json.choices[0].token_ids.includes(ids[0]) ? 'special token' : 'spelled out');
      }
      assert.deepEqual([...paths].sort(), ['special token', 'spelled out']);
    });
  });
}
