// What a chat request's tools, tool_choice and parallel_tool_calls mean for one model: the tools
// its template renders, the syntax its replies are parsed in, and (for 'required' or a named
// function) the grammar that forces a call whose arguments match the function's schema.
import type { ConstraintSpec } from '../common/engineApi.js';
import type { ModelManifest } from '../common/manifest.js';
import { badRequest } from './errors.js';
import { checkJsonSchema } from './structuredOutput.js';
import { toolFormatForTemplate, type ToolFormat } from './toolFormats.js';
import type { ChatCompletionBody } from './validation.js';

export interface ToolUse {
  /** Passed to the template as `tools` (undefined: no tools, or tool_choice 'none'). */
  templateTools: unknown[] | undefined;
  /** Parse replies for calls in this syntax (null: no calls expected). */
  format: ToolFormat | null;
  constraint: ConstraintSpec | undefined;
  parallel: boolean;
}

/** One syntax per model, read from its template once. */
const formats = new WeakMap<ModelManifest, ToolFormat | null>();

function formatOf(manifest: ModelManifest): ToolFormat | null {
  if (!formats.has(manifest)) formats.set(manifest, manifest.tokenizer.chatTemplate ? toolFormatForTemplate(manifest.tokenizer.chatTemplate) : null);
  return formats.get(manifest)!;
}

export function resolveToolUse(manifest: ModelManifest, body: ChatCompletionBody): ToolUse {
  const tools = body.tools ?? [];
  const choice = body.tool_choice ?? (tools.length > 0 ? 'auto' : 'none');
  const parallel = body.parallel_tool_calls ?? true;
  if (tools.length === 0) {
    if (choice !== 'none' && choice !== 'auto') throw badRequest(`tool_choice ${JSON.stringify(choice)} needs 'tools'.`, 'tool_choice');
    return { templateTools: undefined, format: null, constraint: undefined, parallel };
  }
  const format = formatOf(manifest);
  if (format === null) {
    throw badRequest(
      `The model '${manifest.name}' cannot call tools: its chat template never renders 'tools', so it was not trained to. Leave out 'tools', or serve a tool-calling model (e.g. Qwen3, Llama 3.1+, Mistral).`,
      'tools',
    );
  }
  const definitions = tools.map((tool, i) => {
    const parameters = tool.function.parameters ?? {};
    checkJsonSchema(parameters, `tools[${i}].function.parameters`);
    return { name: tool.function.name, parameters: parameters as Record<string, unknown> };
  });
  if (choice === 'none') return { templateTools: undefined, format: null, constraint: undefined, parallel };
  const forced = choice === 'auto' ? null : choice === 'required' ? definitions : definitions.filter((tool) => tool.name === choice.function.name);
  if (forced !== null && forced.length === 0) {
    const named = (choice as { function: { name: string } }).function.name;
    throw badRequest(`tool_choice names the function '${named}', which is not in 'tools' (${definitions.map((tool) => tool.name).join(', ')}).`, 'tool_choice.function.name');
  }
  if (forced !== null && body.response_format && body.response_format.type !== 'text') {
    throw badRequest("A forced tool call (tool_choice 'required' or a named function) and a response_format cannot both constrain the reply.", 'response_format');
  }
  return {
    templateTools: tools,
    format,
    constraint: forced === null ? undefined : format.grammar(forced, parallel && choice === 'required'),
    parallel,
  };
}
