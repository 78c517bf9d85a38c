// The inference engine on a real converted fixture package (real ONNX session in a worker):
// parity with the reference forward, batched == unbatched under concurrency (chunked prefill and
// preemption included), cancellation, seeded sampling, admission errors. One suite, run on every
// device the machine has: engine.test.ts (CPU) and webgpu.test.ts (the KV cache on the device).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { GenerationRequest, SamplingParams } from '../../engine/common/engineApi.js';
import { loadEngine, OverloadedError, ValidationError, type LoadedEngine, type StepStats } from '../../engine/runtime/index.js';
import type { DeviceChoice } from '../../engine/common/servingConfig.js';
import { collectStream } from '../fixtures/engineStreams.js';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { referenceGreedy } from '../fixtures/referenceModel.js';

export const GREEDY: SamplingParams = { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1 };
let nextId = 0;

export function request(promptTokenIds: number[], maxNewTokens: number, extra: Partial<GenerationRequest> = {}): GenerationRequest {
  return {
    requestId: `req-${++nextId}`,
    promptTokenIds,
    sampling: GREEDY,
    maxNewTokens,
    stopStrings: [],
    stopTokenIds: [],
    ignoreEos: true,
    arrivalTimeMs: Date.now(),
    ...extra,
  };
}

const collect = (engine: LoadedEngine, req: GenerationRequest) => collectStream(engine.submit(req));

/** Prompts of different lengths (1..40 tokens) from a fixed pattern. */
export function prompts(count: number, vocabSize: number): number[][] {
  return Array.from({ length: count }, (_, i) => Array.from({ length: 1 + ((i * 13) % 40) }, (_, j) => (3 + i * 31 + j * 7) % vocabSize));
}

export function defineEngineSuite(device: DeviceChoice): void {
  let fixture: Awaited<ReturnType<typeof ensureFixturePackage>>;
  let engine: LoadedEngine;

  before(async () => {
    fixture = await ensureFixturePackage({ arch: 'llama', dtype: 'fp32' });
    engine = await loadEngine({ packageDir: fixture.packageDir, device });
  });
  after(async () => {
    await engine?.shutdown(0);
  });

  test('greedy output equals the reference forward', async () => {
    for (const prompt of [[1, 5, 9, 23, 44, 17], prompts(3, fixture.manifest.shape.vocabSize)[2]!]) {
      const { ids, done } = await collect(engine, request(prompt, 16));
      assert.deepEqual(ids, referenceGreedy(fixture.checkpointDir, prompt, 16));
      assert.equal(done.finishReason, 'length');
      assert.equal(done.completionTokens, 16);
      assert.equal(done.promptTokens, prompt.length);
    }
  });

  test('batched output equals unbatched output (8 concurrent, chunked prefill, preemption)', async () => {
    const vocabSize = fixture.manifest.shape.vocabSize;
    const all = prompts(8, vocabSize);
    const alone: number[][] = [];
    for (const prompt of all) alone.push((await collect(engine, request(prompt, 30))).ids);

    const concurrent = await Promise.all(all.map((prompt) => collect(engine, request(prompt, 30))));
    assert.deepEqual(concurrent.map((result) => result.ids), alone);

    // Small prefill chunks and a cache of 3 rows × 64 tokens: a sequence passing 64 tokens needs
    // 128 (a region of its own on the CPU, every row's stride on the device), so the newest are
    // preempted and recomputed; streams must continue exactly as if they ran alone.
    const tight = await loadEngine({
      packageDir: fixture.packageDir,
      device,
      batching: { maxPrefillTokens: 8, kvCacheBytes: 192 * 512 },
    });
    const steps: StepStats[] = [];
    tight.onStep((stats) => steps.push(stats));
    try {
      const squeezed = await Promise.all(all.map((prompt) => collect(tight, request(prompt, 30))));
      assert.deepEqual(squeezed.map((result) => result.ids), alone);
      assert.ok(steps.some((s) => s.numPreempted > 0), 'the tight cache preempted someone');
      assert.ok(steps.every((s) => s.numPrefillTokens <= 8));
      assert.ok(steps.some((s) => s.numPrefillTokens > 0 && s.numDecodeTokens > 0), 'prefill chunks interleave with decode');
      assert.equal(tight.snapshot().runningSize, 0);
    } finally {
      await tight.shutdown(0);
    }
  });

  test('prefix cache: a prompt extending an earlier one reuses its K/V and generates exactly what it would without (also batched, preempted and evicted)', async () => {
    const vocabSize = fixture.manifest.shape.vocabSize;
    const conversation = (salt: number, length: number) => Array.from({ length }, (_, j) => (11 + salt * 53 + j * 17) % vocabSize);
    const turn1Prompts = [conversation(1, 60), conversation(2, 64), conversation(3, 70)];
    const extra = (salt: number) => Array.from({ length: 8 }, (_, j) => (5 + salt * 7 + j * 3) % vocabSize);
    // References from an engine without a prefix cache, one request at a time.
    const cold = await loadEngine({ packageDir: fixture.packageDir, device, batching: { prefixCacheBytes: 0 } });
    const turn1: number[][] = [];
    const turn2Prompts: number[][] = [];
    const turn2: number[][] = [];
    try {
      for (const [i, prompt] of turn1Prompts.entries()) {
        turn1.push((await collect(cold, request(prompt, 20))).ids);
        turn2Prompts.push([...prompt, ...turn1[i]!, ...extra(i)]);
        const second = await collect(cold, request(turn2Prompts[i]!, 40));
        assert.equal(second.done.cachedPromptTokens, 0, 'no prefix cache, nothing cached');
        turn2.push(second.ids);
      }
    } finally {
      await cold.shutdown(0);
    }

    // One conversation at a time on the shared engine: turn 2 starts from turn 1's K/V (its
    // prompt and all but the last generated token).
    const first = await collect(engine, request(turn1Prompts[0]!, 20));
    assert.deepEqual(first.ids, turn1[0]);
    const second = await collect(engine, request(turn2Prompts[0]!, 40));
    assert.equal(second.done.cachedPromptTokens, turn1Prompts[0]!.length + 19);
    assert.deepEqual(second.ids, turn2[0], 'same greedy ids with reuse as without');

    // Concurrent turns in a cache of 256 tokens: two rows of 128 fit, and the second turns grow
    // past 128 tokens, so the newest is preempted, saved and readmitted from its own entry.
    const tight = await loadEngine({ packageDir: fixture.packageDir, device, batching: { kvCacheBytes: 256 * 512, prefixCacheBytes: 512 * 512 } });
    const steps: StepStats[] = [];
    tight.onStep((stats) => steps.push(stats));
    try {
      const firsts = await Promise.all(turn1Prompts.map((prompt) => collect(tight, request(prompt, 20))));
      assert.deepEqual(firsts.map((r) => r.ids), turn1);
      const seconds = await Promise.all(turn2Prompts.map((prompt) => collect(tight, request(prompt, 40))));
      assert.deepEqual(seconds.map((r) => r.ids), turn2, 'batched, preempted and reloaded turns generate what they would alone, cold');
      assert.ok(seconds.every((r) => r.done.cachedPromptTokens > 0), `every second turn reused its first: ${seconds.map((r) => r.done.cachedPromptTokens)}`);
      assert.ok(steps.some((s) => s.numPreempted > 0), 'the tight cache preempted someone');
      assert.ok(steps.reduce((sum, s) => sum + s.numPrefixHits, 0) > turn2Prompts.length, 'and a preempted turn came back from the prefix cache');
    } finally {
      await tight.shutdown(0);
    }

    // A prefix cache of 100 tokens holds one conversation: the next one evicts it.
    const small = await loadEngine({ packageDir: fixture.packageDir, device, batching: { prefixCacheBytes: 100 * 512 } });
    try {
      await collect(small, request(turn1Prompts[0]!, 20));
      await collect(small, request(turn1Prompts[1]!, 20));
      const evicted = await collect(small, request(turn2Prompts[0]!, 40));
      assert.equal(evicted.done.cachedPromptTokens, 0, 'conversation 1 was evicted');
      assert.deepEqual(evicted.ids, turn2[0]);
      const kept = await collect(small, request(turn2Prompts[1]!, 40));
      assert.equal(kept.done.cachedPromptTokens, turn1Prompts[1]!.length + 19, 'conversation 2 was kept');
      assert.deepEqual(kept.ids, turn2[1]);
    } finally {
      await small.shutdown(0);
    }
  });

  test('cancel frees the row within one step and ends the stream as cancelled', async () => {
    const steps: StepStats[] = [];
    const unsubscribe = engine.onStep((stats) => steps.push(stats));
    try {
      const keep = collect(engine, request([4, 5, 6], 60));
      const handle = engine.submit(request([7, 8, 9], 200));
      let seen = 0;
      let done;
      for await (const event of handle) {
        if (event.type === 'token' && ++seen === 3) handle.cancel();
        if (event.type === 'done') done = event;
      }
      assert.equal(done?.finishReason, 'cancelled');
      assert.ok(done!.completionTokens < 200);
      const stepAtCancel = steps.length;
      await new Promise<void>((resolve) => {
        const off = engine.onStep(() => {
          if (steps.length >= stepAtCancel + 2) {
            off();
            resolve();
          }
        });
      });
      assert.equal(steps[stepAtCancel + 1]!.runningSize, 1, `only the other request is left: ${JSON.stringify(steps.slice(stepAtCancel - 2).map((s) => [s.stepId, s.runningSize, s.numPrefillTokens, s.numDecodeTokens]))} at ${stepAtCancel}`);
      const kept = await keep;
      assert.equal(kept.done.finishReason, 'length');
      assert.equal(kept.ids.length, 60);
    } finally {
      unsubscribe();
    }
    assert.equal(engine.snapshot().runningSize, 0);
    assert.equal(engine.snapshot().kvCacheUsage, 0);
  });

  test('seeded sampling is reproducible, also under concurrency; logprobs are reported', async () => {
    const sampling: SamplingParams = { ...GREEDY, temperature: 1.0, topP: 0.95, topK: 50, seed: 1234 };
    const first = await collect(engine, request([3, 1, 4, 1, 5], 24, { sampling, topLogprobs: 3 }));
    const [second, other] = await Promise.all([
      collect(engine, request([3, 1, 4, 1, 5], 24, { sampling, topLogprobs: 3 })),
      collect(engine, request([3, 1, 4, 1, 5], 24, { sampling: { ...sampling, seed: 99 } })),
    ]);
    assert.deepEqual(second.ids, first.ids);
    assert.notDeepEqual(other.ids, first.ids);
    for (const token of first.tokens) {
      assert.ok(token.logprob && token.logprob.logprob <= 0 && token.logprob.top.length === 3);
      assert.equal(token.logprob.tokenId, token.tokenId);
    }
  });

  test('stop token ids end generation with finish reason stop', async () => {
    const prompt = [2, 4, 6, 8];
    const expected = referenceGreedy(fixture.checkpointDir, prompt, 6);
    const { ids, done } = await collect(engine, request(prompt, 20, { stopTokenIds: [expected[3]!] }));
    assert.equal(done.finishReason, 'stop');
    assert.deepEqual(ids, expected.slice(0, ids.length));
    assert.equal(ids.at(-1), expected[3]);
  });

  test('admission errors: too long → ValidationError with the numbers; over the limit → OverloadedError', async () => {
    const { maxTotalTokens } = engine.config;
    assert.throws(() => engine.submit(request([1, 2, 3], maxTotalTokens)), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.match(error.message, new RegExp(`${maxTotalTokens}.*${maxTotalTokens + 3}`));
      return true;
    });
    assert.throws(() => engine.submit(request(new Array(maxTotalTokens).fill(1), 1)), ValidationError);
    const limited = await loadEngine({ packageDir: fixture.packageDir, device, batching: { maxConcurrentRequests: 1 } });
    try {
      const running = collect(limited, request([1, 2], 5));
      assert.throws(() => limited.submit(request([1, 2], 5)), (error: unknown) => error instanceof OverloadedError && error.retryAfterSeconds >= 1);
      await running;
    } finally {
      await limited.shutdown(0);
    }
  });

  test('chat template renders with the package special tokens; tokenizer round-trips', () => {
    const text = 'hello world';
    assert.equal(engine.tokenizer.decode(engine.tokenizer.encode(text, { addSpecialTokens: false })), text);
    if (fixture.manifest.tokenizer.chatTemplate) {
      const prompt = engine.tokenizer.applyChatTemplate([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true });
      assert.ok(prompt.includes('hi'));
    }
  });

  test('streamed text is exactly the decode of the generated ids (no split UTF-8), and stop strings cut it', async () => {
    const prompt = engine.tokenizer.encode('Hello there', { addSpecialTokens: false });
    // Hot sampling from a random model produces arbitrary byte tokens: multi-byte characters split
    // across tokens (and invalid sequences) are common. Any piece emitted early would show up as
    // U+FFFD here while the full decode has the real character.
    for (const seed of [1, 2, 3, 4]) {
      const result = await collect(engine, request(prompt, 40, { sampling: { ...GREEDY, temperature: 1.5, seed } }));
      assert.equal(result.text, engine.tokenizer.decode(result.ids), `seed ${seed}`);
    }
    const greedy = await collect(engine, request(prompt, 30));
    const full = greedy.text;
    let start = 5;
    while (start + 3 <= full.length && /\uFFFD/.test(full.slice(start, start + 3))) start++;
    assert.ok(start + 3 <= full.length, 'the greedy text is long enough to pick a stop string from');
    const stop = full.slice(start, start + 3);
    const expected = full.slice(0, full.indexOf(stop));
    const stopped = await collect(engine, request(prompt, 30, { stopStrings: [stop] }));
    assert.equal(stopped.done.finishReason, 'stop');
    assert.equal(stopped.text, expected);
    assert.ok(!stopped.text.includes(stop));
  });
}
