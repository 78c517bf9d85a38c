// Progress events of `hearth pull` (engine/hub/pull.ts): the terminal progress bar and the GUI
// consume the same stream. Runtime-free so the renderer can import the types.
import type { ModelDtype } from './manifest.js';

export interface PullFileSummary {
  path: string;
  bytes: number;
  /** Already complete in the HF cache (no download). */
  cached: boolean;
  /** Bytes of a partial download already on disk (resumed, not fetched again). */
  partialBytes: number;
}

export type PullEvent =
  | {
      type: 'resolved';
      repo: string;
      revision: string;
      commit: string;
      /** Library name the model gets. */
      name: string;
      files: PullFileSummary[];
      totalBytes: number;
      /** Bytes still to fetch over the network. */
      bytesToDownload: number;
    }
  | { type: 'fit'; kind: 'fits' | 'fits-reduced' | 'does-not-fit'; message: string }
  | { type: 'file-start'; path: string; bytes: number; resumedFromBytes: number }
  | {
      type: 'progress';
      path: string;
      fileBytesDone: number;
      fileBytes: number;
      totalBytesDone: number;
      totalBytes: number;
      /** Network rate since the download started, bytes/s. */
      bytesPerSec: number;
      /** Seconds left at that rate; null until there is a rate. */
      etaSec: number | null;
    }
  | { type: 'retry'; path: string; attempt: number; delayMs: number; reason: string }
  | { type: 'verifying'; path: string }
  | { type: 'file-done'; path: string; source: 'downloaded' | 'hf-cache' }
  | { type: 'convert-start'; dtype: ModelDtype; packageDir: string }
  | { type: 'convert-progress'; tensorsDone: number; tensorsTotal: number; bytesDone: number; bytesTotal: number }
  | { type: 'done'; name: string; dtype: ModelDtype; packageDir: string; weightsBytes: number; reusedPackage: boolean }
  | { type: 'error'; message: string };
