// Streaming detokenization for one request: emits only text that is final. Text is held back
// while (a) the decoded tail is an incomplete UTF-8 character (byte-level tokens split
// multi-byte characters; the decoder renders the partial bytes as U+FFFD) or (b) it could be
// the start of a stop string. Stop strings themselves are never emitted.

export type DecodeFn = (ids: readonly number[]) => string;

export interface DetokenizerStep {
  /** Final text made available by this token (may be ''). */
  text: string;
  /** A stop string completed: generation must end ('stop'); `text` excludes the stop string. */
  stopped: boolean;
}

const REPLACEMENT = '\uFFFD';

export class StreamDetokenizer {
  private readonly ids: number[] = [];
  /** Window start: decoding from here gives context (leading-space rules) for the new tokens. */
  private prefixOffset = 0;
  /** Tokens before this index have had their text taken into `pending`/emitted. */
  private readOffset = 0;
  /** Decoded but not yet emitted (could start a stop string). */
  private pending = '';
  private finished = false;

  constructor(
    private readonly decode: DecodeFn,
    private readonly stopStrings: readonly string[] = [],
    /** Prompt tail ids give the first generated token its context; none by default. */
    contextIds: readonly number[] = [],
  ) {
    this.ids.push(...contextIds);
    this.prefixOffset = Math.max(0, contextIds.length - 5);
    this.readOffset = contextIds.length;
  }

  push(tokenId: number): DetokenizerStep {
    if (this.finished) throw new Error('detokenizer: push after the stream finished (bug)');
    this.ids.push(tokenId);
    const prefixText = this.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const fullText = this.decode(this.ids.slice(this.prefixOffset));
    if (fullText.length > prefixText.length && !fullText.endsWith(REPLACEMENT)) {
      this.pending += fullText.slice(prefixText.length);
      this.prefixOffset = this.readOffset;
      this.readOffset = this.ids.length;
    }
    return this.release(false);
  }

  /** Generation ended for another reason (EOS, length, cancel): emit whatever is held back. */
  flush(): string {
    if (this.finished) return '';
    // Bytes of an incomplete character at the very end are emitted as U+FFFD, as the decoder renders them.
    const tail = this.decode(this.ids.slice(this.prefixOffset));
    const prefixText = this.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    if (tail.length > prefixText.length) this.pending += tail.slice(prefixText.length);
    this.readOffset = this.ids.length;
    const { text } = this.release(true);
    this.finished = true;
    return text;
  }

  private release(final: boolean): DetokenizerStep {
    let firstStop = -1;
    for (const stop of this.stopStrings) {
      if (stop.length === 0) continue;
      const at = this.pending.indexOf(stop);
      if (at >= 0 && (firstStop < 0 || at < firstStop)) firstStop = at;
    }
    if (firstStop >= 0) {
      const text = this.pending.slice(0, firstStop);
      this.pending = '';
      this.finished = true;
      return { text, stopped: true };
    }
    const hold = final ? 0 : this.heldBackLength();
    const text = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return { text, stopped: false };
  }

  /** Longest suffix of `pending` that is a proper prefix of some stop string. */
  private heldBackLength(): number {
    let hold = 0;
    for (const stop of this.stopStrings) {
      for (let length = Math.min(stop.length - 1, this.pending.length); length > hold; length--) {
        if (this.pending.endsWith(stop.slice(0, length))) {
          hold = length;
          break;
        }
      }
    }
    return hold;
  }
}
