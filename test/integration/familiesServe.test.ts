// Every family added for issue 13 (beside Gemma 3, which gemmaServe.test.ts runs on its real
// tokenizer) converted and served by `hearth serve`'s server, through the official openai client:
// greedy text completions equal the float64 reference (the family's own behaviour: Gemma 2's
// soft-capping, SmolLM3's no-rope layers, Granite's multipliers, OLMo 2's post-norms, Phi-4-mini's
// partial rotary and LongRoPE, Qwen3 with YaRN), streamed and not, and the chat route renders
// the package's template and answers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FixtureOptions } from '../fixtures/generateCheckpoint.js';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { referenceGreedy } from '../fixtures/referenceModel.js';
import { startChatHarness, type ChatHarness } from './serverHarness.js';

const FAMILIES: Array<{ label: string; fixture: FixtureOptions }> = [
  { label: 'Gemma 2', fixture: { arch: 'gemma2' } },
  { label: 'SmolLM3', fixture: { arch: 'smollm3' } },
  { label: 'Granite 3', fixture: { arch: 'granite' } },
  { label: 'OLMo 2', fixture: { arch: 'olmo2' } },
  { label: 'Phi-4-mini (partial rotary, LongRoPE)', fixture: { arch: 'phi3', ropeScaling: 'longrope', partialRotaryFactor: 0.75 } },
  { label: 'Qwen3 with YaRN', fixture: { arch: 'qwen3', ropeScaling: 'yarn' } },
];

for (const { label, fixture } of FAMILIES) {
  describe(`${label} through hearth serve and the openai client`, () => {
    let h: ChatHarness;
    before(async () => {
      h = await startChatHarness({ fixture: () => ensureFixturePackage({ ...fixture, dtype: 'fp32' }) });
    });
    after(async () => {
      await h?.stop();
    });

    test('greedy completion equals the float64 reference, streamed and not', async () => {
      const vocab = h.manifest.shape.vocabSize;
      const prompt = Array.from({ length: 12 }, (_, i) => (5 + i * 11) % vocab);
      const numNew = 8;
      const expected = h.tokenizer.decode(referenceGreedy(h.checkpointDir, prompt, numNew));
      const body = { model: h.model, prompt, max_tokens: numNew, temperature: 0, ...({ ignore_eos: true } as object) };
      const completion = await h.client.completions.create(body);
      assert.equal(completion.choices[0]!.text, expected);
      assert.equal(completion.usage!.completion_tokens, numNew);
      let streamed = '';
      for await (const chunk of await h.client.completions.create({ ...body, stream: true })) streamed += chunk.choices[0]?.text ?? '';
      assert.equal(streamed, expected);
    });

    test("the chat route renders the package's template and answers", async () => {
      const reply = await h.client.chat.completions.create({ model: h.model, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4, temperature: 0 });
      assert.equal(reply.choices[0]!.message.role, 'assistant');
      assert.ok(reply.usage!.prompt_tokens > 1);
    });
  });
}
