// Every supported architecture (and checkpoint variant) converts to an fp32 package whose
// logits match the float64 reference within 1e-4 relative error, for a prompt and decode steps.
// Gemma's own checks (what each fixture pins) are in convertGemma.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecoderRunner } from '../fixtures/decoderRunner.js';
import type { FixtureOptions } from '../fixtures/generateCheckpoint.js';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { assertFp32Parity, FP32_TOLERANCE, maxRelativeError } from '../fixtures/parity.js';
import { argmax, ReferenceSession } from '../fixtures/referenceModel.js';


const PROMPT = [5, 17, 300, 42, 7, 99, 256, 3, 411];
const LONG_PROMPT = Array.from({ length: 70 }, (_, i) => ((i * 131 + 7) % 500) + 3);

describe('hearth convert: architectures (fp32 parity with the reference)', () => {
  for (const arch of ['llama', 'mistral', 'qwen2', 'qwen3', 'phi3'] as const) {
    it(`${arch}`, async () => {
      await assertFp32Parity({ arch }, PROMPT, 5);
    });
  }

  it('llama with Llama-3 rope_scaling, past the original context', async () => {
    const { manifest } = await ensureFixturePackage({ arch: 'llama', ropeScaling: 'llama3' });
    assert.equal(manifest.architecture, 'llama');
    await assertFp32Parity({ arch: 'llama', ropeScaling: 'llama3' }, LONG_PROMPT, 4);
  });

  it('llama with linear rope_scaling', async () => {
    await assertFp32Parity({ arch: 'llama', ropeScaling: 'linear' }, LONG_PROMPT, 2);
  });

  it('mistral with a sliding window shorter than the prompt', async () => {
    await assertFp32Parity({ arch: 'mistral', slidingWindow: 16 }, LONG_PROMPT.slice(0, 30), 6);
  });

  it('sharded checkpoint (model.safetensors.index.json)', async () => {
    const { manifest } = await ensureFixturePackage({ arch: 'qwen3', sharded: true });
    const weightFiles = manifest.source.files.map((file) => file.name).filter((name) => name.includes('safetensors'));
    assert.deepEqual(weightFiles, ['model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    await assertFp32Parity({ arch: 'qwen3', sharded: true }, PROMPT, 2);
  });

  for (const storage of ['F16', 'BF16'] as const) {
    it(`${storage} storage`, async () => {
      await assertFp32Parity({ arch: 'qwen2', storage }, PROMPT, 2);
    });
  }
});

describe('hearth convert: architectures (batched rows of different lengths == each row alone)', () => {
  const prompts = [[5, 17, 300, 42, 7, 99, 256], [8, 9, 10], [400, 401, 2, 77, 1]];
  // Gemma rows grow past the fixtures' 6-token window while the batch runs, at different steps per row.
  const fixtures: FixtureOptions[] = [
    ...(['llama', 'mistral', 'qwen2', 'qwen3', 'phi3', 'gemma2', 'gemma3'] as const).map((arch) => ({ arch })),
    { arch: 'gemma3', multimodal: true },
  ];
  for (const fixture of fixtures) {
    it(`${fixture.arch!}${fixture.multimodal ? ' (Gemma3ForConditionalGeneration text tower)' : ''}`, async () => {
      const { packageDir, checkpointDir, manifest } = await ensureFixturePackage({ ...fixture, dtype: 'fp32' });
      const batched = await DecoderRunner.open(packageDir, manifest);
      const alone = await DecoderRunner.open(packageDir, manifest);
      try {
        const references = prompts.map(() => new ReferenceSession(checkpointDir));
        let next = prompts;
        for (let step = 0; step < 3; step++) {
          const batchLogits = await batched.step(next.map((tokenIds, rowId) => ({ rowId, tokenIds })));
          const nextTokens: number[][] = [];
          for (const [row, tokens] of next.entries()) {
            const [single] = await alone.step([{ rowId: row, tokenIds: tokens }]);
            assert.ok(maxRelativeError(single!, batchLogits[row]!) <= 1e-5, `step ${step} row ${row}: batched differs from alone`);
            const expected = references[row]!.feed(tokens);
            assert.ok(maxRelativeError(expected, batchLogits[row]!) <= FP32_TOLERANCE, `step ${step} row ${row} vs reference`);
            nextTokens.push([argmax(expected)]);
          }
          next = nextTokens;
        }
      } finally {
        await batched.release();
        await alone.release();
      }
    });
  }
});
