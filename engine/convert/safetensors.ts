// Reads safetensors files without trusting them: the header is validated (length, JSON,
// dtypes, shapes against byte sizes, offsets inside the file and not overlapping) before any
// tensor is read, and tensors are read one at a time with positioned reads, so the file is
// never loaded whole.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { ConvertError } from '../common/convertError.js';
import { fromFloat16Array } from './quantize.js';

/** Storage dtypes the converter can read as weights. */
export type StorageDtype = 'F32' | 'F16' | 'BF16';
const CONVERTIBLE: readonly string[] = ['F32', 'F16', 'BF16'];
/** Every dtype the safetensors format defines; others make the file invalid. */
const bytesPerElement: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};
/** Headers above this are not plausible for a checkpoint and would only exhaust memory. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorInfo {
  name: string;
  /** A safetensors dtype; only StorageDtype tensors can be read as float32. */
  dtype: string;
  shape: number[];
  /** Absolute byte offset in the file. */
  offset: number;
  byteLength: number;
}

export class SafetensorsFile {
  readonly tensors: Map<string, TensorInfo>;
  private fd: number | null;

  private constructor(readonly path: string, fd: number, tensors: Map<string, TensorInfo>) {
    this.fd = fd;
    this.tensors = tensors;
  }

  static open(path: string): SafetensorsFile {
    const fd = openSync(path, 'r');
    try {
      return new SafetensorsFile(path, fd, parseHeader(path, fd));
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new ConvertError(`${basename(this.path)} has no tensor named '${name}'.`);
    return info;
  }

  /** Reads one tensor's raw bytes, or `byteLength` bytes from `byteStart` within it. */
  readBytes(name: string, byteStart = 0, byteLength?: number): Uint8Array {
    const info = this.info(name);
    const length = byteLength ?? info.byteLength - byteStart;
    if (byteStart < 0 || length < 0 || byteStart + length > info.byteLength) throw new Error(`bug: read of ${name} outside the tensor`);
    if (this.fd === null) throw new Error(`bug: ${this.path} read after close`);
    const bytes = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const read = readSync(this.fd, bytes, done, length - done, info.offset + byteStart + done);
      if (read === 0) throw new ConvertError(`${basename(this.path)} ended while reading '${name}': the file is truncated; download it again.`);
      done += read;
    }
    return bytes;
  }

  /** Reads one tensor as float32 (F16 and BF16 widen exactly); optionally only rows [rowStart, rowEnd) of a 2-D tensor. */
  readFloat32(name: string, rows?: { start: number; end: number }): Float32Array {
    const { dtype, shape } = this.info(name);
    if (!CONVERTIBLE.includes(dtype)) {
      throw new ConvertError(`tensor '${name}' in ${basename(this.path)} is stored as ${dtype}; hearth converts F32, F16 and BF16 weights. Use an unquantized revision of the model.`);
    }
    if (!rows) return decodeToFloat32(this.readBytes(name), dtype as StorageDtype);
    const rowBytes = (shape.slice(1).reduce((a, b) => a * b, 1)) * bytesPerElement[dtype]!;
    return decodeToFloat32(this.readBytes(name, rows.start * rowBytes, (rows.end - rows.start) * rowBytes), dtype as StorageDtype);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

export function decodeToFloat32(bytes: Uint8Array, dtype: StorageDtype): Float32Array {
  const count = bytes.byteLength / bytesPerElement[dtype];
  if (dtype === 'F32') {
    return new Float32Array(bytes.buffer, bytes.byteOffset, count);
  }
  const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
  const out = new Float32Array(count);
  if (dtype === 'BF16') {
    const outBits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) outBits[i] = halves[i]! << 16;
  } else {
    fromFloat16Array(halves, out);
  }
  return out;
}

function parseHeader(path: string, fd: number): Map<string, TensorInfo> {
  const file = basename(path);
  const fileBytes = fstatSync(fd).size;
  const corrupt = (what: string) => new ConvertError(`${file} is not a valid safetensors file: ${what}. Download it again or convert from a different revision.`);
  if (fileBytes < 8) throw corrupt(`it is ${fileBytes} bytes long, shorter than the 8-byte header length`);
  const lengthBytes = Buffer.alloc(8);
  readSync(fd, lengthBytes, 0, 8, 0);
  const headerBytes = lengthBytes.readBigUInt64LE(0);
  if (headerBytes > BigInt(fileBytes - 8)) throw corrupt(`the header length (${headerBytes} bytes) runs past the end of the file (${fileBytes} bytes)`);
  if (headerBytes > BigInt(MAX_HEADER_BYTES)) throw corrupt(`the header length (${headerBytes} bytes) is implausibly large`);
  const headerLength = Number(headerBytes);
  const header = Buffer.alloc(headerLength);
  readSync(fd, header, 0, headerLength, 8);
  let parsed: unknown;
  try {
    parsed = JSON.parse(header.toString('utf8'));
  } catch {
    throw corrupt('the header is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw corrupt('the header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataBytes = fileBytes - dataStart;
  const tensors = new Map<string, TensorInfo>();
  for (const [name, entry] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !(dtype in bytesPerElement)) {
      throw corrupt(`tensor '${name}' has unknown dtype ${JSON.stringify(dtype)}`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw corrupt(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw corrupt(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin || end > dataBytes) throw corrupt(`tensor '${name}' has data_offsets [${begin}, ${end}] outside the ${dataBytes} data bytes`);
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = elements * bytesPerElement[dtype]!;
    if (end - begin !== expected) {
      throw corrupt(`tensor '${name}' has shape [${(shape as number[]).join(', ')}] (${expected} bytes as ${dtype}) but ${end - begin} data bytes`);
    }
    tensors.set(name, { name, dtype, shape: shape as number[], offset: dataStart + begin, byteLength: end - begin });
  }
  const sorted = [...tensors.values()].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1]!;
    const current = sorted[i]!;
    if (current.offset < previous.offset + previous.byteLength && current.byteLength > 0 && previous.byteLength > 0) {
      throw corrupt(`tensors '${previous.name}' and '${current.name}' have overlapping data`);
    }
  }
  return tensors;
}
