// Grammar-constrained decoding in the real engine (tiny fixture, its byte-level BPE vocabulary):
// every output matches its schema, constrained and free rows batch together without changing the
// free rows, and a matcher survives its request being preempted and recomputed.
import { after, before, test } from 'node:test';
import { collectStream } from '../fixtures/engineStreams.js';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import type { ConstraintSpec, GenerationRequest, SamplingParams } from '../../engine/common/engineApi.js';
import { loadEngine, OverloadedError, type LoadedEngine, type StepStats } from '../../engine/runtime/index.js';
import { completeJsonPrefix } from '../fixtures/jsonPrefix.js';
import { ensureFixturePackage } from '../fixtures/packages.js';

const SAMPLED: SamplingParams = { temperature: 1, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1 };
const SCHEMA = {
  type: 'object',
  // Free-form strings are covered on Qwen3's vocabulary (test/integration/structuredOutput.test.ts):
  // this vocabulary's lone byte tokens let xgrammar 0.1.27 accept invalid UTF-8 such as F4 B2.
  properties: { mood: { enum: ['calm', 'busy'] }, level: { type: 'integer', minimum: 0, maximum: 99 }, tag: { type: 'string', pattern: '^[a-z0-9 ]{1,8}$' } },
  required: ['mood', 'level', 'tag'],
  additionalProperties: false,
};
const validate = new Ajv().compile(SCHEMA);
let nextId = 0;

function request(promptTokenIds: number[], extra: Partial<GenerationRequest> = {}): GenerationRequest {
  return {
    requestId: `grammar-${++nextId}`,
    promptTokenIds,
    sampling: SAMPLED,
    maxNewTokens: 120,
    stopStrings: [],
    stopTokenIds: [],
    ignoreEos: false,
    arrivalTimeMs: Date.now(),
    ...extra,
  };
}

const collect = (engine: LoadedEngine, req: GenerationRequest) => collectStream(engine.submit(req));

const constraint: ConstraintSpec = { type: 'json_schema', schema: SCHEMA };
const prompts = Array.from({ length: 8 }, (_, i) => Array.from({ length: 3 + ((i * 11) % 30) }, (_, j) => (5 + i * 37 + j * 3) % 500));

let fixture: Awaited<ReturnType<typeof ensureFixturePackage>>;
let engine: LoadedEngine;

before(async () => {
  fixture = await ensureFixturePackage({ arch: 'llama', dtype: 'fp32' });
  engine = await loadEngine({ packageDir: fixture.packageDir, device: 'cpu' });
});
after(async () => {
  await engine?.shutdown(0);
});

test('every seeded sample at temperature 1 is valid JSON for the schema and ends with stop', async () => {
  for (let seed = 1; seed <= 8; seed++) {
    const { text, done } = await collect(engine, request(prompts[seed % prompts.length]!, { constraint, sampling: { ...SAMPLED, seed } }));
    assert.equal(done.finishReason, 'stop', `seed ${seed}: ${text}`);
    assert.ok(validate(JSON.parse(text)), `seed ${seed}: ${text} ${JSON.stringify(validate.errors)}`);
  }
});

test('without the grammar the same seeds do not produce the schema (the test can fail)', async () => {
  const { text } = await collect(engine, request(prompts[1]!, { sampling: { ...SAMPLED, seed: 1 }, maxNewTokens: 40 }));
  assert.throws(() => assert.ok(validate(JSON.parse(text))));
});

test('constrained and free rows batch together; free rows are unchanged by their neighbours', async () => {
  const free = (i: number) => request(prompts[i]!, { sampling: { ...SAMPLED, seed: 100 + i }, maxNewTokens: 30, ignoreEos: true });
  const alone = [];
  for (const i of [0, 2, 4]) alone.push((await collect(engine, free(i))).ids);
  const mixed = await Promise.all(
    prompts.map((prompt, i) => (i % 2 === 0 ? collect(engine, free(i)) : collect(engine, request(prompt, { constraint, sampling: { ...SAMPLED, seed: i } })))),
  );
  assert.deepEqual([mixed[0]!.ids, mixed[2]!.ids, mixed[4]!.ids], alone);
  for (const i of [1, 3, 5, 7]) assert.ok(validate(JSON.parse(mixed[i]!.text)), mixed[i]!.text);
});

test('a constrained request preempted and recomputed continues exactly as if it ran alone', async () => {
  const seeded = (i: number) => request(prompts[i]!, { constraint, sampling: { ...SAMPLED, seed: 7 + i } });
  const alone = [];
  for (let i = 0; i < prompts.length; i++) alone.push((await collect(engine, seeded(i))).text);
  const tight = await loadEngine({ packageDir: fixture.packageDir, device: 'cpu', batching: { maxPrefillTokens: 8, kvCacheBytes: 256 * 512 } });
  const steps: StepStats[] = [];
  tight.onStep((stats) => steps.push(stats));
  try {
    const squeezed = await Promise.all(prompts.map((_, i) => collect(tight, seeded(i))));
    assert.ok(steps.some((s) => s.numPreempted > 0), 'the tight cache preempted someone');
    assert.deepEqual(squeezed.map((result) => result.text), alone);
    for (const result of squeezed) assert.ok(validate(JSON.parse(result.text)), result.text);
  } finally {
    await tight.shutdown(0);
  }
});

test('regex grammar; a grammar xgrammar rejects fails only that request, naming the reason', async () => {
  const { text, done } = await collect(engine, request(prompts[0]!, { constraint: { type: 'regex', pattern: '[0-9]{3}-[a-z]{2}' }, sampling: { ...SAMPLED, seed: 3 } }));
  assert.equal(done.finishReason, 'stop');
  assert.match(text, /^[0-9]{3}-[a-z]{2}$/);
  const bad = await collect(engine, request(prompts[0]!, { constraint: { type: 'json_schema', schema: { type: 'foo' } } }));
  assert.equal(bad.done.finishReason, 'error');
  assert.equal(bad.done.error?.name, 'GrammarCompileError');
  assert.match(bad.done.error!.message, /Unsupported type "foo"/);
  const after = await collect(engine, request(prompts[0]!, { constraint, sampling: { ...SAMPLED, seed: 1 } }));
  assert.ok(validate(JSON.parse(after.text)), 'the worker keeps serving grammars after a rejected one');
});

test("json_object ({type: 'object'}): every seed gives a JSON object, complete or (cut by max tokens) a valid prefix of one", async () => {
  // A random model writes free-form keys for a long time, so most documents are cut: each must
  // still be the start of an object (checked by test/fixtures/jsonPrefix, not by the grammar).
  for (let seed = 1; seed <= 8; seed++) {
    const { text, done } = await collect(engine, request(prompts[seed % prompts.length]!, { constraint: { type: 'json_schema', schema: { type: 'object' } }, sampling: { ...SAMPLED, seed }, maxNewTokens: 60 }));
    const parsed = JSON.parse(done.finishReason === 'stop' ? text : completeJsonPrefix(text));
    assert.ok(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed), text);
    if (done.finishReason !== 'stop') assert.equal(done.finishReason, 'length');
  }
  const free = await collect(engine, request(prompts[0]!, { sampling: { ...SAMPLED, seed: 1 }, maxNewTokens: 60 }));
  assert.throws(() => JSON.parse(completeJsonPrefix(free.text)), 'free text is not an object prefix (the check can fail)');
});

test('with ignore_eos the completed grammar still ends the request (stop), its stop token adding no text', async () => {
  const { text, done } = await collect(engine, request(prompts[2]!, { constraint, sampling: { ...SAMPLED, seed: 2 }, ignoreEos: true }));
  assert.equal(done.finishReason, 'stop');
  assert.ok(validate(JSON.parse(text)), text);
  assert.ok(done.completionTokens < 120);
});

test('a request waiting for its grammar to compile holds its slot: the admission limit counts it', async () => {
  const limited = await loadEngine({ packageDir: fixture.packageDir, device: 'cpu', batching: { maxConcurrentRequests: 1 } });
  try {
    // A schema no earlier request compiled: its compile is still in flight when the next request arrives (same tick).
    const fresh: ConstraintSpec = { type: 'json_schema', schema: { ...SCHEMA, properties: { ...SCHEMA.properties, level: { type: 'integer', minimum: 0, maximum: 42 } } } };
    const waiting = collect(limited, request(prompts[0]!, { constraint: fresh, sampling: { ...SAMPLED, seed: 3 } }));
    assert.equal(limited.snapshot().queueSize, 1, 'it is queued while it compiles');
    assert.throws(() => limited.submit(request(prompts[1]!)), OverloadedError);
    const { text, done } = await waiting;
    assert.equal(done.finishReason, 'stop');
    assert.ok(JSON.parse(text).level <= 42, text);
    const next = await collect(limited, request(prompts[1]!, { maxNewTokens: 4 }));
    assert.notEqual(next.done.finishReason, 'error', 'the slot is free again');
  } finally {
    await limited.shutdown(0);
  }
});
