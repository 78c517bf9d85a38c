// Streams a chat completion from the served model (through the host's proxy) and times it as
// the user sees it: time to first token, total, tokens per second.
import type { AdminClient } from './client.js';
import { sseData } from '../../../engine/common/sse.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface SamplingControls {
  temperature: number;
  topP: number;
  maxTokens: number;
  seed?: number;
}

export interface ChatTimings {
  ttftMs: number | null;
  totalMs: number;
  completionTokens: number | null;
  promptTokens: number | null;
  tokensPerSec: number | null;
  finishReason: string | null;
}

/** A failed chat: the server's message when it sent one. */
export class ChatError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ChatError';
  }
}

/** Streamed text of one reply: the answer, or the model's reasoning (`<think>` models). */
export interface ChatTextDelta {
  content?: string;
  reasoning?: string;
}

interface ChunkShape {
  choices?: { delta?: { content?: string | null; reasoning_content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string };
}

export async function streamChat(
  client: AdminClient,
  request: { model: string; messages: ChatMessage[]; sampling: SamplingControls },
  onDelta: (delta: ChatTextDelta) => void,
  signal: AbortSignal,
): Promise<ChatTimings> {
  const startedMs = performance.now();
  let response: Response;
  try {
    response = await fetch(client.proxyUrl('/v1/chat/completions'), {
      method: 'POST',
      signal,
      headers: { ...client.authHeaders(), 'content-type': 'application/json' },
      body: JSON.stringify({
        model: request.model,
        messages: request.messages,
        stream: true,
        stream_options: { include_usage: true },
        temperature: request.sampling.temperature,
        top_p: request.sampling.topP,
        max_tokens: request.sampling.maxTokens,
        ...(request.sampling.seed === undefined ? {} : { seed: request.sampling.seed }),
      }),
    });
  } catch (error) {
    if (signal.aborted) throw error;
    throw new ChatError(503, 'The engine host is not answering. Wait for it to restart, or restart Hearth.');
  }
  if (!response.ok || !response.body) {
    const text = await response.text();
    let message = `The server answered ${response.status}.`;
    try {
      const parsed = JSON.parse(text) as { error?: { message?: string } };
      if (parsed.error?.message) message = parsed.error.message;
    } catch {
      /* keep the generic message */
    }
    throw new ChatError(response.status, message);
  }
  let ttftMs: number | null = null;
  let finishReason: string | null = null;
  let usage: ChunkShape['usage'] = null;
  for await (const data of sseData(response.body)) {
    if (data === '[DONE]') break;
    const chunk = JSON.parse(data) as ChunkShape;
    if (chunk.error) throw new ChatError(500, chunk.error.message ?? 'The server failed mid-stream.');
    for (const choice of chunk.choices ?? []) {
      const content = choice.delta?.content ?? '';
      const reasoning = choice.delta?.reasoning_content ?? '';
      if (content || reasoning) {
        if (ttftMs === null) ttftMs = performance.now() - startedMs;
        onDelta({ ...(content ? { content } : {}), ...(reasoning ? { reasoning } : {}) });
      }
      if (choice.finish_reason) finishReason = choice.finish_reason;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  const totalMs = performance.now() - startedMs;
  const completionTokens = usage?.completion_tokens ?? null;
  const generationMs = ttftMs === null ? 0 : totalMs - ttftMs;
  return {
    ttftMs,
    totalMs,
    completionTokens,
    promptTokens: usage?.prompt_tokens ?? null,
    tokensPerSec: completionTokens !== null && completionTokens > 1 && generationMs > 0 ? ((completionTokens - 1) * 1000) / generationMs : null,
    finishReason,
  };
}
