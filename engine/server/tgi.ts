// TGI-compatible routes: POST /generate, POST /generate_stream, GET /info.
// Errors on these routes use TGI's shape ({"error", "error_type"}); see router.ts.
import { z } from 'zod';
import { HEARTH_VERSION } from '../common/version.js';
import type { DoneEvent, TokenEvent } from '../common/engineApi.js';
import type { RequestContext } from './context.js';
import { generationFailed } from './errors.js';
import { RunningGeneration, collect, resolveMaxNewTokens, samplingParams, stopStrings } from './generation.js';
import { readJsonBody, sendJson } from './http.js';
import { sendSse, endSse, startSse } from './sse.js';
import { tgiGrammarConstraint } from './structuredOutput.js';
import { MAX_STOP_STRINGS, MAX_TOP_LOGPROBS, parseBody } from './validation.js';

const tgiSchema = z.object({
  inputs: z.string({ error: 'must be a string' }),
  stream: z.boolean().nullish(),
  parameters: z
    .object({
      best_of: z.number().int().max(1, 'is not supported above 1').nullish(),
      details: z.boolean().nullish(),
      decoder_input_details: z.boolean().nullish(),
      do_sample: z.boolean().nullish(),
      frequency_penalty: z.number().min(-2, 'must be between -2 and 2').max(2, 'must be between -2 and 2').nullish(),
      max_new_tokens: z.number().int('must be an integer').min(1, 'must be at least 1').nullish(),
      repetition_penalty: z.number().gt(0, 'must be greater than 0').nullish(),
      return_full_text: z.boolean().nullish(),
      seed: z.number().int('must be an integer').min(0, 'must be ≥ 0').nullish(),
      stop: z.array(z.string()).max(MAX_STOP_STRINGS, `may hold at most ${MAX_STOP_STRINGS} strings`).nullish(),
      temperature: z.number().gt(0, 'must be strictly positive').nullish(),
      top_k: z.number().int('must be an integer').gt(0, 'must be strictly positive').nullish(),
      top_n_tokens: z.number().int().min(0).max(MAX_TOP_LOGPROBS, `must be at most ${MAX_TOP_LOGPROBS}`).nullish(),
      top_p: z.number().gt(0, 'must be > 0 and < 1').max(1, 'must be > 0 and ≤ 1').nullish(),
      truncate: z.number().int().nullish(),
      typical_p: z.number().nullish(),
      watermark: z.boolean().nullish(),
      grammar: z.object({ type: z.string({ error: "must be 'json' or 'regex'" }), value: z.unknown() }).nullish(),
    })
    .nullish(),
});
type TgiBody = z.infer<typeof tgiSchema>;

async function startTgi(ctx: RequestContext, body: TgiBody, withLogprobs: boolean) {
  // TGI's API names no model: one model, or the only one in the library.
  await ctx.useModel(undefined);
  const engine = ctx.engine();
  const parameters = body.parameters ?? {};
  const constraint = tgiGrammarConstraint(parameters.grammar);
  if (constraint) ctx.constraintParam = 'parameters.grammar';
  const ids = engine.tokenizer.encode(body.inputs);
  ctx.prompt = body.inputs;
  const maxNewTokens = resolveMaxNewTokens(engine, ids.length, parameters.max_new_tokens ?? undefined, 'parameters.max_new_tokens');
  // TGI samples only when asked to (do_sample) or when a sampling knob is set; otherwise greedy.
  const sampling = parameters.do_sample === true || parameters.temperature != null || parameters.top_p != null || parameters.top_k != null;
  const [generation] = RunningGeneration.submitAll(ctx, [{ suffix: '', countPrompt: true, spec: {
    promptTokenIds: ids,
    sampling: samplingParams(
      {
        temperature: sampling ? (parameters.temperature ?? 1) : 0,
        top_p: parameters.top_p,
        top_k: parameters.top_k,
        seed: parameters.seed,
        frequency_penalty: parameters.frequency_penalty,
        repetition_penalty: parameters.repetition_penalty,
      },
      {},
    ),
    maxNewTokens,
    stopStrings: stopStrings(parameters.stop),
    stopTokenIds: [],
    ignoreEos: false,
    topLogprobs: withLogprobs ? (parameters.top_n_tokens ?? 0) : undefined,
    constraint,
  } }]);
  await RunningGeneration.allReady(ctx, [generation!]);
  return { engine, generation: generation!, parameters, numInputTokens: ids.length };
}

function tgiFinishReason(done: DoneEvent, lastToken: TokenEvent | undefined, eosTokenIds: readonly number[]): string {
  if (done.finishReason === 'length') return 'length';
  return lastToken !== undefined && eosTokenIds.includes(lastToken.tokenId) ? 'eos_token' : 'stop_sequence';
}

const tgiToken = (event: TokenEvent, eosTokenIds: readonly number[]) => ({
  id: event.tokenId,
  text: event.text,
  logprob: event.logprob?.logprob ?? null,
  special: eosTokenIds.includes(event.tokenId),
});

export async function generate(ctx: RequestContext): Promise<void> {
  const body = parseBody(tgiSchema, await readJsonBody(ctx.req, ctx.state.maxBodyBytes));
  const details = body.parameters?.details === true;
  const { engine, generation, parameters, numInputTokens } = await startTgi(ctx, body, details);
  const result = await collect(generation);
  ctx.response = result.text;
  const eosTokenIds = engine.manifest.tokenizer.eosTokenIds;
  const generatedText = parameters.return_full_text === true ? body.inputs + result.text : result.text;
  sendJson(ctx.res, 200, {
    generated_text: generatedText,
    ...(details
      ? {
          details: {
            finish_reason: tgiFinishReason(result.done, result.tokens.at(-1), eosTokenIds),
            generated_tokens: result.done.completionTokens,
            seed: parameters.seed ?? null,
            input_length: numInputTokens,
            prefill: [],
            tokens: result.tokens.map((token) => tgiToken(token, eosTokenIds)),
          },
        }
      : {}),
  });
}

export async function generateStream(ctx: RequestContext): Promise<void> {
  const body = parseBody(tgiSchema, await readJsonBody(ctx.req, ctx.state.maxBodyBytes));
  ctx.stream = true;
  const { engine, generation, parameters, numInputTokens } = await startTgi(ctx, body, true);
  const eosTokenIds = engine.manifest.tokenizer.eosTokenIds;
  startSse(ctx.res);
  let text = '';
  let index = 0;
  // TGI puts generated_text and details on the last token's event, so each token waits for the next.
  let held: TokenEvent | undefined;
  const event = (token: TokenEvent, final: object | null) => ({
    index: ++index,
    token: tgiToken(token, eosTokenIds),
    top_tokens: null,
    generated_text: final ? (parameters.return_full_text === true ? body.inputs + text : text) : null,
    details: final,
  });
  for await (const next of generation.events()) {
    if (next.type === 'token') {
      if (held) await sendSse(ctx.res, event(held, null));
      text += next.text;
      held = next;
    } else if (next.finishReason === 'stop' || next.finishReason === 'length') {
      const details = {
        finish_reason: tgiFinishReason(next, held, eosTokenIds),
        generated_tokens: next.completionTokens,
        seed: parameters.seed ?? null,
        input_length: numInputTokens,
      };
      if (held) await sendSse(ctx.res, event(held, details));
    } else if (next.finishReason === 'error') {
      const failure = generationFailed(next.error?.message);
      ctx.failMidStream(failure);
      await sendSse(ctx.res, { error: failure.message, error_type: 'generation' });
    }
  }
  ctx.response = text;
  endSse(ctx.res, false);
}

export async function info(ctx: RequestContext): Promise<void> {
  await ctx.useModel(ctx.url.searchParams.get('model'));
  const engine = ctx.engine();
  const config = engine.config;
  const snapshot = engine.snapshot();
  sendJson(ctx.res, 200, {
    model_id: ctx.servedName(),
    model_sha: engine.manifest.source.revision ?? null,
    model_dtype: engine.manifest.dtype,
    model_device_type: snapshot.device,
    model_pipeline_tag: 'text-generation',
    max_concurrent_requests: config.maxConcurrentRequests,
    max_best_of: 1,
    max_stop_sequences: MAX_STOP_STRINGS,
    max_input_tokens: config.maxInputTokens,
    max_input_length: config.maxInputTokens,
    max_total_tokens: config.maxTotalTokens,
    max_batch_total_tokens: config.maxBatchTotalTokens,
    max_batch_prefill_tokens: config.maxPrefillTokens,
    max_batch_size: config.maxBatchSize,
    validation_workers: 1,
    waiting_served_ratio: null,
    router: 'hearth',
    version: HEARTH_VERSION,
    sha: null,
    docker_label: null,
    // The exact effective settings (after defaults and limits), so a tuned config can be checked.
    hearth: {
      batching: config,
      device: snapshot.device,
      architecture: engine.manifest.architecture,
      context_length: engine.manifest.shape.contextLength,
      kv_cache_capacity_tokens: snapshot.kvCacheCapacityTokens,
      // Provider, WebGPU adapter (vendor, name, software or not, shader-f16), where the KV cache
      // lives, why, and the bytes that crossed to and from the device.
      accelerator: snapshot.accelerator,
    },
  });
}
