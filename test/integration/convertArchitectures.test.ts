// Every supported architecture (and checkpoint variant) converts to an fp32 package whose
// logits match the float64 reference within 1e-4 relative error, for a prompt and decode steps.
// Gemma's own checks (what each fixture pins) are in convertGemma.test.ts.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DecoderRunner } from '../fixtures/decoderRunner.js';
import type { FixtureOptions } from '../fixtures/generateCheckpoint.js';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { assertFp32Parity, FP32_TOLERANCE, maxRelativeError } from '../fixtures/parity.js';
import { argmax, ReferenceSession } from '../fixtures/referenceModel.js';


const PROMPT = [5, 17, 300, 42, 7, 99, 256, 3, 411];
const LONG_PROMPT = Array.from({ length: 70 }, (_, i) => ((i * 131 + 7) % 500) + 3);

describe('hearth convert: architectures (fp32 parity with the reference)', () => {
  for (const arch of ['llama', 'mistral', 'qwen2', 'qwen3', 'phi3', 'smollm3', 'granite', 'olmo2'] as const) {
    it(`${arch}`, async (t) => {
      const error = await assertFp32Parity({ arch }, PROMPT, 5);
      t.diagnostic(`max relative error ${error.toExponential(2)}`);
    });
  }

  it('granite: embedding_multiplier, attention_multiplier (the attention scale), residual_multiplier and logits_scaling, as modeling_granite applies them', async () => {
    // Pins each: the reference with the multiplier at GraniteConfig's default (1.0) differs far beyond the tolerance.
    const { checkpointDir } = await ensureFixturePackage({ arch: 'granite' });
    const baseline = new ReferenceSession(checkpointDir).feed(PROMPT);
    for (const key of ['embedding_multiplier', 'attention_multiplier', 'residual_multiplier', 'logits_scaling']) {
      const edited = mkdtempSync(join(tmpdir(), 'hearth-granite-'));
      try {
        cpSync(checkpointDir, edited, { recursive: true });
        const config = JSON.parse(readFileSync(join(edited, 'config.json'), 'utf8')) as Record<string, unknown>;
        assert.notEqual(config[key], 1);
        writeFileSync(join(edited, 'config.json'), JSON.stringify({ ...config, [key]: 1.0 }));
        const moved = maxRelativeError(baseline, new ReferenceSession(edited).feed(PROMPT));
        assert.ok(moved > 4 * FP32_TOLERANCE, `${key} at 1.0 moves the logits by only ${moved.toExponential(2)}`);
      } finally {
        rmSync(edited, { recursive: true, force: true });
      }
    }
  });

  it('smollm3: the no-rope layer (no_rope_layers 0) attends without positions, as modeling_smollm3 does', async () => {
    // Pins it: the reference with rotary on every layer differs far beyond the tolerance.
    const { checkpointDir } = await ensureFixturePackage({ arch: 'smollm3' });
    const edited = mkdtempSync(join(tmpdir(), 'hearth-smollm3-'));
    try {
      cpSync(checkpointDir, edited, { recursive: true });
      const config = JSON.parse(readFileSync(join(edited, 'config.json'), 'utf8')) as Record<string, unknown>;
      assert.deepEqual(config.no_rope_layers, [1, 0]);
      writeFileSync(join(edited, 'config.json'), JSON.stringify({ ...config, no_rope_layers: [1, 1] }));
      const moved = maxRelativeError(new ReferenceSession(checkpointDir).feed(LONG_PROMPT), new ReferenceSession(edited).feed(LONG_PROMPT));
      assert.ok(moved > 4 * FP32_TOLERANCE, `rotary on the second layer moves the logits by only ${moved.toExponential(2)}`);
    } finally {
      rmSync(edited, { recursive: true, force: true });
    }
    await assertFp32Parity({ arch: 'smollm3' }, LONG_PROMPT, 3);
  });

  it('llama with Llama-3 rope_scaling, past the original context', async () => {
    const { manifest } = await ensureFixturePackage({ arch: 'llama', ropeScaling: 'llama3' });
    assert.equal(manifest.architecture, 'llama');
    await assertFp32Parity({ arch: 'llama', ropeScaling: 'llama3' }, LONG_PROMPT, 4);
  });

  it('qwen3 with YaRN rope_scaling (Qwen3\'s spelling), past the original context: interpolation ramp and the attention factor on cos/sin', async (t) => {
    const error = await assertFp32Parity({ arch: 'qwen3', ropeScaling: 'yarn' }, LONG_PROMPT, 4);
    t.diagnostic(`max relative error ${error.toExponential(2)}`);
  });

  it('llama with dynamic (NTK) rope_scaling: within max_position_embeddings transformers keeps the default frequencies', async (t) => {
    // The reference rescales the base per forward pass as transformers does (a no-op up to
    // max_position_embeddings, the package's context), so this pins that the graph does not scale.
    const error = await assertFp32Parity({ arch: 'llama', ropeScaling: 'dynamic' }, LONG_PROMPT, 4);
    t.diagnostic(`max relative error ${error.toExponential(2)}`);
  });

  it('llama with linear rope_scaling', async () => {
    await assertFp32Parity({ arch: 'llama', ropeScaling: 'linear' }, LONG_PROMPT, 2);
  });

  it('mistral with a sliding window shorter than the prompt', async () => {
    await assertFp32Parity({ arch: 'mistral', slidingWindow: 16 }, LONG_PROMPT.slice(0, 30), 6);
  });

  it('qwen2 with use_sliding_window: layer 0 full, layer 1 sliding (max_window_layers 1), prompt past the window', async (t) => {
    // Pins it: the reference with every layer sliding, or none, differs far beyond the tolerance.
    const { checkpointDir } = await ensureFixturePackage({ arch: 'qwen2', slidingWindow: 8 });
    for (const max_window_layers of [0, 2]) {
      const edited = mkdtempSync(join(tmpdir(), 'hearth-qwen2-window-'));
      try {
        cpSync(checkpointDir, edited, { recursive: true });
        const config = JSON.parse(readFileSync(join(edited, 'config.json'), 'utf8')) as Record<string, unknown>;
        assert.equal(config.max_window_layers, 1);
        writeFileSync(join(edited, 'config.json'), JSON.stringify({ ...config, max_window_layers }));
        const moved = maxRelativeError(new ReferenceSession(checkpointDir).feed(LONG_PROMPT.slice(0, 20)), new ReferenceSession(edited).feed(LONG_PROMPT.slice(0, 20)));
        assert.ok(moved > 4 * FP32_TOLERANCE, `max_window_layers ${max_window_layers} moves the logits by only ${moved.toExponential(2)}`);
      } finally {
        rmSync(edited, { recursive: true, force: true });
      }
    }
    const error = await assertFp32Parity({ arch: 'qwen2', slidingWindow: 8 }, LONG_PROMPT.slice(0, 20), 4);
    t.diagnostic(`max relative error ${error.toExponential(2)}`);
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

/**
 * Runs `prompts` as one batch (first-prompt batch, then decode steps) and each row alone; every
 * step's batched logits equal the row alone (≤ 1e-5) and the reference (≤ 1e-4).
 */
async function assertBatchedEqualsAlone(fixture: FixtureOptions, prompts: number[][], steps: number): Promise<void> {
  const { packageDir, checkpointDir, manifest } = await ensureFixturePackage({ ...fixture, dtype: 'fp32' });
  const batched = await DecoderRunner.open(packageDir, manifest);
  const alone = await DecoderRunner.open(packageDir, manifest);
  try {
    const references = prompts.map(() => new ReferenceSession(checkpointDir));
    let next = prompts;
    for (let step = 0; step < steps; step++) {
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
}

describe('hearth convert: architectures (batched rows of different lengths == each row alone)', () => {
  const prompts = [[5, 17, 300, 42, 7, 99, 256], [8, 9, 10], [400, 401, 2, 77, 1]];
  // Gemma rows grow past the fixtures' 6-token window while the batch runs, at different steps per row.
  const fixtures: FixtureOptions[] = [
    ...(['llama', 'mistral', 'qwen2', 'qwen3', 'phi3', 'smollm3', 'granite', 'olmo2', 'gemma2', 'gemma3'] as const).map((arch) => ({ arch })),
    { arch: 'gemma3', multimodal: true },
  ];
  for (const fixture of fixtures) {
    it(`${fixture.arch!}${fixture.multimodal ? ' (Gemma3ForConditionalGeneration text tower)' : ''}`, async () => {
      await assertBatchedEqualsAlone(fixture, prompts, 3);
    });
  }
});

describe('hearth convert: Phi-3.5 LongRoPE and Phi-4-mini partial rotary', () => {
  // The fixtures' original_max_position_embeddings is 32 (max_position_embeddings 256: factor 8).
  // transformers picks long_factor for a forward pass whose largest position is past it; the
  // reference feeds each call as one forward pass. The graph's table switches per position, which
  // is the same for every call that does not straddle position 32: here a 20-token prompt then
  // decode steps across it, and a 32-token prompt then an 8-token chunk past it. (A single call
  // straddling it is where they part: engine/convert/README.md.)
  const fixtures: { label: string; options: FixtureOptions }[] = [
    { label: 'Phi-3.5-mini (longrope)', options: { arch: 'phi3', ropeScaling: 'longrope' } },
    { label: 'Phi-4-mini (longrope, partial_rotary_factor 0.75: 12 of 16 dims rotate)', options: { arch: 'phi3', ropeScaling: 'longrope', partialRotaryFactor: 0.75 } },
  ];
  for (const { label, options } of fixtures) {
    it(`${label}: a 20-token prompt then decode steps across the original context; a 32-token prompt then an 8-token chunk past it`, async (t) => {
      const crossing = await assertFp32Parity(options, LONG_PROMPT.slice(0, 20), 16);
      const { packageDir, checkpointDir, manifest } = await ensureFixturePackage({ ...options, dtype: 'fp32' });
      const runner = await DecoderRunner.open(packageDir, manifest);
      let chunked = 0;
      try {
        const reference = new ReferenceSession(checkpointDir);
        for (const chunk of [LONG_PROMPT.slice(0, 32), LONG_PROMPT.slice(32, 40)]) {
          const [logits] = await runner.step([{ rowId: 0, tokenIds: chunk }]);
          chunked = Math.max(chunked, maxRelativeError(reference.feed(chunk), logits!));
        }
      } finally {
        await runner.release();
      }
      assert.ok(chunked <= FP32_TOLERANCE, `chunked prompt: relative error ${chunked.toExponential(2)}`);
      t.diagnostic(`max relative error ${crossing.toExponential(2)} / ${chunked.toExponential(2)}`);
    });
    it(`${label}: batched rows crossing the original context at different steps == each row alone`, async () => {
      await assertBatchedEqualsAlone(options, [LONG_PROMPT.slice(0, 30), LONG_PROMPT.slice(5, 32), LONG_PROMPT.slice(0, 12)], 4);
    });
  }

  it('the fixtures pin the short/long switch, the attention factor and the partial rotary split', async () => {
    const { checkpointDir } = await ensureFixturePackage({ arch: 'phi3', ropeScaling: 'longrope', partialRotaryFactor: 0.75 });
    // Each edit with a prompt it must change: 20 tokens stay within the original context, 40 pass it.
    const within = LONG_PROMPT.slice(0, 20);
    const past = LONG_PROMPT.slice(0, 40);
    const edits: [string, number[], (config: Record<string, any>) => Record<string, any>][] = [
      ['long factors within the original context', within, (config) => ({ ...config, rope_scaling: { ...config.rope_scaling, short_factor: config.rope_scaling.long_factor } })],
      ['short factors past it', past, (config) => ({ ...config, rope_scaling: { ...config.rope_scaling, long_factor: config.rope_scaling.short_factor } })],
      ['no attention factor (max_position_embeddings = original)', within, (config) => ({ ...config, max_position_embeddings: 32 })],
      ['full rotary', within, (config) => ({ ...config, partial_rotary_factor: 1.0, rope_scaling: { ...config.rope_scaling, short_factor: [...config.rope_scaling.short_factor, 1, 1], long_factor: [...config.rope_scaling.long_factor, 1, 1] } })],
    ];
    for (const [what, prompt, edit] of edits) {
      const edited = mkdtempSync(join(tmpdir(), 'hearth-longrope-'));
      try {
        cpSync(checkpointDir, edited, { recursive: true });
        const config = JSON.parse(readFileSync(join(edited, 'config.json'), 'utf8')) as Record<string, any>;
        writeFileSync(join(edited, 'config.json'), JSON.stringify(edit(config)));
        const baseline = new ReferenceSession(checkpointDir).feed(prompt);
        const moved = maxRelativeError(baseline, new ReferenceSession(edited).feed(prompt));
        assert.ok(moved > 4 * FP32_TOLERANCE, `${what} moves the logits by only ${moved.toExponential(2)}`);
      } finally {
        rmSync(edited, { recursive: true, force: true });
      }
    }
  });
});
