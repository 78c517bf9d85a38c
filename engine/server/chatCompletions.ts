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
import type { ChatTemplateMessage, ServedEngine } from './servedEngine.js';
import { endSse, sendSse, startSse } from './sse.js';
import { responseFormatConstraint } from './structuredOutput.js';
import { chatCompletionSchema, parseBody, type ChatCompletionBody } from './validation.js';

function templateMessages(body: ChatCompletionBody): ChatTemplateMessage[] {
  return body.messages.map((message, i) => {
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
    return { role: message.role === 'developer' ? 'system' : message.role, content };
  });
}

export function chatPromptIds(engine: ServedEngine, messages: ChatTemplateMessage[], addGenerationPrompt: boolean): { ids: number[]; text: string } {
  if (engine.manifest.tokenizer.chatTemplate === null) {
    throw badRequest(`The model '${engine.manifest.name}' has no chat template; use POST /v1/completions with a plain prompt.`, 'messages');
  }
  let rendered: string | number[];
  try {
    rendered = engine.tokenizer.applyChatTemplate(messages, { addGenerationPrompt });
  } catch (error) {
    throw badRequest(`The chat template could not render these messages: ${(error as Error).message}.`, 'messages');
  }
  if (typeof rendered === 'string') return { ids: engine.tokenizer.encode(rendered, { addSpecialTokens: false }), text: rendered };
  return { ids: rendered, text: engine.tokenizer.decode(rendered) };
}

export async function chatCompletions(ctx: RequestContext): Promise<void> {
  const body = parseBody(chatCompletionSchema, await readJsonBody(ctx.req, ctx.state.maxBodyBytes));
  ctx.stream = body.stream === true;
  const prepared = submitChat(ctx, body, '');
  await RunningGeneration.allReady(ctx, prepared.generations);
  if (ctx.stream) await streamChat(ctx, prepared);
  else sendJson(ctx.res, 200, await chatJson(ctx, prepared));
}

interface PreparedChat {
  body: ChatCompletionBody;
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
  if (body.tools && body.tools.length > 0) throw badRequest('Tool calling is not supported by this server.', 'tools');
  if (body.functions && body.functions.length > 0) throw badRequest('Function calling is not supported by this server.', 'functions');
  if (body.logit_bias && Object.keys(body.logit_bias).length > 0) throw badRequest("'logit_bias' is not supported by this server.", 'logit_bias');
  const constraint = responseFormatConstraint(body.response_format);
  if (constraint) ctx.constraintParam = 'response_format';
  if (body.top_logprobs !== null && body.top_logprobs !== undefined && body.logprobs !== true) {
    throw badRequest("'top_logprobs' needs 'logprobs': true.", 'top_logprobs');
  }
  const { ids, text } = chatPromptIds(engine, templateMessages(body), body.add_generation_prompt ?? true);
  ctx.prompt = text;
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
  return { body, generations, topLogprobs, promptTokenIds: ids, base: { id: ctx.id, created: unixSeconds(ctx.arrivalMs), model, system_fingerprint: null } };
}

export async function chatJson(ctx: RequestContext, { body, generations, topLogprobs, base, promptTokenIds }: PreparedChat): Promise<object> {
  const results = await Promise.all(generations.map((generation) => collect(generation)));
  ctx.response = results.map((result) => result.text).join('\n---\n');
  const completionTokens = results.reduce((sum, result) => sum + result.done.completionTokens, 0);
  return {
    ...base,
    object: 'chat.completion',
    choices: results.map((result, index) => ({
      index,
      message: { role: 'assistant', content: result.text },
      logprobs: topLogprobs === undefined ? null : chatLogprobs(result.tokens, topLogprobs),
      finish_reason: openAiFinishReason(result.done),
      ...(body.return_token_ids ? { token_ids: result.tokens.map((token) => token.tokenId), prompt_token_ids: promptTokenIds } : {}),
    })),
    usage: usageOf(results[0]!.done.promptTokens, completionTokens),
  };
}

async function streamChat(ctx: RequestContext, { body, generations, topLogprobs, base }: PreparedChat): Promise<void> {
  const includeUsage = body.stream_options?.include_usage === true;
  const chunk = (choices: unknown[]) => ({ ...base, object: 'chat.completion.chunk', choices, ...(includeUsage ? { usage: null } : {}) });
  startSse(ctx.res);
  const texts = generations.map(() => '');
  let promptTokens = 0;
  let completionTokens = 0;
  let failure: ApiError | null = null;
  await Promise.all(
    generations.map(async (generation, index) => {
      await sendSse(ctx.res, chunk([{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]));
      for await (const event of generation.events()) {
        if (event.type === 'token') {
          if (event.text === '' && topLogprobs === undefined && !body.return_token_ids) continue;
          texts[index] += event.text;
          await sendSse(ctx.res, chunk([{
            index,
            delta: { content: event.text },
            logprobs: topLogprobs === undefined ? null : chatLogprobs([event], topLogprobs),
            finish_reason: null,
            ...(body.return_token_ids ? { token_ids: [event.tokenId] } : {}),
          }]));
        } else if (event.finishReason === 'error') {
          failure = generationFailed(event.error?.message);
        } else if (event.finishReason !== 'cancelled') {
          promptTokens = event.promptTokens;
          completionTokens += event.completionTokens;
          await sendSse(ctx.res, chunk([{ index, delta: {}, logprobs: null, finish_reason: openAiFinishReason(event) }]));
        }
      }
    }),
  );
  ctx.response = texts.join('\n---\n');
  if (failure !== null) {
    ctx.failMidStream(failure);
    await sendSse(ctx.res, (failure as ApiError).toBody());
  } else if (includeUsage && !ctx.clientGone) {
    await sendSse(ctx.res, { ...base, object: 'chat.completion.chunk', choices: [], usage: usageOf(promptTokens, completionTokens) });
  }
  endSse(ctx.res, true);
}
