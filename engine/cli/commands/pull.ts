// `hearth pull <org/name>[@revision] [--dtype int4]`: download (resumable, verified, HF-cache
// aware) and convert a Hub model into the library, with a progress bar on stderr.
import { MODEL_DTYPES, type ModelDtype } from '../../common/manifest.js';
import { formatBytes } from '../../common/memoryEstimate.js';
import type { PullEvent } from '../../common/pullEvents.js';
import { parseCommandArgs } from '../args.js';
import { CliError } from '../cliError.js';

const HELP = `Usage: hearth pull <org/name>[@revision] [--dtype fp32|fp16|int4] [--name NAME] [--force]

Downloads what conversion needs from the Hugging Face Hub (configs, tokenizer, safetensors),
verifies every file against its sha256, converts it, and adds it to the model library.
Interrupted downloads resume from the bytes on disk. Files go to the standard HF cache
(HF_HUB_CACHE or HF_HOME/hub), so models other tools downloaded are reused.

Options:
  --dtype <dtype>    fp32, fp16 or int4 (default int4)
  --name <name>      Library name (default: the repo's name, e.g. SmolLM2-135M-Instruct)
  --force            Download even if the fit check says it will not fit in memory
  --endpoint <url>   Hub endpoint (default HF_ENDPOINT, else https://huggingface.co)
  -h, --help         Show this help

Environment: HF_TOKEN (gated/private repos), HF_ENDPOINT (mirrors), HF_HOME / HF_HUB_CACHE, HEARTH_HOME.
Then: hearth serve <name>`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    { dtype: { type: 'string', default: 'int4' }, name: { type: 'string' }, force: { type: 'boolean', default: false }, endpoint: { type: 'string' } },
    HELP,
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new CliError(`expected one Hub model id, e.g. HuggingFaceTB/SmolLM2-135M-Instruct.\n\n${HELP}`, 2);
  const dtype = values.dtype as ModelDtype;
  if (!MODEL_DTYPES.includes(dtype)) throw new CliError(`--dtype must be one of ${MODEL_DTYPES.join(', ')} (got '${values.dtype}').`, 2);

  const { pullModel } = await import('../../hub/pull.js');
  const bar = new PullProgress(process.stderr);
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    const result = await pullModel({
      ref: positionals[0]!,
      dtype,
      name: values.name,
      force: values.force,
      hub: { endpoint: values.endpoint },
      signal: abort.signal,
      onEvent: (event) => bar.handle(event),
    });
    bar.finish();
    console.log(`Ready: ${result.name} (${dtype}, weights ${formatBytes(result.manifest.weightsBytes)}) from ${result.repo}@${result.commit.slice(0, 12)}.`);
    console.log(`Serve it with: hearth serve ${result.name}`);
    return 0;
  } catch (error) {
    bar.finish();
    if (abort.signal.aborted) throw new CliError('Stopped. Run the same command again to resume the download.', 130);
    throw toCliError(error);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Errors users can meet become CliErrors (message only); bugs keep their stack. */
export function toCliError(error: unknown): unknown {
  const name = (error as Error)?.name;
  if (['HubError', 'LibraryError', 'ModelNameError', 'ConvertError'].includes(name)) return new CliError((error as Error).message, 1);
  if (error instanceof Error && /is not a Hub model id/.test(error.message)) return new CliError(error.message, 2);
  return error;
}

/** Terminal rendering of PullEvents: a redrawn bar on a TTY, a few plain lines otherwise. */
export class PullProgress {
  private lastLineMs = 0;
  private drawn = false;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  handle(event: PullEvent): void {
    switch (event.type) {
      case 'resolved': {
        const cached = event.files.filter((file) => file.cached).length;
        this.line(
          `${event.repo}@${event.revision} → commit ${event.commit.slice(0, 12)}: ${event.files.length} files, ${formatBytes(event.totalBytes)}` +
            (cached ? ` (${cached} already in the HF cache)` : '') +
            `; ${formatBytes(event.bytesToDownload)} to download.`,
        );
        return;
      }
      case 'fit':
        this.line(event.message);
        return;
      case 'file-start':
        if (event.resumedFromBytes > 0) this.line(`${event.path}: resuming at ${formatBytes(event.resumedFromBytes)} of ${formatBytes(event.bytes)}.`);
        return;
      case 'progress':
        this.progress(event);
        return;
      case 'retry':
        this.line(`${event.path}: ${event.reason}; retrying in ${(event.delayMs / 1000).toFixed(1)} s (attempt ${event.attempt}).`);
        return;
      case 'file-done':
        if (event.source === 'hf-cache' && !/\.safetensors$/.test(event.path)) return;
        this.line(`${event.path}: ${event.source === 'hf-cache' ? 'found in the HF cache' : 'downloaded and verified'}.`);
        return;
      case 'convert-start':
        this.line(`Converting to ${event.dtype}…`);
        return;
      case 'convert-progress': {
        const percent = event.bytesTotal ? Math.floor((100 * event.bytesDone) / event.bytesTotal) : 0;
        this.redraw(`converting ${bar(percent)} ${percent}%  tensor ${event.tensorsDone}/${event.tensorsTotal}`, event.tensorsDone === event.tensorsTotal);
        return;
      }
      case 'done':
        this.line(event.reusedPackage ? `Already converted to ${event.dtype}: ${event.packageDir}` : `Converted: ${event.packageDir}`);
        return;
      case 'verifying':
      case 'error':
        return;
    }
  }

  private progress(event: Extract<PullEvent, { type: 'progress' }>): void {
    const filePercent = event.fileBytes ? Math.floor((100 * event.fileBytesDone) / event.fileBytes) : 100;
    const totalPercent = event.totalBytes ? Math.floor((100 * event.totalBytesDone) / event.totalBytes) : 100;
    const eta = event.etaSec === null ? '--:--' : formatDuration(event.etaSec);
    const text =
      `${shorten(event.path, 28)} ${bar(filePercent)} ${String(filePercent).padStart(3)}% ${formatBytes(event.fileBytesDone)}/${formatBytes(event.fileBytes)}` +
      `  total ${totalPercent}% ${formatBytes(event.totalBytesDone)}/${formatBytes(event.totalBytes)}  ${formatBytes(event.bytesPerSec)}/s  ETA ${eta}`;
    this.redraw(text, event.fileBytesDone === event.fileBytes);
  }

  /** On a TTY: overwrite the current line. Elsewhere: at most one line every 5 s, plus the last. */
  private redraw(text: string, final: boolean): void {
    if (this.stream.isTTY) {
      const width = this.stream.columns || 120;
      this.stream.write(`\r${text.slice(0, width - 1).padEnd(width - 1)}`);
      this.drawn = true;
      return;
    }
    const now = Date.now();
    if (final || now - this.lastLineMs > 5000) {
      this.lastLineMs = now;
      this.stream.write(`${text}\n`);
    }
  }

  private line(text: string): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
    this.stream.write(`${text}\n`);
  }

  finish(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}

function bar(percent: number, width = 20): string {
  const filled = Math.max(0, Math.min(width, Math.round((percent / 100) * width)));
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

function shorten(text: string, width: number): string {
  return text.length <= width ? text.padEnd(width) : `…${text.slice(-(width - 1))}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}
