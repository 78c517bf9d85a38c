// Loads xgrammar's WASM build (@mlc-ai/web-xgrammar). Its package.json says "type": "module" but
// lib/index.js is a UMD bundle that calls require(), so neither `import` nor createRequire can
// load it in Node 20; it is compiled here as the CommonJS module it is (Module#_compile: the
// one loader path that also gives its emscripten glue a working dynamic `import('module')`).
// The WASM binary is inlined in that file. One instance per thread.
import { readFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname } from 'node:path';
import type * as XGrammar from '@mlc-ai/web-xgrammar';

export type XGrammarModule = typeof XGrammar;
export type { CompiledGrammar, GrammarCompiler, GrammarMatcher, TokenizerInfo } from '@mlc-ai/web-xgrammar';

interface CommonJsModule {
  exports: unknown;
  filename: string;
  paths: string[];
  _compile(source: string, filename: string): void;
}
type ModuleConstructor = { new (id: string): CommonJsModule; _nodeModulePaths(dir: string): string[] };

let loaded: XGrammarModule | null = null;
let diagnostics: string[] | null = null;

/**
 * Runs `work`, returning its result or throwing an Error with xgrammar's own diagnostic (its C++
 * checks abort with a bare "Aborted()" and print the reason, e.g. `Unsupported type "foo"`, to
 * stderr). Calls must not overlap (the worker handles one message at a time).
 */
export async function withDiagnostics<T>(work: () => Promise<T>): Promise<T> {
  diagnostics = [];
  try {
    return await work();
  } catch (error) {
    const fatal = diagnostics.map((line) => /\[FATAL\][^:]*:\d+: (.*)/s.exec(line)?.[1]).find((line) => line !== undefined);
    throw new Error(fatal?.trim() ?? (error instanceof Error ? error.message : String(error)));
  } finally {
    diagnostics = null;
  }
}

export function xgrammar(): XGrammarModule {
  if (loaded) return loaded;
  // The emscripten glue binds console.error when the WASM instance starts: route it through here
  // so withDiagnostics can read the reason for an abort (other output passes through unchanged).
  const consoleError = console.error.bind(console);
  console.error = (...args: unknown[]) => {
    if (diagnostics) diagnostics.push(args.map(String).join(' '));
    else consoleError(...args);
  };
  const file = createRequire(import.meta.url).resolve('@mlc-ai/web-xgrammar');
  const CjsModule = Module as unknown as ModuleConstructor;
  const module = new CjsModule(file);
  module.filename = file;
  module.paths = CjsModule._nodeModulePaths(dirname(file));
  module._compile(readFileSync(file, 'utf8'), file);
  loaded = module.exports as XGrammarModule;
  return loaded;
}
