// `hearth export`: a production bundle for a tuned config (Dockerfile, docker-compose.yml, k8s/,
// vertex-ai.sh, README.md, sizing.json), with the engine source and, by default, the model — or,
// with --engine vllm|tgi, the same bundle shape running that engine's pinned image on the Hub
// checkpoint the package was pulled from, with the tuned settings as its flags.
import { parseCommandArgs, positiveNumber } from '../args.js';
import { CliError } from '../cliError.js';
import { ENGINE_NAMES, ENGINE_TARGETS, ExportError, isEngineName, writeBundle } from '../../export/index.js';
import { formatSizing, loadSizingInputOrFail } from './size.js';

const HELP = `Usage: hearth export --config tuned.json --out bundle/ [--engine hearth|vllm|tgi] [options]

Writes a directory that deploys the tuned settings on the engine production runs:
  docker-compose.yml, k8s/ (Deployment, Service, HPA on the engine's queue depth, PDB, ConfigMap),
  monitoring/ (prometheus-adapter rule), vertex-ai.sh, README.md (run, scale, benchmark),
  sizing.json, config/tuned.json; for Hearth also the Dockerfile (targets gpu, gpu-volume, cpu,
  cpu-volume), app/ (Hearth source) and model/.

Engines:
${ENGINE_NAMES.map((name) => `  ${name.padEnd(8)}${ENGINE_TARGETS[name].label}`).join('\n')}
  vllm and tgi serve the original checkpoint: the package must have been pulled from the Hub
  (\`hearth pull\`), in fp16 (TGI) or fp16/fp32 (vLLM), on a GPU target.

Options:
  --config FILE          serving config (from \`hearth tune\`); its model.package is the model
  --out DIR              bundle directory (created; a previous bundle there is replaced)
  --engine NAME          hearth (default), vllm or tgi
  --target gpu|cpu       default gpu (vllm and tgi: gpu only)
  --model-volume         do not copy the model into the image; mount it at /models instead
  --gpu NAME             GPU for Kubernetes/Vertex (default: the cheapest that fits)
  --rps N                target requests per second for the replica count (default 1)
  --throughput TOK_PER_S measured tokens/s per replica (default: the config's tuning record)
  --gpus FILE            GPU table JSON;  --prices FILE  price table JSON (see \`hearth size\`)
  --image NAME           image name (default hearth-<model>);  --tag TAG  (default <version>-<target>)
  --load-seconds N       expected model load time (default: estimated from the weights size)
  --force                write into a non-empty directory that holds no previous bundle
`;

// export's own checks have always exited 1 (serve and the hub commands use 2, a usage error); kept.
const BAD_VALUE = { exitCode: 1 } as const;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      config: { type: 'string' }, out: { type: 'string' }, engine: { type: 'string' }, target: { type: 'string' }, 'model-volume': { type: 'boolean' },
      gpu: { type: 'string' }, rps: { type: 'string' }, throughput: { type: 'string' }, gpus: { type: 'string' }, prices: { type: 'string' },
      image: { type: 'string' }, tag: { type: 'string' }, 'load-seconds': { type: 'string' }, force: { type: 'boolean' },
    },
    HELP,
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (!values.out) throw new CliError('give the bundle directory with --out DIR.');
  const target = values.target ?? 'gpu';
  if (target !== 'gpu' && target !== 'cpu') throw new CliError(`--target must be gpu or cpu, got '${target}'.`);
  const engine = values.engine ?? 'hearth';
  if (!isEngineName(engine)) throw new CliError(`--engine must be one of ${ENGINE_NAMES.join(', ')}, got '${engine}'.`);
  const input = loadSizingInputOrFail({ config: values.config, package: positionals[0], gpus: values.gpus, prices: values.prices });
  const tokensPerSec = positiveNumber('throughput', values.throughput, BAD_VALUE);
  try {
    const result = writeBundle({
      config: input.config,
      outDir: values.out,
      target,
      engine,
      bakeModel: !values['model-volume'],
      gpuName: values.gpu,
      gpus: input.gpus,
      prices: input.prices,
      throughput: tokensPerSec !== undefined ? { tokensPerSec } : undefined,
      targetRequestsPerSec: positiveNumber('rps', values.rps, BAD_VALUE),
      imageName: values.image,
      imageTag: values.tag,
      loadSeconds: positiveNumber('load-seconds', values['load-seconds'], BAD_VALUE),
      force: values.force,
    });
    result.sizing.notes.unshift(...input.notes);
    console.log(formatSizing(result.sizing));
    console.log(`\nwrote ${result.outDir}:\n${result.files.map((file) => `  ${file}`).join('\n')}`);
    console.log(result.plan.container.buildTarget
      ? `\nnext: docker build -t ${result.plan.image} ${result.outDir}   (README.md: run, Kubernetes, Vertex AI)`
      : `\nnext: docker compose -f ${result.outDir}/docker-compose.yml up -d   (${result.plan.image} serves ${result.plan.hub?.repo}@${result.plan.hub?.commit.slice(0, 12)}; README.md: run, Kubernetes, Vertex AI, benchmark)`);
    return 0;
  } catch (error) {
    if (error instanceof ExportError) throw new CliError(`${error.message}.`);
    throw error;
  }
}
