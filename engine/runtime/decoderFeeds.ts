// What both KV-cache residencies share: the decoder's non-cache inputs for a set of rows, the
// run's result shape, and the host↔device byte meter behind hearth_device_transfer_bytes_total.
import * as ort from 'onnxruntime-node';
import type { GraphContract } from '../common/manifest.js';

export interface RowsRun {
  /** Per row: the tokens fed this run (right-padded to the longest). */
  inputIds: number[][];
  /** Per row: position of its first fed token = tokens already cached in that row. */
  startPositions: number[];
}

export interface RunOutput {
  /** [rows, logitsWidth], on the host. */
  logits: Float32Array;
  logitsWidth: number;
  runMs: number;
}

/** The store's view of what a step moved: cache ops applied, K/V scattered on the host. */
export interface KvStorePhases {
  cacheOpsMs: number;
  scatterMs: number;
}

export interface LayerNames {
  pastKey: string[];
  pastValue: string[];
  newKey: string[];
  newValue: string[];
  presentKey: string[];
  presentValue: string[];
}

export function layerNames(graph: GraphContract): LayerNames {
  const names = (template: string | undefined) => Array.from({ length: graph.numLayers }, (_, layer) => (template ?? '').replace('{layer}', String(layer)));
  return {
    pastKey: names(graph.inputs.pastKey),
    pastValue: names(graph.inputs.pastValue),
    newKey: names(graph.outputs.newKey),
    newValue: names(graph.outputs.newValue),
    presentKey: names(graph.outputs.presentKey),
    presentValue: names(graph.outputs.presentValue),
  };
}

export const int64Tensor = (values: readonly number[], dims: readonly number[] = [values.length]) =>
  new ort.Tensor('int64', BigInt64Array.from(values, (value) => BigInt(value)), dims);

/**
 * input_ids, position_ids, seqlens_k, total_sequence_length and last_token_index for `run`
 * (graph contract in engine/convert/README.md). Padded slots repeat the row's last position.
 */
export function decoderInputs(graph: GraphContract, run: RowsRun, totalSequenceLengthDims: number[]): { feeds: Record<string, ort.Tensor>; sequenceLength: number } {
  const numRows = run.inputIds.length;
  const sequenceLength = Math.max(...run.inputIds.map((ids) => ids.length));
  const flatIds = new BigInt64Array(numRows * sequenceLength);
  const flatPositions = new BigInt64Array(numRows * sequenceLength);
  const seqlensK = new Int32Array(numRows);
  const lastTokenIndex = new BigInt64Array(numRows);
  let totalSequenceLength = 0;
  for (let row = 0; row < numRows; row++) {
    const ids = run.inputIds[row]!;
    const start = run.startPositions[row]!;
    for (let s = 0; s < sequenceLength; s++) {
      flatIds[row * sequenceLength + s] = BigInt(s < ids.length ? ids[s]! : 0);
      flatPositions[row * sequenceLength + s] = BigInt(start + Math.min(s, ids.length - 1));
    }
    const lengthAfter = start + ids.length;
    seqlensK[row] = lengthAfter - 1;
    lastTokenIndex[row] = BigInt(ids.length - 1);
    totalSequenceLength = Math.max(totalSequenceLength, lengthAfter);
  }
  return {
    sequenceLength,
    feeds: {
      [graph.inputs.inputIds]: new ort.Tensor('int64', flatIds, [numRows, sequenceLength]),
      [graph.inputs.positionIds]: new ort.Tensor('int64', flatPositions, [numRows, sequenceLength]),
      [graph.inputs.seqlensK]: new ort.Tensor('int32', seqlensK, [numRows]),
      [graph.inputs.totalSequenceLength]: new ort.Tensor('int32', Int32Array.of(totalSequenceLength), totalSequenceLengthDims),
      [graph.inputs.lastTokenIndex]: new ort.Tensor('int64', lastTokenIndex, [numRows]),
    },
  };
}

/**
 * Bytes that cross between host memory and an accelerator: every host tensor fed to a session
 * running on the device, and every host tensor it returns. On the CPU provider nothing crosses
 * (the meter is off and reads 0).
 */
export class TransferMeter {
  toDeviceBytes = 0;
  toHostBytes = 0;

  constructor(readonly enabled: boolean) {}

  fed(tensors: Record<string, ort.Tensor>): void {
    if (!this.enabled) return;
    for (const tensor of Object.values(tensors)) if (tensor.location === 'cpu') this.toDeviceBytes += hostBytes(tensor);
  }

  returned(tensors: Iterable<ort.Tensor | undefined>): void {
    if (!this.enabled) return;
    for (const tensor of tensors) if (tensor && tensor.location === 'cpu') this.toHostBytes += hostBytes(tensor);
  }

  /** Bytes since the last call (each step reports its own). */
  take(): { toDeviceBytes: number; toHostBytes: number } {
    const taken = { toDeviceBytes: this.toDeviceBytes, toHostBytes: this.toHostBytes };
    this.toDeviceBytes = this.toHostBytes = 0;
    return taken;
  }
}

function hostBytes(tensor: ort.Tensor): number {
  const data = tensor.data as ArrayBufferView;
  return data.byteLength;
}
