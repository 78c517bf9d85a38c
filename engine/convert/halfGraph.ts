// The half-precision device variant of the decoder graph (`model.f16.onnx`, fp16 and int4
// packages): the same graph, names and contract with fp16 activations and an fp16 KV cache, for
// GPUs with `shader-f16`. It shares the package's model.onnx.data: fp16 tables and int4 codes are
// referenced where they are; the few fp32 tensors (norm weights, rotary tables, biases, int4
// scales: well under 1 % of the weights) are stored inline as fp16. Logits stay float32 (a final
// Cast) so sampling is unchanged.
import { readSync } from 'node:fs';
import type { onnx as P } from 'onnx-proto';
import { DataType } from './onnx/graphBuilder.js';
import { toFloat16Bits } from './quantize.js';

/** Graph inputs/outputs that carry the KV cache (float16 in the variant). */
const CACHE_TENSOR = /^(past|present|new)_(key|value)\.\d+$/;

/** `readExternal(offset, length)` reads bytes of the package's external data file. */
export function halfPrecisionVariant(model: P.IModelProto, logitsName: string, readExternal: (offset: number, length: number) => Uint8Array): P.IModelProto {
  const graph = model.graph!;
  const initializers = graph.initializer!.map((tensor): P.ITensorProto => {
    if (tensor.dataType !== DataType.FLOAT) return tensor;
    const bytes = initializerBytes(tensor, readExternal);
    const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const half = toFloat16Bits(floats);
    return { name: tensor.name, dims: tensor.dims, dataType: DataType.FLOAT16, rawData: new Uint8Array(half.buffer) };
  });
  const logitsHalf = `${logitsName}_f16`;
  const nodes = graph.node!.map((node): P.INodeProto => {
    const renamed = { ...node, output: node.output!.map((name) => (name === logitsName ? logitsHalf : name)) };
    if (node.opType !== 'Cast') return renamed;
    return {
      ...renamed,
      attribute: node.attribute!.map((attribute) => (attribute.name === 'to' && Number(attribute.i) === DataType.FLOAT ? { ...attribute, i: DataType.FLOAT16 } : attribute)),
    };
  });
  nodes.push({ opType: 'Cast', domain: '', name: 'logits_to_float32', input: [logitsHalf], output: [logitsName], attribute: [{ name: 'to', type: 2 /* INT */, i: DataType.FLOAT }] });
  const retype = (info: P.IValueInfoProto): P.IValueInfoProto =>
    CACHE_TENSOR.test(info.name ?? '') ? { ...info, type: { tensorType: { ...info.type!.tensorType!, elemType: DataType.FLOAT16 } } } : info;
  return {
    ...model,
    graph: { ...graph, node: nodes, initializer: initializers, input: graph.input!.map(retype), output: graph.output!.map(retype) },
  };
}

/** An initializer's bytes: inline, or read from the model's external data file. */
export function initializerBytes(tensor: P.ITensorProto, readExternal: (offset: number, length: number) => Uint8Array): Uint8Array {
  if (tensor.dataLocation !== 1 /* EXTERNAL */) return tensor.rawData as Uint8Array;
  const entry = (key: string) => Number(tensor.externalData!.find((item) => item.key === key)!.value);
  return readExternal(entry('offset'), entry('length'));
}

/** Reads `length` bytes at `offset` of an open file. */
export function readAt(fd: number, offset: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const read = readSync(fd, bytes, done, length - done, offset + done);
    if (read === 0) throw new Error(`external data ends at ${offset + done}, expected ${offset + length} (bug)`);
    done += read;
  }
  return bytes;
}
