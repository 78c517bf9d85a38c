// `hearth bench`: concurrency sweep against a running server; prints a table and JSON and stores
// the run in the data directory's database so runs can be compared (`--compare A B`).
import { readFileSync, writeFileSync } from 'node:fs';
import { parseCommandArgs, positiveInt, positiveIntList } from '../args.js';
import { CliError } from '../cliError.js';
import { openDb } from '../../store/db.js';
import { databasePath } from '../../store/dataDir.js';
import { DEFAULT_SERVE_PORT } from '../../common/servingConfig.js';
import {
  DEFAULT_BENCH_SETTINGS, batchingGains, compareRuns, formatComparison, formatGains, formatRun, formatRunList,
  getRun, listRuns, migrateBench, runBenchmark, saveRun, type BenchMode, type BenchSettings,
} from '../../bench/index.js';

const HELP = `Usage: hearth bench [--url URL] [options]
       hearth bench --compare <runA> <runB>
       hearth bench --list | --show <run>

Benchmarks a running OpenAI-compatible server (hearth serve, vLLM, TGI) with streamed requests:
a closed-loop concurrency sweep with a fixed prompt length and output length. Prints aggregate
tokens/s and TTFT / ITL / end-to-end p50/p95/p99 per level, as a table and as JSON, and stores
the run in the database under the data directory (HEARTH_HOME).

Options:
  --url URL              server root (default http://127.0.0.1:8000)
  --model NAME           model field (default: first of GET /v1/models)
  --api-key KEY          bearer key (default: $HEARTH_API_KEY)
  --endpoint E           completions (default; exact prompt length) or chat
  --concurrency LIST     comma-separated levels (default 1,4,16,64)
  --prompt-tokens N      prompt length in tokens (default 128)
  --max-tokens N         output tokens per request (default 64; ignore_eos is sent)
  --requests N           requests per level (default max(2 × concurrency, 8))
  --sequential           baseline only: requests strictly one after another
  --with-sequential      batched sweep, then the sequential baseline, and the speedup
  --no-ignore-eos        do not send ignore_eos
  --json-schema FILE     send response_format json_schema with this schema (constrained decoding cost)
  --warmup N             untimed warm-up requests (default 2)
  --timeout-ms N         per request (default 300000)
  --label TEXT           name of the run
  --json FILE            also write the run as JSON to FILE ('-' = stdout only, no table)
  --no-save              do not store the run
  --db FILE              database file (default: <data dir>/hearth.db)
  --compare A B          compare two stored runs side by side (ids, prefixes, or 'latest')
  --list                 list stored runs
  --show RUN             print a stored run
`;

// bench's own checks have always exited 1 (serve and the hub commands use 2, a usage error); kept.
const BAD_VALUE = { exitCode: 1 } as const;

/** --json-schema FILE → the response_format every request sends. */
function jsonSchemaFormat(file: string): Record<string, unknown> {
  let schema: unknown;
  try {
    schema = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new CliError(`--json-schema: cannot read a JSON schema from ${file}: ${(error as Error).message}.`);
  }
  return { type: 'json_schema', json_schema: { name: 'bench', schema, strict: true } };
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      url: { type: 'string' }, model: { type: 'string' }, 'api-key': { type: 'string' }, endpoint: { type: 'string' },
      concurrency: { type: 'string' }, 'prompt-tokens': { type: 'string' }, 'max-tokens': { type: 'string' },
      requests: { type: 'string' }, sequential: { type: 'boolean' }, 'with-sequential': { type: 'boolean' },
      'no-ignore-eos': { type: 'boolean' }, 'json-schema': { type: 'string' }, warmup: { type: 'string' }, 'timeout-ms': { type: 'string' },
      label: { type: 'string' }, json: { type: 'string' }, 'no-save': { type: 'boolean' }, db: { type: 'string' },
      compare: { type: 'boolean' }, list: { type: 'boolean' }, show: { type: 'string' },
    },
    HELP,
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const dbFile = values.db ?? databasePath();
  const withDb = <T>(use: (db: ReturnType<typeof openDb>) => T): T => {
    const db = openDb(dbFile, { readonly: false }); // better-sqlite3 rejects readonly: undefined
    try {
      migrateBench(db);
      return use(db);
    } finally {
      db.close();
    }
  };
  const storedRun = (db: ReturnType<typeof openDb>, id: string) => {
    try {
      return getRun(db, id);
    } catch (error) {
      throw new CliError((error as Error).message);
    }
  };

  if (values.list) {
    withDb((db) => console.log(formatRunList(listRuns(db))));
    return 0;
  }
  if (values.show) {
    withDb((db) => {
      const stored = storedRun(db, values.show!);
      console.log(formatRun(stored));
      const gains = formatGains(batchingGains(stored));
      if (gains) console.log(`\n${gains}`);
    });
    return 0;
  }
  if (values.compare) {
    if (positionals.length !== 2) throw new CliError('--compare takes two run ids: `hearth bench --compare <runA> <runB>` (see `hearth bench --list`).');
    withDb((db) => {
      const runA = storedRun(db, positionals[0]!);
      const runB = storedRun(db, positionals[1]!);
      console.log(formatComparison(compareRuns(runA, runB)));
      const gains = formatGains(batchingGains(runB.levels.some((l) => l.mode === 'batched') ? runB : runA, runA.levels.some((l) => l.mode === 'sequential') ? runA : runB));
      if (gains) console.log(`\n${gains}`);
    });
    return 0;
  }
  if (positionals.length > 0) throw new CliError(`unexpected argument '${positionals[0]}'. See \`hearth bench --help\`.`);

  const endpoint = values.endpoint ?? 'completions';
  if (endpoint !== 'completions' && endpoint !== 'chat') throw new CliError(`--endpoint must be completions or chat, got '${endpoint}'.`);
  const concurrencyLevels = values.concurrency
    ? positiveIntList('concurrency', values.concurrency, BAD_VALUE)
    : DEFAULT_BENCH_SETTINGS.concurrencyLevels;
  if (values.sequential && values['with-sequential']) throw new CliError('give either --sequential or --with-sequential, not both.');
  const modes: BenchMode[] = values.sequential ? ['sequential'] : values['with-sequential'] ? ['batched', 'sequential'] : ['batched'];
  const settings: BenchSettings = {
    ...DEFAULT_BENCH_SETTINGS,
    baseUrl: values.url ?? `http://127.0.0.1:${DEFAULT_SERVE_PORT}`,
    model: values.model,
    apiKey: values['api-key'] ?? process.env.HEARTH_API_KEY,
    endpoint,
    concurrencyLevels,
    promptTokens: positiveInt('prompt-tokens', values['prompt-tokens'], BAD_VALUE) ?? DEFAULT_BENCH_SETTINGS.promptTokens,
    maxTokens: positiveInt('max-tokens', values['max-tokens'], BAD_VALUE) ?? DEFAULT_BENCH_SETTINGS.maxTokens,
    requestsPerLevel: positiveInt('requests', values.requests, BAD_VALUE),
    ignoreEos: !values['no-ignore-eos'],
    responseFormat: values['json-schema'] === undefined ? undefined : jsonSchemaFormat(values['json-schema']),
    modes,
    warmupRequests: values.warmup === undefined ? DEFAULT_BENCH_SETTINGS.warmupRequests : Number(values.warmup),
    requestTimeoutMs: positiveInt('timeout-ms', values['timeout-ms'], BAD_VALUE) ?? DEFAULT_BENCH_SETTINGS.requestTimeoutMs,
    label: values.label,
  };
  const jsonOnly = values.json === '-';
  const log = (text: string) => (jsonOnly ? process.stderr.write(`${text}\n`) : console.log(text));

  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  let result;
  try {
    result = await runBenchmark(settings, {
      signal: controller.signal,
      onLevel: (level, done, total) =>
        log(`[${done}/${total}] ${level.mode} ×${level.concurrency}: ${level.throughputTokensPerSec.toFixed(1)} tok/s, ttft p95 ${level.ttftMs.p95?.toFixed(0) ?? '-'} ms, ${level.errors} errors`),
    });
  } catch (error) {
    throw new CliError(`${(error as Error).message}.`);
  } finally {
    process.off('SIGINT', onSignal);
  }

  if (!values['no-save']) withDb((db) => saveRun(db, result));
  const json = JSON.stringify(result, null, 2);
  if (jsonOnly) {
    console.log(json);
  } else {
    console.log(`\n${formatRun(result)}`);
    const gains = formatGains(batchingGains(result));
    if (gains) console.log(`\n${gains}`);
    if (values.json) writeFileSync(values.json, `${json}\n`);
    else console.log(`\n${json}`);
    if (!values['no-save']) console.log(`\nstored as run ${result.runId} in ${dbFile}`);
  }
  return result.levels.some((level) => level.errors > 0) ? 1 : 0;
}
