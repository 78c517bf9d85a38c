// Before a run: find the model name, read the server's effective settings from /info, check that
// it accepts `ignore_eos`, and build a prompt of the requested length in the server's own tokens.
import { BATCHING_KEYS, type BatchingConfig } from '../common/batching.js';
import type { BenchEndpoint, ServerDescription } from './types.js';
import { describeFetchError, errorMessageOf, headersFor, requestBody, routeOf } from './streamRequest.js';

interface ProbeTarget {
  baseUrl: string;
  apiKey?: string;
  timeoutMs: number;
}

async function getJson(target: ProbeTarget, path: string): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(new URL(path, target.baseUrl), { headers: headersFor(target.apiKey), signal: AbortSignal.timeout(target.timeoutMs) });
  } catch (error) {
    throw new Error(describeFetchError(error, target.baseUrl));
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: response.status, body };
}


// TGI's /info names for the same settings, so a TGI server's run is comparable too.
const TGI_KEYS: Record<string, keyof BatchingConfig> = {
  max_batch_size: 'maxBatchSize',
  max_batch_total_tokens: 'maxBatchTotalTokens',
  max_batch_prefill_tokens: 'maxPrefillTokens',
  max_concurrent_requests: 'maxConcurrentRequests',
  max_input_tokens: 'maxInputTokens',
  max_input_length: 'maxInputTokens',
  max_total_tokens: 'maxTotalTokens',
};

/** Batching settings found in an /info body: a `batching` object in our names, or TGI's flat fields. */
export function batchingFromInfo(info: unknown): Partial<BatchingConfig> | null {
  if (!info || typeof info !== 'object') return null;
  const record = info as Record<string, unknown>;
  const found: Partial<BatchingConfig> = {};
  // Hearth's /info carries the exact effective settings under `hearth.batching`.
  const nested = (record.hearth as Record<string, unknown> | undefined)?.batching ?? record.batching;
  if (nested && typeof nested === 'object') {
    for (const key of BATCHING_KEYS) {
      const value = (nested as Record<string, unknown>)[key];
      if (typeof value === 'number') found[key] = value;
    }
  }
  for (const [tgiKey, key] of Object.entries(TGI_KEYS)) {
    const value = record[tgiKey];
    if (typeof value === 'number' && found[key] === undefined) found[key] = value;
  }
  return Object.keys(found).length ? found : null;
}

export async function describeServer(target: ProbeTarget, model?: string): Promise<ServerDescription> {
  const models = await getJson(target, '/v1/models');
  if (models.status === 401) throw new Error('the server wants an API key: pass --api-key (or set HEARTH_API_KEY)');
  if (models.status !== 200) throw new Error(`GET /v1/models answered ${models.status}: is ${target.baseUrl} an OpenAI-compatible server?`);
  const ids = ((models.body as { data?: { id: string }[] }).data ?? []).map((entry) => entry.id);
  const chosen = model ?? ids[0];
  if (!chosen) throw new Error('the server lists no models in GET /v1/models; pass --model');
  const info = await getJson(target, '/info').catch(() => ({ status: 0, body: null }));
  const infoBody = info.status === 200 ? info.body : null;
  const record = (infoBody && typeof infoBody === 'object' ? infoBody : {}) as Record<string, unknown>;
  const hearth = (record.hearth ?? {}) as Record<string, unknown>;
  const deviceField = hearth.device ?? record.model_device_type ?? record.device;
  const device = typeof deviceField === 'string' ? deviceField : null;
  return { model: chosen, device, batching: batchingFromInfo(infoBody), info: infoBody };
}

export interface ProbeResult {
  prompt: string;
  /** Tokens the server counted for `prompt` (null when it reports no usage). */
  promptTokens: number | null;
  ignoreEosHonoured: boolean;
  notes: string[];
}

// Common English words that are one token each in the Llama/SmolLM/Qwen vocabularies when
// preceded by a space; varied so the prompt is not a degenerate repetition.
const WORDS = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'and', 'then', 'runs', 'back', 'home', 'to', 'see', 'its', 'friends'];

export function promptOfWords(numWords: number): string {
  const words: string[] = [];
  for (let i = 0; i < numWords; i++) words.push(WORDS[i % WORDS.length]!);
  return words.join(' ');
}

/**
 * Finds a prompt the server counts as exactly `promptTokens` tokens: short non-streamed requests
 * (max_tokens 1) read usage.prompt_tokens, and a binary search over the prompt's length in
 * characters closes in (tokenizers differ: a word is one token for SmolLM2, several for others).
 */
export async function probePrompt(
  target: ProbeTarget & { endpoint: BenchEndpoint; model: string; promptTokens: number; ignoreEos: boolean },
): Promise<ProbeResult> {
  const notes: string[] = [];
  let ignoreEos = target.ignoreEos;
  const wanted = target.promptTokens;
  const text = promptOfWords(Math.max(16, wanted) * 8);
  const promptOfLength = (chars: number) => text.slice(0, Math.max(1, Math.min(chars, text.length))).trimEnd();

  const count = async (chars: number): Promise<number | null> => {
    for (;;) {
      let response: Response;
      try {
        response = await fetch(new URL(routeOf(target.endpoint), target.baseUrl), {
          method: 'POST',
          headers: headersFor(target.apiKey),
          body: JSON.stringify(requestBody({ endpoint: target.endpoint, model: target.model, prompt: promptOfLength(chars), maxTokens: 1, ignoreEos }, false)),
          signal: AbortSignal.timeout(target.timeoutMs),
        });
      } catch (error) {
        throw new Error(describeFetchError(error, target.baseUrl));
      }
      const body = await response.text();
      if (response.status === 400 && ignoreEos && /ignore_eos/i.test(body)) {
        ignoreEos = false;
        notes.push('the server refused `ignore_eos`; requests may stop at EOS before max_tokens (see shortCompletions)');
        continue;
      }
      if (!response.ok) throw new Error(`the calibration request failed with HTTP ${response.status}: ${errorMessageOf(body)}`);
      return (JSON.parse(body) as { usage?: { prompt_tokens?: number } }).usage?.prompt_tokens ?? null;
    }
  };

  let best: { chars: number; tokens: number } | null = null;
  const consider = (chars: number, tokens: number) => {
    if (!best || Math.abs(tokens - wanted) < Math.abs(best.tokens - wanted)) best = { chars, tokens };
  };
  let high = promptOfWords(wanted).length;
  let highTokens = await count(high);
  if (highTokens === null) {
    notes.push('the server reports no usage; the prompt length is approximate (one word ≈ one token)');
    return { prompt: promptOfLength(high), promptTokens: null, ignoreEosHonoured: ignoreEos, notes };
  }
  consider(high, highTokens);
  while (highTokens < wanted && high < text.length) {
    high = Math.min(text.length, high * 2);
    highTokens = (await count(high))!;
    consider(high, highTokens);
  }
  let low = 0;
  while (best!.tokens !== wanted && high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    const tokens = (await count(mid))!;
    consider(mid, tokens);
    if (tokens < wanted) low = mid;
    else high = mid;
  }
  const found = best!;
  if (found.tokens !== wanted) {
    notes.push(`the prompt is ${found.tokens} tokens (asked for ${wanted}; the chat template or tokenizer made it impossible to hit exactly)`);
  }
  return { prompt: promptOfLength(found.chars), promptTokens: found.tokens, ignoreEosHonoured: ignoreEos, notes };
}
