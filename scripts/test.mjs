#!/usr/bin/env node
// The project's test command (`npm test`): type-check both runtimes, run every `*.test.ts`
// with Node's test runner (through tsx), then the Playwright UI suites in Debian's Chromium.
// Lint (ESLint, eslint.config.mjs) runs with the typecheck. Ends with one summary line:
// `tests: N passed, N failed, N skipped`.
//
//   npm test                      everything
//   npm test -- --unit            only node:test files (no typecheck, no browser)
//   npm test -- engine/convert    only files whose path contains this text
import { spawn } from 'node:child_process';
import { readdirSync, statSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const onlyUnit = args.includes('--unit');
const skipTypecheck = onlyUnit || args.includes('--no-typecheck');
const filters = args.filter((arg) => !arg.startsWith('--'));

// Dawn (the WebGPU provider) wants a runtime dir; headless CI shells often have none.
process.env.XDG_RUNTIME_DIR ??= '/tmp';

const totals = { passed: 0, failed: 0, skipped: 0 };
let stageFailed = false;

function run(command, argv, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, argv, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], ...options });
    let output = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      output += chunk.toString();
    });
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

function findTests(dir, suffixes, found = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.') || name === 'out') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, suffixes, found);
    else if (suffixes.some((suffix) => name.endsWith(suffix))) found.push(relative(root, path));
  }
  return found;
}

const matches = (file) => filters.length === 0 || filters.some((filter) => file.includes(filter));

if (!skipTypecheck) {
  for (const project of ['tsconfig.json', 'tsconfig.web.json']) {
    console.log(`\n== typecheck ${project}`);
    const { code } = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project, '--noEmit']);
    if (code !== 0) {
      console.log(`typecheck ${project} failed`);
      totals.failed++;
      stageFailed = true;
    } else totals.passed++;
  }
  console.log('\n== eslint');
  const { code } = await run(process.execPath, [join(root, 'node_modules/eslint/bin/eslint.js'), '--max-warnings=0', '.']);
  if (code !== 0) {
    console.log('eslint failed');
    totals.failed++;
    stageFailed = true;
  } else totals.passed++;
}

const unitFiles = ['engine', 'electron', 'renderer', 'test']
  .filter((dir) => existsSync(join(root, dir)))
  .flatMap((dir) => findTests(join(root, dir), ['.test.ts']))
  .filter(matches)
  .sort();
if (unitFiles.length > 0) {
  console.log(`\n== node:test (${unitFiles.length} files)`);
  const { code, output } = await run(process.execPath, [
    '--import', 'tsx', '--test', '--test-timeout=300000', '--test-reporter=spec', ...unitFiles,
  ], { env: { ...process.env, NODE_ENV: 'test' } });
  const count = (label) => {
    const found = [...output.matchAll(new RegExp(`ℹ ${label} (\\d+)`, 'g'))];
    return found.length > 0 ? Number(found.at(-1)[1]) : 0;
  };
  totals.passed += count('pass');
  // A suite whose before() hook throws reports its tests as cancelled, not failed: they count as failed.
  totals.failed += count('fail') + count('cancelled');
  totals.skipped += count('skipped') + count('todo');
  if (code !== 0) stageFailed = true;
}

const e2eFiles = existsSync(join(root, 'test/e2e')) ? findTests(join(root, 'test/e2e'), ['.spec.ts']).filter(matches) : [];
if (!onlyUnit && e2eFiles.length > 0) {
  console.log(`\n== playwright (${e2eFiles.length} files)`);
  const report = join(root, 'test-results', 'playwright.json');
  rmSync(report, { force: true });
  const { code } = await run(process.execPath, [join(root, 'node_modules/@playwright/test/cli.js'), 'test', '--reporter=list,json', ...e2eFiles], {
    env: { ...process.env, PLAYWRIGHT_JSON_OUTPUT_NAME: report },
  });
  if (existsSync(report)) {
    const stats = JSON.parse(readFileSync(report, 'utf8')).stats ?? {};
    totals.passed += (stats.expected ?? 0) + (stats.flaky ?? 0);
    totals.failed += stats.unexpected ?? 0;
    totals.skipped += stats.skipped ?? 0;
  } else if (code !== 0) totals.failed++;
  if (code !== 0) stageFailed = true;
}

console.log(`\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(stageFailed || totals.failed > 0 ? 1 : 0);
