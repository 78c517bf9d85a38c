// Converted fp32 packages match the float64 reference forward (prompt + decode steps), and
// rows batched together (different lengths) match each row run alone, through real
// onnxruntime-node sessions.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { ModelManifest } from '../../engine/common/manifest.js';
import { int4LayoutOf, modelShapeFromHfConfig, weightsBytes } from '../../engine/common/memoryEstimate.js';
import { convertCheckpoint } from '../../engine/convert/convert.js';
import { ensureFixtureCheckpoint } from '../fixtures/packages.js';
import { DecoderRunner } from '../fixtures/decoderRunner.js';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { assertFp32Parity, FP32_TOLERANCE, maxRelativeError } from '../fixtures/parity.js';
import { argmax, ReferenceSession } from '../fixtures/referenceModel.js';

const PROMPT = [5, 17, 300, 42, 7, 99, 256, 3, 411];
const DECODE_STEPS = 5;

describe('hearth convert: llama fp32 package', () => {
  it('writes a complete package with a manifest describing it', async () => {
    const { packageDir, checkpointDir, manifest } = await ensureFixturePackage({ arch: 'llama', dtype: 'fp32' });
    for (const file of ['model.onnx', 'model.onnx.data', 'tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'generation_config.json', 'manifest.json']) {
      assert.ok(existsSync(join(packageDir, file)), `${file} missing`);
    }
    assert.equal(manifest.architecture, 'llama');
    assert.equal(manifest.hfArchitecture, 'LlamaForCausalLM');
    assert.equal(manifest.dtype, 'fp32');
    assert.equal(manifest.graph.kind, 'hearth-decoder-gqa-v2');
    assert.match(manifest.graph.description, /seqlens_k/);
    assert.equal(manifest.graph.numLayers, manifest.shape.numLayers);
    assert.equal(manifest.shape.vocabSize, 512);
    assert.deepEqual(manifest.tokenizer.eosTokenIds, [2]);
    assert.equal(manifest.tokenizer.eosToken, '<|im_end|>');
    assert.match(manifest.tokenizer.chatTemplate ?? '', /<\|im_start\|>/);
    assert.equal(readFileSync(join(packageDir, 'chat_template.jinja'), 'utf8'), manifest.tokenizer.chatTemplate);
    assert.equal(manifest.generation.temperature, 0.7);
    const sourceNames = manifest.source.files.map((file) => file.name).sort();
    assert.deepEqual(sourceNames, ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    for (const file of manifest.source.files) assert.match(file.sha256, /^[0-9a-f]{64}$/);
    assert.equal(manifest.source.path, checkpointDir);
    assert.ok(manifest.weightsBytes > 0);
  });

  it('matches the float64 reference for a prompt and several decode steps', async () => {
    await assertFp32Parity({ arch: 'llama' }, PROMPT, DECODE_STEPS);
  });

  it('batches first prompts of different lengths (right-padded, past empty) exactly like each row alone', async () => {
    const { packageDir, checkpointDir, manifest } = await ensureFixturePackage({ arch: 'llama' });
    const prompts = [[5, 17, 300, 42, 7, 99, 256], [8, 9, 10], [400, 401, 2, 77, 1]];
    const batched = await DecoderRunner.open(packageDir, manifest);
    const alone = await DecoderRunner.open(packageDir, manifest);
    try {
      let batchLogits = await batched.step(prompts.map((tokenIds, rowId) => ({ rowId, tokenIds })));
      const references = prompts.map(() => new ReferenceSession(checkpointDir));
      let next = prompts.map((prompt, row) => {
        const expected = references[row]!.feed(prompt);
        assert.ok(maxRelativeError(expected, batchLogits[row]!) <= FP32_TOLERANCE, `row ${row} prompt vs reference`);
        return [argmax(expected)];
      });
      for (const [row, prompt] of prompts.entries()) {
        const [single] = await alone.step([{ rowId: row, tokenIds: prompt }]);
        assert.ok(maxRelativeError(single!, batchLogits[row]!) <= 1e-5, `row ${row}: batched prompt differs from alone`);
      }
      // Decode together: each row has its own past length (7, 3, 5, ...).
      for (let step = 0; step < 3; step++) {
        batchLogits = await batched.step(next.map((tokenIds, rowId) => ({ rowId, tokenIds })));
        next = next.map((tokens, row) => {
          const expected = references[row]!.feed(tokens);
          assert.ok(maxRelativeError(expected, batchLogits[row]!) <= FP32_TOLERANCE, `decode step ${step} row ${row} vs reference`);
          return [argmax(expected)];
        });
      }
      // A subset of rows in a different order still decodes correctly.
      const subset = [2, 0];
      const subsetLogits = await batched.step(subset.map((rowId) => ({ rowId, tokenIds: next[rowId]! })));
      subset.forEach((rowId, i) => {
        const expected = references[rowId]!.feed(next[rowId]!);
        assert.ok(maxRelativeError(expected, subsetLogits[i]!) <= FP32_TOLERANCE, `subset row ${rowId}`);
      });
    } finally {
      await batched.release();
      await alone.release();
    }
  });

  it('continues a prompt in chunks (single row, past > 0, several new tokens)', async () => {
    const { packageDir, checkpointDir, manifest } = await ensureFixturePackage({ arch: 'llama' });
    const runner = await DecoderRunner.open(packageDir, manifest);
    try {
      const prompt = [5, 17, 300, 42, 7, 99, 256, 3, 411, 12, 13];
      await runner.step([{ rowId: 0, tokenIds: prompt.slice(0, 4) }]);
      await runner.step([{ rowId: 0, tokenIds: prompt.slice(4, 8) }]);
      const [logits] = await runner.step([{ rowId: 0, tokenIds: prompt.slice(8) }]);
      const expected = new ReferenceSession(checkpointDir).feed(prompt);
      assert.ok(maxRelativeError(expected, logits!) <= FP32_TOLERANCE);
    } finally {
      await runner.release();
    }
  });
});

describe('hearth convert (CLI)', () => {
  const hearthBin = fileURLToPath(new URL('../../bin/hearth.mjs', import.meta.url));

  it('converts a checkpoint directory and names the package', async () => {
    const { checkpointDir } = await ensureFixtureCheckpoint({ arch: 'qwen2', storage: 'BF16' });
    const parent = mkdtempSync(join(tmpdir(), 'hearth-convert-cli-'));
    try {
      const outDir = join(parent, 'package');
      const result = spawnSync(process.execPath, [hearthBin, 'convert', checkpointDir, '--out', outDir, '--dtype', 'int4', '--name', 'tiny-qwen'], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /Converted Qwen2ForCausalLM \(2 layers, vocab 512\) to int4/);
      const manifest = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8')) as ModelManifest;
      assert.equal(manifest.name, 'tiny-qwen');
      assert.equal(manifest.dtype, 'int4');
      assert.equal(manifest.shape.tiedEmbeddings, true);
      assert.deepEqual(manifest.quantization, { int4BlockSize: 32 });

      const blocked = join(parent, 'package-b64');
      const at64 = spawnSync(process.execPath, [hearthBin, 'convert', checkpointDir, '--out', blocked, '--int4-block-size', '64'], { encoding: 'utf8' });
      assert.equal(at64.status, 0, at64.stderr);
      assert.match(at64.stdout, /to int4 \(block 64\)/);
      const manifest64 = JSON.parse(readFileSync(join(blocked, 'manifest.json'), 'utf8')) as ModelManifest;
      assert.deepEqual(manifest64.quantization, { int4BlockSize: 64 });
      // The package plan at block 64 is what was written (hidden 64 is one block of 64 a row: the table stays at block 32).
      const shape = modelShapeFromHfConfig(JSON.parse(readFileSync(join(checkpointDir, 'config.json'), 'utf8')));
      assert.equal(manifest64.weightsBytes, weightsBytes(shape, 'int4', int4LayoutOf(manifest64)).storedBytes);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('explains its options and rejects a bad dtype', () => {
    const help = spawnSync(process.execPath, [hearthBin, 'convert', '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--dtype <dtype>\s+fp32/);
    const bad = spawnSync(process.execPath, [hearthBin, 'convert', 'x', '--out', 'y', '--dtype', 'int8'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--dtype must be one of fp32, fp16, int4/);
    assert.match(help.stdout, /--int4-block-size <n>/);
    const badBlock = spawnSync(process.execPath, [hearthBin, 'convert', 'x', '--out', 'y', '--int4-block-size', '48'], { encoding: 'utf8' });
    assert.equal(badBlock.status, 2);
    assert.match(badBlock.stderr, /--int4-block-size must be one of 32, 64, 128 \(got '48'\)/);
    const notInt4 = spawnSync(process.execPath, [hearthBin, 'convert', 'x', '--out', 'y', '--dtype', 'fp16', '--int4-block-size', '64'], { encoding: 'utf8' });
    assert.equal(notInt4.status, 2);
    assert.match(notInt4.stderr, /--int4-block-size applies to --dtype int4 only/);
  });
});

describe('hearth convert: streaming', () => {
  it('streams tables in row chunks without changing a byte of the package weights', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'hearth-convert-chunks-'));
    try {
      for (const dtype of ['fp32', 'fp16', 'int4'] as const) {
        const { packageDir, checkpointDir } = await ensureFixturePackage({ arch: 'qwen2', dtype });
        const chunked = join(parent, dtype);
        // 1000 bytes = 3 rows of 64 floats per chunk: many chunks, a ragged last one.
        await convertCheckpoint({ checkpointDir, outDir: chunked, dtype, rowChunkBytes: 1000 });
        assert.ok(readFileSync(join(chunked, 'model.onnx.data')).equals(readFileSync(join(packageDir, 'model.onnx.data'))), `${dtype} weights differ`);
        assert.ok(readFileSync(join(chunked, 'model.onnx')).equals(readFileSync(join(packageDir, 'model.onnx'))), `${dtype} graph differs`);
      }
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
