// Structured output over HTTP on Qwen3's real tokenizer (152k vocabulary, random weights):
// the openai SDK's zod parse helper, json_schema at temperature 1 over several seeds, json_object,
// text completions, TGI's grammar (json and regex), and the 400s for bad or unsupported schemas.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { completeJsonPrefix } from '../fixtures/jsonPrefix.js';
import { postJson, qwen3Package, readSse, startHarness, type Harness } from './serverHarness.js';

let h: Harness;
let client: OpenAI;

before(async () => {
  h = await startHarness({ fixture: qwen3Package });
  client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(async () => {
  await h?.stop();
});

const chat = (body: Record<string, unknown>) => postJson(`${h.url}/v1/chat/completions`, { model: h.model, messages: [{ role: 'user', content: 'Weather?' }], ...body });
// Bounded strings and numbers: a random-weight model would otherwise write one string for ever.
const WEATHER = z.object({ city: z.enum(['Paris', 'Oslo', 'Lima']), days: z.number().int().min(1).max(7), note: z.string().max(12), sunny: z.boolean() });

test('openai SDK chat.completions.parse with a zod response format', async () => {
  const completion = await client.chat.completions.parse({
    model: h.model,
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
    response_format: zodResponseFormat(WEATHER, 'weather'),
    temperature: 1,
    seed: 11,
    max_tokens: 200,
  });
  const choice = completion.choices[0]!;
  assert.equal(choice.finish_reason, 'stop');
  assert.deepEqual(choice.message.parsed, WEATHER.parse(JSON.parse(choice.message.content!)));
});

test('json_schema strict at temperature 1: every seed valid (ajv), streamed and not', async () => {
  const { $schema: _draft, ...schema } = z.toJSONSchema(WEATHER) as Record<string, unknown>; // ajv's default draft is 07
  const validate = new Ajv().compile(schema);
  const response_format = { type: 'json_schema', json_schema: { name: 'weather', schema, strict: true } };
  for (let seed = 1; seed <= 5; seed++) {
    const { status, json } = await chat({ response_format, temperature: 1, seed, max_tokens: 200 });
    assert.equal(status, 200, JSON.stringify(json));
    const content = json.choices[0].message.content;
    assert.equal(json.choices[0].finish_reason, 'stop', content);
    assert.ok(validate(JSON.parse(content)), `seed ${seed}: ${content} ${JSON.stringify(validate.errors)}`);
    if (seed === 1) {
      const response = await fetch(`${h.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: h.model, messages: [{ role: 'user', content: 'Weather?' }], response_format, temperature: 1, seed, max_tokens: 200, stream: true }),
      });
      const streamed = (await readSse(response)).flatMap((event) => event.choices).map((c: any) => c.delta.content ?? '').join('');
      assert.equal(streamed, content);
    }
  }
  const free = await chat({ temperature: 1, seed: 1, max_tokens: 30 });
  assert.throws(() => JSON.parse(free.json.choices[0].message.content), 'without the format the model writes no JSON (the test can fail)');
});

test('json_object: output is a JSON object (complete, or cut by max_tokens a valid prefix of one)', async () => {
  for (let seed = 1; seed <= 3; seed++) {
    const { json } = await chat({ response_format: { type: 'json_object' }, temperature: 1, seed, max_tokens: 24 });
    const { content } = json.choices[0].message;
    const finish = json.choices[0].finish_reason;
    assert.ok(finish === 'stop' || finish === 'length');
    const parsed = JSON.parse(finish === 'stop' ? content : completeJsonPrefix(content));
    assert.ok(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed), content);
  }
});

test('/v1/completions response_format and TGI grammar (json schema, regex)', async () => {
  const schema = { type: 'object', properties: { ok: { type: 'boolean' }, n: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['ok', 'n'], additionalProperties: false };
  const text = await postJson(`${h.url}/v1/completions`, { model: h.model, prompt: 'Answer:', response_format: { type: 'json_schema', json_schema: { name: 'a', schema } }, temperature: 1, seed: 2, max_tokens: 100 });
  assert.equal(text.status, 200, JSON.stringify(text.json));
  assert.ok(new Ajv().compile(schema)(JSON.parse(text.json.choices[0].text)), text.json.choices[0].text);
  const vllm = await chat({ structured_outputs: { json: schema }, temperature: 1, seed: 3, max_tokens: 100 });
  assert.ok(new Ajv().compile(schema)(JSON.parse(vllm.json.choices[0].message.content)), "vLLM's structured_outputs.json");
  const tgiJson = await postJson(`${h.url}/generate`, { inputs: 'Answer:', parameters: { max_new_tokens: 100, do_sample: true, seed: 5, grammar: { type: 'json', value: schema } } });
  assert.equal(tgiJson.status, 200, JSON.stringify(tgiJson.json));
  assert.ok(new Ajv().compile(schema)(JSON.parse(tgiJson.json.generated_text)), tgiJson.json.generated_text);
  const tgiRegex = await postJson(`${h.url}/generate`, { inputs: 'Code:', parameters: { max_new_tokens: 20, do_sample: true, seed: 5, grammar: { type: 'regex', value: '[A-Z]{2}-[0-9]{3}' }, details: true } });
  assert.match(tgiRegex.json.generated_text, /^[A-Z]{2}-[0-9]{3}$/);
  assert.equal(tgiRegex.json.details.finish_reason, 'eos_token');
});

test('bad or unsupported schemas → 400 naming the path and the feature, never a 500', async () => {
  const cases: [unknown, string, RegExp][] = [
    [{ type: 'object', properties: { a: { not: { type: 'string' } } } }, 'response_format.json_schema.schema', /'not'.*'\/properties\/a\/not'/],
    [{ type: 'object', properties: { a: { type: 'text' } } }, 'response_format.json_schema.schema', /unknown type "text".*|'\/properties\/a\/type'/],
    [{ type: 'object', properties: { a: { type: 'string', pattern: '(?<=x)y' } } }, 'response_format.json_schema.schema', /lookahead\/lookbehind/],
    [{ $ref: 'https://example.com/schema.json' }, 'response_format.json_schema.schema', /only local references/],
    [[1, 2], 'response_format.json_schema.schema', /must be an object/],
  ];
  for (const [schema, param, why] of cases) {
    const { status, json } = await chat({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema } } });
    assert.equal(status, 400, JSON.stringify(json));
    assert.equal(json.error.param, param);
    assert.match(json.error.message, why);
  }
  // Only the grammar compiler can judge this one: reported by the worker, still a 400 before any header.
  const compiler = await chat({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { $ref: '#/$defs/missing' } } }, stream: true });
  assert.equal(compiler.status, 400, JSON.stringify(compiler.json));
  assert.equal(compiler.json.error.param, 'response_format');
  assert.match(compiler.json.error.message, /grammar compiler rejected response_format: .+/);
  const unknown = await chat({ response_format: { type: 'xml' } });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.json.error.param, 'response_format.type');
  const tgiBad = await postJson(`${h.url}/generate`, { inputs: 'x', parameters: { grammar: { type: 'json', value: '{not json' } } });
  assert.equal(tgiBad.status, 422, 'TGI answers validation errors with 422');
  assert.match(tgiBad.json.error, /parameters\.grammar\.value/);
  const ok = await chat({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { enum: ['yes', 'no'] } } }, temperature: 1, seed: 1, max_tokens: 10 });
  assert.match(ok.json.choices[0].message.content, /^"(yes|no)"$/, 'the server still serves grammars after rejecting some');
});
