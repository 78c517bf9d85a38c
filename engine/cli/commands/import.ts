// `hearth import <checkpoint-dir> [--dtype int4] [--name NAME]`: a local checkpoint into the library.
import { MODEL_DTYPES, type ModelDtype } from '../../common/manifest.js';
import { parseCommandArgs } from '../args.js';
import { CliError } from '../cliError.js';
import { holdForTests } from './convert.js';
import { toCliError } from './pull.js';

const HELP = `Usage: hearth import <checkpoint-dir> [--dtype fp32|fp16|int4] [--name NAME]

Converts a local Hugging Face safetensors checkpoint (config.json, model.safetensors or shards,
tokenizer.json, tokenizer_config.json) — the model you just fine-tuned — into the model library, so
\`hearth serve <name>\`, \`hearth models\`, \`hearth export\` and \`hearth rm\` know it by name. The
checkpoint folder is read, never changed. (\`hearth convert\` writes a standalone package instead.)

Options:
  --dtype <dtype>  fp32, fp16 or int4 (default int4); run again with another dtype to add a variant
  --name <name>    Library name (default: the folder's name)
  -h, --help       Show this help`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(argv, { dtype: { type: 'string', default: 'int4' }, name: { type: 'string' } }, HELP);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new CliError(`expected exactly one checkpoint directory.\n\n${HELP}`, 2);
  const dtype = values.dtype as ModelDtype;
  if (!MODEL_DTYPES.includes(dtype)) throw new CliError(`--dtype must be one of ${MODEL_DTYPES.join(', ')} (got '${values.dtype}').`, 2);

  const { importCheckpoint } = await import('../../hub/importLocal.js');
  const { formatBytes, terminalProgress } = await import('../../convert/progress.js');
  const progress = terminalProgress();
  const startedMs = Date.now();
  const cancel = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => cancel.abort(new CliError(`import cancelled (${signal}); nothing was added to the library.`, signal === 'SIGINT' ? 130 : 143));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await importCheckpoint({
      checkpointDir: positionals[0]!, dtype, name: values.name, onProgress: progress, signal: cancel.signal, beforeLayer: holdForTests(cancel.signal),
    });
    progress.finish();
    const seconds = ((Date.now() - startedMs) / 1000).toFixed(1);
    console.log(`Imported ${result.manifest.hfArchitecture} from ${result.sourceDir} as '${result.name}' (${dtype}, weights ${formatBytes(result.manifest.weightsBytes)}) in ${seconds} s.`);
    console.log(`Serve it with: hearth serve ${result.name}`);
    return 0;
  } catch (error) {
    progress.finish();
    if (cancel.signal.aborted && cancel.signal.reason instanceof CliError) throw cancel.signal.reason;
    throw toCliError(error);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
