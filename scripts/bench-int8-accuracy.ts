// How far `hearth serve --cpu-int8-matmul`'s graph (engine/runtime/int8MatMul.ts) is from the
// float64 reference on the int4-rounded checkpoint, beside the shipped int4 graph (MatMulNBits,
// int8 activations per 32 inputs): max and mean relative logit error over a 9-token prompt and 19
// greedy steps, per fixture architecture. The fixtures' weights are random (no activation
// outliers), so this bounds the kernels' rounding, not a real checkpoint's loss.
//
//   node --import tsx scripts/bench-int8-accuracy.ts
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { readAt } from '../engine/convert/halfGraph.js';
import { int8MatMulVariant } from '../engine/runtime/int8MatMul.js';
import { DecoderRunner } from '../test/fixtures/decoderRunner.js';
import { ensureFixturePackage } from '../test/fixtures/packages.js';
import { maxRelativeError } from '../test/fixtures/parity.js';
import { argmax, ReferenceSession } from '../test/fixtures/referenceModel.js';
import { writeRoundedCheckpoint } from '../test/fixtures/roundedCheckpoint.js';
const scratch = mkdtempSync(join(tmpdir(), 'hearth-int8-accuracy-'));
for (const arch of ['llama', 'mistral', 'qwen2', 'qwen3', 'phi3', 'gemma2', 'gemma3', 'smollm3', 'granite', 'olmo2'] as const) {
  const { packageDir, checkpointDir, manifest } = await ensureFixturePackage({ arch, dtype: 'int4' });
  const bytes = readFileSync(join(packageDir, manifest.files.model));
  const fd = openSync(join(packageDir, manifest.files.modelData), 'r');
  const variant = int8MatMulVariant(bytes, manifest.shape.vocabSize, (offset, length) => readAt(fd, offset, length))!;
  closeSync(fd);
  const rounded = join(scratch, arch);
  if (!existsSync(rounded)) writeRoundedCheckpoint(checkpointDir, rounded, 'int4');
  const int8 = await DecoderRunner.open(packageDir, manifest, variant.model);
  const shipped = await DecoderRunner.open(packageDir, manifest);
  const reference = new ReferenceSession(rounded);
  let tokens = [5, 17, 300, 42, 7, 99, 256, 3, 411];
  const errors = { int8: [] as number[], shipped: [] as number[] };
  for (let step = 0; step < 20; step++) {
    const [int8Logits] = await int8.step([{ rowId: 0, tokenIds: tokens }]);
    const [shippedLogits] = await shipped.step([{ rowId: 0, tokenIds: tokens }]);
    const expected = reference.feed(tokens);
    errors.int8.push(maxRelativeError(expected, int8Logits!));
    errors.shipped.push(maxRelativeError(expected, shippedLogits!));
    tokens = [argmax(expected)];
  }
  const summary = (list: number[]) => `max ${Math.max(...list).toFixed(4)} mean ${(list.reduce((a, b) => a + b, 0) / list.length).toFixed(4)}`;
  console.log(`${arch.padEnd(8)} int8 matmuls ${summary(errors.int8)} | shipped int4 graph ${summary(errors.shipped)}`);
  await int8.release();
  await shipped.release();
}
rmSync(scratch, { recursive: true, force: true });
