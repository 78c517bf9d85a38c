// Bad input gets a clear error and leaves nothing behind: missing files, pickle-only
// checkpoints, corrupt safetensors, inconsistent configs, unsupported architectures,
// unwritable or occupied output, failures mid-conversion and Ctrl-C.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { convertCheckpoint } from '../../engine/convert/convert.js';
import { ConvertError } from '../../engine/common/convertError.js';
import { ensureFixtureCheckpoint } from '../fixtures/packages.js';

const hearthBin = fileURLToPath(new URL('../../bin/hearth.mjs', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'hearth-convert-bad-'));
let goodCheckpoint = '';
let caseCounter = 0;

before(async () => {
  goodCheckpoint = (await ensureFixtureCheckpoint({ arch: 'llama' })).checkpointDir;
});
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A fresh copy of the good checkpoint to break, plus an output dir in its own empty parent. */
function brokenCase(mutate: (dir: string) => void): { checkpointDir: string; outParent: string; outDir: string } {
  const caseDir = join(scratch, `case-${caseCounter++}`);
  const checkpointDir = join(caseDir, 'checkpoint');
  cpSync(goodCheckpoint, checkpointDir, { recursive: true });
  mutate(checkpointDir);
  const outParent = join(caseDir, 'out');
  mkdirSync(outParent);
  return { checkpointDir, outParent, outDir: join(outParent, 'package') };
}

async function assertFailsCleanly(mutate: (dir: string) => void, message: RegExp): Promise<void> {
  const { checkpointDir, outParent, outDir } = brokenCase(mutate);
  await assert.rejects(convertCheckpoint({ checkpointDir, outDir, dtype: 'fp32' }), (error: unknown) => {
    assert.ok(error instanceof ConvertError, `expected ConvertError, got ${String(error)}`);
    assert.match(error.message, message);
    return true;
  });
  assert.deepEqual(readdirSync(outParent), [], 'the failed conversion left files behind');
}

function writeRawSafetensors(path: string, header: unknown, dataBytes: number, headerLengthOverride?: bigint): void {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(headerLengthOverride ?? BigInt(json.length));
  writeFileSync(path, Buffer.concat([length, json, Buffer.alloc(dataBytes)]));
}

function editConfig(dir: string, edit: (config: Record<string, unknown>) => void): void {
  const path = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(config);
  writeFileSync(path, JSON.stringify(config));
}

describe('hearth convert: bad input', () => {
  it('names the missing files', async () => {
    await assertFailsCleanly((dir) => {
      unlinkSync(join(dir, 'tokenizer.json'));
      unlinkSync(join(dir, 'config.json'));
    }, /missing config\.json, tokenizer\.json/);
  });

  it('names a shard listed in the index but missing', async () => {
    await assertFailsCleanly((dir) => {
      unlinkSync(join(dir, 'model.safetensors'));
      writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'a': 'model-00001-of-00002.safetensors', 'b': 'model-00002-of-00002.safetensors' } }));
    }, /missing: model-00001-of-00002\.safetensors, model-00002-of-00002\.safetensors/);
  });

  it('refuses pytorch_model.bin-only checkpoints without reading them, and suggests safetensors', async () => {
    await assertFailsCleanly((dir) => {
      unlinkSync(join(dir, 'model.safetensors'));
      writeFileSync(join(dir, 'pytorch_model.bin'), 'not even a pickle');
    }, /pytorch_model\.bin.*pickle can execute arbitrary code|pickle.*execute arbitrary code.*safetensors/s);
  });

  it('rejects a header length past the end of the file', async () => {
    await assertFailsCleanly((dir) => writeRawSafetensors(join(dir, 'model.safetensors'), {}, 0, 1n << 40n), /header length .* runs past the end of the file/);
  });

  it('rejects overlapping tensor data', async () => {
    await assertFailsCleanly((dir) => writeRawSafetensors(join(dir, 'model.safetensors'), {
      a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
      b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
    }, 24), /'a' and 'b' have overlapping data/);
  });

  it('rejects offsets outside the data', async () => {
    await assertFailsCleanly((dir) => writeRawSafetensors(join(dir, 'model.safetensors'), {
      a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
    }, 8), /data_offsets \[0, 16\] outside the 8 data bytes/);
  });

  it('rejects an unknown dtype', async () => {
    await assertFailsCleanly((dir) => writeRawSafetensors(join(dir, 'model.safetensors'), {
      a: { dtype: 'Q3', shape: [4], data_offsets: [0, 4] },
    }, 4), /unknown dtype "Q3"/);
  });

  it('names a weight stored in a dtype it cannot convert (FP8)', async () => {
    await assertFailsCleanly((dir) => writeRawSafetensors(join(dir, 'model.safetensors'), {
      'model.embed_tokens.weight': { dtype: 'F8_E4M3', shape: [512, 64], data_offsets: [0, 512 * 64] },
    }, 512 * 64), /'model\.embed_tokens\.weight' .* is stored as F8_E4M3; hearth converts F32, F16 and BF16 weights/);
  });

  it('rejects a shape that does not match the data size', async () => {
    await assertFailsCleanly((dir) => writeRawSafetensors(join(dir, 'model.safetensors'), {
      a: { dtype: 'BF16', shape: [3, 4], data_offsets: [0, 16] },
    }, 16), /shape \[3, 4\] \(24 bytes as BF16\) but 16 data bytes/);
  });

  it('rejects a config whose heads do not divide the hidden size', async () => {
    await assertFailsCleanly((dir) => editConfig(dir, (config) => (config.num_attention_heads = 5)), /num_attention_heads \(5\) does not divide hidden_size \(64\)/);
  });

  it('rejects tensors whose shapes disagree with config.json', async () => {
    await assertFailsCleanly((dir) => editConfig(dir, (config) => (config.intermediate_size = 96)), /has shape \[128, 64\] but config\.json implies \[96, 64\]/);
  });

  it('cleans up when the checkpoint turns out incomplete mid-conversion', async () => {
    await assertFailsCleanly((dir) => editConfig(dir, (config) => (config.num_hidden_layers = 3)), /no tensor 'model\.layers\.2\./);
  });

  it('names an unsupported architecture and lists the supported ones', async () => {
    await assertFailsCleanly((dir) => editConfig(dir, (config) => (config.architectures = ['GPT2LMHeadModel'])),
      /'GPT2LMHeadModel'.*Supported architectures: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Phi3ForCausalLM/);
  });

  it('reports an output location it cannot write to', async () => {
    const { checkpointDir, outParent } = brokenCase(() => {});
    writeFileSync(join(outParent, 'a-file'), '');
    await assert.rejects(convertCheckpoint({ checkpointDir, outDir: join(outParent, 'a-file', 'package'), dtype: 'fp32' }), /cannot write to .*a-file/);
    assert.deepEqual(readdirSync(outParent), ['a-file']);
  });

  it('refuses to overwrite an existing non-empty output', async () => {
    const { checkpointDir, outDir } = brokenCase(() => {});
    mkdirSync(outDir);
    writeFileSync(join(outDir, 'precious.txt'), 'keep me');
    await assert.rejects(convertCheckpoint({ checkpointDir, outDir, dtype: 'fp32' }), /already exists/);
    assert.equal(readFileSync(join(outDir, 'precious.txt'), 'utf8'), 'keep me');
  });

  it('fills an existing empty output directory', async () => {
    const { checkpointDir, outDir } = brokenCase(() => {});
    mkdirSync(outDir);
    await convertCheckpoint({ checkpointDir, outDir, dtype: 'fp16' });
    assert.ok(existsSync(join(outDir, 'manifest.json')));
  });

  it('two conversions racing to the same output: one wins, the other fails cleanly', async () => {
    const { checkpointDir, outParent, outDir } = brokenCase(() => {});
    const results = await Promise.allSettled([
      convertCheckpoint({ checkpointDir, outDir, dtype: 'fp32' }),
      convertCheckpoint({ checkpointDir, outDir, dtype: 'int4' }),
    ]);
    const fulfilled = results.filter((result) => result.status === 'fulfilled');
    const rejected = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    assert.equal(fulfilled.length, 1);
    assert.equal(rejected.length, 1);
    assert.match(String(rejected[0]!.reason.message), /appeared while converting|already exists/);
    assert.deepEqual(readdirSync(outParent), ['package']);
    const manifest = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8')) as { dtype: string };
    assert.equal(manifest.dtype, (fulfilled[0] as PromiseFulfilledResult<{ dtype: string }>).value.dtype);
  });

  it('the CLI prints the error without a stack trace and exits 1', () => {
    const { checkpointDir, outDir } = brokenCase((dir) => unlinkSync(join(dir, 'tokenizer_config.json')));
    const result = spawnSync(process.execPath, [hearthBin, 'convert', checkpointDir, '--out', outDir, '--dtype', 'fp16'], { encoding: 'utf8' });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^hearth convert: .*missing tokenizer_config\.json/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
    assert.equal(existsSync(outDir), false);
  });

  it('a cancelled conversion (AbortSignal) rejects with the reason and leaves nothing behind', async () => {
    const { checkpointDir, outParent, outDir } = brokenCase(() => {});
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    const conversion = convertCheckpoint({ checkpointDir, outDir, dtype: 'fp32', signal: controller.signal, onProgress: () => controller.abort(reason) });
    await assert.rejects(conversion, (error) => error === reason);
    assert.deepEqual(readdirSync(outParent), []);
  });

  it('removes temp dirs abandoned by a killed conversion and reports progress to the end', async () => {
    const { checkpointDir, outParent, outDir } = brokenCase(() => {});
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const abandoned = join(outParent, `.package.partial-${dead}-0badc0de`);
    mkdirSync(abandoned);
    writeFileSync(join(abandoned, 'model.onnx.data'), 'half-written');
    const events: { tensorsDone: number; tensorsTotal: number; bytesDone: number; bytesTotal: number }[] = [];
    await convertCheckpoint({ checkpointDir, outDir, dtype: 'int4', onProgress: (event) => events.push(event) });
    assert.deepEqual(readdirSync(outParent), ['package']);
    const last = events.at(-1)!;
    assert.equal(last.tensorsDone, last.tensorsTotal);
    assert.equal(last.bytesDone, last.bytesTotal);
    assert.equal(last.tensorsTotal, 2 + 1 + 2 * 9); // embed, norm, lm_head + 9 per layer
  });

  it('Ctrl-C during a conversion leaves nothing behind', async () => {
    // The CLI's test hook holds the conversion before layer 1 (its temporary directory already
    // written) until it is cancelled, so the interrupt lands mid-conversion on any machine.
    const outParent = mkdtempSync(join(scratch, 'sigint-'));
    const outDir = join(outParent, 'package');
    const child = spawn(process.execPath, [hearthBin, 'convert', goodCheckpoint, '--out', outDir, '--dtype', 'int4'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HEARTH_TEST_HOLD_CONVERSION_AT_LAYER: '1' },
    });
    let stderr = '';
    let partialWhileHeld: string[] = [];
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (partialWhileHeld.length === 0 && /conversion held before layer 1/.test(stderr)) {
        partialWhileHeld = readdirSync(outParent);
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(partialWhileHeld.length, 1, `the conversion was interrupted while it had its temporary directory (stderr: ${stderr})`);
    assert.match(partialWhileHeld[0]!, /^\.package\.partial-/);
    assert.equal(code, 130);
    assert.match(stderr, /conversion cancelled \(SIGINT\); nothing was written/);
    assert.deepEqual(readdirSync(outParent), []);
  });
});
