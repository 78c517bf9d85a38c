// Tool-call syntaxes of the model families Hearth serves, chosen once per model from its chat
// template (never guessed per request): how a finished call reads, how to parse one out of the
// model's text, and the grammar that forces one (tool_choice 'required' or a named function).
import type { ConstraintSpec } from '../common/engineApi.js';

export type ToolFormatName = 'hermes' | 'llama3_json' | 'mistral' | 'phi4_mini' | 'granite';

export interface ToolDefinition {
  name: string;
  parameters: Record<string, unknown>;
}

export interface ParsedToolCall {
  name: string;
  /** JSON text of the arguments object (OpenAI's function.arguments). */
  arguments: string;
}

export interface SectionParse {
  calls: ParsedToolCall[];
  consumed: number;
  malformed: boolean;
}

export interface ToolFormat {
  readonly name: ToolFormatName;
  /** Text that opens the call section; text before it is content. */
  readonly start: string;
  /** Calls only when the reply opens with `start` (Llama's bare JSON), not after prose. */
  readonly leading: boolean;
  /**
   * Markers the model writes as tokens of their own (start, end): when the tokenizer has them as
   * special tokens the detokenizer drops them, and the server shows them to the parser again.
   */
  readonly markers: readonly string[];
  /** Text that may follow an open call's arguments before the call is complete (held back while streaming). */
  readonly closers: readonly string[];
  /**
   * Where the template reads the tools from: `tools` (as transformers passes them) or, for
   * templates that only render a system message's `tools` string (Phi-4-mini), that string.
   */
  readonly toolsIn: 'template' | 'systemMessage';
  /**
   * For templates that render an assistant message's content only (Phi-4-mini's, Granite's):
   * earlier calls are written back into that content as `start` + the JSON list + this. Null: the
   * template renders `tool_calls` itself.
   */
  readonly callsInContent: string | null;
  /**
   * Splits `section` (the text from `start` on) into calls. `final`: the model has stopped, so an
   * unterminated call is judged too. Returns the calls complete so far, how many characters of
   * `section` they used, and whether what follows is malformed (not calls: plain content).
   */
  parseSection(section: string, final: boolean): SectionParse;
  /**
   * The call opening at `from` in `section` once its name is known: its name and where its
   * arguments' text starts (for streaming arguments as they are written). Absent: calls stream whole.
   */
  openCall?(section: string, from: number): { name: string; argumentsStart: number } | null;
  /** xgrammar structural tag producing one call (or several, with `parallel`) to the given tools. */
  grammar(tools: ToolDefinition[], parallel: boolean): ConstraintSpec;
}

/** Which syntax a chat template teaches, or null if the template never renders `tools`. */
export function toolFormatForTemplate(template: string): ToolFormat | null {
  if (!/\btools\b/.test(template)) return null;
  if (template.includes('[TOOL_CALLS]')) return MISTRAL;
  if (template.includes('<|tool|>')) return PHI4_MINI; // Phi-4-mini: <|tool|>[...]<|/tool|> in the system message
  if (template.includes('<|tool_call|>') && template.includes('<|start_of_role|>')) return GRANITE; // Granite 3.x
  if (template.includes('<tool_call>')) return HERMES;
  // Llama 3.1+: JSON calls with "parameters" (the template mentions both, or the python tag).
  if (template.includes('<|python_tag|>') || (template.includes('"parameters"') && template.includes('ipython'))) return LLAMA3_JSON;
  return HERMES; // Hermes-style <tool_call> is the most widely trained syntax for templates that name none
}

/** {name, arguments|parameters} → a call, or null if it is not one. */
function callOf(value: unknown, argumentsKey: 'arguments' | 'parameters'): ParsedToolCall | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  if (typeof record.name !== 'string' || record.name === '') return null;
  let args = record[argumentsKey] ?? record.arguments ?? {};
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch {
      return null;
    }
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return null;
  return { name: record.name, arguments: JSON.stringify(args) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const jsonSchemaOf = (parameters: Record<string, unknown>) => (Object.keys(parameters).length === 0 ? { type: 'object' } : parameters);
const quoted = (name: string) => JSON.stringify(name);

/** A Hermes call body up to its arguments: `{"name": "...", "arguments": `. */
const HERMES_HEAD = /^\s*<tool_call>\s*\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*")\s*,\s*"arguments"\s*:\s*/;

/**
 * A Hermes call: the arguments as the model wrote them when the body is `{"name", "arguments"}`
 * in that order (so streamed fragments add up to them), else re-serialized.
 */
function hermesCall(block: string): ParsedToolCall | null {
  const call = callOf(parseJson(block.replace(/^\s*<tool_call>/, '').trim()), 'arguments');
  const head = HERMES_HEAD.exec(block);
  if (!call || !head) return call;
  const raw = block.slice(head[0].length).replace(/\s*\}\s*$/, '');
  const rawArgs = parseJson(raw);
  return typeof rawArgs === 'object' && rawArgs !== null && !Array.isArray(rawArgs) ? { name: call.name, arguments: raw } : call;
}

/** Hermes / Qwen: `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`, one block per call. */
const HERMES: ToolFormat = {
  name: 'hermes',
  start: '<tool_call>',
  leading: false,
  markers: ['<tool_call>', '</tool_call>'],
  closers: ['</tool_call>'],
  toolsIn: 'template',
  callsInContent: null,
  parseSection(section, final) {
    const calls: ParsedToolCall[] = [];
    let at = 0;
    while (true) {
      const rest = section.slice(at);
      if (rest.trim() === '') return { calls, consumed: final ? section.length : at, malformed: false };
      const open = rest.search(/\S/);
      if (!rest.startsWith('<tool_call>', open)) {
        if (!final && '<tool_call>'.startsWith(rest.slice(open))) return { calls, consumed: at, malformed: false }; // the next call may be opening
        return { calls, consumed: at, malformed: true }; // text after the calls
      }
      const bodyStart = at + open + '<tool_call>'.length;
      const close = section.indexOf('</tool_call>', bodyStart);
      if (close < 0) {
        if (!final) return { calls, consumed: at, malformed: false };
        const call = hermesCall(section.slice(at)); // stopped before the closing tag
        return call ? { calls: [...calls, call], consumed: section.length, malformed: false } : { calls, consumed: at, malformed: true };
      }
      const call = hermesCall(section.slice(at, close));
      if (!call) return { calls, consumed: at, malformed: true };
      calls.push(call);
      at = close + '</tool_call>'.length;
    }
  },
  openCall(section, from) {
    const head = HERMES_HEAD.exec(section.slice(from));
    if (!head) return null;
    const name = parseJson(head[1]!);
    return typeof name === 'string' ? { name, argumentsStart: from + head[0].length } : null;
  },
  grammar(tools, parallel) {
    return structuralTag({
      type: 'tags_with_separator',
      separator: '\n',
      at_least_one: true,
      stop_after_first: !parallel,
      tags: tools.map((tool) => ({
        type: 'tag',
        begin: `<tool_call>\n{"name": ${quoted(tool.name)}, "arguments": `,
        content: { type: 'json_schema', json_schema: jsonSchemaOf(tool.parameters) },
        end: '}\n</tool_call>',
      })),
    });
  },
};

/** Llama 3.1+: the whole reply is `{"name": ..., "parameters": {...}}` (several joined by ';'). */
const LLAMA3_JSON: ToolFormat = {
  name: 'llama3_json',
  start: '{',
  leading: true,
  markers: [], // <|python_tag|>, when a model writes it, is a special token the detokenizer drops
  closers: [],
  toolsIn: 'template',
  callsInContent: null,
  parseSection(section, final) {
    if (!final) return { calls: [], consumed: 0, malformed: false }; // one JSON document: judged when complete
    const calls: ParsedToolCall[] = [];
    for (const part of section.split(/\s*;\s*(?=\{)/)) {
      const call = callOf(parseJson(part.trim()), 'parameters');
      if (!call) return { calls: [], consumed: 0, malformed: true };
      calls.push(call);
    }
    return { calls, consumed: section.length, malformed: false };
  },
  grammar(tools, parallel) {
    return structuralTag({
      type: 'tags_with_separator',
      separator: '; ',
      at_least_one: true,
      stop_after_first: !parallel,
      tags: tools.map((tool) => ({
        type: 'tag',
        begin: `{"name": ${quoted(tool.name)}, "parameters": `,
        content: { type: 'json_schema', json_schema: jsonSchemaOf(tool.parameters) },
        end: '}',
      })),
    });
  },
};

/** Mistral: `[TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]`. */
const MISTRAL: ToolFormat = {
  name: 'mistral',
  start: '[TOOL_CALLS]',
  leading: false,
  markers: ['[TOOL_CALLS]'],
  closers: [']'],
  toolsIn: 'template',
  callsInContent: null,
  parseSection(section, final) {
    if (!final) return { calls: [], consumed: 0, malformed: false };
    const list = parseJson(section.slice('[TOOL_CALLS]'.length).trim());
    const calls = Array.isArray(list) ? list.map((item) => callOf(item, 'arguments')) : [];
    if (calls.length === 0 || calls.some((call) => call === null)) return { calls: [], consumed: 0, malformed: true };
    return { calls: calls as ParsedToolCall[], consumed: section.length, malformed: false };
  },
  grammar(tools, parallel) {
    return structuralTag(listTag('[TOOL_CALLS][', tools, parallel, ']'));
  },
};

/** Index just past the JSON object or array opening at `from` (strings and escapes skipped), or -1 if it is not closed yet. */
function jsonEnd(text: string, from: number): number {
  let depth = 0;
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === '{' || char === '[') depth++;
    else if (char === '}' || char === ']') {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}

const PHI_START = '<|tool_call|>';
const PHI_END = '<|/tool_call|>';

/** A list call `{"name": ..., "arguments": ...}` up to its arguments, after `[` or `,` (and the section's marker). */
const LIST_CALL_HEAD = /^(?:\s*<\|\/tool_call\|>)?(?:\s*<\|tool_call\|>)?\s*[[,]?\s*\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*")\s*,\s*"(?:arguments|parameters)"\s*:\s*/;

/**
 * One object of a call list: the arguments as the model wrote them when the object is
 * `{"name", "arguments"}` in that order (so streamed fragments add up to them), else re-serialized.
 */
function listCall(object: string): ParsedToolCall | null {
  const call = callOf(parseJson(object), 'arguments');
  const head = /^\{\s*"name"\s*:\s*"(?:[^"\\]|\\.)*"\s*,\s*"(?:arguments|parameters)"\s*:\s*/.exec(object);
  if (!call || !head) return call;
  const raw = object.slice(head[0].length).replace(/\s*\}$/, '');
  const rawArgs = parseJson(raw);
  return typeof rawArgs === 'object' && rawArgs !== null && !Array.isArray(rawArgs) ? { name: call.name, arguments: raw } : call;
}

/**
 * Phi-4-mini: `<|tool_call|>[{"name": ..., "arguments": {...}}, ...]<|/tool_call|>` (the closing
 * marker may be missing when the model stops after the list). Calls of the list are judged one
 * object at a time, so a grammar-forced call can stream its arguments.
 */
const PHI4_MINI: ToolFormat = {
  name: 'phi4_mini',
  start: '<|tool_call|>',
  leading: false,
  markers: ['<|tool_call|>', '<|/tool_call|>'],
  closers: [']', '<|/tool_call|>'],
  toolsIn: 'systemMessage',
  callsInContent: PHI_END,
  parseSection(section, final) {
    const calls: ParsedToolCall[] = [];
    let consumed = 0; // just past the last complete call (or closed list): a half-written call is not judged yet
    const wait = () => ({ calls, consumed, malformed: false });
    const malformed = () => ({ calls, consumed, malformed: true });
    const skip = (from: number) => from + /^\s*/.exec(section.slice(from))![0].length;
    let at = 0;
    while (true) {
      const markerAt = skip(at);
      const rest = section.slice(markerAt);
      if (rest === '') return final ? { calls, consumed: section.length, malformed: false } : wait();
      if (!rest.startsWith(PHI_START)) return !final && PHI_START.startsWith(rest) ? wait() : malformed(); // another list may be opening, or content follows
      let i = skip(markerAt + PHI_START.length);
      if (i >= section.length) return final ? malformed() : wait();
      if (section[i] === '{') {
        // One call without the list: the model card's form is the list, but models write this too.
        const end = jsonEnd(section, i);
        if (end < 0) return final ? malformed() : wait();
        const call = listCall(section.slice(i, end));
        if (!call) return malformed();
        calls.push(call);
        consumed = end;
      } else {
        if (section[i] !== '[') return malformed();
        let numInList = 0;
        for (i = skip(i + 1); section[i] !== ']'; i = skip(i)) {
          if (numInList > 0) {
            if (section[i] !== ',') return i >= section.length && !final ? wait() : malformed();
            i = skip(i + 1);
          }
          if (i >= section.length) return final ? malformed() : wait();
          if (section[i] !== '{') return malformed();
          const end = jsonEnd(section, i);
          if (end < 0) return final ? malformed() : wait();
          const call = listCall(section.slice(i, end));
          if (!call) return malformed();
          calls.push(call);
          numInList++;
          consumed = i = end;
        }
        if (numInList === 0) return malformed();
        consumed = i + 1;
      }
      const closeAt = skip(consumed);
      const tail = section.slice(closeAt);
      if (tail.startsWith(PHI_END)) consumed = closeAt + PHI_END.length;
      else if (!final && PHI_END.startsWith(tail)) return wait(); // the closing marker may be coming
      at = consumed; // (without its closing marker the list still ends the section)
    }
  },
  openCall(section, from) {
    const head = LIST_CALL_HEAD.exec(section.slice(from));
    if (!head) return null;
    const name = parseJson(head[1]!);
    return typeof name === 'string' ? { name, argumentsStart: from + head[0].length } : null;
  },
  grammar(tools, parallel) {
    return structuralTag(listTag('<|tool_call|>[', tools, parallel, ']<|/tool_call|>'));
  },
};

/**
 * Granite 3.x: `<|tool_call|>[{"name": ..., "arguments": {...}}, ...]`, with no closing marker;
 * the template lists the tools in a turn of their own (`available_tools` / `tools`) and renders
 * only an assistant message's content. Phi-4-mini's list, parsed the same way.
 */
const GRANITE: ToolFormat = {
  ...PHI4_MINI,
  name: 'granite',
  markers: [PHI_START],
  closers: [']'],
  toolsIn: 'template',
  callsInContent: '',
  grammar(tools, parallel) {
    return structuralTag(listTag(`${PHI_START}[`, tools, parallel, ']'));
  },
};

/**
 * A call list `begin` call (', ' call)* `end`. The list sits in a tag: xgrammar 0.1.27 rejects
 * tags_with_separator followed by more of a sequence (it cannot tell where the list ends), but
 * compiles it as a tag's content, ended by the tag's end.
 */
function listTag(begin: string, tools: ToolDefinition[], parallel: boolean, end: string): Record<string, unknown> {
  return {
    type: 'tag',
    begin,
    content: {
      type: 'tags_with_separator',
      separator: ', ',
      at_least_one: true,
      stop_after_first: !parallel,
      tags: tools.map((tool) => ({
        type: 'tag',
        begin: `{"name": ${quoted(tool.name)}, "arguments": `,
        content: { type: 'json_schema', json_schema: jsonSchemaOf(tool.parameters) },
        end: '}',
      })),
    },
    end,
  };
}

function structuralTag(format: Record<string, unknown>): ConstraintSpec {
  return { type: 'structural_tag', tag: { type: 'structural_tag', format } };
}

export const TOOL_FORMATS: Record<ToolFormatName, ToolFormat> = { hermes: HERMES, llama3_json: LLAMA3_JSON, mistral: MISTRAL, phi4_mini: PHI4_MINI, granite: GRANITE };
