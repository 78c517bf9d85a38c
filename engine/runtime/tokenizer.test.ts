// The Jinja constructs the chat templates of the served families use (SmolLM3, Granite 3, OLMo 2,
// Phi-3.5 / Phi-4-mini, Qwen3, Llama 3.1, Gemma), each in a small template of our own, rendered
// by ModelTokenizer.applyChatTemplate as the chat route does. The families' whole templates run
// through the server in test/integration/hubTemplatesServe.test.ts and smollm3Serve.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TokenizerInfo } from '../common/manifest.js';
import { buildTokenizerConfig, buildTokenizerJson } from '../../test/fixtures/tokenizerFixture.js';
import { ModelTokenizer, type ChatMessage } from './tokenizer.js';

function render(template: string, messages: ChatMessage[], kwargs?: Record<string, unknown>, tools?: unknown[]): string {
  const info: TokenizerInfo = {
    tokenizerFile: 'tokenizer.json', tokenizerConfigFile: 'tokenizer_config.json', chatTemplate: template,
    bosToken: '<s>', eosToken: '</s>', bosTokenId: null, eosTokenIds: [], padTokenId: null, addBosToken: false,
  };
  const tokenizer = new ModelTokenizer(buildTokenizerJson(512), buildTokenizerConfig(256, template), info);
  return tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true, kwargs, tools });
}

const HI: ChatMessage[] = [{ role: 'user', content: 'hi' }];

describe('chat template constructs', () => {
  it("strftime_now (SmolLM3's '%d %B %Y', Granite's '%B %d, %Y')", () => {
    const now = new Date();
    const month = now.toLocaleString('en-US', { month: 'long' });
    const day = String(now.getDate()).padStart(2, '0');
    const rendered = render("{{ strftime_now('%d %B %Y') }}|{{ strftime_now('%B %d, %Y') }}", HI);
    assert.equal(rendered, `${day} ${month} ${now.getFullYear()}|${month} ${day}, ${now.getFullYear()}`);
  });

  it('namespace() set in a loop, ~ concatenation, tojson with Python spacing, and tojson(indent=4)', () => {
    const tools = [{ name: 'f', parameters: { a: [1, 2] } }];
    const rendered = render("{%- set ns = namespace(s='') -%}{%- for t in tools -%}{%- set ns.s = ns.s ~ (t | tojson) ~ ';' -%}{%- endfor -%}{{ ns.s }}\n{{ tools | tojson(indent=4) }}", HI, undefined, tools);
    assert.equal(rendered, `{"name": "f", "parameters": {"a": [1, 2]}};\n${JSON.stringify(tools, null, 4)}`);
  });

  it('macros, loop controls (break, continue), loop.first / loop.last / loop.index0', () => {
    const messages: ChatMessage[] = ['a', 'skip', 'b', 'stop', 'c'].map((content) => ({ role: 'user', content }));
    const template = "{%- macro tag(m, i) -%}<{{ i }}:{{ m.content }}>{%- endmacro -%}{%- for m in messages -%}{%- if m.content == 'skip' -%}{%- continue -%}{%- endif -%}{%- if m.content == 'stop' -%}{%- break -%}{%- endif -%}{{ '^' if loop.first }}{{ tag(m, loop.index0) }}{%- endfor -%}";
    assert.equal(render(template, messages), '^<0:a><2:b>');
  });

  it("'is string', 'is not defined', 'in' on a string, a mapping and an undefined variable", () => {
    const template = "{{ messages[0].content if messages[0].content is string else 'parts' }}|{{ 'd' if flag is not defined else flag }}|{{ '/think' in messages[0].content }}|{{ 'tools' in messages[0] }}|{{ 'x' in system_message }}|{{ 'citations' in controls }}";
    assert.equal(render(template, [{ role: 'user', content: 'a /think' }]), "a /think|d|true|false|false|false");
    assert.equal(render(template, [{ role: 'user', content: 'a', tools: [] } as ChatMessage], { flag: 'set' }), 'a|set|false|true|false|false');
  });

  it("string methods (replace, rstrip, lstrip, strip, startswith) and {% generation %}", () => {
    const template = "{%- generation -%}[{{ messages[0].content.replace('/no_think', '').rstrip() }}|{{ '\\n\\nx'.lstrip('\\n') }}|{{ '  y '.strip() }}|{{ messages[0].content.startswith('Be') }}]{%- endgeneration -%}";
    assert.equal(render(template, [{ role: 'user', content: 'Be brief. /no_think' }]), '[Be brief.|x|y|true]');
  });

  it('raise_exception throws its message (the chat route turns it into a 400)', () => {
    assert.throws(() => render("{{ raise_exception('Conversation roles must alternate') }}", HI), /Conversation roles must alternate/);
  });

  it('bos_token, eos_token and add_generation_prompt are the fixed variables; chat_template_kwargs cannot replace them', () => {
    const template = '{{ bos_token }}{{ messages[0].content }}{{ eos_token }}{{ add_generation_prompt }}{{ enable_thinking }}';
    assert.equal(render(template, HI, { bos_token: 'X', add_generation_prompt: false, enable_thinking: false }), '<s>hi</s>truefalse');
  });
});
