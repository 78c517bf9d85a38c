// Splits a chat reply, as it streams, into reasoning (`<think>…</think>` or the family's own
// markers: reasoningFormats.ts), content and tool calls, in OpenAI's delta shape. The non-streaming answer runs the same parser over the whole text, so
// both agree. Text that might still turn into a marker is held back until it is decided;
// malformed calls fall back to plain content.
import { randomBytes } from 'node:crypto';
import type { ReasoningFormat } from './reasoningFormats.js';
import type { ParsedToolCall, ToolFormat } from './toolFormats.js';

/** What the marker put-back needs of a tokenizer. */
export interface MarkerTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[]): string;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

export interface ChatDelta {
  reasoning_content?: string;
  content?: string;
  tool_calls?: ToolCallDelta[];
}

export interface ChatOutputOptions {
  /** How the template marks reasoning (null: it has none). */
  reasoning: ReasoningFormat | null;
  /** The prompt already opened the reasoning (the reply starts inside it). */
  startsInReasoning: boolean;
  /** Parse tool calls in this syntax (null: tools off or tool_choice 'none'). */
  tools: ToolFormat | null;
  /** parallel_tool_calls false: keep only the first call. */
  parallel: boolean;
  /**
   * Stream a call's arguments as they are written (after its id and name). Only for calls a
   * grammar forces: they cannot turn out malformed after their first fragment was sent. Other
   * calls are sent whole once complete, so malformed ones can still become plain content.
   */
  streamArguments?: boolean;
}

/** Length of the longest suffix of `text` that is a proper prefix of `marker`. */
function heldTail(text: string, marker: string): number {
  for (let n = Math.min(marker.length - 1, text.length); n > 0; n--) if (marker.startsWith(text.slice(text.length - n))) return n;
  return 0;
}

/** heldTail for whichever of `markers` holds back most. */
const heldTailOfAny = (text: string, markers: readonly string[]) => Math.max(0, ...markers.map((marker) => heldTail(text, marker)));

/** Where the first of `markers` occurs in `text`, and which (at -1: none). */
function firstOf(text: string, markers: readonly string[]): { at: number; marker: string } {
  let found = { at: -1, marker: '' };
  for (const marker of markers) {
    const at = text.indexOf(marker);
    if (at >= 0 && (found.at < 0 || at < found.at)) found = { at, marker };
  }
  return found;
}

export const toolCallId = () => `call_${randomBytes(12).toString('hex')}`;

export class ChatOutputParser {
  private text = '';
  /** Characters of `text` already turned into deltas. */
  private done = 0;
  private phase: 'undecided' | 'reasoning' | 'afterReasoning' | 'answerStart' | 'content' | 'tools';
  /** The answer opened with the format's answer tag, whose closing tag is still to come. */
  private inAnswerTags = false;
  private contentSeen = false;
  private sectionStart = 0;
  private numCalls = 0;
  private reasoningStarted = false;
  readonly calls: (ParsedToolCall & { id: string })[] = [];
  /** The call whose arguments are streaming: its index and how much of its arguments was sent. */
  private open: { index: number; sent: number } | null = null;

  constructor(private options: ChatOutputOptions) {
    this.phase = options.startsInReasoning ? 'reasoning' : options.reasoning ? 'undecided' : 'content';
  }

  push(text: string): ChatDelta[] {
    this.text += text;
    return this.advance(false);
  }

  /** The model stopped: decide everything held back. */
  finish(): ChatDelta[] {
    return this.advance(true);
  }

  private advance(final: boolean): ChatDelta[] {
    const out: ChatDelta[] = [];
    for (let guard = 0; guard < 10_000; guard++) {
      const before = `${this.phase}:${this.done}`;
      this.step(final, out);
      if (`${this.phase}:${this.done}` === before) return out;
    }
    throw new Error('chat output parser made no progress (bug)');
  }

  private step(final: boolean, out: ChatDelta[]): void {
    const rest = this.text.slice(this.done);
    switch (this.phase) {
      case 'undecided': {
        const lead = rest.length - rest.trimStart().length;
        const trimmed = rest.slice(lead);
        const { open } = this.options.reasoning!;
        const opened = open.find((marker) => trimmed.startsWith(marker));
        if (opened !== undefined) {
          this.done += lead + opened.length;
          this.phase = 'reasoning';
        } else if (!final && open.some((marker) => marker.startsWith(trimmed))) {
          return; // could still open the reasoning
        } else this.phase = this.answerPhase();
        return;
      }
      case 'reasoning': {
        // Templates write "<think>\n" + reasoning + "\n</think>\n\n": those newlines are formatting.
        const { close: closers, padding } = this.options.reasoning!;
        const close = firstOf(rest, closers);
        let end = rest.length;
        if (close.at >= 0) end = close.at;
        else if (!final && padding === 'newline') end -= heldTailOfAny(rest, [...closers, ...closers.map((marker) => `\n${marker}`)]);
        else if (!final) {
          const body = rest.slice(0, rest.length - heldTailOfAny(rest, closers));
          end = body.trimEnd().length; // trailing whitespace waits: it is padding if the close follows
        }
        let chunk = rest.slice(0, end);
        if (close.at >= 0) chunk = padding === 'newline' ? chunk.replace(/\n$/, '') : chunk.trimEnd();
        if (!this.reasoningStarted) {
          if (padding === 'whitespace') chunk = chunk.trimStart();
          else {
            if (chunk === '\n' && close.at < 0 && !final) return; // wait: it may be the template's newline
            chunk = chunk.replace(/^\n/, '');
          }
        }
        this.emit(out, 'reasoning_content', chunk, end);
        if (close.at >= 0) {
          this.done += close.marker.length;
          this.phase = 'afterReasoning';
        }
        return;
      }
      case 'afterReasoning': {
        // The template's "\n\n" after </think> is formatting, not content.
        const skipped = this.options.reasoning!.padding === 'newline' ? /^\n*/.exec(rest)![0].length : rest.length - rest.trimStart().length;
        this.done += skipped;
        if (skipped < rest.length || final) this.phase = this.answerPhase(); // else more padding may follow
        return;
      }
      case 'answerStart': {
        const lead = rest.length - rest.trimStart().length;
        const trimmed = rest.slice(lead);
        const { open } = this.options.reasoning!.answer!;
        if (trimmed.startsWith(open)) {
          this.done += lead + open.length;
          this.inAnswerTags = true;
          this.phase = 'content';
        } else if (!final && open.startsWith(trimmed)) {
          return; // could still open the answer tag
        } else this.phase = 'content';
        return;
      }
      case 'content': {
        // Inside the answer tags only the text before the closing tag is judged; the tag goes.
        let view = rest;
        let viewFinal = final;
        if (this.inAnswerTags) {
          const { close } = this.options.reasoning!.answer!;
          const at = rest.indexOf(close);
          if (at === 0) {
            this.done += close.length;
            this.inAnswerTags = false;
            return;
          }
          if (at > 0) {
            view = rest.slice(0, at);
            viewFinal = true;
          } else if (!final) view = rest.slice(0, rest.length - heldTail(rest, close));
        }
        this.content(view, viewFinal, out);
        return;
      }
      case 'tools': {
        const section = this.text.slice(this.sectionStart);
        const parsed = this.options.tools!.parseSection(section, final);
        for (const call of parsed.calls.slice(this.numCalls)) {
          this.numCalls++;
          const open = this.open;
          this.open = null;
          if (open) {
            // Its id and name went out when it opened: send the rest of its arguments.
            this.calls[open.index]!.arguments = call.arguments;
            if (call.arguments.length > open.sent) out.push({ tool_calls: [{ index: open.index, function: { arguments: call.arguments.slice(open.sent) } }] });
            continue;
          }
          if (!this.options.parallel && this.calls.length >= 1) continue;
          const index = this.announce(out, call.name);
          this.calls[index]!.arguments = call.arguments;
          out.push({ tool_calls: [{ index, function: { arguments: call.arguments } }] });
        }
        this.done = this.sectionStart + parsed.consumed;
        if (!parsed.malformed && !final) this.streamOpenCall(section, parsed.consumed, out);
        if (parsed.malformed) {
          // What follows the last good call is plain content (calls already sent stay).
          this.phase = 'content';
          this.options = { ...this.options, tools: null };
        }
        return;
      }
    }
  }

  /** The phase after the reasoning (or its absence): the answer may open with the format's tag. */
  private answerPhase(): 'answerStart' | 'content' {
    return this.options.reasoning?.answer ? 'answerStart' : 'content';
  }

  /** Content up to the end of `rest` (`final`: nothing more follows it): text, or the start of a call section. */
  private content(rest: string, final: boolean, out: ChatDelta[]): void {
    const format = this.options.tools;
    if (!format) {
      this.emit(out, 'content', rest, rest.length);
      return;
    }
    if (format.leading) {
      const trimmed = rest.trimStart();
      if (this.contentSeen || (trimmed !== '' && !trimmed.startsWith(format.start))) {
        this.emit(out, 'content', rest, rest.length);
        this.contentSeen = true;
      } else if (trimmed.startsWith(format.start)) {
        this.done += rest.length - trimmed.length;
        this.startSection();
      }
      return;
    }
    const open = rest.indexOf(format.start);
    if (open >= 0) {
      this.emit(out, 'content', rest.slice(0, open), open);
      this.startSection();
      return;
    }
    const keep = final ? 0 : heldTail(rest, format.start);
    this.emit(out, 'content', rest.slice(0, rest.length - keep), rest.length - keep);
  }

  /** Sends a call's id and name; returns its index. */
  private announce(out: ChatDelta[], name: string): number {
    const index = this.calls.length;
    const id = toolCallId();
    this.calls.push({ id, name, arguments: '' });
    out.push({ tool_calls: [{ index, id, type: 'function', function: { name, arguments: '' } }] });
    return index;
  }

  /**
   * Streams the arguments of the call being written, holding back what may still be its closing
   * (trailing whitespace, the body's final '}', the format's closers such as a partial end tag).
   */
  private streamOpenCall(section: string, from: number, out: ChatDelta[]): void {
    const format = this.options.tools!;
    if (!this.options.streamArguments || !format.openCall) return;
    if (!this.open && !this.options.parallel && this.calls.length >= 1) return;
    const head = format.openCall(section, from);
    if (!head) return;
    this.open ??= { index: this.announce(out, head.name), sent: 0 };
    let safe = section.slice(head.argumentsStart);
    for (let changed = true; changed; ) {
      const before = safe.length;
      safe = safe.replace(/\s+$/, '');
      for (const closer of format.closers) {
        const partialEnd = heldTail(safe, closer) || (safe.endsWith(closer) ? closer.length : 0);
        safe = safe.slice(0, safe.length - partialEnd);
      }
      changed = safe.length !== before;
    }
    if (safe.endsWith('}')) safe = safe.slice(0, -1);
    if (safe.length > this.open.sent) {
      out.push({ tool_calls: [{ index: this.open.index, function: { arguments: safe.slice(this.open.sent) } }] });
      this.open.sent = safe.length;
    }
  }

  private startSection(): void {
    this.phase = 'tools';
    this.sectionStart = this.done;
  }

  private emit(out: ChatDelta[], key: 'reasoning_content' | 'content', text: string, advanceBy: number): void {
    this.done += advanceBy;
    if (text === '') return;
    if (key === 'reasoning_content') this.reasoningStarted = true;
    if (key === 'content' && text.trim() !== '') this.contentSeen = true;
    const last = out.at(-1);
    if (last && last[key] !== undefined && Object.keys(last).length === 1) last[key] += text;
    else out.push({ [key]: text });
  }
}

/** Folds deltas into one message's fields. */
export function mergeDeltas(deltas: ChatDelta[]): { reasoning: string | null; content: string; calls: { id: string; name: string; arguments: string }[] } {
  let reasoning: string | null = null;
  let content = '';
  const calls: { id: string; name: string; arguments: string }[] = [];
  for (const delta of deltas) {
    if (delta.reasoning_content !== undefined) reasoning = (reasoning ?? '') + delta.reasoning_content;
    if (delta.content !== undefined) content += delta.content;
    for (const call of delta.tool_calls ?? []) {
      calls[call.index] ??= { id: call.id ?? '', name: call.function.name ?? '', arguments: '' };
      calls[call.index]!.arguments += call.function.arguments;
    }
  }
  return { reasoning, content, calls };
}

/** Chat output options with the call markers the detokenizer drops (token id → marker text). */
export type ParserOptions = ChatOutputOptions & { markers: ReadonlyMap<number, string> };

/**
 * The format's call markers that are special tokens of this tokenizer (Mistral's [TOOL_CALLS],
 * Phi's <|tool_call|> and <|/tool_call|>): the detokenizer drops them, so the parser must be shown
 * them again. Markers that are ordinary text are absent.
 */
export function droppedMarkers(tokenizer: MarkerTokenizer, format: ToolFormat): Map<number, string> {
  const markers = new Map<number, string>();
  for (const marker of format.markers) {
    const ids = tokenizer.encode(marker, { addSpecialTokens: false });
    if (ids.length === 1 && tokenizer.decode(ids) === '') markers.set(ids[0]!, marker);
  }
  return markers;
}

/** A token's text for the output parser: a dropped call marker is put back. */
export const parserText = (event: { tokenId: number; text: string }, options: ParserOptions) => (options.markers.get(event.tokenId) ?? '') + event.text;
