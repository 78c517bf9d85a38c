// `hearth tune <package>`: search batching settings on the real engine against a latency
// objective and write the winner as a serving config (tuned.json) with the measurements.
import { writeFileSync } from 'node:fs';
import { parseCommandArgs, positiveIntList, positiveNumber } from '../args.js';
import { CliError } from '../cliError.js';
import { openDb } from '../../store/db.js';
import { databasePath } from '../../store/dataDir.js';
import { migrateBench, renderTable, saveRun } from '../../bench/index.js';
import { autoTune, describeCandidate, describeObjective, type BaseServingConfig, type TuneObjective } from '../../tune/index.js';
import type { DeviceChoice } from '../../common/servingConfig.js';

const HELP = `Usage: hearth tune <model-package> --ttft-p95 MS [--itl-p95 MS] [options]

Auto-tunes the batching settings (max batch size, max batch total tokens, prefill chunk) against
a latency objective. Each candidate starts the real engine and server in this process and runs
the benchmark sweep against it; the winner is the candidate with the highest throughput at a
load where every p95 bound holds. Writes it as a serving config with the measurements behind it.
Takes minutes on a real model: run it on an otherwise idle machine.

Objective (at least one):
  --ttft-p95 MS          p95 time to first token
  --itl-p95 MS           p95 inter-token latency
  --e2e-p95 MS           p95 end-to-end latency

Options:
  --out FILE             where to write the tuned config (default tuned.json)
  --config FILE          base serving config (device, threads, other batching settings)
  --device NAME          auto | cpu | cuda | ... (default: the base config's, else auto)
  --cpu-threads N        engine threads (default: one per physical core)
  --concurrency LIST     load levels to measure (default 1,4,16,64)
  --prompt-tokens N      (default 128)    --max-tokens N   output tokens (default 64)
  --requests N           requests per level (default max(2 × concurrency, 8))
  --batch-sizes LIST     phase 1 candidates (default 4,16,64)
  --prefill LIST         prefill chunks; phase 1 uses the middle one, phase 2 the rest (default 128,256,512);
                         phase 3 tries the winner with half its batch token budget
  --json                 print the full result (every trial and level) as JSON
  --no-save              do not store the trials' benchmark runs in the database
`;

// tune's own checks have always exited 1 (serve and the hub commands use 2, a usage error); kept.
const BAD_VALUE = { exitCode: 1 } as const;
const MILLISECONDS = { ...BAD_VALUE, unit: 'milliseconds' } as const;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      'ttft-p95': { type: 'string' }, 'itl-p95': { type: 'string' }, 'e2e-p95': { type: 'string' },
      out: { type: 'string' }, config: { type: 'string' }, device: { type: 'string' }, 'cpu-threads': { type: 'string' },
      concurrency: { type: 'string' }, 'prompt-tokens': { type: 'string' }, 'max-tokens': { type: 'string' }, requests: { type: 'string' },
      'batch-sizes': { type: 'string' }, prefill: { type: 'string' }, json: { type: 'boolean' }, 'no-save': { type: 'boolean' },
    },
    HELP,
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  let base: BaseServingConfig = {};
  if (values.config) {
    const { loadServingConfigFile } = await import('../../server/servingConfigFile.js');
    try {
      base = loadServingConfigFile(values.config);
    } catch (error) {
      throw new CliError((error as Error).message);
    }
  }
  const packageDir = positionals[0] ?? base.model?.package;
  if (!packageDir) throw new CliError('name the model package to tune: `hearth tune <model-package> --ttft-p95 500`.');
  const objective: TuneObjective = {};
  const ttft = positiveNumber('ttft-p95', values['ttft-p95'], MILLISECONDS);
  const itl = positiveNumber('itl-p95', values['itl-p95'], MILLISECONDS);
  const e2e = positiveNumber('e2e-p95', values['e2e-p95'], MILLISECONDS);
  if (ttft !== undefined) objective.ttftP95Ms = ttft;
  if (itl !== undefined) objective.itlP95Ms = itl;
  if (e2e !== undefined) objective.e2eP95Ms = e2e;
  if (Object.keys(objective).length === 0) throw new CliError('give a latency objective: --ttft-p95 MS and/or --itl-p95 MS (or --e2e-p95 MS).');
  if (values.device) base = { ...base, device: values.device as DeviceChoice };
  if (values['cpu-threads']) base = { ...base, cpuThreads: Number(values['cpu-threads']) };
  const single = (name: string, text: string | undefined) => positiveIntList(name, text, BAD_VALUE)?.[0];

  console.log(`hearth tune: ${describeObjective(objective)}; each candidate loads the model and runs a sweep.`);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  let result;
  try {
    result = await autoTune({
      packageDir,
      objective,
      base,
      batchSizes: positiveIntList('batch-sizes', values['batch-sizes'], BAD_VALUE),
      prefillTokens: positiveIntList('prefill', values.prefill, BAD_VALUE),
      concurrencyLevels: positiveIntList('concurrency', values.concurrency, BAD_VALUE),
      promptTokens: single('prompt-tokens', values['prompt-tokens']),
      maxTokens: single('max-tokens', values['max-tokens']),
      requestsPerLevel: single('requests', values.requests),
      signal: controller.signal,
      onTrial: (trial, index) => {
        const outcome = trial.error
          ? `failed: ${trial.error}`
          : trial.bestLevel
            ? `${trial.bestLevel.throughputTokensPerSec.toFixed(1)} tok/s at ${trial.bestLevel.concurrency} streams meets the objective`
            : `misses the objective at every load (${trial.verdicts[0]?.violations.join(', ') ?? 'no levels'})`;
        console.log(`[${index + 1}] ${describeCandidate(trial.candidate)}: ${outcome}`);
      },
    });
  } catch (error) {
    throw new CliError(`${(error as Error).message}.`);
  } finally {
    process.off('SIGINT', onSignal);
  }

  if (!values['no-save']) {
    const db = openDb(databasePath(), { readonly: false });
    try {
      migrateBench(db);
      for (const trial of result.trials) if (trial.run) saveRun(db, trial.run);
    } finally {
      db.close();
    }
  }
  if (values.json) console.log(JSON.stringify(result, null, 2));
  const rows = result.trials.flatMap((trial) =>
    (trial.run?.levels ?? []).map((level, i) => [
      i === 0 ? describeCandidate(trial.candidate) : '',
      String(level.concurrency),
      level.throughputTokensPerSec.toFixed(1),
      level.ttftMs.p95?.toFixed(0) ?? '-',
      level.itlMs.p95?.toFixed(1) ?? '-',
      level.e2eMs.p95?.toFixed(0) ?? '-',
      trial.verdicts[i]?.meets ? 'yes' : `no: ${trial.verdicts[i]?.violations.join(', ')}`,
    ]),
  );
  console.log(`\n${renderTable(['candidate', 'conc', 'tok/s', 'ttft p95', 'itl p95', 'e2e p95', 'meets'], rows)}\n`);
  if (!result.config) {
    console.log(`hearth tune: ${result.summary}. Loosen the objective, or try smaller --batch-sizes / --prefill.`);
    return 1;
  }
  const out = values.out ?? 'tuned.json';
  writeFileSync(out, `${JSON.stringify(result.config, null, 2)}\n`);
  console.log(`hearth tune: ${result.summary}.\nwrote ${out} — serve it with \`hearth serve --config ${out}\`, size it with \`hearth size --config ${out}\`, export it with \`hearth export --config ${out} --out bundle/\`.`);
  return 0;
}
