// Engine behaviour around failures and lifecycle, on a real fixture package: a failed run fails
// only its requests (the engine keeps serving), 503-style NotReadyError while loading, and
// shutdown cancels what cannot finish by the deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GenerationRequest } from '../../engine/common/engineApi.js';
import { loadEngine, NotReadyError, startEngine } from '../../engine/runtime/index.js';
import { collectStream } from '../fixtures/engineStreams.js';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { referenceGreedy } from '../fixtures/referenceModel.js';

let nextId = 0;
function request(promptTokenIds: number[], maxNewTokens: number): GenerationRequest {
  return {
    requestId: `fault-${++nextId}`,
    promptTokenIds,
    sampling: { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1 },
    maxNewTokens,
    stopStrings: [],
    stopTokenIds: [],
    ignoreEos: true,
    arrivalTimeMs: Date.now(),
  };
}

const drain = collectStream;

test('a failed run fails only its requests; the engine keeps serving', async () => {
  const fixture = await ensureFixturePackage({ arch: 'llama', dtype: 'fp32' });
  // A package whose manifest claims 8 more tokens than the embedding has: a prompt using one
  // passes admission but makes the ONNX Gather fail inside the run.
  const dir = mkdtempSync(join(tmpdir(), 'hearth-engine-fault-'));
  try {
    cpSync(fixture.packageDir, dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    const realVocab = manifest.shape.vocabSize as number;
    manifest.shape.vocabSize = realVocab + 8;
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    const logLines: string[] = [];
    const engine = await loadEngine({ packageDir: dir, log: (line) => logLines.push(line) });
    try {
      const prompt = [1, 2, 3, 4];
      const good = drain(engine.submit(request(prompt, 40)));
      // Let the good request start decoding, so the bad prompt prefills in a run of its own.
      await new Promise<void>((resolve) => {
        const off = engine.onStep((stats) => {
          if (stats.numDecodeTokens > 0) {
            off();
            resolve();
          }
        });
      });
      const bad = await drain(engine.submit(request([5, realVocab + 3, 6], 10)));
      assert.equal(bad.done.finishReason, 'error');
      assert.ok(bad.done.error?.message, 'the error is reported');
      assert.deepEqual(bad.ids, []);
      const goodResult = await good;
      assert.equal(goodResult.done.finishReason, 'length');
      assert.deepEqual(goodResult.ids, referenceGreedy(fixture.checkpointDir, prompt, 40));
      const after = await drain(engine.submit(request(prompt, 5)));
      assert.deepEqual(after.ids, goodResult.ids.slice(0, 5), 'still serving, cache intact');
      assert.equal(engine.snapshot().state, 'ready');
      assert.ok(logLines.some((line) => line.includes('failed for 1 request')));
    } finally {
      await engine.shutdown(0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('NotReadyError while loading; shutdown cancels unfinished work at the deadline and refuses new work', async () => {
  const fixture = await ensureFixturePackage({ arch: 'llama', dtype: 'fp32' });
  const engine = startEngine({ packageDir: fixture.packageDir });
  assert.equal(engine.snapshot().state, 'loading');
  assert.throws(() => engine.submit(request([1, 2], 3)), NotReadyError);
  await engine.ready;
  assert.equal(engine.snapshot().state, 'ready');
  assert.equal(engine.snapshot().hasGenerated, false);
  const short = drain(engine.submit(request([1, 2], 3)));
  const long = drain(engine.submit(request([3, 4], 200)));
  await short;
  assert.equal(engine.snapshot().hasGenerated, true);
  await engine.shutdown(30);
  const result = await long;
  assert.equal(result.done.finishReason, 'cancelled');
  assert.equal(engine.snapshot().state, 'stopping');
  assert.throws(() => engine.submit(request([1, 2], 3)), NotReadyError);
});

test('shutdown while loading stops cleanly and never turns ready', async () => {
  const fixture = await ensureFixturePackage({ arch: 'llama', dtype: 'fp32' });
  const engine = startEngine({ packageDir: fixture.packageDir });
  await engine.shutdown(1000);
  await engine.ready;
  assert.equal(engine.snapshot().state, 'stopping');
  assert.throws(() => engine.submit(request([1, 2], 3)), NotReadyError);
});
