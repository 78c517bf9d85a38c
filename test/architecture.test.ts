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

function check(file: string): Violation[] {
  const from = area(file);
  const out: Violation[] = [];
  for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
    const isRelative = specifier.startsWith('.');
    const target = isRelative ? area(resolve(dirname(file), specifier)) : null;
    const bad = (why: string) => out.push({ file: relative(root, file), specifier, why });
    if (from === 'engine/common') {
      if (!isRelative) bad('engine/common is runtime-free: no packages, no node: modules');
      else if (target !== 'engine/common') bad('engine/common may import only engine/common');
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
