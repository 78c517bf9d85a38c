// `hearth size`: which GPUs hold a serving config, at what concurrency, for how much a month,
// and how many replicas a target request rate needs.
import { parseCommandArgs, positiveNumber } from '../args.js';
import { CliError } from '../cliError.js';
import { formatBytes } from '../../common/memoryEstimate.js';
import { renderTable } from '../../bench/format.js';
import { DEFAULT_GPUS, DEFAULT_PRICES, sizeConfig, type SizingResult } from '../../export/index.js';
import { loadSizingInput, type LoadedInput, type SizingFlags } from '../../export/cliInput.js';

const HELP = `Usage: hearth size --config tuned.json [options]
       hearth size <model-package> [options]

GPU sizing and cost for a serving config: weights + KV cache (its batch token budget) + overhead
per GPU, which fit, the most full-context sequences each holds, the monthly cost, and the
replicas a target request rate needs at the measured throughput (the config's tuning record).

Options:
  --config FILE              serving config (JSON/YAML; from \`hearth tune\`)
  --rps N                    target requests per second (default 1)
  --throughput TOK_PER_S     measured tokens/s of one replica (default: the config's tuning)
  --tokens-per-request N     generated tokens per request (default 256)
  --gpus FILE                GPU table, JSON [{"name", "memoryGB" | "memoryBytes"}] (default: ${DEFAULT_GPUS.map((gpu) => gpu.name).join(', ')})
  --prices FILE              price table, JSON [{"gpu", "usdPerHour"}] (defaults in engine/export/gpuCatalog.ts)
  --json                     print the sizing as JSON
`;

export function formatSizing(sizing: SizingResult): string {
  const money = (value: number | null) => (value === null ? '-' : `$${value.toFixed(value < 10 ? 2 : 0)}`);
  const rows = sizing.rows.map((row) => [
    row.gpu, formatBytes(row.memoryBytes), formatBytes(row.requiredBytes), row.fits ? 'yes' : 'no', String(row.maxConcurrency),
    money(row.usdPerHour), money(row.usdPerMonth), row.replicas === null ? '-' : String(row.replicas), money(row.deploymentUsdPerMonth),
  ]);
  return [
    `${sizing.model} (${sizing.dtype}): KV cache ${sizing.kvCacheTokens} tokens × ${sizing.kvBytesPerToken} B`,
    '',
    renderTable(['gpu', 'memory', 'needs', 'fits', 'max conc', '$/h', '$/month', 'replicas', 'total $/month'], rows),
    '',
    sizing.recommended ? `cheapest that fits: ${sizing.recommended}` : 'no listed GPU fits this config',
    ...sizing.notes.map((note) => `note: ${note}`),
  ].join('\n');
}

/** loadSizingInput, its errors (unreadable config, no model package) shown as CliErrors; export uses it too. */
export function loadSizingInputOrFail(flags: SizingFlags): LoadedInput {
  try {
    return loadSizingInput(flags);
  } catch (error) {
    throw new CliError(`${(error as Error).message}.`);
  }
}

// size's own checks have always exited 1 (serve and the hub commands use 2, a usage error); kept.
const BAD_VALUE = { exitCode: 1 } as const;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      config: { type: 'string' }, rps: { type: 'string' }, throughput: { type: 'string' }, 'tokens-per-request': { type: 'string' },
      gpus: { type: 'string' }, prices: { type: 'string' }, json: { type: 'boolean' },
    },
    HELP,
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const input = loadSizingInputOrFail({ config: values.config, package: positionals[0], gpus: values.gpus, prices: values.prices });
  const tokensPerSec = positiveNumber('throughput', values.throughput, BAD_VALUE);
  const tokensPerRequest = positiveNumber('tokens-per-request', values['tokens-per-request'], BAD_VALUE);
  const throughput = tokensPerSec !== undefined
    ? { tokensPerSec, tokensPerRequest }
    : input.config.tuning ? { tokensPerSec: input.config.tuning.throughputTokensPerSec, tokensPerRequest, measuredOn: input.config.tuning.machine } : undefined;
  const sizing = sizeConfig({ config: input.config, gpus: input.gpus ?? DEFAULT_GPUS, prices: input.prices ?? DEFAULT_PRICES, throughput, targetRequestsPerSec: positiveNumber('rps', values.rps, BAD_VALUE) }, input.manifest);
  sizing.notes.unshift(...input.notes);
  console.log(values.json ? JSON.stringify(sizing, null, 2) : formatSizing(sizing));
  return 0;
}
