// Weight encodings for the fp16 and int4 packages.
//
// int4 follows com.microsoft MatMulNBits (bits 4, asymmetric, block B = 32 by default, 64 or 128
// on request): for an ONNX MatMul weight W [K, N] (K inputs, N outputs), each output column n is
// cut into K/B blocks; a block stores B/2 bytes of 4-bit codes (element 2i in the low nibble of byte i, 2i+1 in the high one),
// one scale and one 4-bit zero point: w = (code - zeroPoint) * scale. Scales are float16 values
// (stored as fp16, cast to fp32 at session load): half the bytes of fp32 scales, and the
// half-precision GPU graph reads the same ones.

import { DEFAULT_INT4_LAYOUT } from '../common/memoryEstimate.js';

export const DEFAULT_INT4_BLOCK_SIZE = DEFAULT_INT4_LAYOUT.blockSize;

export interface Int4Weight {
  /** uint8 [N, kBlocks, blockSize / 2] */
  codes: Uint8Array;
  /** [N * kBlocks], each exactly representable in float16 */
  scales: Float32Array;
  /** uint8 [N * ceil(kBlocks / 2)]: two 4-bit zero points per byte, low nibble first. */
  zeroPoints: Uint8Array;
  kBlocks: number;
  blockSize: number;
}

/**
 * Quantizes `weightOutIn`, an HF Linear weight laid out [N, K] (row n = output n), which is
 * exactly the per-output-column order MatMulNBits wants. K not a multiple of the block is zero-padded.
 */
export function quantizeInt4(weightOutIn: Float32Array, numOut: number, numIn: number, blockSize = DEFAULT_INT4_BLOCK_SIZE): Int4Weight {
  const kBlocks = Math.ceil(numIn / blockSize);
  const blobBytes = blockSize / 2;
  const zpBytesPerRow = Math.ceil(kBlocks / 2);
  const codes = new Uint8Array(numOut * kBlocks * blobBytes);
  const scales = new Float32Array(numOut * kBlocks);
  const zeroPoints = new Uint8Array(numOut * zpBytesPerRow);
  const block = new Float32Array(blockSize);
  for (let n = 0; n < numOut; n++) {
    const rowOffset = n * numIn;
    for (let kb = 0; kb < kBlocks; kb++) {
      block.fill(0);
      const start = kb * blockSize;
      const end = Math.min(start + blockSize, numIn);
      let min = 0;
      let max = 0;
      for (let k = start; k < end; k++) {
        const value = weightOutIn[rowOffset + k]!;
        block[k - start] = value;
        if (value < min) min = value;
        if (value > max) max = value;
      }
      // The range always includes 0 so that zero-padding and exact zeros stay exact.
      const scale = max > min ? toFloat16Scale((max - min) / 15) : 1;
      const zeroPoint = Math.min(15, Math.max(0, Math.round(-min / scale)));
      scales[n * kBlocks + kb] = scale;
      const zpIndex = n * zpBytesPerRow + (kb >> 1);
      zeroPoints[zpIndex] = zeroPoints[zpIndex]! | (zeroPoint << ((kb & 1) * 4));
      const blobOffset = (n * kBlocks + kb) * blobBytes;
      for (let i = 0; i < blockSize; i += 2) {
        const low = clampCode(Math.round(block[i]! / scale) + zeroPoint);
        const high = clampCode(Math.round(block[i + 1]! / scale) + zeroPoint);
        codes[blobOffset + i / 2] = low | (high << 4);
      }
    }
  }
  return { codes, scales, zeroPoints, kBlocks, blockSize };
}

/** The nearest float16 value, kept above zero (codes divide by it) and finite. */
function toFloat16Scale(scale: number): number {
  const half = fromFloat16Bits(toFloat16Bits(Float32Array.of(scale))[0]!);
  return Math.min(HALF_MAX, Math.max(HALF_MIN_SUBNORMAL, half));
}
const HALF_MAX = 65504;
const HALF_MIN_SUBNORMAL = 2 ** -24;

function clampCode(code: number): number {
  return code < 0 ? 0 : code > 15 ? 15 : code;
}

/** Dequantizes back to [N, K] (tests and error reports). */
export function dequantizeInt4(weight: Int4Weight, numOut: number, numIn: number): Float32Array {
  const out = new Float32Array(numOut * numIn);
  const zpBytesPerRow = Math.ceil(weight.kBlocks / 2);
  for (let n = 0; n < numOut; n++) {
    for (let k = 0; k < numIn; k++) {
      const kb = Math.floor(k / weight.blockSize);
      const i = k % weight.blockSize;
      const byte = weight.codes[(n * weight.kBlocks + kb) * (weight.blockSize / 2) + (i >> 1)]!;
      const code = (i & 1) === 0 ? byte & 15 : byte >> 4;
      const zp = (weight.zeroPoints[n * zpBytesPerRow + (kb >> 1)]! >> ((kb & 1) * 4)) & 15;
      out[n * numIn + k] = (code - zp) * weight.scales[n * weight.kBlocks + kb]!;
    }
  }
  return out;
}

/** float32 -> IEEE half (round to nearest even), as raw uint16 bits. */
export function toFloat16Bits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfFromBits(bits[i]!);
  return out;
}

function halfFromBits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - halfExponent;
    let half = mantissa >>> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/** float16 bits → float32 for every one of the 65536 patterns, built on first use. */
let halfTable: Float32Array | null = null;

/** IEEE half bits → float32, a whole array at once (by table). */
export function fromFloat16Array(halves: Uint16Array, out = new Float32Array(halves.length)): Float32Array {
  halfTable ??= Float32Array.from({ length: 65536 }, (_, bits) => fromFloat16Bits(bits));
  for (let i = 0; i < halves.length; i++) out[i] = halfTable[halves[i]!]!;
  return out;
}

/** IEEE half bits -> float32. */
export function fromFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

