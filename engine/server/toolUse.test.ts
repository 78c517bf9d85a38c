import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelManifest } from '../common/manifest.js';
import { ApiError } from './errors.js';
import { resolveToolUse } from './toolUse.js';
import type { ChatCompletionBody } from './validation.js';

const manifestWith = (chatTemplate: string | null) => ({ name: 'm', tokenizer: { chatTemplate } }) as unknown as ModelManifest;
const body = (extra: Partial<ChatCompletionBody>) => ({ messages: [{ role: 'user', content: 'hi' }], ...extra }) as ChatCompletionBody;
const TOOLS = [{ type: 'function' as const, function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'integer' } } } } }];

test('a template that never renders tools → 400 on tools, saying so', () => {
  const chatml = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}";
  assert.throws(
    () => resolveToolUse(manifestWith(chatml), body({ tools: TOOLS })),
    (error: unknown) => error instanceof ApiError && error.status === 400 && error.param === 'tools' && /never renders 'tools'/.test(error.message),
  );
  assert.deepEqual(resolveToolUse(manifestWith(chatml), body({})), { templateTools: undefined, format: null, constraint: undefined, parallel: true });
});

test('tool_choice: auto parses, none hides the tools, required/named add the family grammar', () => {
  const hermes = manifestWith('{% if tools %}{{ tools | tojson }}<tool_call>{% endif %}');
  const auto = resolveToolUse(hermes, body({ tools: TOOLS }));
  assert.equal(auto.format?.name, 'hermes');
  assert.equal(auto.constraint, undefined);
  assert.deepEqual(resolveToolUse(hermes, body({ tools: TOOLS, tool_choice: 'none' })).templateTools, undefined);
  const named = resolveToolUse(hermes, body({ tools: TOOLS, tool_choice: { type: 'function', function: { name: 'f' } } }));
  assert.equal(named.constraint?.type, 'structural_tag');
  const format = (named.constraint as unknown as { tag: { format: Record<string, unknown> } }).tag.format;
  assert.equal(format.stop_after_first, true);
  assert.deepEqual((format.tags as { begin: string; end: string }[]).map((tag) => [tag.begin, tag.end]), [['<tool_call>\n{"name": "f", "arguments": ', '}\n</tool_call>']]);
  const required = resolveToolUse(hermes, body({ tools: TOOLS, tool_choice: 'required', parallel_tool_calls: true }));
  assert.equal((required.constraint as unknown as { tag: { format: Record<string, unknown> } }).tag.format.stop_after_first, false);
});
