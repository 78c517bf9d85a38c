// Gemma 2 (Gemma2ForCausalLM) and Gemma 3 text (Gemma3ForCausalLM, and the text tower of
// Gemma3ForConditionalGeneration checkpoints) against the float64 reference, which follows
// transformers' modeling_gemma2 / modeling_gemma3 (test/fixtures/referenceModel.ts).
//
// What the fixtures pin (generateCheckpoint.ts, gemmaConfig): norm weights near 0, so a norm
// without transformers' (1 + w) would zero the model; √hidden of hidden 192 (13.856) rounds to
// 13.875 in bfloat16, the Gemma 3 fixture's torch_dtype, as transformers' normalizer tensor does;
// query_pre_attn_scalar 24 ≠ head_dim 32; soft-caps small enough to bend scores and logits
// (Gemma 2); a 6-token window, shorter than the prompts, on Gemma 2's even layers and Gemma 3's
// non-pattern layers (0, 1, 3 of 4: both transitions); Gemma 3's local layers on
// rope_local_base_freq, its global ones on rope_theta (and, in the multimodal fixture, linear
// rope_scaling 8 that the local layers must not get); the multimodal text_config leaving out
// what Gemma3TextConfig defaults (query_pre_attn_scalar 256, the rotary bases), as gemma-3-4b-it's does.
// The "pins" test shows each of these moves the reference's logits far beyond the tolerance, so
// the parity tests could not pass with it wrong.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { modelShapeFromHfConfig, weightsBytes } from '../../engine/common/memoryEstimate.js';
import type { FixtureOptions } from '../fixtures/generateCheckpoint.js';
import { ensureFixtureCheckpoint, ensureFixturePackage } from '../fixtures/packages.js';
import { assertFp32Parity, FP32_TOLERANCE, maxRelativeError } from '../fixtures/parity.js';
import { argmax, ReferenceSession } from '../fixtures/referenceModel.js';

const PROMPT = [5, 17, 300, 42, 7, 99, 256, 3, 411];
const LONG_PROMPT = Array.from({ length: 20 }, (_, i) => ((i * 131 + 7) % 500) + 3);
const FIXTURES: { label: string; options: FixtureOptions }[] = [
  { label: 'Gemma2ForCausalLM', options: { arch: 'gemma2' } },
  { label: 'Gemma3ForCausalLM', options: { arch: 'gemma3' } },
  { label: 'Gemma3ForConditionalGeneration (text tower)', options: { arch: 'gemma3', multimodal: true } },
];
const scratch = mkdtempSync(join(tmpdir(), 'hearth-gemma-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('hearth convert: Gemma 2 and Gemma 3 (fp32 parity with the reference)', () => {
  for (const { label, options } of FIXTURES) {
    it(`${label}: prompt + 5 decode steps, and a 20-token prompt past the 6-token window`, async (t) => {
      const short = await assertFp32Parity(options, PROMPT, 5);
      const long = await assertFp32Parity(options, LONG_PROMPT, 3);
      t.diagnostic(`max relative error ${short.toExponential(2)} / ${long.toExponential(2)} (bound ${FP32_TOLERANCE})`);
    });
  }

  it('the package plan and the estimate read from config.json describe the converted package (256k-style tied vocab, extra norms, two rotary tables)', async () => {
    for (const { options } of FIXTURES) {
      for (const dtype of ['fp32', 'int4'] as const) {
        const { checkpointDir, manifest } = await ensureFixturePackage({ ...options, dtype });
        assert.equal(manifest.shape.tiedEmbeddings, true);
        const shape = modelShapeFromHfConfig(JSON.parse(readFileSync(join(checkpointDir, 'config.json'), 'utf8')));
        assert.equal(manifest.weightsBytes, weightsBytes(shape, dtype).storedBytes, `${options.arch} ${dtype}`);
      }
    }
  });
});

describe('hearth convert: what the Gemma fixtures pin', () => {
  // Each edit undoes one transformers behaviour in a copy of the fixture's config.json; the
  // reference must then move by far more than the parity tolerance.
  const edits: { options: FixtureOptions; key: string; value: unknown; behaviour: string }[] = [
    { options: { arch: 'gemma2' }, key: 'sliding_window', value: 7, behaviour: 'the sliding-window edge (keys at or before query − window are masked)' },
    { options: { arch: 'gemma2' }, key: 'attn_logit_softcapping', value: null, behaviour: 'attention soft-capping' },
    { options: { arch: 'gemma2' }, key: 'final_logit_softcapping', value: null, behaviour: 'final logit soft-capping' },
    { options: { arch: 'gemma2' }, key: 'query_pre_attn_scalar', value: 32, behaviour: 'query_pre_attn_scalar as the attention scale, not head_dim' },
    { options: { arch: 'gemma3' }, key: 'torch_dtype', value: 'float32', behaviour: 'the √hidden normalizer rounded to the model dtype (bfloat16)' },
    { options: { arch: 'gemma3' }, key: 'rope_local_base_freq', value: 1000000, behaviour: 'the local layers\' own rotary base' },
    { options: { arch: 'gemma3' }, key: 'sliding_window_pattern', value: 2, behaviour: 'which layers slide (sliding_window_pattern)' },
    { options: { arch: 'gemma3' }, key: 'sliding_window', value: 7, behaviour: 'the sliding-window edge on Gemma 3' },
  ];
  const run = (dir: string) => {
    const session = new ReferenceSession(dir);
    const out: Float64Array[] = [];
    let tokens = PROMPT;
    for (let step = 0; step < 6; step++) {
      const logits = session.feed(tokens);
      out.push(logits);
      tokens = [argmax(logits)];
    }
    return out;
  };
  for (const { options, key, value, behaviour } of edits) {
    it(`${options.arch}: ${behaviour}`, async () => {
      const { checkpointDir } = await ensureFixtureCheckpoint(options);
      const edited = join(scratch, `${options.arch}-${key}`);
      cpSync(checkpointDir, edited, { recursive: true });
      const config = JSON.parse(readFileSync(join(edited, 'config.json'), 'utf8')) as Record<string, unknown>;
      assert.notEqual(config[key], value, `the fixture must set ${key} differently`);
      writeFileSync(join(edited, 'config.json'), JSON.stringify({ ...config, [key]: value }));
      const original = run(checkpointDir);
      const changed = run(edited);
      const moved = Math.max(...original.map((logits, i) => maxRelativeError(logits, changed[i]!)));
      assert.ok(moved > 4 * FP32_TOLERANCE, `${key} → ${JSON.stringify(value)} moves the logits by only ${moved.toExponential(2)}`);
    });
  }
});
