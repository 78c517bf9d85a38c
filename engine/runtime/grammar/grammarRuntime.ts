// Grammar-constrained decoding in the runner worker: xgrammar's tokenizer info (built once, on
// the first constrained request), compiled grammars cached by spec, and one matcher per request.
import { readFileSync } from 'node:fs';
import type { ConstraintSpec } from '../../common/engineApi.js';
import type { TokenConstraint } from '../sampler.js';
import { withDiagnostics, xgrammar, type CompiledGrammar, type GrammarCompiler, type GrammarMatcher } from './xgrammar.js';

/** Compiled grammars kept per worker (a small JSON-schema compile over a 152k vocabulary took ~0.4 s). */
const MAX_CACHED_GRAMMARS = 64;

export class GrammarCompileError extends Error {
  override readonly name = 'GrammarCompileError';
}

/** xgrammar's vocabulary: each id's token as stored in tokenizer.json, and how to decode it. */
export function encodedVocabulary(tokenizerJson: Record<string, unknown>): { tokens: string[]; vocabType: 'byte_level' | 'byte_fallback' | 'raw'; prependSpace: boolean } {
  const model = (tokenizerJson.model ?? {}) as { vocab?: Record<string, number> | Array<[string, number]> };
  const tokens: string[] = [];
  if (Array.isArray(model.vocab)) model.vocab.forEach(([piece], id) => (tokens[id] = piece));
  else for (const [piece, id] of Object.entries(model.vocab ?? {})) tokens[id] = piece;
  for (const added of (tokenizerJson.added_tokens as Array<{ id: number; content: string }> | undefined) ?? []) tokens[added.id] = added.content;
  for (let id = 0; id < tokens.length; id++) tokens[id] ??= '';
  const decoder = JSON.stringify(tokenizerJson.decoder ?? null);
  const vocabType = decoder.includes('"ByteLevel"') ? 'byte_level' : decoder.includes('"ByteFallback"') ? 'byte_fallback' : 'raw';
  // SentencePiece-style (Metaspace) tokenizers prepend '▁' to the first word.
  const prependSpace = JSON.stringify(tokenizerJson.pre_tokenizer ?? null).includes('"Metaspace"') || decoder.includes('"Metaspace"');
  return { tokens, vocabType, prependSpace };
}

/** One JSON string character as it appears between the quotes: unescaped (no control chars) or an escape. */
const JSON_STRING_CHAR = '([^"\\\\\\x00-\\x1f]|\\\\["\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4})';

/**
 * Works around xgrammar 0.1.27's JSON-schema converter, which turns a string's minLength/maxLength
 * into `[^"\\\r\n]{m,n}`: raw control characters allowed, escapes not, so the output need not
 * parse. The same bounds as a pattern over JSON string characters compile correctly.
 */
export function boundedStringsAsPatterns(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(boundedStringsAsPatterns);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) out[key] = key === 'enum' || key === 'const' || key === 'default' || key === 'examples' ? value : boundedStringsAsPatterns(value);
  const bounded = out.minLength !== undefined || out.maxLength !== undefined;
  if (out.type === 'string' && bounded && out.pattern === undefined && out.format === undefined) {
    const min = typeof out.minLength === 'number' ? out.minLength : 0;
    const max = typeof out.maxLength === 'number' ? out.maxLength : '';
    out.pattern = `^${JSON_STRING_CHAR}{${min},${max}}$`;
    delete out.minLength;
    delete out.maxLength;
  }
  return out;
}

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

export class GrammarRuntime {
  private compiler: Promise<GrammarCompiler> | null = null;
  private readonly compiled = new Map<string, CompiledGrammar>();

  constructor(
    private readonly tokenizerJsonPath: string,
    private readonly vocabSize: number,
    private readonly stopTokenIds: number[],
  ) {}

  private compilerOnce(): Promise<GrammarCompiler> {
    this.compiler ??= (async () => {
      const xg = xgrammar();
      const { tokens, vocabType, prependSpace } = encodedVocabulary(JSON.parse(readFileSync(this.tokenizerJsonPath, 'utf8')) as Record<string, unknown>);
      const info = await xg.TokenizerInfo.createTokenizerInfo(tokens, vocabType, prependSpace, this.vocabSize, this.stopTokenIds);
      return xg.GrammarCompiler.createGrammarCompiler(info, false);
    })();
    return this.compiler;
  }

  /** A fresh matcher for `spec` (compiling on a cache miss). Throws GrammarCompileError with xgrammar's reason. */
  async constraint(spec: ConstraintSpec): Promise<GrammarConstraint> {
    const compiler = await this.compilerOnce();
    const key = JSON.stringify(spec);
    let grammar = this.compiled.get(key);
    if (grammar) {
      this.compiled.delete(key); // re-insert: most recently used last
    } else {
      try {
        grammar = await withDiagnostics(() => compile(compiler, spec));
      } catch (error) {
        throw new GrammarCompileError((error as Error).message);
      }
      if (this.compiled.size >= MAX_CACHED_GRAMMARS) {
        const [oldestKey, oldest] = this.compiled.entries().next().value as [string, CompiledGrammar];
        this.compiled.delete(oldestKey);
        oldest.dispose();
      }
    }
    this.compiled.set(key, grammar);
    const matcher = await xgrammar().GrammarMatcher.createGrammarMatcher(grammar);
    const constraint = new GrammarConstraint(matcher);
    await constraint.refresh();
    return constraint;
  }
}

/** One request's matcher. `refresh()` (async in xgrammar's API) runs before each step that samples. */
export class GrammarConstraint implements TokenConstraint {
  private mask: Int32Array | null = null;
  private terminated = false;

  constructor(private readonly matcher: GrammarMatcher) {}

  get bitmask(): Int32Array {
    if (!this.mask) throw new Error('grammar mask used before refresh() (bug in the runner)');
    return this.mask;
  }

  get isStale(): boolean {
    return this.mask === null && !this.terminated;
  }

  get isTerminated(): boolean {
    return this.terminated;
  }

  async refresh(): Promise<void> {
    if (this.terminated) return;
    this.mask = await this.matcher.getNextTokenBitmask();
  }

  accept(tokenId: number): boolean {
    const accepted = this.matcher.acceptToken(tokenId);
    this.mask = null;
    this.terminated = this.matcher.isTerminated();
    return accepted;
  }

  dispose(): void {
    this.matcher.dispose();
  }
}
