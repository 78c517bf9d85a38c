// Conversion progress on stderr: tensor n of N and bytes, shown when stderr is a terminal
// or once the conversion has run for more than a second (so quick test runs stay quiet).
export interface ProgressEvent {
  tensorsDone: number;
  tensorsTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export type ProgressListener = (event: ProgressEvent) => void;

export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): ProgressListener & { finish(): void } {
  const startedMs = Date.now();
  let lastPrintMs = 0;
  let printed = false;
  const listener = (event: ProgressEvent) => {
    const nowMs = Date.now();
    if (!stream.isTTY && nowMs - startedMs < 1000) return;
    const done = event.tensorsDone === event.tensorsTotal;
    // A terminal line is rewritten in place; a log gets a line every 2 s at most.
    if (!done && nowMs - lastPrintMs < (stream.isTTY ? 200 : 2000)) return;
    lastPrintMs = nowMs;
    printed = true;
    const line = `converting: tensor ${event.tensorsDone} of ${event.tensorsTotal}, ${formatBytes(event.bytesDone)} of ${formatBytes(event.bytesTotal)}`;
    if (stream.isTTY) stream.write(`\r${line}\x1b[K`);
    else stream.write(`${line}\n`);
  };
  return Object.assign(listener, {
    finish() {
      if (printed && stream.isTTY) stream.write('\n');
    },
  });
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}
