// Appends tensor bytes to `model.onnx.data` as they are produced, so the converter holds at
// most one tensor in memory. Offsets are page-aligned so onnxruntime can map them directly.
import { closeSync, openSync, writeSync } from 'node:fs';

const ALIGNMENT_BYTES = 4096;

export interface ExternalLocation {
  offset: number;
  length: number;
}

export class ExternalDataWriter {
  private readonly fd: number;
  private bytesWritten = 0;

  constructor(readonly path: string, readonly location: string) {
    this.fd = openSync(path, 'w');
  }

  append(bytes: Uint8Array): ExternalLocation {
    const tensor = this.begin();
    tensor.write(bytes);
    return tensor.end();
  }

  /** Starts a tensor written in chunks (no other tensor may be appended until `end`). */
  begin(): { write(bytes: Uint8Array): void; end(): ExternalLocation } {
    const offset = Math.ceil(this.bytesWritten / ALIGNMENT_BYTES) * ALIGNMENT_BYTES;
    let position = offset;
    return {
      write: (bytes) => {
        let written = 0;
        while (written < bytes.byteLength) {
          written += writeSync(this.fd, bytes, written, bytes.byteLength - written, position + written);
        }
        position += bytes.byteLength;
      },
      end: () => {
        this.bytesWritten = position;
        return { offset, length: position - offset };
      },
    };
  }

  get totalBytes(): number {
    return this.bytesWritten;
  }

  close(): void {
    closeSync(this.fd);
  }
}
