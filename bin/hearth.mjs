#!/usr/bin/env node
// The `hearth` command. Runs the build, dist/hearth.mjs (`npm run build`; setup runs it), when
// there is one at least as new as every engine source file. In a source checkout without a build,
// or with edits since the last one, it runs the TypeScript source through tsx instead (a dev
// dependency), so what runs is never older than the source. Where there is no source (an
// installed package) the build is all there is.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// Commands that load and unload models in this process (`serve --library`; `app`, whose web mode
// hosts the engine in-process) need glibc's malloc to give freed memory back, which it reads from
// the environment once, at process start (ENGINE_MALLOC_ENV in engine/common/hostProcess.ts, the
// same value). So on Linux they run in a child started with it. Signals: the terminal sends Ctrl-C
// to the whole process group (the child gets it itself, once); SIGTERM and SIGHUP, sent to this
// process's pid, are passed on, as SIGINT is when there is no terminal.
const MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: '4194304' };
const [command, ...rest] = process.argv.slice(2);
const loadsModels = (command === 'serve' && rest.includes('--library')) || command === 'app';
if (process.platform === 'linux' && loadsModels && Object.keys(MALLOC_ENV).some((name) => process.env[name] === undefined)) {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...MALLOC_ENV, ...process.env } });
  const forward = (signal) => () => child.kill(signal);
  process.on('SIGTERM', forward('SIGTERM'));
  process.on('SIGHUP', forward('SIGHUP'));
  process.on('SIGINT', process.stdin.isTTY ? () => {} : forward('SIGINT'));
  const SIGNAL_NUMBERS = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (SIGNAL_NUMBERS[signal] ?? 1)));
} else {
  await run();
}

async function run() {
  const built = join(root, 'dist', 'hearth.mjs');
  const sourceDir = join(root, 'engine');

  /** Whether any engine source file is newer than `than` (ms). A few hundred stats: a few ms. */
  function sourceNewerThan(than, dir = sourceDir) {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (sourceNewerThan(than, path)) return true;
      } else if (/\.(ts|mjs|json)$/.test(entry.name) && !entry.name.endsWith('.test.ts') && statSync(path).mtimeMs > than) return true;
    }
    return false;
  }

  const useBuild = existsSync(built) && (!existsSync(sourceDir) || !sourceNewerThan(statSync(built).mtimeMs));
  if (useBuild) {
    await import(built);
  } else {
    let register;
    try {
      ({ register } = await import('tsx/esm/api'));
    } catch {
      console.error('hearth: no build (dist/hearth.mjs) and no tsx to run the source with. Run `npm run build` (or `npm run setup`).');
      process.exit(1);
    }
    register();
    await import('../engine/cli/hearth.ts');
  }
}
