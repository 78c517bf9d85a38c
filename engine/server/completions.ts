// POST /v1/completions: one or several raw prompts (text or token ids), n choices each.
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
import { completionLogprobs } from './logprobs.js';
import { endSse, sendSse, startSse } from './sse.js';
import { responseFormatConstraint } from './structuredOutput.js';
import { completionSchema, parseBody, type CompletionBody } from './validation.js';

function prompts(body: CompletionBody): (string | number[])[] {
  const prompt = body.prompt;
  if (typeof prompt === 'string') return [prompt];
  if (prompt.length > 0 && typeof prompt[0] === 'number') return [prompt as number[]];
  return prompt as (string | number[])[];
}

export async function completions(ctx: RequestContext): Promise<void> {
  const body = parseBody(completionSchema, await readJsonBody(ctx.req, ctx.state.maxBodyBytes));
  ctx.stream = body.stream === true;
  ctx.keepAliveSeconds = body.keep_alive ?? undefined;
  await ctx.useModel(body.model);
  const prepared = submitCompletion(ctx, body, '');
  await RunningGeneration.allReady(ctx, prepared.generations);
  if (ctx.stream) await streamCompletion(ctx, prepared);
  else sendJson(ctx.res, 200, await completionJson(ctx, prepared));
}

interface PreparedCompletion {
  body: CompletionBody;
  generations: RunningGeneration[];
  specs: { spec: GenerationSpec; promptText: string; first: boolean }[];
  topLogprobs: number | undefined;
  base: { id: string; object: 'text_completion'; created: number; model: string; system_fingerprint: null };
}

/** Validates and submits every prompt × n; await `RunningGeneration.allReady` before answering. */
export function submitCompletion(ctx: RequestContext, body: CompletionBody, idSuffix: string): PreparedCompletion {
  const engine = ctx.engine();
  const model = ctx.checkModel(body.model);
  if (body.suffix) throw badRequest("'suffix' (fill-in-the-middle) is not supported.", 'suffix');
  const vocabSize = engine.manifest.shape.vocabSize;
  const inputs = prompts(body).map((prompt, p) => {
    if (typeof prompt === 'string') return { ids: engine.tokenizer.encode(prompt), text: prompt };
    const bad = prompt.find((id) => id >= vocabSize);
    if (bad !== undefined) throw badRequest(`Token id ${bad} is outside the vocabulary (0..${vocabSize - 1}).`, `prompt[${p}]`);
    return { ids: prompt, text: engine.tokenizer.decode(prompt) };
  });
  ctx.prompt = inputs.map((input) => input.text).join('\n---\n');
  const n = body.n ?? 1;
  const topLogprobs = body.logprobs ?? undefined;
  const constraint = responseFormatConstraint(body.response_format);
  if (constraint) ctx.constraintParam = 'response_format';
  const specs: { spec: GenerationSpec; promptText: string; first: boolean }[] = [];
  for (const input of inputs) {
    const maxNewTokens = resolveMaxNewTokens(engine, input.ids.length, body.max_tokens, 'max_tokens');
    for (let i = 0; i < n; i++) {
      specs.push({
        spec: {
          promptTokenIds: input.ids,
          sampling: samplingParams(body, engine.manifest.generation, i),
          maxNewTokens,
          stopStrings: stopStrings(body.stop),
          stopTokenIds: [],
          ignoreEos: body.ignore_eos ?? false,
          topLogprobs,
          constraint,
        },
        promptText: input.text,
        first: i === 0,
      });
    }
  }
  const generations = RunningGeneration.submitAll(
    ctx,
    specs.map(({ spec, first }, index) => ({ spec, suffix: `${idSuffix}${specs.length > 1 ? `-${index}` : ''}`, countPrompt: first })),
  );
  const base = { id: ctx.id, object: 'text_completion' as const, created: unixSeconds(ctx.arrivalMs), model, system_fingerprint: null };
  return { body, generations, specs, topLogprobs, base };
}

export async function completionJson(ctx: RequestContext, { body, generations, specs, topLogprobs, base }: PreparedCompletion): Promise<object> {
  const echo = body.echo === true;
  const results = await Promise.all(generations.map((generation) => collect(generation)));
  ctx.response = results.map((result) => result.text).join('\n---\n');
  let promptTokens = 0;
  let cachedTokens = 0;
  let completionTokens = 0;
  results.forEach((result, index) => {
    if (specs[index]!.first) promptTokens += result.done.promptTokens;
    if (specs[index]!.first) cachedTokens += result.done.cachedPromptTokens;
    completionTokens += result.done.completionTokens;
  });
  return {
    ...base,
    choices: results.map((result, index) => {
      const prefix = echo ? specs[index]!.promptText : '';
      return {
        index,
        text: prefix + result.text,
        logprobs: topLogprobs === undefined ? null : completionLogprobs(result.tokens, topLogprobs, prefix.length),
        finish_reason: openAiFinishReason(result.done),
        ...(body.return_token_ids
          ? { token_ids: result.tokens.map((token) => token.tokenId), prompt_token_ids: specs[index]!.spec.promptTokenIds }
          : {}),
      };
    }),
    usage: usageOf(promptTokens, completionTokens, cachedTokens),
  };
}

async function streamCompletion(ctx: RequestContext, { body, generations, specs, topLogprobs, base }: PreparedCompletion): Promise<void> {
  const echo = body.echo === true;
  const includeUsage = body.stream_options?.include_usage === true;
  const chunk = (choice: object) => ({ ...base, choices: [choice], ...(includeUsage ? { usage: null } : {}) });
  startSse(ctx.res);
  const texts = generations.map(() => '');
  let promptTokens = 0;
  let cachedTokens = 0;
  let completionTokens = 0;
  let failure: ApiError | null = null;
  await Promise.all(
    generations.map(async (generation, index) => {
      let offset = 0;
      if (echo) {
        offset = specs[index]!.promptText.length;
        await sendSse(ctx.res, chunk({ index, text: specs[index]!.promptText, logprobs: null, finish_reason: null }));
      }
      for await (const event of generation.events()) {
        if (event.type === 'token') {
          if (event.text === '' && topLogprobs === undefined && !body.return_token_ids) continue;
          texts[index] += event.text;
          const logprobs = topLogprobs === undefined ? null : completionLogprobs([event], topLogprobs, offset);
          offset += event.text.length;
          await sendSse(ctx.res, chunk({ index, text: event.text, logprobs, finish_reason: null, ...(body.return_token_ids ? { token_ids: [event.tokenId] } : {}) }));
        } else if (event.finishReason === 'error') {
          failure = generationFailed(event.error?.message);
        } else if (event.finishReason !== 'cancelled') {
          if (specs[index]!.first) promptTokens += event.promptTokens;
          if (specs[index]!.first) cachedTokens += event.cachedPromptTokens;
          completionTokens += event.completionTokens;
          await sendSse(ctx.res, chunk({ index, text: '', logprobs: null, finish_reason: openAiFinishReason(event) }));
        }
      }
    }),
  );
  ctx.response = texts.join('\n---\n');
  if (failure !== null) {
    ctx.failMidStream(failure);
    await sendSse(ctx.res, (failure as ApiError).toBody());
  } else if (includeUsage && !ctx.clientGone) {
    await sendSse(ctx.res, { ...base, choices: [], usage: usageOf(promptTokens, completionTokens, cachedTokens) });
  }
  endSse(ctx.res, true);
}
