// Request bodies of the OpenAI-compatible routes, as zod schemas. Unknown fields are ignored
// (clients send extras); known fields are checked, and the error names the field and says why.
import { z } from 'zod';
import { ApiError } from './errors.js';

const between = (min: number, max: number) =>
  z.number().min(min, `must be between ${min} and ${max}`).max(max, `must be between ${min} and ${max}`);
const intAtLeast = (min: number) => z.number().int('must be an integer').min(min, `must be at least ${min}`);
const intBetween = (min: number, max: number) =>
  z.number().int('must be an integer').min(min, `must be between ${min} and ${max}`).max(max, `must be between ${min} and ${max}`);

export const MAX_STOP_STRINGS = 16;
export const MAX_N = 16;
export const MAX_TOP_LOGPROBS = 20;

const stopSchema = z
  .union([z.string(), z.array(z.string()).max(MAX_STOP_STRINGS, `may hold at most ${MAX_STOP_STRINGS} strings`)], {
    error: 'must be a string or an array of strings',
  })
  .nullish();

const KEEP_ALIVE = "must be seconds (a number, or a duration such as '30s', '5m', '1h'); 0 unloads the model when the request ends, a negative value keeps it loaded";
const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/**
 * Ollama's `keep_alive` (library mode): how long the model stays loaded once idle, as seconds;
 * negative values mean "keep it loaded" (-1).
 */
export const keepAliveSchema = z
  .union([z.number(), z.string()], { error: KEEP_ALIVE })
  .transform((value, context) => {
    const match = typeof value === 'number' ? null : /^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
    const seconds = typeof value === 'number' ? value : match ? Number(match[1]) * DURATION_UNITS[match[2] ?? 's']! : Number.NaN;
    if (!Number.isFinite(seconds)) {
      context.addIssue({ code: 'custom', message: KEEP_ALIVE });
      return z.NEVER;
    }
    return seconds < 0 ? -1 : seconds;
  })
  .nullish();

/** Sampling and length fields shared by chat and text completions (plus vLLM's extras). */
const samplingFields = {
  model: z.string().optional(),
  max_tokens: intAtLeast(1).nullish(),
  temperature: between(0, 2).nullish(),
  top_p: z.number().gt(0, 'must be greater than 0 and at most 1').max(1, 'must be greater than 0 and at most 1').nullish(),
  top_k: z.number().int('must be an integer').min(-1, 'must be -1 (off), 0 (off) or a positive integer').nullish(),
  min_p: between(0, 1).nullish(),
  seed: z.number().int('must be an integer').nullish(),
  presence_penalty: between(-2, 2).nullish(),
  frequency_penalty: between(-2, 2).nullish(),
  repetition_penalty: z.number().gt(0, 'must be greater than 0').nullish(),
  stop: stopSchema,
  n: intBetween(1, MAX_N).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  ignore_eos: z.boolean().nullish(),
  user: z.string().nullish(),
  best_of: z.number().int().max(1, 'is not supported above 1; use n').nullish(),
  /** vLLM's extension: each choice also carries `token_ids` (and `prompt_token_ids`). */
  return_token_ids: z.boolean().nullish(),
  /** Ollama's extension (library mode): how long the model stays loaded after this request. */
  keep_alive: keepAliveSchema,
};

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const contentPart = z.union([textPart, z.object({ type: z.string() }).passthrough()]);

const toolCallSchema = z.object({
  id: z.string({ error: 'must be a string' }),
  type: z.literal('function', { error: "must be 'function'" }).optional(),
  function: z.object({ name: z.string({ error: 'must be a string' }), arguments: z.string({ error: 'must be a JSON string' }) }),
});

const messageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool'], {
    error: "must be one of 'system', 'developer', 'user', 'assistant', 'tool'",
  }),
  content: z.union([z.string(), z.array(contentPart)], { error: 'must be a string or an array of content parts' }).nullish(),
  name: z.string().optional(),
  /** An assistant turn's calls, sent back with the tools' results. */
  tool_calls: z.array(toolCallSchema).nullish(),
  /** A 'tool' message answers this call. */
  tool_call_id: z.string().nullish(),
  reasoning_content: z.string().nullish(),
});

const toolSchema = z.object({
  type: z.literal('function', { error: "must be 'function' (the only tool type)" }),
  function: z.object({
    name: z.string().regex(/^[a-zA-Z0-9_.-]{1,64}$/, "must be 1-64 letters, digits, '_', '.' or '-'"),
    description: z.string().nullish(),
    parameters: z.record(z.string(), z.unknown(), { error: 'must be a JSON schema object' }).nullish(),
    strict: z.boolean().nullish(),
  }),
});

const toolChoiceSchema = z.union(
  [z.enum(['none', 'auto', 'required']), z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) })],
  { error: "must be 'none', 'auto', 'required' or {type: 'function', function: {name}}" },
);

export const chatCompletionSchema = z.object({
  ...samplingFields,
  messages: z.array(messageSchema, { error: 'must be an array of messages' }).min(1, 'must hold at least one message'),
  max_completion_tokens: intAtLeast(1).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: intBetween(0, MAX_TOP_LOGPROBS).nullish(),
  tools: z.array(toolSchema).nullish(),
  tool_choice: toolChoiceSchema.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  functions: z.array(z.unknown()).nullish(),
  logit_bias: z.record(z.string(), z.number()).nullish(),
  /** Extra variables for the chat template (transformers' apply_chat_template kwargs), e.g. enable_thinking. */
  chat_template_kwargs: z.record(z.string(), z.unknown()).nullish(),
  /** vLLM's documents for retrieval-augmented templates (Granite's): the template's `documents` variable. */
  documents: z.array(z.record(z.string(), z.unknown()), { error: 'must be an array of objects (e.g. {"doc_id", "text"})' }).nullish(),
  /** vLLM's structured_outputs: a regex or a JSON schema (the OpenAI way is response_format). */
  structured_outputs: z.object({ regex: z.string().nullish(), json: z.unknown().optional() }).nullish(),
  response_format: z.object({ type: z.string() }).passthrough().nullish(),
  add_generation_prompt: z.boolean().nullish(),
});
export type ChatCompletionBody = z.infer<typeof chatCompletionSchema>;
export type ChatMessageBody = z.infer<typeof messageSchema>;

const tokenIds = z.array(z.number().int('must be token ids (integers)').min(0, 'must be token ids (≥ 0)'));
export const completionSchema = z.object({
  ...samplingFields,
  prompt: z.union([z.string(), z.array(z.string()).min(1), tokenIds.min(1), z.array(tokenIds.min(1)).min(1)], {
    error: 'must be a string, an array of strings, an array of token ids, or an array of such arrays',
  }),
  logprobs: intBetween(0, MAX_TOP_LOGPROBS).nullish(),
  echo: z.boolean().nullish(),
  suffix: z.string().nullish(),
  response_format: z.object({ type: z.string() }).passthrough().nullish(),
});
export type CompletionBody = z.infer<typeof completionSchema>;

export type SamplingBody = Pick<
  ChatCompletionBody,
  'temperature' | 'top_p' | 'top_k' | 'min_p' | 'seed' | 'presence_penalty' | 'frequency_penalty' | 'repetition_penalty' | 'stop' | 'ignore_eos'
>;

/** `messages[0].content` style path, as OpenAI names params. */
export function paramPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out === '' ? String(key) : `.${String(key)}`;
  return out;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** Parses `body` or throws a 400 that names the first offending field and why. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'The request body must be a JSON object.', { code: 'invalid_request' });
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const param = paramPath(issue.path);
  const missing = valueAt(body, issue.path) === undefined;
  const why = missing ? 'is required' : issue.message;
  const others = parsed.error.issues.length > 1 ? ` (and ${parsed.error.issues.length - 1} more problem(s))` : '';
  throw new ApiError(400, `Invalid '${param || 'body'}': ${why}${others}.`, { param: param || null, code: 'invalid_value' });
}
