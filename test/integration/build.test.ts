// `npm run build` (scripts/build.mjs) produces a CLI that runs on its own: built into a scratch
// folder beside a node_modules of production packages only (no tsx, no esbuild, no other dev
// dependency), `hearth --help` works and `hearth serve` loads the tiny fixture through the built
// runner worker, generates, and stops cleanly. The serving build holds only serving code.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, ENTRIES, SERVING_ENTRIES } from '../../scripts/build.mjs';
import { linkProductionModules } from '../fixtures/productionModules.js';
import { tinyPackage } from './serverHarness.js';
import { serveToReady } from './serveProcess.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-build-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Env for a built process: no loader hooks inherited from the test runner. */
function plainEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HEARTH_HOME: home };
  delete env.NODE_OPTIONS;
  return env;
}

test('the built CLI runs without tsx or any dev dependency: --help, and serve to ready on the tiny fixture', { timeout: 120_000 }, async () => {
  const app = join(dir, 'app');
  execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--outdir', join(app, 'dist')], { cwd: root, stdio: 'pipe' });
  copyFileSync(join(root, 'package.json'), join(app, 'package.json'));
  linkProductionModules(app);
  for (const name of Object.keys(ENTRIES)) assert.ok(existsSync(join(app, 'dist', `${name}.mjs`)), `dist/${name}.mjs built`);
  for (const file of readdirSync(join(app, 'dist'))) {
    assert.doesNotMatch(readFileSync(join(app, 'dist', file), 'utf8'), /from ["']tsx|import\(["']tsx|["']esbuild["']/, `${file} imports no build tool`);
  }
  assert.ok(!existsSync(join(app, 'node_modules', 'tsx')) && !existsSync(join(app, 'node_modules', 'esbuild')), 'dev dependencies are out of reach');

  const home = join(dir, 'home');
  const env = plainEnv(home);
  const help = execFileSync(process.execPath, [join(app, 'dist/hearth.mjs'), '--help'], { env, encoding: 'utf8' });
  assert.match(help, /^Usage: hearth <command>/);
  assert.match(execFileSync(process.execPath, [join(app, 'dist/hearth.mjs'), 'serve', '--help'], { env, encoding: 'utf8' }), /Usage: hearth serve/);
  assert.match(execFileSync(process.execPath, [join(app, 'dist/engineHost.mjs'), '--help'], { env, encoding: 'utf8' }), /Usage: node dist\/engineHost\.mjs/);

  const { packageDir } = await tinyPackage();
  const served = await serveToReady([join(app, 'dist/hearth.mjs'), 'serve', packageDir, '--port', '0', '--device', 'cpu'], env);
  assert.equal(served.exitCode, 0, served.output);
  assert.match(served.output, /hearth serve: stopped\./);
});

test('the serving build (the container\'s) bundles serving code only', async () => {
  const inputs = await build({ outDir: join(dir, 'serving'), serving: true });
  assert.deepEqual(readdirSync(join(dir, 'serving')).filter((file) => !/-[A-Z0-9]{8}\.mjs$/.test(file)).sort(), SERVING_ENTRIES.map((name) => `${name}.mjs`).sort());
  assert.ok(inputs.includes('engine/runtime/runnerWorker.ts') && inputs.includes('engine/cli/commands/serve.ts'));
  const foreign = inputs.filter((input) => /^engine\/(bench|tune|export|host)\/|^engine\/cli\/commands\/(?!serve\.ts)|^engine\/hub\/(?!library\.ts)/.test(input));
  assert.deepEqual(foreign, [], 'no other command\'s code in the image');
});

test('bin/hearth.mjs runs the build while it is at least as new as engine/, the source through tsx once an engine file is newer', () => {
  const checkout = join(dir, 'launcher');
  mkdirSync(join(checkout, 'bin'), { recursive: true });
  mkdirSync(join(checkout, 'dist'));
  mkdirSync(join(checkout, 'engine/cli'), { recursive: true });
  mkdirSync(join(checkout, 'node_modules'));
  writeFileSync(join(checkout, 'package.json'), JSON.stringify({ name: 'hearth', type: 'module' }));
  copyFileSync(join(root, 'bin/hearth.mjs'), join(checkout, 'bin/hearth.mjs'));
  symlinkSync(join(root, 'node_modules/tsx'), join(checkout, 'node_modules/tsx'), 'dir');
  writeFileSync(join(checkout, 'engine/cli/hearth.ts'), "const from: string = 'source';\nconsole.log(from);\n");
  writeFileSync(join(checkout, 'dist/hearth.mjs'), "console.log('build');\n");
  const old = new Date(Date.now() - 60_000);
  utimesSync(join(checkout, 'engine/cli/hearth.ts'), old, old);
  const run = () => execFileSync(process.execPath, [join(checkout, 'bin/hearth.mjs')], { env: plainEnv(join(dir, 'home')), encoding: 'utf8' }).trim();
  assert.equal(run(), 'build');
  utimesSync(join(checkout, 'engine/cli/hearth.ts'), new Date(), new Date());
  assert.equal(run(), 'source', 'an edit since the build runs the source');
  rmSync(join(checkout, 'engine'), { recursive: true });
  assert.equal(run(), 'build', 'without source (an installed package) the build is all there is');
});
