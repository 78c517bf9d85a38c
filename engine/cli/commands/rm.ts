// Placeholder until this command lands; replaced by its implementation.
import { CliError } from '../cliError.js';

export async function run(_argv: string[]): Promise<number> {
  throw new CliError('`hearth rm` is not implemented yet.', 2);
}
