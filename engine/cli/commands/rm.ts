// `hearth rm <name>`: removes a model's converted packages and library rows. Refuses while a
// `hearth serve` process serves it (see engine/hub/library.ts for how serve marks it) or while a
// pull is still working on it. The HF-cache download is shared with other tools and kept unless
// --delete-download is given.
import { rmSync } from 'node:fs';
import { parseCommandArgs } from '../args.js';
import { CliError } from '../cliError.js';

const HELP = `Usage: hearth rm <name> [--delete-download]

Removes a model from the library: its converted packages and its registry rows.

Options:
  --delete-download   also delete its downloaded files from the HF cache (other tools may use them)
  -h, --help          Show this help`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(argv, { 'delete-download': { type: 'boolean', default: false } }, HELP);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new CliError(`expected one model name (hearth models lists them).\n\n${HELP}`, 2);
  const name = positionals[0]!;
  const { openModelRegistry, assertSafeModelName } = await import('../../store/modelRegistry.js');
  const { servingProcesses } = await import('../../hub/library.js');
  try {
    assertSafeModelName(name);
  } catch (error) {
    throw new CliError((error as Error).message, 2);
  }
  const { registry, close } = await openModelRegistry();
  try {
    const model = registry.get(name);
    if (!model) throw new CliError(`No model named '${name}' in the library (hearth models lists them).`, 1);
    const dirs = [registry.packageDir(name, 'fp32').replace(/[\\/]fp32$/, ''), ...model.variants.map((variant) => variant.path)];
    const serving = dirs.flatMap((dir) => servingProcesses(dir));
    if (serving.length) {
      throw new CliError(`'${name}' is being served (pid ${[...new Set(serving.map((mark) => mark.pid))].join(', ')}). Stop that hearth serve first, then run hearth rm again.`, 1);
    }
    if ((model.status === 'downloading' || model.status === 'converting') && model.pid !== null) {
      throw new CliError(`'${name}' is being ${model.status === 'downloading' ? 'downloaded' : 'converted'} (pid ${model.pid}). Stop that hearth pull first.`, 1);
    }
    registry.remove(name);
    // Converted packages outside the models folder (none today) are left alone on purpose.
    if (values['delete-download'] && model.snapshotDir) {
      const { HfCacheRepo, hfHubCacheDir } = await import('../../hub/hfCache.js');
      const cache = new HfCacheRepo(hfHubCacheDir(), model.repo);
      rmSync(cache.root, { recursive: true, force: true });
      console.log(`Removed ${name} and its download (${cache.root}).`);
    } else {
      console.log(`Removed ${name}.${model.snapshotDir ? ` Its download stays in the HF cache (${model.snapshotDir}); --delete-download removes it.` : ''}`);
    }
    return 0;
  } finally {
    close();
  }
}
