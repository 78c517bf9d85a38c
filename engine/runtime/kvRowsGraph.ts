// The small ONNX graph a device-resident KV cache uses for continuous batching's row work:
// admitting, finishing, compacting, restriding and preempting rows all become one gather over
// rows, run on the same device as the decoder so no cache byte crosses to the host.
//
// For each of the 2·numLayers cache tensors (key.0, value.0, key.1, …):
//   out = Gather(Concat(fit(base), zeroRow, fit(extra)), rows, axis 0)
// where fit() slices/pads the sequence axis to the target stride, zeroRow is one all-zero row
// (built on the device by Expand) and `rows` picks, per output row, a base row (0..R-1), the
// zero row (R) or an extra row (R+1+e). Only the index and shape inputs (a few int64s) come
// from the host.
import { GraphBuilder } from '../convert/onnx/graphBuilder.js';

export const KV_ROWS_INPUTS = {
  rows: 'rows',
  baseEnd: 'base_end',
  basePads: 'base_pads',
  extraEnd: 'extra_end',
  extraPads: 'extra_pads',
  zeroShape: 'zero_shape',
  base: (tensor: number) => `base.${tensor}`,
  extra: (tensor: number) => `extra.${tensor}`,
} as const;
export const kvRowsOutput = (tensor: number) => `out.${tensor}`;

export interface KvRowsGraphShape {
  numTensors: number;
  numKvHeads: number;
  headDim: number;
  elementType: 'float32' | 'float16';
}

export function buildKvRowsGraph({ numTensors, numKvHeads, headDim, elementType }: KvRowsGraphShape): Uint8Array {
  const g = new GraphBuilder(null);
  const rows = g.input(KV_ROWS_INPUTS.rows, 'int64', ['out_rows']);
  const baseEnd = g.input(KV_ROWS_INPUTS.baseEnd, 'int64', [1]);
  const basePads = g.input(KV_ROWS_INPUTS.basePads, 'int64', [8]);
  const extraEnd = g.input(KV_ROWS_INPUTS.extraEnd, 'int64', [1]);
  const extraPads = g.input(KV_ROWS_INPUTS.extraPads, 'int64', [8]);
  const zeroShape = g.input(KV_ROWS_INPUTS.zeroShape, 'int64', [4]);
  const zeroRow = g.op('Expand', [g.constant('zero', elementType, [1], new Uint8Array(elementType === 'float16' ? 2 : 4)), zeroShape]);
  const start = g.int64s([0]);
  const sequenceAxis = g.int64s([2]);
  for (let tensor = 0; tensor < numTensors; tensor++) {
    const base = g.input(KV_ROWS_INPUTS.base(tensor), elementType, ['base_rows', numKvHeads, 'base_length', headDim]);
    const extra = g.input(KV_ROWS_INPUTS.extra(tensor), elementType, ['extra_rows', numKvHeads, 'extra_length', headDim]);
    const fitBase = g.op('Pad', [g.op('Slice', [base, start, baseEnd, sequenceAxis]), basePads]);
    const fitExtra = g.op('Pad', [g.op('Slice', [extra, start, extraEnd, sequenceAxis]), extraPads]);
    const stacked = g.op('Concat', [fitBase, zeroRow, fitExtra], { attributes: { axis: 0 } });
    g.op('Gather', [stacked, rows], { attributes: { axis: 0 }, output: kvRowsOutput(tensor) });
    g.output(kvRowsOutput(tensor), elementType, ['out_rows', numKvHeads, 'stride', headDim]);
  }
  return g.encodeModel({ '': 17 }, 'hearth-kv-rows');
}
