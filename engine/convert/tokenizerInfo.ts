// Collects what the engine needs from the tokenizer files: chat template, special tokens and
// their ids, EOS ids (tokenizer + generation_config + config) and generation defaults.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GenerationDefaults, TokenizerInfo } from '../common/manifest.js';
import { ConvertError } from '../common/convertError.js';

type Json = Record<string, unknown>;

export function readTokenizerInfo(checkpointDir: string, configEosIds: number[]): { tokenizer: TokenizerInfo; generation: GenerationDefaults } {
  const tokenizerJson = readJsonFile(join(checkpointDir, 'tokenizer.json'));
  const tokenizerConfig = readJsonFile(join(checkpointDir, 'tokenizer_config.json'));
  const generationPath = join(checkpointDir, 'generation_config.json');
  const generationConfig = existsSync(generationPath) ? readJsonFile(generationPath) : {};

  const ids = tokenIdLookup(tokenizerJson);
  const bosToken = tokenContent(tokenizerConfig.bos_token);
  const eosToken = tokenContent(tokenizerConfig.eos_token);
  const padToken = tokenContent(tokenizerConfig.pad_token);
  const eosIds = new Set<number>();
  const eosId = eosToken === null ? undefined : ids.get(eosToken);
  if (eosId !== undefined) eosIds.add(eosId);
  for (const id of asIds(generationConfig.eos_token_id)) eosIds.add(id);
  for (const id of configEosIds) eosIds.add(id);

  const tokenizer: TokenizerInfo = {
    tokenizerFile: 'tokenizer.json',
    tokenizerConfigFile: 'tokenizer_config.json',
    chatTemplate: chatTemplate(checkpointDir, tokenizerConfig),
    bosToken,
    eosToken,
    bosTokenId: bosToken === null ? asIds(generationConfig.bos_token_id)[0] ?? null : ids.get(bosToken) ?? null,
    eosTokenIds: [...eosIds].sort((a, b) => a - b),
    padTokenId: padToken === null ? asIds(generationConfig.pad_token_id)[0] ?? null : ids.get(padToken) ?? null,
    addBosToken: tokenizerConfig.add_bos_token === true,
  };
  const generation: GenerationDefaults = {};
  const number = (key: string) => (typeof generationConfig[key] === 'number' ? (generationConfig[key] as number) : undefined);
  const assign = <K extends keyof GenerationDefaults>(key: K, value: GenerationDefaults[K] | undefined) => {
    if (value !== undefined) generation[key] = value;
  };
  assign('temperature', number('temperature'));
  assign('topP', number('top_p'));
  assign('topK', number('top_k'));
  assign('minP', number('min_p'));
  assign('repetitionPenalty', number('repetition_penalty'));
  assign('maxNewTokens', number('max_new_tokens'));
  if (typeof generationConfig.do_sample === 'boolean') generation.doSample = generationConfig.do_sample;
  return { tokenizer, generation };
}

function chatTemplate(checkpointDir: string, tokenizerConfig: Json): string | null {
  const template = tokenizerConfig.chat_template;
  if (typeof template === 'string') return template;
  if (Array.isArray(template)) {
    const named = template as { name?: string; template?: string }[];
    return (named.find((entry) => entry.name === 'default') ?? named[0])?.template ?? null;
  }
  const file = join(checkpointDir, 'chat_template.jinja');
  return existsSync(file) ? readFileSync(file, 'utf8') : null;
}

function tokenIdLookup(tokenizerJson: Json): Map<string, number> {
  const ids = new Map<string, number>();
  const vocab = (tokenizerJson.model as Json | undefined)?.vocab;
  if (vocab && typeof vocab === 'object' && !Array.isArray(vocab)) {
    for (const [token, id] of Object.entries(vocab as Record<string, unknown>)) if (typeof id === 'number') ids.set(token, id);
  }
  for (const added of (tokenizerJson.added_tokens as { id?: number; content?: string }[] | undefined) ?? []) {
    if (typeof added.id === 'number' && typeof added.content === 'string') ids.set(added.content, added.id);
  }
  return ids;
}

function tokenContent(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as Json).content === 'string') return (value as Json).content as string;
  return null;
}

function asIds(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  return Array.isArray(value) ? value.filter((id): id is number => typeof id === 'number') : [];
}

function readJsonFile(path: string): Json {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as Json;
  } catch (error) {
    throw new ConvertError(`${path} is not a valid JSON object (${(error as Error).message}).`);
  }
}
