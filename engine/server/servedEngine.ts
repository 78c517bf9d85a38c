// What the HTTP layer needs from a loaded engine: the Engine contract plus the package's
// tokenizer (chat template, prompt encoding) and the resolved settings it reports.
// engine/runtime's LoadedEngine satisfies this structurally; tests use the real one.
import type { BatchingConfig, Engine } from '../common/engineApi.js';
import type { ModelManifest } from '../common/manifest.js';

export interface ChatTemplateMessage {
  role: string;
  content: string;
  name?: string;
  /** Arguments as objects (as transformers' templates expect), parsed from the API's JSON strings. */
  tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: unknown } }[];
  tool_call_id?: string;
  reasoning_content?: string;
  /** A system message's tool list as JSON text, for templates that read it there (Phi-4-mini). */
  tools?: string;
}

export interface ChatTemplateOptions {
  addGenerationPrompt: boolean;
  /** OpenAI-shaped tool definitions, passed to the template as `tools`. */
  tools?: unknown[];
  /** More template variables (chat_template_kwargs); the fixed ones above win. */
  kwargs?: Record<string, unknown>;
}

export interface ServedTokenizer {
  /** `addSpecialTokens: false` for chat prompts: the template already wrote BOS and friends. */
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[]): string;
  /** The package's chat template rendered to text (or token ids). */
  applyChatTemplate(messages: ChatTemplateMessage[], options: ChatTemplateOptions): string | number[];
}

/** The per-step statistics metrics read (a subset of engine/runtime's StepStats). */
export interface StepStats {
  /** Requests that ran in the step. */
  batchSize: number;
  stepMs: number;
  /** Host → device and device → host bytes of the step (0 on the CPU provider). */
  toDeviceBytes: number;
  toHostBytes: number;
  /** Requests preempted while planning the step. */
  numPreempted?: number;
  /** Admitted requests that started from a cached prefix, and the prompt tokens that saved. */
  numPrefixHits?: number;
  numPrefixHitTokens?: number;
}

export interface ServedEngine extends Engine {
  readonly manifest: ModelManifest;
  readonly tokenizer: ServedTokenizer;
  /** Effective batching settings (after defaults and limits); /info reports them verbatim. */
  readonly config: BatchingConfig & { kvCacheCapacityTokens?: number };
  onStep?(listener: (stats: StepStats) => void): (() => void) | void;
}
