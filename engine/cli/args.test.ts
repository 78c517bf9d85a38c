// The argv handling every `hearth <command>` shares: help, usage errors and number options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { intInRange, parseCommandArgs, positiveInt, positiveIntList, positiveNumber } from './args.js';
import { CliError } from './cliError.js';

const HELP = 'Usage: hearth demo [--dtype D] [--json]';
const OPTIONS = { dtype: { type: 'string', default: 'int4' }, json: { type: 'boolean' } } as const;

function captureLog<T>(body: () => T): { result: T; printed: string[] } {
  const printed: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => void printed.push(args.join(' '));
  try {
    return { result: body(), printed };
  } finally {
    console.log = original;
  }
}

function usageError(pattern: RegExp, exitCode = 2) {
  return (error: unknown) => {
    assert.ok(error instanceof CliError, String(error));
    assert.equal(error.exitCode, exitCode);
    assert.match(error.message, pattern);
    return true;
  };
}

test('values keep their defaults and positionals pass through', () => {
  const parsed = parseCommandArgs(['model-dir', '--json'], OPTIONS, HELP);
  assert.deepEqual({ ...parsed?.values }, { dtype: 'int4', json: true });
  assert.deepEqual(parsed?.positionals, ['model-dir']);
});

test('-h and --help print the help and return null', () => {
  for (const flag of ['-h', '--help']) {
    const { result, printed } = captureLog(() => parseCommandArgs([flag, '--json'], OPTIONS, HELP));
    assert.equal(result, null);
    assert.deepEqual(printed, [HELP]);
  }
});

test('what parseArgs rejects becomes a usage error (exit 2) followed by the help', () => {
  assert.throws(() => parseCommandArgs(['--nope'], OPTIONS, HELP), usageError(/Unknown option '--nope'[\s\S]*\n\nUsage: hearth demo/));
  assert.throws(() => parseCommandArgs(['--dtype'], OPTIONS, HELP), usageError(/--dtype[\s\S]*argument missing[\s\S]*Usage: hearth demo/));
  assert.throws(() => parseCommandArgs(['stray'], OPTIONS, HELP, { allowPositionals: false }), usageError(/Unexpected argument 'stray'[\s\S]*Usage: hearth demo/));
});

test('positiveInt takes integers from 1 and names the option and value otherwise', () => {
  assert.equal(positiveInt('slots', undefined), undefined);
  assert.equal(positiveInt('slots', '4'), 4);
  for (const bad of ['0', '-1', '1.5', 'four', '']) {
    assert.throws(() => positiveInt('slots', bad), usageError(new RegExp(`^--slots must be a positive integer, got '${bad}'\\.$`)));
  }
  assert.throws(() => positiveInt('requests', '0', { exitCode: 1 }), usageError(/--requests/, 1));
});

test('positiveIntList takes comma-separated integers from 1', () => {
  assert.equal(positiveIntList('concurrency', undefined), undefined);
  assert.deepEqual(positiveIntList('concurrency', '1, 4,16'), [1, 4, 16]);
  for (const bad of ['1,0', '1,,4', '', '2,x']) {
    assert.throws(() => positiveIntList('concurrency', bad), usageError(new RegExp(`^--concurrency must be comma-separated positive integers, got '${bad}'\\.$`)));
  }
});

test('positiveNumber takes any number above 0 and can name its unit', () => {
  assert.equal(positiveNumber('rps', undefined), undefined);
  assert.equal(positiveNumber('rps', '0.5'), 0.5);
  assert.throws(() => positiveNumber('rps', '0'), usageError(/^--rps must be a number above 0, got '0'\.$/));
  assert.throws(() => positiveNumber('rps', 'NaN'), usageError(/got 'NaN'/));
  assert.throws(() => positiveNumber('ttft-p95', '-5', { unit: 'milliseconds', exitCode: 1 }), usageError(/^--ttft-p95 must be a number of milliseconds above 0, got '-5'\.$/, 1));
});

test('intInRange takes whole numbers within both bounds', () => {
  assert.equal(intInRange('port', undefined, 0, 65535), undefined);
  assert.equal(intInRange('port', '0', 0, 65535), 0);
  assert.equal(intInRange('port', '65535', 0, 65535), 65535);
  for (const bad of ['-1', '65536', '80.5', 'http']) {
    assert.throws(() => intInRange('port', bad, 0, 65535), usageError(new RegExp(`^--port must be a whole number from 0 to 65535; got '${bad}'\\.$`)));
  }
});
