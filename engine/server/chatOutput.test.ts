import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatOutputParser, mergeDeltas, type ChatOutputOptions } from './chatOutput.js';
import { REASONING_FORMATS, reasoningFormatForTemplate } from './reasoningFormats.js';
import { TOOL_FORMATS, toolFormatForTemplate } from './toolFormats.js';

const hermes: ChatOutputOptions = { reasoning: REASONING_FORMATS.think, startsInReasoning: false, tools: TOOL_FORMATS.hermes, parallel: true };

/** Whole text at once, and every two-piece split, must give the same message (stream == non-stream). */
function parseAllWays(text: string, options: ChatOutputOptions) {
  const whole = new ChatOutputParser(options);
  const expected = mergeDeltas([...whole.push(text), ...whole.finish()]);
  const strip = (merged: typeof expected) => ({ ...merged, calls: merged.calls.map(({ name, arguments: args }) => ({ name, arguments: args })) });
  for (const pieces of [[...text], ...Array.from({ length: text.length - 1 }, (_, i) => [text.slice(0, i + 1), text.slice(i + 1)])]) {
    const parser = new ChatOutputParser(options);
    const deltas = [...pieces.flatMap((piece) => parser.push(piece)), ...parser.finish()];
    assert.deepEqual(strip(mergeDeltas(deltas)), strip(expected), `split ${JSON.stringify(pieces.slice(0, 2))}`);
    for (const delta of deltas) {
      for (const call of delta.tool_calls ?? []) {
        if (call.id) assert.ok(call.function.name && call.function.arguments === '' && call.type === 'function', 'id and name come first');
        else assert.equal(call.function.name, undefined, 'then argument fragments');
      }
    }
  }
  return strip(expected);
}

test('Hermes/Qwen: content, two calls, reasoning; stream splits agree at every cut', () => {
  const text = '<think>\nThe user wants weather.\n</think>\n\nLet me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>';
  assert.deepEqual(parseAllWays(text, hermes), {
    reasoning: 'The user wants weather.',
    content: 'Let me check.\n',
    calls: [{ name: 'get_weather', arguments: '{"city": "Paris"}' }, { name: 'get_time', arguments: '{}' }],
  });
});

test('Hermes: parallel_tool_calls false keeps the first call; a call cut before its closing tag still counts at the end', () => {
  const two = '<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n<tool_call>\n{"name": "b", "arguments": {}}\n</tool_call>';
  assert.deepEqual(parseAllWays(two, { ...hermes, parallel: false }).calls, [{ name: 'a', arguments: '{"x": 1}' }]);
  assert.deepEqual(parseAllWays('<tool_call>\n{"name": "a", "arguments": {"x": 1}}', hermes).calls, [{ name: 'a', arguments: '{"x": 1}' }]);
  // Keys in another order: the arguments are re-serialized.
  assert.deepEqual(parseAllWays('<tool_call>\n{"arguments": {"x": 1}, "name": "a"}\n</tool_call>', hermes).calls, [{ name: 'a', arguments: '{"x":1}' }]);
});

test('grammar-forced Hermes calls stream their arguments as written, fragments adding up to the call', () => {
  const text = '<tool_call>\n{"name": "get_weather", "arguments": {\n  "city": "Oslo",\n  "when": {"day": 2}\n}}\n</tool_call>\n<tool_call>\n{"name": "b", "arguments": {}}\n</tool_call>';
  const forced = { ...hermes, streamArguments: true };
  const expected = { reasoning: null, content: '', calls: [{ name: 'get_weather', arguments: '{\n  "city": "Oslo",\n  "when": {"day": 2}\n}' }, { name: 'b', arguments: '{}' }] };
  assert.deepEqual(parseAllWays(text, forced), expected);
  const parser = new ChatOutputParser(forced);
  const deltas = [...[...text].flatMap((char) => parser.push(char)), ...parser.finish()];
  const fragments = deltas.flatMap((delta) => delta.tool_calls ?? []).filter((call) => call.index === 0 && !call.id);
  assert.ok(fragments.length > 10, `arguments arrive in many fragments (${fragments.length})`);
  assert.equal(fragments.map((call) => call.function.arguments).join(''), expected.calls[0]!.arguments);
  assert.deepEqual(parseAllWays(text, { ...forced, parallel: false }).calls, [expected.calls[0]]);
});

test('malformed calls fall back to plain content, never lose text', () => {
  for (const text of [
    '<tool_call>\n{"name": "a", "arguments": {"x": </tool_call>', // broken JSON
    '<tool_call>\n{"arguments": {}}\n</tool_call>', // no name
    '<tool_call>\n{"name": "a", "arguments": [1]}\n</tool_call>', // arguments not an object
    'I would call <tool_call> but no', // prose
  ]) {
    assert.deepEqual(parseAllWays(text, hermes), { reasoning: null, content: text, calls: [] }, text);
  }
  const callThenProse = '<tool_call>\n{"name": "a", "arguments": {}}\n</tool_call>\nDone!';
  assert.deepEqual(parseAllWays(callThenProse, hermes), { reasoning: null, content: '\nDone!', calls: [{ name: 'a', arguments: '{}' }] });
  assert.deepEqual(parseAllWays(callThenProse, { ...hermes, streamArguments: true }), { reasoning: null, content: '\nDone!', calls: [{ name: 'a', arguments: '{}' }] });
});

test('Llama 3.1 JSON calls only when the reply is the call; arguments may be called parameters', () => {
  const llama: ChatOutputOptions = { reasoning: null, startsInReasoning: false, tools: TOOL_FORMATS.llama3_json, parallel: true };
  assert.deepEqual(parseAllWays('{"name": "get_weather", "parameters": {"city": "Oslo"}}', llama).calls, [{ name: 'get_weather', arguments: '{"city":"Oslo"}' }]);
  assert.deepEqual(parseAllWays('<|python_tag|>{"name": "a", "parameters": {}}; {"name": "b", "arguments": {"k": true}}', { ...llama }).calls.length, 0, 'the python tag is a special token the detokenizer drops; with it the reply does not open with {');
  assert.deepEqual(parseAllWays(' {"name": "a", "parameters": {}}; {"name": "b", "arguments": {"k": true}}', llama).calls, [{ name: 'a', arguments: '{}' }, { name: 'b', arguments: '{"k":true}' }]);
  assert.deepEqual(parseAllWays('Use {"name": "a"} like so', llama), { reasoning: null, content: 'Use {"name": "a"} like so', calls: [] });
  assert.deepEqual(parseAllWays('{"name": "a", "parameters": {"x": }', llama).calls, []);
});

test('Mistral [TOOL_CALLS] list', () => {
  const mistral: ChatOutputOptions = { reasoning: null, startsInReasoning: false, tools: TOOL_FORMATS.mistral, parallel: true };
  assert.deepEqual(parseAllWays('[TOOL_CALLS][{"name": "a", "arguments": {"q": "x"}}, {"name": "b", "arguments": {}}]', mistral).calls, [
    { name: 'a', arguments: '{"q":"x"}' },
    { name: 'b', arguments: '{}' },
  ]);
  assert.deepEqual(parseAllWays('[TOOL_CALLS][{"name": "a", "arguments": ', mistral), { reasoning: null, content: '[TOOL_CALLS][{"name": "a", "arguments": ', calls: [] });
});

test('reasoning: a template-opened think block, an unfinished one, and none at all', () => {
  const plain: ChatOutputOptions = { reasoning: REASONING_FORMATS.think, startsInReasoning: false, tools: null, parallel: true };
  assert.deepEqual(parseAllWays('Hi <think> there', plain), { reasoning: null, content: 'Hi <think> there', calls: [] });
  assert.deepEqual(parseAllWays('<think>\nstill thinking', plain), { reasoning: 'still thinking', content: '', calls: [] });
  assert.deepEqual(parseAllWays('step one\n</think>\n\nAnswer', { ...plain, startsInReasoning: true }), { reasoning: 'step one', content: 'Answer', calls: [] });
  assert.deepEqual(parseAllWays('<think>\nx\n</think>', { ...plain, reasoning: null }), { reasoning: null, content: '<think>\nx\n</think>', calls: [] });
});

/** Every delta of a char-by-char stream: none may hold any of `leaks` (a marker, whole or in part). */
function assertNoLeak(text: string, options: ChatOutputOptions, leaks: RegExp): void {
  const parser = new ChatOutputParser(options);
  for (const delta of [...[...text].flatMap((char) => parser.push(char)), ...parser.finish()]) {
    assert.doesNotMatch(`${delta.reasoning_content ?? ''}${delta.content ?? ''}`, leaks, JSON.stringify(delta));
  }
}

test('Granite 3.3 thinking: <think>…</think> is reasoning, <response>…</response> the content without its tags; no partial tag streams', () => {
  const granite: ChatOutputOptions = { reasoning: REASONING_FORMATS.granite_tags, startsInReasoning: false, tools: null, parallel: true };
  const text = '<think>The user greets me.</think><response>Hello there.</response>';
  assert.deepEqual(parseAllWays(text, granite), { reasoning: 'The user greets me.', content: 'Hello there.', calls: [] });
  assertNoLeak(text, granite, /[<>]/);
  assert.deepEqual(parseAllWays('<think>\nStep one.\n</think>\n\n<response>Hi.</response>', granite), { reasoning: 'Step one.', content: 'Hi.', calls: [] });
  assert.deepEqual(parseAllWays('<response>Hi.</response>', granite), { reasoning: null, content: 'Hi.', calls: [] }, 'no thoughts, only the answer');
  assert.deepEqual(parseAllWays('<think>a</think><response>Hel', granite), { reasoning: 'a', content: 'Hel', calls: [] }, 'cut by max_tokens');
  assert.deepEqual(parseAllWays('<think>still', granite), { reasoning: 'still', content: '', calls: [] });
  assert.deepEqual(parseAllWays('Hi <response>x</response>', granite), { reasoning: null, content: 'Hi <response>x</response>', calls: [] }, 'tags mid-text are text');
  assert.deepEqual(parseAllWays('<respond', granite), { reasoning: null, content: '<respond', calls: [] }, 'a tag that never completes is text');
});

test('Granite 3.3 thinking with tools: a call after the thoughts, after the answer, or inside it', () => {
  const granite: ChatOutputOptions = { reasoning: REASONING_FORMATS.granite_tags, startsInReasoning: false, tools: TOOL_FORMATS.granite, parallel: true };
  const call = '<|tool_call|>[{"name": "get_time", "arguments": {"zone": "UTC"}}]';
  const calls = [{ name: 'get_time', arguments: '{"zone": "UTC"}' }];
  assert.deepEqual(parseAllWays(`<think>Need the time.</think>${call}`, granite), { reasoning: 'Need the time.', content: '', calls });
  assert.deepEqual(parseAllWays(`<think>t</think><response>Checking.</response>${call}`, granite), { reasoning: 't', content: 'Checking.', calls });
  assert.deepEqual(parseAllWays(`<think>t</think><response>Checking.${call}</response>`, granite), { reasoning: 't', content: 'Checking.', calls });
  assertNoLeak(`<think>t</think><response>Checking.</response>${call}`, granite, /[<>]/);
});

test("Granite 3.2 thinking: 'Here is my thought process:' … 'Here is my response:' (or \"Here's\"), the phrases and their padding dropped", () => {
  const granite: ChatOutputOptions = { reasoning: REASONING_FORMATS.granite_phrases, startsInReasoning: false, tools: null, parallel: true };
  const text = 'Here is my thought process:\nThe user greets me.\n\nHere is my response:\nHello there.';
  assert.deepEqual(parseAllWays(text, granite), { reasoning: 'The user greets me.', content: 'Hello there.', calls: [] });
  assertNoLeak(text, granite, /Here|my|:/);
  assert.deepEqual(parseAllWays("Here's my thought process: a b\nHere's my response: c", granite), { reasoning: 'a b', content: 'c', calls: [] });
  assert.deepEqual(parseAllWays('Here is my thought process:\nstill going  ', granite), { reasoning: 'still going  ', content: '', calls: [] });
  assert.deepEqual(parseAllWays('Hello there.', granite), { reasoning: null, content: 'Hello there.', calls: [] });
  assert.deepEqual(parseAllWays('Here is my answer.', granite), { reasoning: null, content: 'Here is my answer.', calls: [] });
});

test('the reasoning markup is chosen from the template and, for Granite, its thinking flag', () => {
  const granite33 = "<|start_of_role|>{% if thinking %}Write your thoughts between <think></think> and write your response between <response></response>{% endif %}";
  const granite32 = "<|start_of_role|>{% if thinking %}Write your thoughts after 'Here is my thought process:' and write your response after 'Here is my response:'{% endif %}";
  assert.equal(reasoningFormatForTemplate(granite33, { thinking: true })?.name, 'granite_tags');
  assert.equal(reasoningFormatForTemplate(granite33, {})?.name, 'think', 'without the flag: plain <think> blocks, as for any template that has them');
  assert.equal(reasoningFormatForTemplate(granite32, { thinking: true })?.name, 'granite_phrases');
  assert.equal(reasoningFormatForTemplate(granite32, { thinking: false }), null);
  assert.equal(reasoningFormatForTemplate('{{ "<think>\\n" + reasoning + "\\n</think>" }}', { thinking: true })?.name, 'think');
  assert.equal(reasoningFormatForTemplate('{% for m in messages %}{{ m.content }}{% endfor %}'), null);
});

test('the syntax is chosen from the template', () => {
  assert.equal(toolFormatForTemplate('{% for m in messages %}{{ m.content }}{% endfor %}'), null);
  assert.equal(toolFormatForTemplate('{% if tools %}<tool_call>{% endif %}')?.name, 'hermes');
  assert.equal(toolFormatForTemplate('{% if tools %}[AVAILABLE_TOOLS]{{ tools }}[TOOL_CALLS]{% endif %}')?.name, 'mistral');
  assert.equal(toolFormatForTemplate('{% if tools %}{"name": function name, "parameters": ...} ipython <|python_tag|>{% endif %}')?.name, 'llama3_json');
  assert.equal(toolFormatForTemplate("{% if 'tools' in message %}{{ '<|tool|>' + message['tools'] + '<|/tool|>' }}{% endif %}")?.name, 'phi4_mini');
  assert.equal(toolFormatForTemplate("{% if tools %}{{ '<|start_of_role|>available_tools<|end_of_role|>' + tools | tojson }}{% endif %} respond with <|tool_call|>")?.name, 'granite');
});

test('Granite: <|tool_call|>[...] after content, with no closing marker; stream splits agree at every cut', () => {
  const granite: ChatOutputOptions = { reasoning: null, startsInReasoning: false, tools: TOOL_FORMATS.granite, parallel: true };
  const text = 'Checking.<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris"}}, {"arguments": {}, "name": "get_time"}]';
  assert.deepEqual(parseAllWays(text, granite), { reasoning: null, content: 'Checking.', calls: [{ name: 'get_weather', arguments: '{"city": "Paris"}' }, { name: 'get_time', arguments: '{}' }] });
  assert.deepEqual(parseAllWays('<|tool_call|>[{"name": "a", "arguments": {"x": 1}', granite).calls, [], 'an unfinished list is no call');
});

test('Phi-4-mini: <|tool_call|>[...]<|/tool_call|> lists after content; stream splits agree at every cut', () => {
  const phi: ChatOutputOptions = { reasoning: null, startsInReasoning: false, tools: TOOL_FORMATS.phi4_mini, parallel: true };
  const text = 'Checking.<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_time", "arguments": {}}]<|/tool_call|>';
  assert.deepEqual(parseAllWays(text, phi), { reasoning: null, content: 'Checking.', calls: [{ name: 'get_weather', arguments: '{"city": "Paris"}' }, { name: 'get_time', arguments: '{}' }] });
  // The closing marker is optional at the end; one object without the list counts; keys in another order are re-serialized.
  assert.deepEqual(parseAllWays('<|tool_call|>[{"name": "a", "arguments": {"x": 1}}]', phi).calls, [{ name: 'a', arguments: '{"x": 1}' }]);
  assert.deepEqual(parseAllWays('<|tool_call|>{"name": "a", "arguments": {"x": 1}}<|/tool_call|>', phi).calls, [{ name: 'a', arguments: '{"x": 1}' }]);
  assert.deepEqual(parseAllWays('<|tool_call|>[{"arguments": {"x": 1}, "name": "a"}]<|/tool_call|>', phi).calls, [{ name: 'a', arguments: '{"x":1}' }]);
  assert.deepEqual(parseAllWays('<|tool_call|>[{"name": "a", "arguments": {}}]<|/tool_call|><|tool_call|>[{"name": "b", "arguments": {}}]', phi).calls.map((call) => call.name), ['a', 'b']);
  assert.deepEqual(parseAllWays(text, { ...phi, parallel: false }).calls, [{ name: 'get_weather', arguments: '{"city": "Paris"}' }]);
  // Strings holding brackets and escaped quotes do not end a call early.
  assert.deepEqual(parseAllWays('<|tool_call|>[{"name": "a", "arguments": {"q": "] \\" }<|/tool_call|>"}}]<|/tool_call|>', phi).calls, [{ name: 'a', arguments: '{"q": "] \\" }<|/tool_call|>"}' }]);
});

test('Phi-4-mini: malformed lists fall back to plain content; text after a list is content', () => {
  const phi: ChatOutputOptions = { reasoning: null, startsInReasoning: false, tools: TOOL_FORMATS.phi4_mini, parallel: true };
  for (const text of [
    '<|tool_call|>[{"name": "a", "arguments": {"x": }]<|/tool_call|>', // broken JSON
    '<|tool_call|>[{"arguments": {}}]<|/tool_call|>', // no name
    '<|tool_call|>[{"name": "a", "arguments": [1]}]<|/tool_call|>', // arguments not an object
    '<|tool_call|>[]<|/tool_call|>', // no calls
    '<|tool_call|>[{"name": "a", "arguments": {"x": 1', // cut inside a call
    '<|tool_call|> sure, calling now', // prose
    'I would write <|tool_call|>', // a marker at the very end
  ]) {
    assert.deepEqual(parseAllWays(text, phi), { reasoning: null, content: text, calls: [] }, text);
  }
  // Cut after a complete call (max_tokens): that call counts, as a Hermes call cut before its closing tag does.
  assert.deepEqual(parseAllWays('<|tool_call|>[{"name": "a", "arguments": {}}, {"name": "b"', phi), { reasoning: null, content: ', {"name": "b"', calls: [{ name: 'a', arguments: '{}' }] });
  const listThenProse = '<|tool_call|>[{"name": "a", "arguments": {}}]<|/tool_call|> Done!';
  assert.deepEqual(parseAllWays(listThenProse, phi), { reasoning: null, content: ' Done!', calls: [{ name: 'a', arguments: '{}' }] });
  assert.deepEqual(parseAllWays('<|tool_call|>[{"name": "a", "arguments": {}}] Done!', phi), { reasoning: null, content: ' Done!', calls: [{ name: 'a', arguments: '{}' }] });
});

test('grammar-forced Phi-4-mini calls stream their arguments as written, fragments adding up to each call', () => {
  const forced: ChatOutputOptions = { reasoning: null, startsInReasoning: false, tools: TOOL_FORMATS.phi4_mini, parallel: true, streamArguments: true };
  const text = '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Oslo", "days": [1, 2]}}, {"name": "b", "arguments": {"k": "]"}}]<|/tool_call|>';
  const expected = [{ name: 'get_weather', arguments: '{"city": "Oslo", "days": [1, 2]}' }, { name: 'b', arguments: '{"k": "]"}' }];
  assert.deepEqual(parseAllWays(text, forced).calls, expected);
  const parser = new ChatOutputParser(forced);
  const deltas = [...[...text].flatMap((char) => parser.push(char)), ...parser.finish()];
  for (const [index, call] of expected.entries()) {
    const fragments = deltas.flatMap((delta) => delta.tool_calls ?? []).filter((delta) => delta.index === index && !delta.id);
    assert.ok(fragments.length > 3, `call ${index}: arguments arrive in several fragments (${fragments.length})`);
    assert.equal(fragments.map((delta) => delta.function.arguments).join(''), call.arguments);
  }
});
