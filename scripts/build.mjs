#!/usr/bin/env node
// Compiles the engine's TypeScript once into plain ES modules (`npm run build`, run by setup), so
// nothing outside the tests compiles TypeScript at start-up:
//   dist/hearth.mjs         the `hearth` command (engine/cli/hearth.ts; bin/hearth.mjs runs it)
//   dist/hearth-serve.mjs   `hearth serve` alone: the production container's entrypoint
//   dist/engineHost.mjs     the engine host, headless (engine/host/main.ts)
//   dist/runnerWorker.mjs   the model-runner worker thread (engine/runtime/runnerWorker.ts), next
//                           to the chunks that start it: modelRunner asks for ./runnerWorker.mjs
//   dist/grammarWorker.mjs  the runner's grammar thread (engine/runtime/grammar/grammarWorker.ts):
//                           grammarRuntime, bundled into the runner, asks for ./grammarWorker.mjs
//   dist/*-<hash>.mjs       lazily loaded commands and code the entries share
// Every package stays an import from node_modules (the native onnxruntime-node and better-sqlite3
// cannot be bundled). `--serving` builds only what the container needs (hearth-serve + worker);
// `--outdir DIR` builds elsewhere (the Dockerfile's build stage, tests).
//   node scripts/build.mjs [--serving] [--outdir DIR]
import { rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

export const ENTRIES = {
  hearth: 'engine/cli/hearth.ts',
  'hearth-serve': 'engine/cli/serveOnly.ts',
  engineHost: 'engine/host/main.ts',
  runnerWorker: 'engine/runtime/runnerWorker.ts',
  grammarWorker: 'engine/runtime/grammar/grammarWorker.ts',
};
export const SERVING_ENTRIES = ['hearth-serve', 'runnerWorker', 'grammarWorker'];

/** Builds into outDir (emptied first); resolves to the source files bundled, relative to the root. */
export async function build({ outDir = join(root, 'dist'), serving = false } = {}) {
  const names = serving ? SERVING_ENTRIES : Object.keys(ENTRIES);
  rmSync(outDir, { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(names.map((name) => [name, ENTRIES[name]])),
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    // Chunks (`<module>-<hash>.mjs`) stay beside the entries: modelRunner's finds ./runnerWorker.mjs there.
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    metafile: true,
    logLevel: 'warning',
  });
  return Object.keys(result.metafile.inputs).map((input) => relative(root, resolve(root, input))).sort();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { serving: { type: 'boolean' }, outdir: { type: 'string' } } });
  const outDir = resolve(values.outdir ?? join(root, 'dist'));
  const started = performance.now();
  const inputs = await build({ outDir, serving: values.serving ?? false });
  console.log(`built ${inputs.length} modules into ${relative(process.cwd(), outDir) || '.'} in ${Math.round(performance.now() - started)} ms`);
}
