// Shared by every generation route: API sampling fields → SamplingParams, the context-length
// checks, and running one submitted request (admission errors → HTTP status, client gone → cancel).
import type { DoneEvent, EngineEvent, GenerationRequest, RequestHandle, SamplingParams, TokenEvent } from '../common/engineApi.js';
import type { GenerationDefaults } from '../common/manifest.js';
import type { RequestContext } from './context.js';
import { badRequest, generationFailed, toApiError } from './errors.js';
import type { ServedEngine } from './servedEngine.js';

export interface SamplingFields {
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  seed?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  repetition_penalty?: number | null;
}

/** Request fields win; then the package's generation config; then OpenAI's defaults. */
export function samplingParams(fields: SamplingFields, defaults: GenerationDefaults, choiceIndex = 0): SamplingParams {
  const defaultTemperature = defaults.doSample === false ? 0 : (defaults.temperature ?? 1);
  const topK = fields.top_k ?? defaults.topK ?? 0;
  return {
    temperature: fields.temperature ?? defaultTemperature,
    topP: fields.top_p ?? defaults.topP ?? 1,
    topK: topK < 0 ? 0 : topK,
    minP: fields.min_p ?? defaults.minP ?? 0,
    presencePenalty: fields.presence_penalty ?? 0,
    frequencyPenalty: fields.frequency_penalty ?? 0,
    repetitionPenalty: fields.repetition_penalty ?? defaults.repetitionPenalty ?? 1,
    // n > 1 with a seed: distinct but reproducible choices.
    seed: fields.seed === null || fields.seed === undefined ? undefined : fields.seed + choiceIndex,
  };
}

export function stopStrings(stop: string | string[] | null | undefined): string[] {
  if (stop === null || stop === undefined) return [];
  return (typeof stop === 'string' ? [stop] : stop).filter((s) => s !== '');
}

/**
 * Checks the prompt against the engine's limits and resolves max new tokens (default: the rest
 * of the context). Over the limits → 400 with the numbers.
 */
export function resolveMaxNewTokens(
  engine: ServedEngine,
  numPromptTokens: number,
  requested: number | null | undefined,
  param: string,
): number {
  const { maxInputTokens, maxTotalTokens } = engine.config;
  if (numPromptTokens === 0) throw badRequest('The prompt is empty after tokenization; send at least one token.', 'prompt');
  if (numPromptTokens > maxInputTokens) {
    throw badRequest(
      `The prompt has ${numPromptTokens} tokens; this server accepts at most ${maxInputTokens} input tokens (maxInputTokens). Shorten the prompt.`,
      'messages',
      'context_length_exceeded',
    );
  }
  if (requested === null || requested === undefined) return maxTotalTokens - numPromptTokens;
  if (numPromptTokens + requested > maxTotalTokens) {
    throw badRequest(
      `This model's maximum context length is ${maxTotalTokens} tokens. However, you requested ${numPromptTokens + requested} tokens ` +
        `(${numPromptTokens} in the prompt, ${requested} in '${param}'). Reduce the prompt or '${param}' (at most ${maxTotalTokens - numPromptTokens}).`,
      param,
      'context_length_exceeded',
    );
  }
  return requested;
}

export type GenerationSpec = Omit<GenerationRequest, 'requestId' | 'arrivalTimeMs'>;

/**
 * One submitted request. `submit` is synchronous (admission errors throw at once); `ready()`
 * waits for the first event, so errors the engine reports asynchronously still surface before
 * any header is sent. Submit every choice of a request first, then await them together, so
 * they are prefilled in the same steps.
 */
export class RunningGeneration {
  private first: IteratorResult<EngineEvent> | null = null;
  private isReady = false;
  private readonly iterator: AsyncIterator<EngineEvent>;
  private readonly onFinish: () => void;

  private constructor(
    private readonly ctx: RequestContext,
    handle: RequestHandle,
    private readonly countPrompt: boolean,
  ) {
    ctx.track(handle);
    this.iterator = handle[Symbol.asyncIterator]();
    this.onFinish = () => ctx.untrack(handle);
  }

  static submit(ctx: RequestContext, spec: GenerationSpec, suffix: string, countPrompt = true): RunningGeneration {
    const engine = ctx.engine();
    let handle: RequestHandle;
    try {
      handle = engine.submit({ ...spec, requestId: `${ctx.id}${suffix}`, arrivalTimeMs: ctx.arrivalMs });
    } catch (error) {
      throw toApiError(error);
    }
    return new RunningGeneration(ctx, handle, countPrompt);
  }

  /** Resolves once the first event arrived; throws the ApiError to answer with if the request failed. */
  async ready(): Promise<void> {
    if (this.isReady) return;
    this.isReady = true;
    let first: IteratorResult<EngineEvent>;
    try {
      first = await this.iterator.next();
    } catch (error) {
      this.onFinish();
      throw toApiError(error);
    }
    this.first = first;
    if (!first.done && first.value.type === 'done' && first.value.finishReason === 'error') {
      this.onFinish();
      this.ctx.noteDone(first.value, { countPrompt: this.countPrompt, decodeMs: null });
      if (first.value.error?.name === 'GrammarCompileError') {
        // Compiled at admission, so this is the first event: the client still gets a 400.
        const param = this.ctx.constraintParam;
        throw badRequest(`The grammar compiler rejected ${param ?? 'the requested grammar'}: ${first.value.error.message}.`, param, 'unsupported_schema');
      }
      throw generationFailed(first.value.error?.message);
    }
  }

  /**
   * Submits every item (synchronously: all choices of a request reach the same scheduler step),
   * then waits for all first events. On any failure the request's other generations are cancelled.
   */
  static submitAll(
    ctx: RequestContext,
    items: readonly { spec: GenerationSpec; suffix: string; countPrompt: boolean }[],
  ): RunningGeneration[] {
    try {
      return items.map((item) => RunningGeneration.submit(ctx, item.spec, item.suffix, item.countPrompt));
    } catch (error) {
      ctx.cancelAll();
      throw error;
    }
  }

  static async allReady(ctx: RequestContext, generations: readonly RunningGeneration[]): Promise<void> {
    try {
      await Promise.all(generations.map((generation) => generation.ready()));
    } catch (error) {
      ctx.cancelAll();
      throw error;
    }
  }

  /** Token events, then exactly one done event. Records metrics and log fields. */
  async *events(): AsyncGenerator<TokenEvent | DoneEvent> {
    const metrics = this.ctx.state.metrics;
    let firstTokenAtMs: number | null = null;
    let lastTokenAtMs: number | null = null;
    try {
      while (true) {
        if (!this.isReady) await this.ready();
        const next = this.first ?? (await this.iterator.next());
        this.first = null;
        if (next.done) throw new Error('the engine ended a request without a done event (bug in the engine)');
        const event = next.value;
        if (event.type === 'token') {
          const nowMs = performance.now();
          if (lastTokenAtMs !== null) metrics.observeTokenGap(nowMs - lastTokenAtMs);
          firstTokenAtMs ??= nowMs;
          lastTokenAtMs = nowMs;
          yield event;
        } else {
          metrics.observeDone(event);
          const decodeMs = firstTokenAtMs !== null && lastTokenAtMs !== null ? lastTokenAtMs - firstTokenAtMs : null;
          this.ctx.noteDone(event, { countPrompt: this.countPrompt, decodeMs });
          yield event;
          return;
        }
      }
    } finally {
      this.onFinish();
    }
  }
}

export interface CollectedGeneration {
  text: string;
  tokens: TokenEvent[];
  done: DoneEvent;
}

export async function collect(generation: RunningGeneration): Promise<CollectedGeneration> {
  const tokens: TokenEvent[] = [];
  let text = '';
  for await (const event of generation.events()) {
    if (event.type === 'token') {
      tokens.push(event);
      text += event.text;
    } else {
      if (event.finishReason === 'error') {
        throw generationFailed(event.error?.message);
      }
      return { text, tokens, done: event };
    }
  }
  throw new Error('unreachable: events() always ends with a done event');
}

/** OpenAI's finish_reason for an engine finish (cancelled requests have no client left to read it). */
export function openAiFinishReason(done: DoneEvent): 'stop' | 'length' {
  return done.finishReason === 'length' ? 'length' : 'stop';
}

/** OpenAI's usage object; `cachedTokens`: prompt tokens served from the prefix cache. */
export function usageOf(promptTokens: number, completionTokens: number, cachedTokens: number) {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens },
  };
}

export function unixSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}
