// Incremental Server-Sent-Events parser: feed it decoded text as it arrives, get back the `data:`
// payloads of every complete event. Events may be split anywhere across network chunks.

export class SseParser {
  private buffer = '';

  /** Returns the data payloads of the events completed by `text` (multi-line data joined by \n). */
  push(text: string): string[] {
    this.buffer += text.replace(/\r\n?/g, '\n');
    const payloads: string[] = [];
    let boundary: number;
    while ((boundary = this.buffer.indexOf('\n\n')) !== -1) {
      const rawEvent = this.buffer.slice(0, boundary);
      this.buffer = this.buffer.slice(boundary + 2);
      const dataLines = rawEvent
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''));
      if (dataLines.length > 0) payloads.push(dataLines.join('\n'));
    }
    return payloads;
  }
}
