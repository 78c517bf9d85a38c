// POST /v1/chat/completions: messages → the package's chat template → tokens → engine.
import type { RequestContext } from './context.js';
import { ApiError, badRequest, generationFailed } from './errors.js';
import {
  RunningGeneration,
  collect,
  openAiFinishReason,
  resolveMaxNewTokens,
  samplingParams,
  stopStrings,
  unixSeconds,
  usageOf,
  type GenerationSpec,
} from './generation.js';
import { readJsonBody, sendJson } from './http.js';
import { chatLogprobs } from './logprobs.js';
import type { DoneEvent } from '../common/engineApi.js';
import type { ChatTemplateMessage, ChatTemplateOptions, ServedEngine } from './servedEngine.js';
import { endSse, sendSse, startSse } from './sse.js';
import { ChatOutputParser, droppedMarkers, mergeDeltas, parserText, type ChatDelta, type ParserOptions } from './chatOutput.js';
import { reasoningFormatForTemplate } from './reasoningFormats.js';
import { responseFormatConstraint, structuredOutputsConstraint } from './structuredOutput.js';
import { resolveToolUse, type ToolUse } from './toolUse.js';
import { chatCompletionSchema, parseBody, type ChatCompletionBody } from './validation.js';

/** An API tool call's arguments for the template: parsed JSON (transformers' templates expect objects). */
function templateArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The messages as the template reads them. A template that renders only message contents
 * (Phi-4-mini's, Granite's) gets earlier calls written back into the assistant content in the
 * model's own syntax; one that reads the tools only from a system message's `tools` string
 * (Phi-4-mini's) gets them there, in a system message added when there is none.
 */
function templateMessages(body: ChatCompletionBody, toolUse: ToolUse): ChatTemplateMessage[] {
  const messages = body.messages.map((message, i): ChatTemplateMessage => {
    let content = '';
    if (typeof message.content === 'string') content = message.content;
    else if (Array.isArray(message.content)) {
      message.content.forEach((part, j) => {
        if (part.type !== 'text' || typeof (part as { text?: unknown }).text !== 'string') {
          throw badRequest(`Content part type '${part.type}' is not supported: this server serves a text-only model.`, `messages[${i}].content[${j}].type`);
        }
        content += (part as { text: string }).text;
      });
    }
    const rendered: ChatTemplateMessage = { role: message.role === 'developer' ? 'system' : message.role, content };
    if (message.name) rendered.name = message.name;
    if (message.tool_calls && message.tool_calls.length > 0) {
      rendered.tool_calls = message.tool_calls.map((call) => ({
        id: call.id,
        type: 'function',
        function: { name: call.function.name, arguments: templateArguments(call.function.arguments) },
      }));
    }
    if (message.tool_call_id) rendered.tool_call_id = message.tool_call_id;
    if (message.reasoning_content) rendered.reasoning_content = message.reasoning_content;
    return rendered;
  });
  const format = toolUse.format;
  if (format?.callsInContent != null) {
    for (const message of messages) {
      if (message.role === 'assistant' && message.tool_calls) {
        const calls = message.tool_calls.map((call) => ({ name: call.function.name, arguments: call.function.arguments }));
        message.content += `${format.start}${JSON.stringify(calls)}${format.callsInContent}`;
      }
    }
  }
  if (format?.toolsIn !== 'systemMessage' || toolUse.templateTools === undefined) return messages;
  const tools = JSON.stringify((toolUse.templateTools as { function: unknown }[]).map((tool) => tool.function));
  const system = messages[0]?.role === 'system' ? messages[0] : null;
  if (system) system.tools = tools;
  else messages.unshift({ role: 'system', content: '', tools });
  return messages;
}

export function chatPromptIds(engine: ServedEngine, messages: ChatTemplateMessage[], options: ChatTemplateOptions): { ids: number[]; text: string } {
  if (engine.manifest.tokenizer.chatTemplate === null) {
    throw badRequest(`The model '${engine.manifest.name}' has no chat template; use POST /v1/completions with a plain prompt.`, 'messages');
  }
  let rendered: string | number[];
  try {
    rendered = engine.tokenizer.applyChatTemplate(messages, options);
  } catch (error) {
    throw badRequest(`The chat template could not render these messages: ${(error as Error).message}.`, 'messages');
  }
  if (typeof rendered === 'string') return { ids: engine.tokenizer.encode(rendered, { addSpecialTokens: false }), text: rendered };
  return { ids: rendered, text: engine.tokenizer.decode(rendered) };
}

export async function chatCompletions(ctx: RequestContext): Promise<void> {
  const body = parseBody(chatCompletionSchema, await readJsonBody(ctx.req, ctx.state.maxBodyBytes));
  ctx.stream = body.stream === true;
  ctx.keepAliveSeconds = body.keep_alive ?? undefined;
  await ctx.useModel(body.model);
  const prepared = submitChat(ctx, body, '');
  await RunningGeneration.allReady(ctx, prepared.generations);
  if (ctx.stream) await streamChat(ctx, prepared);
  else sendJson(ctx.res, 200, await chatJson(ctx, prepared));
}

interface PreparedChat {
  body: ChatCompletionBody;
  /** How each choice's text splits into reasoning, content and tool calls. */
  output: ParserOptions;
  generations: RunningGeneration[];
  topLogprobs: number | undefined;
  promptTokenIds: number[];
  base: { id: string; created: number; model: string; system_fingerprint: null };
}

/**
 * Validates, renders the template and submits all n choices (a 429 on choice 2 cancels choice 1,
 * and nothing has been sent yet). Await `RunningGeneration.allReady` before answering.
 */
export function submitChat(ctx: RequestContext, body: ChatCompletionBody, idSuffix: string): PreparedChat {
  const engine = ctx.engine();
  const model = ctx.checkModel(body.model);
  if (body.functions && body.functions.length > 0) throw badRequest('Function calling is not supported by this server.', 'functions');
  if (body.logit_bias && Object.keys(body.logit_bias).length > 0) throw badRequest("'logit_bias' is not supported by this server.", 'logit_bias');
  const toolUse = resolveToolUse(engine.manifest, body);
  const formatConstraint = responseFormatConstraint(body.response_format) ?? structuredOutputsConstraint(body.structured_outputs);
  const constraint = toolUse.constraint ?? formatConstraint;
  if (constraint) ctx.constraintParam = toolUse.constraint ? 'tool_choice' : body.structured_outputs ? 'structured_outputs' : 'response_format';
  if (body.top_logprobs !== null && body.top_logprobs !== undefined && body.logprobs !== true) {
    throw badRequest("'top_logprobs' needs 'logprobs': true.", 'top_logprobs');
  }
  const kwargs = body.documents ? { ...body.chat_template_kwargs, documents: body.documents } : (body.chat_template_kwargs ?? undefined);
  const { ids, text } = chatPromptIds(engine, templateMessages(body, toolUse), { addGenerationPrompt: body.add_generation_prompt ?? true, tools: toolUse.templateTools, kwargs });
  ctx.prompt = text;
  const reasoning = reasoningFormatForTemplate(engine.manifest.tokenizer.chatTemplate ?? '', kwargs);
  const output: PreparedChat['output'] = {
    reasoning,
    // Some templates open the think block in the prompt; the reply then starts inside it.
    startsInReasoning: reasoning !== null && reasoning.open.some((marker) => text.trimEnd().endsWith(marker)),
    tools: toolUse.format,
    parallel: toolUse.parallel,
    streamArguments: toolUse.constraint !== undefined,
    markers: toolUse.format ? droppedMarkers(engine.tokenizer, toolUse.format) : new Map(),
  };
  const maxParam = body.max_completion_tokens !== null && body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens';
  const maxNewTokens = resolveMaxNewTokens(engine, ids.length, body.max_completion_tokens ?? body.max_tokens, maxParam);
  const topLogprobs = body.logprobs === true ? (body.top_logprobs ?? 0) : undefined;
  const n = body.n ?? 1;
  const spec = (index: number): GenerationSpec => ({
    promptTokenIds: ids,
    sampling: samplingParams(body, engine.manifest.generation, index),
    maxNewTokens,
    stopStrings: stopStrings(body.stop),
    stopTokenIds: [],
    ignoreEos: body.ignore_eos ?? false,
    topLogprobs,
    constraint,
  });
  const generations = RunningGeneration.submitAll(
    ctx,
    Array.from({ length: n }, (_, i) => ({ spec: spec(i), suffix: `${idSuffix}${n > 1 ? `-${i}` : ''}`, countPrompt: i === 0 })),
  );
  return { body, output, generations, topLogprobs, promptTokenIds: ids, base: { id: ctx.id, created: unixSeconds(ctx.arrivalMs), model, system_fingerprint: null } };
}

/** The message and finish reason of one finished choice. */
function assistantMessage(tokens: { tokenId: number; text: string }[], done: DoneEvent, options: ParserOptions) {
  const parser = new ChatOutputParser(options);
  const text = tokens.map((token) => parserText(token, options)).join('');
  const { reasoning, content, calls } = mergeDeltas([...parser.push(text), ...parser.finish()]);
  const message: Record<string, unknown> = { role: 'assistant', content: calls.length > 0 ? content.trim() || null : content };
  if (reasoning !== null) message.reasoning_content = reasoning;
  if (calls.length > 0) message.tool_calls = calls.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }));
  return { message, finishReason: chatFinishReason(done, calls.length > 0) };
}

function chatFinishReason(done: DoneEvent, calledTools: boolean): 'stop' | 'length' | 'tool_calls' {
  const reason = openAiFinishReason(done);
  return reason === 'stop' && calledTools ? 'tool_calls' : reason;
}

export async function chatJson(ctx: RequestContext, { body, output, generations, topLogprobs, base, promptTokenIds }: PreparedChat): Promise<object> {
  const results = await Promise.all(generations.map((generation) => collect(generation)));
  ctx.response = results.map((result) => result.text).join('\n---\n');
  const completionTokens = results.reduce((sum, result) => sum + result.done.completionTokens, 0);
  return {
    ...base,
    object: 'chat.completion',
    choices: results.map((result, index) => {
      const { message, finishReason } = assistantMessage(result.tokens, result.done, output);
      return {
        index,
        message,
        logprobs: topLogprobs === undefined ? null : chatLogprobs(result.tokens, topLogprobs),
        finish_reason: finishReason,
        ...(body.return_token_ids ? { token_ids: result.tokens.map((token) => token.tokenId), prompt_token_ids: promptTokenIds } : {}),
      };
    }),
    usage: usageOf(results[0]!.done.promptTokens, completionTokens, results[0]!.done.cachedPromptTokens),
  };
}

async function streamChat(ctx: RequestContext, { body, output, generations, topLogprobs, base }: PreparedChat): Promise<void> {
  const includeUsage = body.stream_options?.include_usage === true;
  const chunk = (choices: unknown[]) => ({ ...base, object: 'chat.completion.chunk', choices, ...(includeUsage ? { usage: null } : {}) });
  startSse(ctx.res);
  const texts = generations.map(() => '');
  let promptTokens = 0;
  let cachedTokens = 0;
  let completionTokens = 0;
  let failure: ApiError | null = null;
  await Promise.all(
    generations.map(async (generation, index) => {
      await sendSse(ctx.res, chunk([{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]));
      const parser = new ChatOutputParser(output);
      let calledTools = false;
      const send = async (deltas: ChatDelta[], perToken: object | null) => {
        for (const delta of deltas) {
          if (delta.tool_calls) calledTools = true;
          await sendSse(ctx.res, chunk([{ index, delta, logprobs: null, finish_reason: null, ...perToken }]));
          perToken = null; // a token's logprobs go with its first delta
        }
        if (perToken !== null) await sendSse(ctx.res, chunk([{ index, delta: { content: '' }, logprobs: null, finish_reason: null, ...perToken }]));
      };
      for await (const event of generation.events()) {
        if (event.type === 'token') {
          texts[index] += event.text;
          const text = parserText(event, output);
          const deltas = text === '' ? [] : parser.push(text);
          const perToken = topLogprobs !== undefined || body.return_token_ids
            ? { logprobs: topLogprobs === undefined ? null : chatLogprobs([event], topLogprobs), ...(body.return_token_ids ? { token_ids: [event.tokenId] } : {}) }
            : null;
          await send(deltas, perToken);
        } else if (event.finishReason === 'error') {
          failure = generationFailed(event.error?.message);
        } else if (event.finishReason !== 'cancelled') {
          await send(parser.finish(), null);
          promptTokens = event.promptTokens;
          if (index === 0) cachedTokens = event.cachedPromptTokens;
          completionTokens += event.completionTokens;
          await sendSse(ctx.res, chunk([{ index, delta: {}, logprobs: null, finish_reason: chatFinishReason(event, calledTools) }]));
        }
      }
    }),
  );
  ctx.response = texts.join('\n---\n');
  if (failure !== null) {
    ctx.failMidStream(failure);
    await sendSse(ctx.res, (failure as ApiError).toBody());
  } else if (includeUsage && !ctx.clientGone) {
    await sendSse(ctx.res, { ...base, object: 'chat.completion.chunk', choices: [], usage: usageOf(promptTokens, completionTokens, cachedTokens) });
  }
  endSse(ctx.res, true);
}
