// The grammar thread (started by the runner worker): xgrammar's tokenizer info, compiled grammars
// cached by spec, and one matcher per constrained request. See grammarMessages.ts.
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { ConstraintSpec } from '../../common/engineApi.js';
import { serializeError } from '../errors.js';
import type { FromGrammar, GrammarWorkerData, ToGrammar } from './grammarMessages.js';
import { boundedStringsAsPatterns, encodedVocabulary, GrammarCompileError } from './grammarRuntime.js';
import { withDiagnostics, xgrammar, type CompiledGrammar, type GrammarCompiler, type GrammarMatcher } from './xgrammar.js';

/** Compiled grammars kept (a small JSON-schema compile over a 152k vocabulary took ~0.4 s). */
const MAX_CACHED_GRAMMARS = 64;

const port = parentPort;
if (!port) throw new Error('grammarWorker must run in a worker thread');
const post = (message: FromGrammar) => port.postMessage(message);
const data = workerData as GrammarWorkerData;

/**
 * A structural tag's json_schema contents allow any whitespace between tokens (xgrammar has no
 * option there), which a weak model fills for ever; swap each for the grammar of the same schema
 * in the compact layout that response_format uses.
 */
async function compactJsonContents(node: unknown): Promise<unknown> {
  if (Array.isArray(node)) return Promise.all(node.map(compactJsonContents));
  if (typeof node !== 'object' || node === null) return node;
  const record = node as Record<string, unknown>;
  if (record.type === 'json_schema' && 'json_schema' in record) {
    const schema = JSON.stringify(boundedStringsAsPatterns(record.json_schema));
    return { type: 'grammar', grammar: await xgrammar().Testings._jsonSchemaToEBNF(schema, false) };
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) out[key] = await compactJsonContents(value);
  return out;
}

/** The grammar xgrammar compiles for a spec (json_schema: compact separators, no free whitespace). */
async function compile(compiler: GrammarCompiler, spec: ConstraintSpec): Promise<CompiledGrammar> {
  switch (spec.type) {
    case 'json_schema':
      return compiler.compileJSONSchema(JSON.stringify(boundedStringsAsPatterns(spec.schema)), false);
    case 'regex':
      return compiler.compileStructuralTag({ type: 'structural_tag', format: { type: 'regex', pattern: spec.pattern } } as never);
    case 'structural_tag':
      return compiler.compileStructuralTag(JSON.stringify(await compactJsonContents(spec.tag)));
  }
}

let compiler: Promise<GrammarCompiler> | null = null;
function compilerOnce(): Promise<GrammarCompiler> {
  compiler ??= (async () => {
    const xg = xgrammar();
    const { tokens, vocabType, prependSpace } = encodedVocabulary(JSON.parse(readFileSync(data.tokenizerJsonPath, 'utf8')) as Record<string, unknown>);
    const info = await xg.TokenizerInfo.createTokenizerInfo(tokens, vocabType, prependSpace, data.vocabSize, data.stopTokenIds);
    return xg.GrammarCompiler.createGrammarCompiler(info, false);
  })();
  return compiler;
}

const compiled = new Map<string, CompiledGrammar>();

/** The compiled grammar for `spec`, from the cache (most recently used last) or compiled now. */
async function compiledGrammar(spec: ConstraintSpec): Promise<CompiledGrammar> {
  const key = JSON.stringify(spec);
  let grammar = compiled.get(key);
  if (grammar) compiled.delete(key);
  else {
    const ready = await compilerOnce();
    try {
      grammar = await withDiagnostics(() => compile(ready, spec));
    } catch (error) {
      throw new GrammarCompileError((error as Error).message);
    }
    if (compiled.size >= MAX_CACHED_GRAMMARS) {
      const [oldestKey, oldest] = compiled.entries().next().value as [string, CompiledGrammar];
      compiled.delete(oldestKey);
      oldest.dispose(); // matchers made from it keep their own reference in xgrammar
    }
  }
  compiled.set(key, grammar);
  return grammar;
}

const matchers = new Map<string, GrammarMatcher>();

async function sendMask(requestId: string, matcher: GrammarMatcher): Promise<void> {
  const mask = await matcher.getNextTokenBitmask();
  if (matchers.get(requestId) === matcher) post({ type: 'mask', requestId, mask });
}

async function handle(message: ToGrammar): Promise<void> {
  switch (message.type) {
    case 'prepare':
      try {
        await compiledGrammar(message.spec);
        post({ type: 'prepared', id: message.id });
      } catch (error) {
        post({ type: 'prepared', id: message.id, error: serializeError(error) });
      }
      return;
    case 'open':
      try {
        const matcher = await xgrammar().GrammarMatcher.createGrammarMatcher(await compiledGrammar(message.spec));
        matchers.set(message.requestId, matcher);
        await sendMask(message.requestId, matcher);
      } catch (error) {
        post({ type: 'failed', requestId: message.requestId, error: serializeError(error) });
      }
      return;
    case 'accept': {
      const matcher = matchers.get(message.requestId);
      if (!matcher) return; // closed meanwhile
      if (!matcher.acceptToken(message.tokenId)) {
        post({ type: 'failed', requestId: message.requestId, error: serializeError(new Error(`the grammar rejected token ${message.tokenId}, which its mask allowed (bug)`)) });
        return;
      }
      if (!matcher.isTerminated()) await sendMask(message.requestId, matcher);
      return;
    }
    case 'close':
      matchers.get(message.requestId)?.dispose();
      matchers.delete(message.requestId);
      return;
  }
}

// One message at a time, in order (withDiagnostics must not overlap; accepts apply in sequence).
let queue = Promise.resolve();
port.on('message', (message: ToGrammar) => {
  queue = queue.then(() => handle(message));
});
