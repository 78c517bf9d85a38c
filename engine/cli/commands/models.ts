// `hearth models`: the local library (pulled and converted models) and their state.
import { formatBytes } from '../../common/memoryEstimate.js';
import { parseCommandArgs } from '../args.js';
import { printTable } from './search.js';

const HELP = `Usage: hearth models [--json]

Lists the models in the library (HEARTH_HOME): name, status, converted variants, source.
A download or conversion that was interrupted shows as 'interrupted': run hearth pull again to resume.`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(argv, { json: { type: 'boolean', default: false } }, HELP, { allowPositionals: false });
  if (!parsed) return 0;
  const { values } = parsed;
  const { openModelRegistry, localSource } = await import('../../store/modelRegistry.js');
  const { registry, close } = await openModelRegistry();
  try {
    const models = registry.list();
    if (values.json) {
      console.log(JSON.stringify(models, null, 2));
      return 0;
    }
    if (!models.length) {
      console.log('The library is empty. Add a model with: hearth pull HuggingFaceTB/SmolLM2-135M-Instruct --dtype int4 (or your own checkpoint with: hearth import <folder>)');
      return 0;
    }
    printTable(
      ['NAME', 'STATUS', 'VARIANTS', 'SOURCE', 'DOWNLOAD', 'LAST USED'],
      models.map((model) => [
        model.name,
        model.status,
        model.variants.map((variant) => `${variant.dtype}${variant.status === 'ready' ? '' : ` (${variant.status})`}${variant.weightsBytes ? ` ${formatBytes(variant.weightsBytes)}` : ''}`).join(', ') || '-',
        localSource(model) !== null ? `local ${localSource(model)}` : `${model.repo}@${(model.commit ?? model.revision).slice(0, 12)}`,
        formatBytes(model.totalBytes),
        model.lastUsedAt?.slice(0, 16).replace('T', ' ') ?? '-',
      ]),
    );
    for (const model of models.filter((m) => m.status === 'failed' || m.status === 'interrupted')) console.log(`\n${model.name}: ${model.error}`);
    return 0;
  } finally {
    close();
  }
}
