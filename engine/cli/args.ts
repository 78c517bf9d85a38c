// What every `hearth <command>` does with its argv before its own work: parse the options
// (node:util parseArgs, strict), answer --help, and turn bad input into a CliError that shows the
// command's help. Plus the number-option checks the commands share, so the same mistake gets the
// same message everywhere.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './cliError.js';

/** Exit code for a command line that cannot be run as written (unknown option, bad value). */
export const USAGE_EXIT_CODE = 2;

export type CommandOptions = NonNullable<ParseArgsConfig['options']>;

/** Every command takes -h/--help; the helper adds it so commands do not repeat it. */
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

type ParsedCommandArgs<O extends CommandOptions> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O & typeof HELP_OPTION; allowPositionals: true; strict: true }>
>;

export interface ParseCommandArgsSettings {
  /** Whether the command takes positional arguments (default true); if not, one is a usage error. */
  allowPositionals?: boolean;
}

/**
 * Parses a command's argv. Returns null after printing `help` for -h/--help (the command then
 * exits 0); throws a CliError (exit 2) carrying parseArgs' message and the help for anything
 * parseArgs rejects (unknown option, missing value, unexpected positional).
 */
export function parseCommandArgs<const O extends CommandOptions>(
  argv: string[],
  options: O,
  help: string,
  { allowPositionals = true }: ParseCommandArgsSettings = {},
): { values: ParsedCommandArgs<O>['values']; positionals: string[] } | null {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, ...HELP_OPTION }, allowPositionals, strict: true });
  } catch (error) {
    throw new CliError(`${(error as Error).message}\n\n${help}`, USAGE_EXIT_CODE);
  }
  // parseArgs' precise value types cannot be resolved for a generic O inside this function; the
  // caller gets them from the signature, checked against its own option literals.
  const values = parsed.values as ParsedCommandArgs<O>['values'] & { help?: boolean };
  if (values.help) {
    console.log(help);
    return null;
  }
  return { values, positionals: parsed.positionals };
}

export interface NumberOptionSettings {
  /**
   * Exit code of the CliError for a bad value (default 2, a usage error). bench, tune, size and
   * export have always exited 1 on their own checks and pass 1 to keep that.
   */
  exitCode?: number;
}

/** `--name N` as an integer ≥ 1; undefined when the option was not given. */
export function positiveInt(name: string, text: string, settings?: NumberOptionSettings): number;
export function positiveInt(name: string, text: string | undefined, settings?: NumberOptionSettings): number | undefined;
export function positiveInt(name: string, text: string | undefined, { exitCode = USAGE_EXIT_CODE }: NumberOptionSettings = {}): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new CliError(`--${name} must be a positive integer, got '${text}'.`, exitCode);
  return value;
}

/** `--name A,B,C` as integers ≥ 1 (spaces around commas allowed); undefined when not given. */
export function positiveIntList(name: string, text: string, settings?: NumberOptionSettings): number[];
export function positiveIntList(name: string, text: string | undefined, settings?: NumberOptionSettings): number[] | undefined;
export function positiveIntList(name: string, text: string | undefined, { exitCode = USAGE_EXIT_CODE }: NumberOptionSettings = {}): number[] | undefined {
  if (text === undefined) return undefined;
  const values = text.split(',').map((part) => Number(part.trim()));
  if (values.some((value) => !Number.isInteger(value) || value < 1)) {
    throw new CliError(`--${name} must be comma-separated positive integers, got '${text}'.`, exitCode);
  }
  return values;
}

/** `--name X` as a number > 0 (fractions allowed); `unit` names it in the message, e.g. 'milliseconds'. */
export function positiveNumber(
  name: string,
  text: string | undefined,
  { exitCode = USAGE_EXIT_CODE, unit }: NumberOptionSettings & { unit?: string } = {},
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!(value > 0)) throw new CliError(`--${name} must be a number${unit ? ` of ${unit}` : ''} above 0, got '${text}'.`, exitCode);
  return value;
}

/** `--name N` as an integer from `min` to `max` inclusive (ports, thread counts, timeouts). */
export function intInRange(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new CliError(`--${name} must be a whole number from ${min} to ${max}; got '${text}'.`, USAGE_EXIT_CODE);
  }
  return value;
}

const BYTE_UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** `--name SIZE` as bytes: a number with an optional binary unit (512M, 8G, 1.5G; K, M, G, T; a trailing B or iB is allowed). */
export function byteSize(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  const bytes = match ? Math.floor(Number(match[1]) * BYTE_UNITS[match[2]!.toLowerCase()]!) : Number.NaN;
  if (!(bytes > 0)) throw new CliError(`--${name} must be a size such as 8G, 512M or a number of bytes; got '${text}'.`, USAGE_EXIT_CODE);
  return bytes;
}
