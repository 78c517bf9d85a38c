// `hearth convert <hf-dir> --out <dir> --dtype fp32|fp16|int4 [--int4-block-size 32|64|128] [--name N]`
import { MODEL_DTYPES, type ModelDtype } from '../../common/manifest.js';
import { DEFAULT_INT4_LAYOUT, int4BlockSizeProblem } from '../../common/memoryEstimate.js';
import { parseCommandArgs } from '../args.js';
import { CliError } from '../cliError.js';

const HELP = `Usage: hearth convert <checkpoint-dir> --out <dir> [--dtype fp32|fp16|int4] [--int4-block-size 32|64|128] [--name NAME]

Converts a Hugging Face safetensors checkpoint (config.json, model.safetensors or shards,
tokenizer.json, tokenizer_config.json) into a Hearth model package (ONNX + manifest).

Options:
  --out <dir>      Package directory to create (must not exist or be empty)
  --dtype <dtype>  fp32 (exact), fp16 (half the size) or int4 (MatMulNBits, ~1/6 the size). Default: int4
  --int4-block-size <n>
                   Weights sharing one int4 scale: 32 (default, least rounding error), 64 (smaller,
                   faster decode on memory-bound CPUs; error about that of llama.cpp's Q4_0) or 128
  --name <name>    Model name served by the API (default: the checkpoint directory's name)
  -h, --help       Show this help`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(argv, { out: { type: 'string', short: 'o' }, dtype: { type: 'string', default: 'int4' }, 'int4-block-size': { type: 'string' }, name: { type: 'string' } }, HELP);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new CliError(`expected exactly one checkpoint directory.\n\n${HELP}`, 2);
  if (!values.out) throw new CliError(`--out <dir> is required.\n\n${HELP}`, 2);
  const dtype = values.dtype as ModelDtype;
  if (!MODEL_DTYPES.includes(dtype)) throw new CliError(`--dtype must be one of ${MODEL_DTYPES.join(', ')} (got '${values.dtype}').`, 2);
  const blockOption = values['int4-block-size'];
  const int4BlockSize = blockOption === undefined ? DEFAULT_INT4_LAYOUT.blockSize : Number(blockOption);
  const blockProblem = int4BlockSizeProblem(int4BlockSize);
  if (blockProblem) throw new CliError(`--int4-block-size ${blockProblem} (got '${blockOption}').`, 2);
  if (blockOption !== undefined && dtype !== 'int4') throw new CliError(`--int4-block-size applies to --dtype int4 only (got --dtype ${dtype}).`, 2);

  const { convertCheckpoint } = await import('../../convert/convert.js');
  const { ConvertError } = await import('../../common/convertError.js');
  const { formatBytes, terminalProgress } = await import('../../convert/progress.js');
  const progress = terminalProgress();
  const startedMs = Date.now();
  // Ctrl-C cancels between layers; the converter then removes its temporary directory.
  const cancel = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => cancel.abort(new CliError(`conversion cancelled (${signal}); nothing was written.`, signal === 'SIGINT' ? 130 : 143));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const manifest = await convertCheckpoint({
      checkpointDir: positionals[0]!, outDir: values.out, dtype, int4BlockSize, name: values.name, onProgress: progress, signal: cancel.signal,
      beforeLayer: holdForTests(cancel.signal),
    });
    progress.finish();
    const seconds = ((Date.now() - startedMs) / 1000).toFixed(1);
    console.log(`Converted ${manifest.hfArchitecture} (${manifest.shape.numLayers} layers, vocab ${manifest.shape.vocabSize}) to ${dtype}${dtype === 'int4' ? ` (block ${int4BlockSize})` : ''} in ${seconds} s: ${values.out} (weights ${formatBytes(manifest.weightsBytes)}).`);
    return 0;
  } catch (error) {
    progress.finish();
    if (error instanceof ConvertError) throw new CliError(error.message, 1);
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Test hook: HEARTH_TEST_HOLD_CONVERSION_AT_LAYER=N holds the conversion before layer N (its
 * temporary directory already written) until it is cancelled, and says so on stderr, so a test
 * can interrupt it at a known point instead of racing the converter's speed.
 */
export function holdForTests(signal: AbortSignal): ((layerIndex: number) => Promise<void>) | undefined {
  const raw = process.env.HEARTH_TEST_HOLD_CONVERSION_AT_LAYER;
  if (raw === undefined || raw === '') return undefined;
  const holdAt = Number(raw);
  return async (layerIndex) => {
    if (layerIndex !== holdAt) return;
    process.stderr.write(`conversion held before layer ${layerIndex} (HEARTH_TEST_HOLD_CONVERSION_AT_LAYER)\n`);
    if (signal.aborted) return;
    // A signal listener alone does not keep Node's event loop alive; this timer does.
    const keepAlive = setInterval(() => {}, 60_000);
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    clearInterval(keepAlive);
  };
}
