// The package's tokenizer (@huggingface/tokenizers over tokenizer.json + tokenizer_config.json)
// and chat template (@huggingface/jinja), with the special tokens the manifest names.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import type { TokenizerInfo } from '../common/manifest.js';

export interface ChatMessage {
  role: string;
  content: string | null | Array<Record<string, unknown>>;
  name?: string;
  tool_calls?: unknown[];
  tool_call_id?: string;
}

export interface ChatTemplateOptions {
  addGenerationPrompt: boolean;
  tools?: unknown[];
  /** Extra template variables (chat_template_kwargs, e.g. enable_thinking); the fixed ones win. */
  kwargs?: Record<string, unknown>;
}

/** GPT-2's byte ↔ printable-character table used by ByteLevel BPE vocabularies. */
function byteLevelDecoder(): Map<string, number> {
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = bytes.slice();
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + extra++);
    }
  }
  return new Map(bytes.map((byte, i) => [String.fromCodePoint(chars[i]!), byte]));
}

function usesByteLevel(node: unknown): boolean {
  if (!node || typeof node !== 'object') return false;
  const record = node as { type?: string; decoders?: unknown[] };
  return record.type === 'ByteLevel' || (Array.isArray(record.decoders) && record.decoders.some(usesByteLevel));
}

export class ModelTokenizer {
  private readonly tokenizer: Tokenizer;
  private readonly template: Template | null;
  private readonly byteDecoder: Map<string, number> | null;
  private readonly specialIds: Set<number>;
  private readonly bytesCache = new Map<number, number[]>();

  constructor(
    tokenizerJson: Record<string, unknown>,
    tokenizerConfig: Record<string, unknown>,
    readonly info: TokenizerInfo,
  ) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.template = info.chatTemplate ? new Template(info.chatTemplate) : null;
    this.byteDecoder = usesByteLevel(tokenizerJson.decoder) ? byteLevelDecoder() : null;
    this.specialIds = new Set(
      ((tokenizerJson.added_tokens as Array<{ id: number; special?: boolean }> | undefined) ?? [])
        .filter((token) => token.special)
        .map((token) => token.id),
    );
  }

  static fromPackage(packageDir: string, info: TokenizerInfo): ModelTokenizer {
    const readJson = (file: string) => JSON.parse(readFileSync(join(packageDir, file), 'utf8')) as Record<string, unknown>;
    return new ModelTokenizer(readJson(info.tokenizerFile), readJson(info.tokenizerConfigFile), info);
  }

  get hasChatTemplate(): boolean {
    return this.template !== null;
  }

  get eosTokenIds(): number[] {
    return this.info.eosTokenIds;
  }

  /** `addSpecialTokens` (default true) adds BOS etc. as the tokenizer's post-processor says; chat prompts already contain them. */
  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.tokenizer.decode(ids as number[], { skip_special_tokens: options.skipSpecialTokens ?? true });
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** The token as the vocabulary spells it (for logprobs' `token`). */
  tokenText(id: number): string {
    return this.decode([id], { skipSpecialTokens: false });
  }

  /** The raw bytes this token stands for (a byte-level token may be part of a UTF-8 character). */
  tokenBytes(id: number): number[] {
    const cached = this.bytesCache.get(id);
    if (cached) return cached;
    const piece = this.tokenizer.id_to_token(id) ?? '';
    let bytes: number[] | null = null;
    const byteFallback = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
    if (byteFallback) bytes = [parseInt(byteFallback[1]!, 16)];
    else if (this.byteDecoder && !this.specialIds.has(id)) {
      const decoded = [...piece].map((char) => this.byteDecoder!.get(char));
      if (decoded.every((byte) => byte !== undefined)) bytes = decoded as number[];
    }
    bytes ??= [...Buffer.from(this.specialIds.has(id) ? piece : piece.replaceAll('▁', ' '), 'utf8')];
    this.bytesCache.set(id, bytes);
    return bytes;
  }

  applyChatTemplate(messages: ChatMessage[], options: ChatTemplateOptions): string {
    if (!this.template) {
      throw new Error('This model package has no chat template; use /v1/completions with a plain prompt instead.');
    }
    return this.template.render({
      ...options.kwargs,
      messages,
      add_generation_prompt: options.addGenerationPrompt,
      tools: options.tools,
      bos_token: this.info.bosToken ?? '',
      eos_token: this.info.eosToken ?? '',
    });
  }
}
