// Structured output: OpenAI's response_format and TGI's grammar → the engine's ConstraintSpec.
// Schemas are checked here, before submitting, so a bad or unsupported schema is a 400 that names
// the schema path and the feature; what only the grammar compiler can judge is reported by the
// runner worker as the request's first event, still before any header (see RunningGeneration).
import type { ConstraintSpec } from '../common/engineApi.js';
import { badRequest } from './errors.js';

/** OpenAI's response_format: 'text' | 'json_object' | 'json_schema' (json_schema.schema). */
export interface ResponseFormat {
  type: string;
  json_schema?: unknown;
}

/** JSON Schema keywords xgrammar cannot enforce (silently ignoring them would break the contract). */
const UNSUPPORTED_KEYWORDS: Record<string, string> = {
  not: "'not'",
  if: "'if'/'then'/'else'",
  then: "'if'/'then'/'else'",
  else: "'if'/'then'/'else'",
  dependentRequired: "'dependentRequired'",
  dependentSchemas: "'dependentSchemas'",
  dependencies: "'dependencies'",
  unevaluatedProperties: "'unevaluatedProperties'",
  unevaluatedItems: "'unevaluatedItems'",
  contains: "'contains'",
  minContains: "'minContains'",
  maxContains: "'maxContains'",
  multipleOf: "'multipleOf'",
  uniqueItems: "'uniqueItems'",
  $dynamicRef: "'$dynamicRef'",
};
const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null', 'object', 'array']);
/** Keywords whose value is a schema, a list of schemas, or a map of schemas. */
const SUBSCHEMA = new Set(['items', 'additionalProperties', 'additionalItems', 'propertyNames']);
const SUBSCHEMA_LISTS = new Set(['anyOf', 'oneOf', 'allOf', 'prefixItems']);
const SUBSCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions']);

/**
 * Throws a 400 naming `param` + the JSON pointer inside the schema for the first problem: not an
 * object, an unknown type, a keyword the grammar cannot enforce, or a $ref outside the document.
 */
export function checkJsonSchema(schema: unknown, param: string, pointer = ''): void {
  const at = () => `${param}${pointer === '' ? '' : ` at '${pointer}'`}`;
  if (typeof schema === 'boolean') return;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw badRequest(`Invalid JSON schema in ${at()}: a schema must be an object (or true/false).`, param, 'invalid_schema');
  }
  for (const [key, value] of Object.entries(schema)) {
    const path = `${pointer}/${key}`;
    if (key in UNSUPPORTED_KEYWORDS) {
      throw badRequest(
        `Unsupported JSON schema feature ${UNSUPPORTED_KEYWORDS[key]} in ${param} at '${path}': constrained decoding cannot enforce it. Remove it or validate that part after generation.`,
        param,
        'unsupported_schema',
      );
    }
    if (key === 'type') {
      const types = Array.isArray(value) ? value : [value];
      const bad = types.find((type) => typeof type !== 'string' || !TYPES.has(type));
      if (bad !== undefined || types.length === 0) {
        throw badRequest(`Invalid JSON schema in ${param} at '${path}': unknown type ${JSON.stringify(bad ?? value)} (one of ${[...TYPES].join(', ')}).`, param, 'invalid_schema');
      }
    } else if (key === '$ref') {
      if (typeof value !== 'string' || !value.startsWith('#')) {
        throw badRequest(`Unsupported JSON schema feature in ${param} at '${path}': only local references ('#/$defs/...') are supported, not ${JSON.stringify(value)}.`, param, 'unsupported_schema');
      }
    } else if (key === 'pattern' && typeof value === 'string') {
      checkPattern(value, param, path);
    } else if (SUBSCHEMA.has(key) && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      checkJsonSchema(value, param, path);
    } else if (SUBSCHEMA_LISTS.has(key)) {
      if (!Array.isArray(value)) throw badRequest(`Invalid JSON schema in ${param} at '${path}': must be an array of schemas.`, param, 'invalid_schema');
      value.forEach((item, i) => checkJsonSchema(item, param, `${path}/${i}`));
    } else if (SUBSCHEMA_MAPS.has(key)) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw badRequest(`Invalid JSON schema in ${param} at '${path}': must be an object of schemas.`, param, 'invalid_schema');
      }
      for (const [name, item] of Object.entries(value)) checkJsonSchema(item, param, `${path}/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`);
    }
  }
}

function checkPattern(pattern: string, param: string, path: string): void {
  try {
    new RegExp(pattern, 'u');
  } catch (error) {
    throw badRequest(`Invalid regular expression in ${param} at '${path}': ${(error as Error).message}.`, param, 'invalid_schema');
  }
  if (/\(\?<[=!]/.test(pattern) || /\(\?[=!]/.test(pattern)) {
    throw badRequest(`Unsupported regular expression feature in ${param} at '${path}': lookahead/lookbehind cannot be enforced while decoding.`, param, 'unsupported_schema');
  }
}

/** response_format → constraint (undefined for 'text'/absent). */
export function responseFormatConstraint(format: ResponseFormat | null | undefined): ConstraintSpec | undefined {
  if (!format || format.type === 'text') return undefined;
  if (format.type === 'json_object') return { type: 'json_schema', schema: { type: 'object' } };
  if (format.type === 'json_schema') {
    const spec = format.json_schema as { name?: unknown; schema?: unknown } | undefined;
    if (typeof spec !== 'object' || spec === null) {
      throw badRequest("response_format 'json_schema' needs 'json_schema': {name, schema, strict}.", 'response_format.json_schema');
    }
    if (spec.name !== undefined && (typeof spec.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(spec.name))) {
      throw badRequest("Invalid 'response_format.json_schema.name': must be 1-64 letters, digits, '_' or '-'.", 'response_format.json_schema.name');
    }
    // OpenAI allows a json_schema without a schema: any JSON object.
    const schema = spec.schema ?? { type: 'object' };
    checkJsonSchema(schema, 'response_format.json_schema.schema');
    return { type: 'json_schema', schema: schema as Record<string, unknown> };
  }
  throw badRequest(`response_format '${format.type}' is not supported; use 'text', 'json_object' or 'json_schema'.`, 'response_format.type');
}

/** TGI's grammar parameter: {type: 'json', value: schema (object or JSON text)} | {type: 'regex', value: pattern}. */
export function tgiGrammarConstraint(grammar: { type: string; value: unknown } | null | undefined): ConstraintSpec | undefined {
  if (!grammar) return undefined;
  const param = 'parameters.grammar.value';
  if (grammar.type === 'json') {
    const schema = typeof grammar.value === 'string' ? parseSchemaText(grammar.value, param) : grammar.value;
    checkJsonSchema(schema, param);
    return { type: 'json_schema', schema: (schema === true ? {} : schema) as Record<string, unknown> };
  }
  if (grammar.type === 'regex') {
    if (typeof grammar.value !== 'string' || grammar.value === '') throw badRequest(`Invalid '${param}': a regex grammar needs the pattern as a string.`, param);
    checkPattern(grammar.value, param, '');
    return { type: 'regex', pattern: grammar.value };
  }
  throw badRequest(`Grammar type '${grammar.type}' is not supported; use 'json' or 'regex'.`, 'parameters.grammar.type');
}

/** vLLM's structured_outputs: {regex} or {json: schema}. */
export function structuredOutputsConstraint(spec: { regex?: string | null; json?: unknown } | null | undefined): ConstraintSpec | undefined {
  if (!spec) return undefined;
  if (typeof spec.regex === 'string') {
    checkPattern(spec.regex, 'structured_outputs.regex', '');
    return { type: 'regex', pattern: spec.regex };
  }
  if (spec.json !== undefined) {
    const schema = typeof spec.json === 'string' ? parseSchemaText(spec.json, 'structured_outputs.json') : spec.json;
    checkJsonSchema(schema, 'structured_outputs.json');
    return { type: 'json_schema', schema: (schema === true ? {} : schema) as Record<string, unknown> };
  }
  throw badRequest("structured_outputs needs 'regex' or 'json'.", 'structured_outputs');
}

function parseSchemaText(text: string, param: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest(`Invalid '${param}': a JSON schema given as a string must be valid JSON.`, param);
  }
}
