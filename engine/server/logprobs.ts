// Engine logprobs → the two OpenAI shapes (chat's `content` list, completions' parallel arrays).
import type { TokenEvent, TokenLogprob } from '../common/engineApi.js';

export interface ChatLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

const entry = (lp: TokenLogprob) => ({ token: lp.token, logprob: lp.logprob, bytes: lp.bytes });

export function chatLogprobs(tokens: readonly TokenEvent[], topLogprobs: number): { content: ChatLogprob[] } {
  const content: ChatLogprob[] = [];
  for (const token of tokens) {
    if (!token.logprob) continue;
    content.push({ ...entry(token.logprob), top_logprobs: token.logprob.top.slice(0, topLogprobs).map(entry) });
  }
  return { content };
}

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

export function completionLogprobs(tokens: readonly TokenEvent[], topLogprobs: number, startOffset: number): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let offset = startOffset;
  for (const token of tokens) {
    if (!token.logprob) continue;
    out.tokens.push(token.logprob.token);
    out.token_logprobs.push(token.logprob.logprob);
    out.top_logprobs.push(Object.fromEntries(token.logprob.top.slice(0, topLogprobs).map((lp) => [lp.token, lp.logprob])));
    out.text_offset.push(offset);
    offset += token.text.length;
  }
  return out;
}
