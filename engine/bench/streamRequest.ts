// One streamed OpenAI request, timed the way a client sees it: TTFT to the first chunk carrying
// generated text, ITL as the gaps between text chunks, end-to-end to the end of the stream.
import { performance } from 'node:perf_hooks';
import type { BenchEndpoint, RequestSample } from './types.js';
import { sseData } from '../common/sse.js';

export interface StreamRequestOptions {
  baseUrl: string;
  apiKey?: string;
  endpoint: BenchEndpoint;
  model: string;
  prompt: string;
  maxTokens: number;
  ignoreEos: boolean;
  responseFormat?: Record<string, unknown>;
  timeoutMs: number;
  /** performance.now() when the client wanted to send (before any client-side wait). */
  scheduledAtMs: number;
  signal?: AbortSignal;
}

export function requestBody(options: Pick<StreamRequestOptions, 'endpoint' | 'model' | 'prompt' | 'maxTokens' | 'ignoreEos' | 'responseFormat'>, stream: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: options.model,
    max_tokens: options.maxTokens,
    temperature: 0,
    stream,
  };
  if (stream) body.stream_options = { include_usage: true };
  if (options.ignoreEos) body.ignore_eos = true;
  if (options.responseFormat) body.response_format = options.responseFormat;
  if (options.endpoint === 'chat') body.messages = [{ role: 'user', content: options.prompt }];
  else body.prompt = options.prompt;
  return body;
}

export function routeOf(endpoint: BenchEndpoint): string {
  return endpoint === 'chat' ? '/v1/chat/completions' : '/v1/completions';
}

export function headersFor(apiKey: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  return headers;
}

interface StreamChunk {
  choices?: { text?: string; delta?: { content?: string | null; role?: string } }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string };
}

/** Text a chunk carries, or null when it carries no generated text (role-only or usage-only chunks). */
function chunkText(chunk: StreamChunk, endpoint: BenchEndpoint): string | null {
  const choice = chunk.choices?.[0];
  if (!choice) return null;
  if (endpoint === 'chat') {
    const content = choice.delta?.content;
    // The first chat chunk announces the role (often with content ''): it is not a token yet.
    if (choice.delta?.role !== undefined && !content) return null;
    return typeof content === 'string' ? content : null;
  }
  return typeof choice.text === 'string' ? choice.text : null;
}

export async function streamRequest(options: StreamRequestOptions): Promise<RequestSample> {
  const sentAtMs = performance.now();
  const clientWaitMs = sentAtMs - options.scheduledAtMs;
  const textTimesMs: number[] = [];
  let promptTokens: number | null = null;
  let usageCompletionTokens: number | null = null;
  const fail = (status: number, error: string): RequestSample => ({
    ok: false,
    status,
    error,
    clientWaitMs,
    ttftMs: textTimesMs.length ? textTimesMs[0]! - options.scheduledAtMs : null,
    e2eMs: performance.now() - options.scheduledAtMs,
    itlMs: [],
    promptTokens,
    completionTokens: textTimesMs.length,
  });

  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await fetch(new URL(routeOf(options.endpoint), options.baseUrl), {
      method: 'POST',
      headers: headersFor(options.apiKey),
      body: JSON.stringify(requestBody(options, true)),
      signal,
    });
  } catch (error) {
    return fail(0, describeFetchError(error, options.baseUrl));
  }
  if (!response.ok || !response.body) {
    const text = await response.text().catch(() => '');
    return fail(response.status, `HTTP ${response.status}: ${errorMessageOf(text)}`);
  }

  let sawDone = false;
  try {
    // Payloads come out as soon as the network read completing them is parsed: the time taken
    // here is their arrival (payloads of one read share it).
    for await (const payload of sseData(response.body)) {
      const arrivedAtMs = performance.now();
      {
        if (payload === '[DONE]') {
          sawDone = true;
          continue;
        }
        let chunk: StreamChunk;
        try {
          chunk = JSON.parse(payload) as StreamChunk;
        } catch {
          return fail(response.status, `the server sent an SSE event that is not JSON: ${payload.slice(0, 120)}`);
        }
        if (chunk.error) return fail(response.status, `error in stream: ${chunk.error.message ?? JSON.stringify(chunk.error)}`);
        if (chunk.usage) {
          promptTokens = chunk.usage.prompt_tokens ?? promptTokens;
          usageCompletionTokens = chunk.usage.completion_tokens ?? usageCompletionTokens;
        }
        if (chunkText(chunk, options.endpoint) !== null) textTimesMs.push(arrivedAtMs);
      }
    }
  } catch (error) {
    return fail(response.status, `stream broke: ${(error as Error).message}`);
  }
  if (!sawDone) return fail(response.status, 'the stream ended without [DONE]');

  const endMs = performance.now();
  const itlMs: number[] = [];
  for (let i = 1; i < textTimesMs.length; i++) itlMs.push(textTimesMs[i]! - textTimesMs[i - 1]!);
  return {
    ok: true,
    status: response.status,
    clientWaitMs,
    ttftMs: textTimesMs.length ? textTimesMs[0]! - options.scheduledAtMs : null,
    e2eMs: endMs - options.scheduledAtMs,
    itlMs,
    promptTokens,
    completionTokens: usageCompletionTokens ?? textTimesMs.length,
  };
}

export function errorMessageOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: string } | string; message?: string };
    if (typeof parsed.error === 'string') return parsed.error;
    return parsed.error?.message ?? parsed.message ?? body.slice(0, 200);
  } catch {
    return body.slice(0, 200) || '(empty body)';
  }
}

export function describeFetchError(error: unknown, baseUrl: string): string {
  const err = error as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError') return 'request timed out';
  if (err.name === 'AbortError') return 'request cancelled';
  const code = err.cause?.code;
  if (code === 'ECONNREFUSED') return `nothing is listening at ${baseUrl} (start one with \`hearth serve <model>\`)`;
  return `${err.message}${err.cause?.message ? `: ${err.cause.message}` : ''}`;
}
