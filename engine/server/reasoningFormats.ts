// How the model families Hearth serves mark their reasoning in a reply, chosen from the chat
// template (and the template variable that turns thinking on, where the family has one): the
// markers around the reasoning, and the tags some wrap the answer in. ChatOutputParser applies it.

export type ReasoningFormatName = 'think' | 'granite_tags' | 'granite_phrases';

export interface ReasoningFormat {
  readonly name: ReasoningFormatName;
  /** Texts that open the reasoning, as the reply's first text (after whitespace); any one of them. */
  readonly open: readonly string[];
  /** Texts that end the reasoning; any one of them. */
  readonly close: readonly string[];
  /**
   * What around the markers is formatting, not text: `newline` (templates write "<think>\n" …
   * "\n</think>\n\n": one newline inside each side, any after), `whitespace` (all of it).
   */
  readonly padding: 'newline' | 'whitespace';
  /** Tags the answer is written in (Granite 3.3's <response>…</response>): removed, if the answer opens with them. */
  readonly answer: { readonly open: string; readonly close: string } | null;
}

const THINK: ReasoningFormat = { name: 'think', open: ['<think>'], close: ['</think>'], padding: 'newline', answer: null };

/** Granite 3.3 with `thinking`: "<think>…</think><response>…</response>", as its template asks. */
const GRANITE_TAGS: ReasoningFormat = { ...THINK, name: 'granite_tags', answer: { open: '<response>', close: '</response>' } };

/**
 * Granite 3.2 with `thinking`: "Here is my thought process: … Here is my response: …", as its
 * template asks; "Here's" too (vLLM's granite parser accepts both: quantized models write it).
 */
const GRANITE_PHRASES: ReasoningFormat = {
  name: 'granite_phrases',
  open: ['Here is my thought process:', "Here's my thought process:"],
  close: ['Here is my response:', "Here's my response:"],
  padding: 'whitespace',
  answer: null,
};

export const REASONING_FORMATS: Record<ReasoningFormatName, ReasoningFormat> = { think: THINK, granite_tags: GRANITE_TAGS, granite_phrases: GRANITE_PHRASES };

/**
 * The reasoning markup a template teaches, for a request whose template variables are `kwargs`;
 * null if it teaches none. Granite's templates ask for their markup only when `thinking` is set
 * (otherwise Granite 3.3's falls back to plain <think> blocks, like any template that has them).
 */
export function reasoningFormatForTemplate(template: string, kwargs: Readonly<Record<string, unknown>> = {}): ReasoningFormat | null {
  const granite = template.includes('<|start_of_role|>') && Boolean(kwargs.thinking);
  if (granite && template.includes('<think></think>') && template.includes('<response></response>')) return GRANITE_TAGS;
  if (granite && template.includes('Here is my thought process:') && template.includes('Here is my response:')) return GRANITE_PHRASES;
  return template.includes('</think>') ? THINK : null;
}
