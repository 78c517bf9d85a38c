// Layer rules (see ../shared/STYLE.md): folders mirror processes, and imports may only cross
// layers in the allowed direction. This test fails on a bad import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function sourceFiles(dir: string, found: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, found);
    else if (/\.(ts|tsx|mts|mjs)$/.test(name) && !name.endsWith('.d.ts')) found.push(path);
  }
  return found;
}

export function importsOf(source: string): string[] {
  const specifiers: string[] = [];
  const pattern = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;
  for (const match of source.matchAll(pattern)) specifiers.push(match[1] ?? match[2] ?? match[3]!);
  return specifiers;
}

/** Top-level area of a repo path: 'engine/common', 'engine', 'renderer', 'electron', 'test', ... */
function area(path: string): string {
  const rel = relative(root, path).split(sep);
  if (rel[0] === 'engine' && rel[1] === 'common') return 'engine/common';
  return rel[0]!;
}

interface Violation {
  file: string;
  specifier: string;
  why: string;
}

/** Packages with no runtime dependencies (no Node built-ins, no DOM) that engine/common may use. */
const RUNTIME_FREE_PACKAGES = new Set(['eventsource-parser']);

function check(file: string): Violation[] {
  const from = area(file);
  const out: Violation[] = [];
  for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
    const isRelative = specifier.startsWith('.');
    const target = isRelative ? area(resolve(dirname(file), specifier)) : null;
    const bad = (why: string) => out.push({ file: relative(root, file), specifier, why });
    if (from === 'engine/common' && !file.endsWith('.test.ts')) {
      // (Tests beside common modules run in Node only.)
      if (!isRelative) {
        if (!RUNTIME_FREE_PACKAGES.has(specifier)) bad('engine/common is runtime-free: no packages (but pure-JS ones listed in RUNTIME_FREE_PACKAGES), no node: modules');
      } else if (target !== 'engine/common') bad('engine/common may import only engine/common');
    } else if (from === 'engine') {
      if (specifier === 'electron' || specifier.startsWith('electron/')) bad('the engine never imports Electron');
      if (target === 'renderer' || target === 'electron') bad(`the engine may not import ${target}/`);
    } else if (from === 'renderer') {
      if (specifier.startsWith('node:') || specifier === 'electron') bad('the renderer never imports Node or Electron');
      if (target !== null && target !== 'renderer' && target !== 'engine/common') {
        bad('the renderer may import only renderer/ and engine/common/');
      }
    } else if (from === 'electron') {
      if (target === 'renderer') bad('the Electron shell may not import renderer/ code');
      if (target === 'engine') bad('the Electron shell talks to the engine host over a process boundary; import only engine/common');
    }
  }
  return out;
}

test('imports respect the process layers', () => {
  const files = ['engine', 'renderer', 'electron'].flatMap((dir) => sourceFiles(join(root, dir)));
  assert.ok(files.length > 0, 'expected source files to check');
  const violations = files.flatMap(check);
  assert.deepEqual(violations, [], `layer violations:\n${violations.map((v) => `  ${v.file}: '${v.specifier}' — ${v.why}`).join('\n')}`);
});

test('the layer check catches a bad import (self-test)', () => {
  assert.deepEqual(importsOf(`import { x } from 'node:fs';\nconst y = await import('../engine/runtime/scheduler.js');\nimport './side.css';`), [
    'node:fs',
    '../engine/runtime/scheduler.js',
    './side.css',
  ]);
});

// One way to do each thing: facts and parsers that were written several times now live in one
// module each; a second definition elsewhere fails here.
const SINGLE_OWNERS: Array<{ what: string; owners: string[]; pattern: RegExp; catches: string }> = [
  { what: 'a percentile definition', owners: ['engine/common/percentiles.ts'], pattern: /function\s+percentile\w*\s*\(/, catches: 'export function percentiles(values: number[]) {' },
  // engine/common/sse.ts reads events with eventsource-parser; nobody splits SSE frames by hand.
  { what: 'an SSE parser', owners: [], pattern: /startsWith\(\s*['"](event: \w+\\n)?data:|split\(\s*['"]\\n\\n['"]\s*\)\s*\.\s*filter/, catches: ".filter((line) => line.startsWith('data:'))" },
  { what: 'the batching settings list', owners: ['engine/common/batching.ts'], pattern: /BATCHING_KEYS[^=]*=\s*\[/, catches: 'const BATCHING_KEYS: (keyof BatchingConfig)[] = [' },
];

test('facts written once: percentiles, SSE parsing, the batching settings list', () => {
  const files = ['engine', 'renderer', 'electron', 'test', 'scripts'].flatMap((dir) => sourceFiles(join(root, dir)));
  const thisFile = fileURLToPath(import.meta.url);
  for (const { what, owners: expected, pattern, catches } of SINGLE_OWNERS) {
    assert.match(catches, pattern, `the check for ${what} catches a copy (self-test)`);
    const owners = files.filter((file) => file !== thisFile && pattern.test(readFileSync(file, 'utf8'))).map((file) => relative(root, file).split(sep).join('/'));
    assert.deepEqual(owners, expected, `${what} belongs in ${expected.join(', ') || 'a library'} only`);
  }
});

test('one served-model lifecycle: only engine/server/servedModel.ts loads an engine and puts a server in front of it', () => {
  // Benchmarks and checks in scripts/ drive the engine in-process (no server); tests may build servers around fakes.
  const production = sourceFiles(join(root, 'engine')).filter((file) => !file.endsWith('.test.ts'));
  const starts = (source: string) => /(?<!function\s+)\bloadEngine\(/.test(source) || /import\s*\{[^}]*\bcreateServer\b[^}]*\}\s*from\s*['"](\.\/|[./]*\/server\/)index\.js['"]/.test(source);
  assert.ok(starts("import { createServer, PortInUseError } from '../server/index.js';"), 'the check catches a second lifecycle (self-test)');
  const owners = production.filter((file) => starts(readFileSync(file, 'utf8'))).map((file) => relative(root, file).split(sep).join('/'));
  assert.deepEqual(owners, ['engine/server/servedModel.ts'], 'start a served model through startServedModel (engine/server/servedModel.ts)');
});

test('one HTTP kit: only engine/server/http.ts reads request bodies and only engine/server/sse.ts starts event streams', () => {
  const production = ['engine', 'electron'].flatMap((dir) => sourceFiles(join(root, dir))).filter((file) => !file.endsWith('.test.ts'));
  const checks: Array<{ owner: string; pattern: RegExp; catches: string }> = [
    { owner: 'engine/server/http.ts', pattern: /for await \(const \w+ of req\b/, catches: 'for await (const chunk of req) {' },
    { owner: 'engine/server/sse.ts', pattern: /['"]text\/event-stream/i, catches: "res.writeHead(200, { 'content-type': 'text/event-stream' })" },
  ];
  for (const { owner, pattern, catches } of checks) {
    assert.match(catches, pattern, 'the check catches a copy (self-test)');
    const owners = production.filter((file) => pattern.test(readFileSync(file, 'utf8'))).map((file) => relative(root, file).split(sep).join('/'));
    assert.deepEqual(owners, [owner]);
  }
});

test('one admin route table: admin paths are written only in engine/common/adminRoutes.ts, and one route matcher serves both servers', () => {
  const production = ['engine', 'renderer', 'electron'].flatMap((dir) => sourceFiles(join(root, dir))).filter((file) => !/\.(test|spec)\.tsx?$/.test(file));
  const rel = (file: string) => relative(root, file).split(sep).join('/');
  // A route path such as '/api/library' or `/api/requests/${id}` outside the table is a second copy of it.
  const routePath = /(?:['"`]|\})\/api\/[a-z]/;
  assert.match("fetch(`${url}/api/library`)", routePath, 'the check catches a hand-written admin path (self-test)');
  assert.deepEqual(production.filter((file) => routePath.test(readFileSync(file, 'utf8'))).map(rel), [
    'engine/common/adminApi.ts', // ADMIN_PROXY_PREFIX, the one path outside the table (a proxy, not a route)
    'engine/common/adminRoutes.ts',
  ]);
  const matcher = /function\s+findRoute\b|\.pattern\.test\(url\.pathname\)/;
  assert.match('const methodMatches = routes.filter((route) => route.pattern.test(url.pathname));', matcher, 'the check catches a second matcher (self-test)');
  assert.deepEqual(production.filter((file) => matcher.test(readFileSync(file, 'utf8'))).map(rel), ['engine/server/http.ts']);
  const uses = ['engine/server/router.ts', 'engine/host/adminApi.ts'].filter((file) => /\bfindRoute\(/.test(readFileSync(join(root, file), 'utf8')));
  assert.deepEqual(uses, ['engine/server/router.ts', 'engine/host/adminApi.ts'], 'both servers route with the kit');
});
