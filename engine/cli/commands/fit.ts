// `hearth fit <org/name>[@revision]`: will this model fit this machine, before downloading it.
import { MODEL_DTYPES, type ModelDtype } from '../../common/manifest.js';
import { formatBytes } from '../../common/memoryEstimate.js';
import { parseCommandArgs, positiveInt } from '../args.js';
import { CliError } from '../cliError.js';
import { toCliError } from './pull.js';

const HELP = `Usage: hearth fit <org/name>[@revision] [--dtype fp32|fp16|int4] [--context N] [--slots N] [--device auto|cpu|gpu] [--json]

Reads the model's config.json from the Hub (nothing large is downloaded) and estimates the memory
to serve it: weights in the chosen dtype, KV cache for context × concurrent sequences, and runtime
overhead. Compares with the GPU's free memory (nvidia-smi) or the RAM available on CPU.
Exit code 0 when it fits (possibly with a smaller setting), 1 when it does not.

Options:
  --dtype <dtype>    fp32, fp16 or int4 (default int4)
  --context <n>      tokens per sequence (default: the model's context, at most 4096)
  --slots <n>        concurrent sequences (default 4)
  --device <d>       auto (default: GPU when nvidia-smi answers), cpu or gpu
  --json             print the result as JSON
  -h, --help         Show this help`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      dtype: { type: 'string', default: 'int4' },
      context: { type: 'string' },
      slots: { type: 'string' },
      device: { type: 'string', default: 'auto' },
      endpoint: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    HELP,
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new CliError(`expected one Hub model id.\n\n${HELP}`, 2);
  const dtype = values.dtype as ModelDtype;
  if (!MODEL_DTYPES.includes(dtype)) throw new CliError(`--dtype must be one of ${MODEL_DTYPES.join(', ')} (got '${values.dtype}').`, 2);
  const contextTokens = positiveInt('context', values.context);
  const numSequences = positiveInt('slots', values.slots);
  if (!['auto', 'cpu', 'gpu'].includes(values.device!)) throw new CliError(`--device must be auto, cpu or gpu (got '${values.device}').`, 2);

  const { hubSettings } = await import('../../hub/hubSettings.js');
  const { parseRepoRef, resolveRepo, metadataFiles, weightFiles } = await import('../../hub/repoFiles.js');
  const { checkFit, detectMemory, fetchConfig } = await import('../../hub/fitCheck.js');
  try {
    const { repo, revision } = parseRepoRef(positionals[0]!);
    const settings = hubSettings({ endpoint: values.endpoint });
    const snapshot = await resolveRepo(settings, repo, revision);
    const config = await fetchConfig(settings, repo, snapshot.commit);
    const memory = detectMemory(values.device as 'auto' | 'cpu' | 'gpu');
    if (values.device === 'gpu' && memory.device !== 'cuda') throw new CliError('--device gpu: no NVIDIA GPU found (nvidia-smi did not answer).', 1);
    const result = checkFit({ config, dtype, contextTokens, numSequences, memory });
    let downloadBytes: number | null = null;
    try {
      const files = [...metadataFiles(snapshot.files), ...weightFiles(snapshot.files)];
      downloadBytes = files.reduce((sum, file) => sum + file.bytes, 0);
    } catch {
      // sharded repos need the index to pick shards; the estimate does not depend on it
    }
    if (values.json) {
      console.log(JSON.stringify({ repo, commit: snapshot.commit, dtype, downloadBytes, memory, verdict: result.verdict }, null, 2));
    } else {
      const estimate = result.verdict.requested;
      console.log(`${repo}@${snapshot.commit.slice(0, 12)} in ${dtype} on ${memory.device === 'cuda' ? `GPU ${memory.name}` : 'CPU'} (${formatBytes(memory.availableBytes)} available of ${formatBytes(memory.totalBytes)})`);
      console.log(`  weights   ${formatBytes(estimate.weightsBytes)} in memory (${formatBytes(estimate.packageBytes)} on disk after conversion)`);
      console.log(`  KV cache  ${formatBytes(estimate.kvBytesPerToken)}/token × ${estimate.contextTokens} tokens × ${estimate.numSequences} sequences = ${formatBytes(estimate.kvCacheBytes)}`);
      console.log(`  runtime   ${formatBytes(estimate.activationBytes + estimate.overheadBytes)}`);
      if (downloadBytes !== null) console.log(`  download  ${formatBytes(downloadBytes)}`);
      console.log(result.verdict.message);
    }
    return result.verdict.kind === 'does-not-fit' ? 1 : 0;
  } catch (error) {
    throw toCliError(error);
  }
}
