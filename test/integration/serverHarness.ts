// Starts the real server on the real engine over the tiny generated fixture package, with a
// request log in a temp dir. Shared by the server/API integration tests.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BatchingConfig } from '../../engine/common/batching.js';
import type { ModelManifest } from '../../engine/common/manifest.js';
import { sseData } from '../../engine/common/sse.js';
import OpenAI from 'openai';
import { ModelTokenizer, type LoadedEngine } from '../../engine/runtime/index.js';
import type { CreateServerOptions, HearthServer } from '../../engine/server/index.js';
import { startServedModel } from '../../engine/server/servedModel.js';
import { RequestLog } from '../../engine/store/requestLog.js';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { referenceGreedy } from '../fixtures/referenceModel.js';

export interface Harness {
  url: string;
  server: HearthServer;
  engine: LoadedEngine;
  requestLog: RequestLog;
  manifest: ModelManifest;
  packageDir: string;
  checkpointDir: string;
  model: string;
  stop(): Promise<void>;
}

export async function tinyPackage() {
  return ensureFixturePackage({ arch: 'llama', dtype: 'fp32', shape: 'tiny' });
}

/** The tiny shape on Qwen3's real tokenizer and chat template (152k vocabulary; tools, <think>). */
export async function qwen3Package() {
  return ensureFixturePackage({ arch: 'qwen3', dtype: 'fp32', shape: 'tiny', tokenizer: 'qwen3' });
}

export async function startHarness(
  options: {
    batching?: Partial<BatchingConfig>;
    server?: Partial<Omit<CreateServerOptions, 'engine' | 'requestLog'>>;
    /** Default: the tiny fixture with its synthetic tokenizer. */
    fixture?: () => ReturnType<typeof tinyPackage>;
  } = {},
): Promise<Harness> {
  const { packageDir, checkpointDir, manifest } = await (options.fixture ?? tinyPackage)();
  const dir = mkdtempSync(join(tmpdir(), 'hearth-server-test-'));
  const requestLog = new RequestLog({ file: join(dir, 'hearth.db') });
  const served = await startServedModel({
    packageDir,
    engine: { device: 'cpu', batching: options.batching },
    server: { port: 0, requestLog, contentLogging: true, ...options.server },
    // Marks go to this test's own data directory, not the user's.
    mark: { env: { ...process.env, HEARTH_HOME: dir } },
    log: () => {},
  });
  const engine = await served.ready;
  return {
    url: served.url,
    server: served.server,
    engine,
    requestLog,
    manifest,
    packageDir,
    checkpointDir,
    model: manifest.name,
    async stop() {
      await served.close(4000);
      requestLog.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A harness with the openai client and the package's tokenizer, for the chat, tool and template suites. */
export interface ChatHarness extends Harness {
  client: OpenAI;
  tokenizer: ModelTokenizer;
  /** The prompt the server rendered for a chat request (vLLM's return_token_ids extension), special tokens kept. */
  renderedPrompt(body: Record<string, unknown>): Promise<string>;
}

export async function startChatHarness(options: Parameters<typeof startHarness>[0] = {}): Promise<ChatHarness> {
  const h = await startHarness(options);
  const tokenizer = ModelTokenizer.fromPackage(h.packageDir, h.manifest.tokenizer);
  return {
    ...h,
    client: new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'unused', maxRetries: 0 }),
    tokenizer,
    async renderedPrompt(body) {
      const { status, json } = await postJson(`${h.url}/v1/chat/completions`, { model: h.model, max_tokens: 1, temperature: 0, return_token_ids: true, ...body });
      assert.equal(status, 200, JSON.stringify(json));
      return tokenizer.decode(json.choices[0].prompt_token_ids, { skipSpecialTokens: false });
    },
  };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: any }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, headers: response.headers, json };
}

/** Reads an SSE response into its `data:` payloads (stops at `[DONE]`). */
export async function readSse(response: Response): Promise<any[]> {
  const events: any[] = [];
  if (!response.body) return events;
  for await (const data of sseData(response.body)) {
    if (data === '[DONE]') break;
    events.push(JSON.parse(data));
  }
  return events;
}

export { waitFor } from '../fixtures/poll.js';

export interface GreedyOptions {
  numNew?: number;
  /** Generate past EOS (both sides): for a reply that must reach a position. */
  ignoreEos?: boolean;
  /** The reference feeds the prompt as two passes split here (LongRoPE: hearth's per-position choice). */
  splitPromptAt?: number;
}

/** The greedy reply to `messages` equals the float64 reference on the rendered prompt (cut at the first EOS id unless ignored); streamed and not. Returns the prompt's ids and the reply's message. */
export async function assertGreedyReply(h: ChatHarness, messages: { role: 'system' | 'user' | 'assistant'; content: string }[], options: GreedyOptions = {}): Promise<{ promptIds: number[]; message: OpenAI.ChatCompletionMessage }> {
  const { numNew = 8, ignoreEos = false, splitPromptAt } = options;
  const extra = ignoreEos ? ({ ignore_eos: true } as object) : {};
  const { json } = await postJson(`${h.url}/v1/chat/completions`, { model: h.model, messages, max_tokens: 1, temperature: 0, return_token_ids: true });
  const promptIds: number[] = json.choices[0].prompt_token_ids;
  const eos = new Set(h.manifest.tokenizer.eosTokenIds);
  const greedy = referenceGreedy(h.checkpointDir, promptIds, numNew, { splitPromptAt });
  const stop = ignoreEos ? -1 : greedy.findIndex((id) => eos.has(id));
  const expectedIds = stop === -1 ? greedy : greedy.slice(0, stop);
  const completion = await h.client.chat.completions.create({ model: h.model, messages, max_tokens: numNew, temperature: 0, ...extra });
  assert.equal(completion.choices[0]!.message.content, h.tokenizer.decode(expectedIds));
  assert.equal(completion.usage!.prompt_tokens, promptIds.length);
  if (ignoreEos) assert.equal(completion.usage!.completion_tokens, numNew);
  let streamed = '';
  for await (const chunk of await h.client.chat.completions.create({ model: h.model, messages, max_tokens: numNew, temperature: 0, stream: true, ...extra })) {
    streamed += chunk.choices[0]?.delta.content ?? '';
  }
  assert.equal(streamed, completion.choices[0]!.message.content);
  return { promptIds, message: completion.choices[0]!.message };
}
