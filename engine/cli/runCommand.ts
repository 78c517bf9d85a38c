// Runs one subcommand and turns a CliError into its message and exit code. Apart from the command
// table (main.ts) so that an entry serving one command (serveOnly.ts, the container's) bundles
// that command alone.
import { CliError } from './cliError.js';

export interface CommandModule {
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

export async function runCommand(name: string, load: () => Promise<CommandModule>, argv: string[]): Promise<number> {
  try {
    const module = await load();
    return await module.run(argv);
  } catch (error) {
    if (error instanceof CliError) {
      console.error(`hearth ${name}: ${error.message}`);
      return error.exitCode;
    }
    if (isModuleNotFound(error)) {
      console.error(`hearth ${name}: this command is not available in this build.`);
      return 2;
    }
    throw error;
  }
}

function isModuleNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND'
    && String((error as Error).message).includes('/engine/cli/commands/');
}
