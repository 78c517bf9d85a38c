// `hearth search [query]`: text-generation models on the Hub, with size, license and access.
import { formatBytes } from '../../common/memoryEstimate.js';
import { parseCommandArgs, positiveInt } from '../args.js';
import { CliError } from '../cliError.js';
import { toCliError } from './pull.js';

const HELP = `Usage: hearth search [query] [--sort downloads|likes|recent] [--library safetensors|onnx] [--limit N] [--json]

Searches the Hugging Face Hub (HF_ENDPOINT) for text-generation models.

Options:
  --sort <key>       downloads (default), likes, or recent (last update)
  --library <fmt>    only repos with safetensors or onnx weights
  --limit <n>        how many results (default 20)
  --json             print the results as JSON
  -h, --help         Show this help`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      sort: { type: 'string', default: 'downloads' },
      library: { type: 'string' },
      limit: { type: 'string', default: '20' },
      json: { type: 'boolean', default: false },
      endpoint: { type: 'string' },
    },
    HELP,
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (!['downloads', 'likes', 'recent'].includes(values.sort!)) throw new CliError(`--sort must be downloads, likes or recent (got '${values.sort}').`, 2);
  if (values.library && !['safetensors', 'onnx'].includes(values.library)) throw new CliError(`--library must be safetensors or onnx (got '${values.library}').`, 2);
  const limit = positiveInt('limit', values.limit);

  const { searchModels } = await import('../../hub/search.js');
  let results;
  try {
    results = await searchModels({
      query: positionals.join(' '),
      sort: values.sort as 'downloads' | 'likes' | 'recent',
      library: values.library as 'safetensors' | 'onnx' | undefined,
      limit,
      hub: { endpoint: values.endpoint },
    });
  } catch (error) {
    throw toCliError(error);
  }
  if (values.json) {
    console.log(JSON.stringify(results, null, 2));
    return 0;
  }
  if (!results.length) {
    console.log('No text-generation models matched.');
    return 0;
  }
  const rows = results.map((model) => [
    model.id,
    model.numParams ? `${formatCount(model.numParams)} params` : '',
    model.sizeBytes ? formatBytes(model.sizeBytes) : '',
    model.license ?? '',
    model.gated ? `gated (${model.gated})` : '',
    model.lastModified.slice(0, 10),
    formatCount(model.downloads),
    formatCount(model.likes),
  ]);
  printTable(['MODEL', 'SIZE', 'BYTES', 'LICENSE', 'ACCESS', 'UPDATED', 'DOWNLOADS', 'LIKES'], rows);
  return 0;
}

export function formatCount(value: number): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(1)}B`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return String(value);
}

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
}
