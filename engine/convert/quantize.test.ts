import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { INT4_BLOCK_SIZES } from '../common/memoryEstimate.js';
import { dequantizeInt4, fromFloat16Array, fromFloat16Bits, quantizeInt4, toFloat16Bits } from './quantize.js';

describe('fp16 conversion', () => {
  it('round-trips representable values and rounds to nearest even', () => {
    const values = Float32Array.of(0, -0, 1, -2.5, 65504, 6.103515625e-5, 5.960464477539063e-8, 1 + 2 ** -11, 1 + 3 * 2 ** -11);
    const back = Array.from(toFloat16Bits(values), fromFloat16Bits);
    assert.deepEqual(back.slice(0, 7), [0, -0, 1, -2.5, 65504, 6.103515625e-5, 5.960464477539063e-8]);
    assert.equal(back[7], 1); // halfway: ties to even (down)
    assert.equal(back[8], 1 + 2 * 2 ** -10); // halfway: ties to even (up)
  });

  it('overflows to infinity and keeps NaN', () => {
    const back = Array.from(toFloat16Bits(Float32Array.of(1e6, -1e6, NaN)), fromFloat16Bits);
    assert.equal(back[0], Infinity);
    assert.equal(back[1], -Infinity);
    assert.ok(Number.isNaN(back[2]));
  });
});

describe('int4 quantization (MatMulNBits layout)', () => {
  for (const blockSize of INT4_BLOCK_SIZES) {
    it(`block ${blockSize}: reconstructs every weight within half a quantization step of its block`, () => {
      const numOut = 5;
      const numIn = 150; // not a multiple of any block: the last block is zero-padded
      const weights = Float32Array.from({ length: numOut * numIn }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 7)));
      const q = quantizeInt4(weights, numOut, numIn, blockSize);
      assert.equal(q.blockSize, blockSize);
      assert.equal(q.kBlocks, Math.ceil(numIn / blockSize));
      assert.equal(q.codes.length, numOut * q.kBlocks * (blockSize / 2));
      assert.equal(q.scales.length, numOut * q.kBlocks);
      assert.equal(q.zeroPoints.length, numOut * Math.ceil(q.kBlocks / 2));
      const restored = dequantizeInt4(q, numOut, numIn);
      for (let n = 0; n < numOut; n++) {
        for (let k = 0; k < numIn; k++) {
          const scale = q.scales[n * q.kBlocks + Math.floor(k / blockSize)]!;
          assert.ok(Math.abs(restored[n * numIn + k]! - weights[n * numIn + k]!) <= scale / 2 + 1e-6, `weight ${n},${k}`);
        }
      }
    });
  }

  it('stores scales as float16 values', () => {
    const q = quantizeInt4(Float32Array.from({ length: 3 * 64 }, (_, i) => Math.cos(i) * 0.37), 3, 64);
    for (const scale of q.scales) assert.equal(fromFloat16Bits(toFloat16Bits(Float32Array.of(scale))[0]!), scale);
  });

  it('keeps exact zeros exact and handles constant blocks', () => {
    const weights = new Float32Array(2 * 32);
    weights.fill(0.75, 32);
    weights[3] = -1;
    const restored = dequantizeInt4(quantizeInt4(weights, 2, 32), 2, 32);
    assert.equal(restored[0], 0);
    // -1 and 0.75 are 15 steps of their block; a float16 scale holds a step to 2^-11 relative.
    assert.ok(Math.abs(restored[3]! + 1) <= 2 ** -10);
    for (let k = 32; k < 64; k++) assert.ok(Math.abs(restored[k]! - 0.75) <= 0.75 * 2 ** -10, `${restored[k]}`);
  });
});

describe('int4 rounding error on Gaussian weights (the bound convertQuantized.test.ts puts on every fixture)', () => {
  // Box–Muller on a fixed LCG: N(0, 1) weights, 256 × 256 (2048 blocks).
  const numOut = 256;
  const numIn = 256;
  let state = 12345;
  const uniform = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  const weights = Float32Array.from({ length: numOut * numIn }, () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()));
  const relativeRms = (restored: Float32Array) => {
    let error = 0;
    let energy = 0;
    weights.forEach((value, i) => {
      error += (value - restored[i]!) ** 2;
      energy += value ** 2;
    });
    return Math.sqrt(error / energy);
  };
  const q = quantizeInt4(weights, numOut, numIn);

  it("is 4 bits' step/√12: ≈ 0.080 of the weights' RMS", () => {
    // A block of 32 spans ≈ 4.09σ, 15 steps: step/√12 ≈ 0.0797σ.
    const error = relativeRms(dequantizeInt4(q, numOut, numIn));
    assert.ok(error > 0.075 && error < 0.085, `${error}`);
  });

  it('grows with the block: wider blocks span more σ in the same 15 steps (64: ≈ 0.091, 128: ≈ 0.101)', () => {
    // The expected range of 64 and 128 Gaussian samples is ≈ 4.65σ and ≈ 5.2σ; llama.cpp's Q4_0
    // (symmetric, block 32) measures ≈ 0.086 on the same weights: 64 is its peer, 32 better.
    const at = (blockSize: number) => relativeRms(dequantizeInt4(quantizeInt4(weights, numOut, numIn, blockSize), numOut, numIn));
    const [e64, e128] = [at(64), at(128)];
    assert.ok(e64 > 0.086 && e64 < 0.097, `block 64: ${e64}`);
    assert.ok(e128 > 0.095 && e128 < 0.108, `block 128: ${e128}`);
  });

  it('a broken quantizer exceeds the 0.09 bound: a zero point one step off, or a code bit dropped (3 bits)', () => {
    const shiftedZeroPoints = { ...q, zeroPoints: q.zeroPoints.map((byte) => (((byte & 15) + 1) & 15) | (((((byte >> 4) + 1) & 15)) << 4)) };
    const threeBits = { ...q, codes: q.codes.map((byte) => byte & 0xee) };
    for (const [what, broken] of [['zero point + 1', shiftedZeroPoints], ['3-bit codes', threeBits]] as const) {
      const error = relativeRms(dequantizeInt4(broken, numOut, numIn));
      assert.ok(error > 0.09, `${what}: ${error}`);
    }
  });
});

describe('fromFloat16Array', () => {
  it('converts every float16 bit pattern as fromFloat16Bits does (zeros, subnormals, infinities, NaN)', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, bits) => bits);
    const converted = fromFloat16Array(all);
    for (let bits = 0; bits < 65536; bits++) assert.ok(Object.is(converted[bits], Math.fround(fromFloat16Bits(bits))), `bits ${bits}`);
    // Into a given array (the checkpoint reader's), and round trips with toFloat16Bits.
    const values = Float32Array.of(0, -0, 1.5, -65504, 6e-8, 3.14);
    const out = new Float32Array(values.length);
    assert.equal(fromFloat16Array(toFloat16Bits(values), out), out);
    assert.deepEqual(out, Float32Array.from(toFloat16Bits(values), (bits) => fromFloat16Bits(bits)));
  });
});
