// int8 matmuls for the CPU provider (`hearth serve --cpu-int8-matmul`): each int4 MatMulNBits of
// the decoder layers becomes MatMulIntegerToFloat over int8 weights expanded from the package's
// int4 blocks at load, with activations quantized to int8 per token. onnxruntime 1.30's CPU
// MatMulNBits (accuracy_level 4) multiplies a 256- or 512-token prefill chunk at roughly the rate
// of its fp32 GEMM; its u8s8 GEMM (MLAS, VNNI) is about twice as fast
// (scripts/bench-matmulnbits.ts --rows 256). The price, measured in docs/benchmarks.md:
//  - memory: the layers' weights take 1 byte a parameter instead of about 0.75 (4-bit codes plus
//    the fp32 scale and block sum MLAS keeps per 32), and the package folder gains the int8 copy;
//  - decode of a few streams reads those bytes each step and slows by about as much;
//  - accuracy: activations get one scale per token instead of one per 32 inputs, so one outlier
//    input coarsens its whole token; the weights are re-rounded to 8 bits per output column
//    (about 1/16 of the int4 rounding step).
// The lm_head (one row per sequence) keeps MatMulNBits. Every run goes through the same matmuls,
// so a token's K/V does not depend on whether it was prefilled or decoded, and prefix reuse stays
// exact.
//
// The expansion is kept in the package folder (INT8_CACHE_FILES: the variant graph and its int8
// weights, page-aligned for onnxruntime to map), written one matrix at a time, so a later load
// maps it instead of expanding again and no load holds the int8 weights in JavaScript memory. A
// folder that cannot be written gets the weights inline in the graph, expanded at every load.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { onnx as P } from 'onnx-proto';
import { initializerBytes, readAt } from '../convert/halfGraph.js';
import { PACKAGE_CACHE_FILES } from '../convert/modelPackage.js';
import { ExternalDataWriter } from '../convert/onnx/externalData.js';
import { DataType } from '../convert/onnx/graphBuilder.js';
import { GraphSplice } from '../convert/onnx/graphSplice.js';
import { onnx } from '../convert/onnx/proto.js';
import { fromFloat16Array } from '../convert/quantize.js';
import { isProcessAlive } from '../store/processAlive.js';

const float = (value: number) => new Uint8Array(Float32Array.of(value).buffer);

/** int8 weights for a MatMul over [K] inputs: [K, N] (MatMulIntegerToFloat's B), one scale per output column. */
export interface Int8Weight {
  values: Int8Array;
  columnScales: Float32Array;
}

/**
 * Expands MatMulNBits' 4-bit blocks (quantize.ts has the layout: codes [N, blocks, blockSize / 2],
 * scales [N × blocks], zero points two per byte, 8 when absent) into symmetric int8 with one scale
 * per output column n. The column's scale maps the largest magnitude its blocks can hold,
 * max over blocks of scale × max(zeroPoint, 15 − zeroPoint), to 127: the int4 quantizer puts a
 * block's extremes at codes 0 and 15, so that is the largest |w| (or a bound on it) and nothing
 * clips. A block's 16 codes map through a table (no per-element arithmetic).
 */
export function expandInt4ToInt8(
  codes: Uint8Array, scales: Float32Array, zeroPoints: Uint8Array | null, numIn: number, numOut: number, blockSize: number,
): Int8Weight {
  const blocks = Math.ceil(numIn / blockSize);
  const zpBytesPerRow = Math.ceil(blocks / 2);
  const values = new Int8Array(numIn * numOut);
  const columnScales = new Float32Array(numOut);
  const zeroPointOf = (n: number, block: number) => (zeroPoints ? (zeroPoints[n * zpBytesPerRow + (block >> 1)]! >> ((block & 1) * 4)) & 15 : 8);
  // TILE output columns at a time, so the transposed writes go out in runs of TILE bytes.
  const tile = new Int8Array(TILE * numIn);
  const table = new Int8Array(16);
  for (let n0 = 0; n0 < numOut; n0 += TILE) {
    const width = Math.min(TILE, numOut - n0);
    for (let t = 0; t < width; t++) {
      const n = n0 + t;
      let largest = 0;
      for (let block = 0; block < blocks; block++) {
        const zeroPoint = zeroPointOf(n, block);
        largest = Math.max(largest, Math.abs(scales[n * blocks + block]!) * Math.max(zeroPoint, 15 - zeroPoint));
      }
      const columnScale = largest > 0 ? largest / 127 : 1;
      columnScales[n] = columnScale;
      for (let block = 0; block < blocks; block++) {
        const zeroPoint = zeroPointOf(n, block);
        const factor = scales[n * blocks + block]! / columnScale;
        for (let code = 0; code < 16; code++) table[code] = Math.round((code - zeroPoint) * factor);
        const codeBase = (n * blocks + block) * (blockSize / 2);
        const at = t * numIn + block * blockSize;
        const pairs = Math.min(blockSize, numIn - block * blockSize) >> 1;
        for (let j = 0; j < pairs; j++) {
          const byte = codes[codeBase + j]!;
          tile[at + 2 * j] = table[byte & 15]!;
          tile[at + 2 * j + 1] = table[byte >> 4]!;
        }
      }
    }
    for (let k = 0; k < numIn; k++) {
      const out = k * numOut + n0;
      for (let t = 0; t < width; t++) values[out + t] = tile[t * numIn + k]!;
    }
  }
  return { values, columnScales };
}

const TILE = 64;

function floats(tensor: P.ITensorProto, bytes: Uint8Array): Float32Array {
  if (tensor.dataType === DataType.FLOAT) return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  if (tensor.dataType !== DataType.FLOAT16) throw new Error(`int8 matmuls: scales of type ${tensor.dataType} (bug)`);
  return fromFloat16Array(new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
}

export interface Int8MatMulVariant {
  model: Uint8Array;
  /** MatMulNBits nodes rewritten. */
  matrices: number;
  /** Bytes of int8 weights the variant holds. */
  int8Bytes: number;
}

/**
 * The variant of a decoder graph (the package's, or the CPU variant from cacheAttention.ts) whose
 * MatMulNBits nodes of output width other than `keepOutputs` (the lm_head's: the vocabulary) run
 * as int8 matmuls. Null when the graph has none to rewrite (fp32 and fp16 packages).
 * `readExternal(offset, length)` reads the package's model.onnx.data.
 */
export function int8MatMulVariant(
  modelBytes: Uint8Array, keepOutputs: number, readExternal: (offset: number, length: number) => Uint8Array,
  data: ExternalDataWriter | null = null, metadata: Record<string, string> = {}, onMatrix?: (done: number, total: number) => void,
): Int8MatMulVariant | null {
  const model = onnx.ModelProto.decode(modelBytes);
  const graph = model.graph!;
  const initializers = new Map(graph.initializer!.map((tensor) => [tensor.name!, tensor]));
  // The scales are stored as float16 and cast at load (decoderGraph.ts): look through that Cast.
  const castOf = new Map(graph.node!.filter((node) => node.opType === 'Cast' && initializers.has(node.input![0]!)).map((node) => [node.output![0]!, node.input![0]!]));
  const initializer = (name: string | undefined) => (name ? initializers.get(castOf.get(name) ?? name) : undefined);
  const splice = new GraphSplice('int8_matmul/', data); // weights go to `data` (external), or inline without it
  const { builder } = splice;
  const inverse127 = builder.constant('inverse_127', 'float32', [], float(1 / 127));
  const smallest = builder.constant('smallest_scale', 'float32', [], float(1e-30));
  const one = builder.constant('one', 'float32', [], float(1));
  const offset128 = builder.constant('zero_point_128', 'uint8', [], Uint8Array.of(128));
  // One quantization per activation tensor, however many matmuls read it.
  const quantized = new Map<string, { codes: string; scale: string }>();
  const nodes: P.INodeProto[] = [];
  const dropped = new Set<string>();
  let matrices = 0;
  let int8Bytes = 0;
  const total = graph.node!.filter((node) => node.opType === 'MatMulNBits').length - 1; // all but the lm_head, for progress
  for (const node of graph.node!) {
    const attributes = new Map(node.attribute!.map((attribute) => [attribute.name!, Number(attribute.i ?? 0)]));
    const [input, codesName, scalesName, zeroPointsName, ...extra] = node.input!;
    const numOut = attributes.get('N') ?? 0;
    const codes = initializer(codesName);
    const scales = initializer(scalesName);
    const zeroPoints = initializer(zeroPointsName);
    const rewritable = node.opType === 'MatMulNBits' && node.domain === 'com.microsoft' && attributes.get('bits') === 4 && numOut !== keepOutputs &&
      codes !== undefined && scales !== undefined && (zeroPointsName ? zeroPoints !== undefined : true) && !extra.some(Boolean);
    if (!rewritable) {
      nodes.push(node);
      continue;
    }
    const numIn = attributes.get('K')!;
    const weight = expandInt4ToInt8(
      initializerBytes(codes, readExternal), floats(scales, initializerBytes(scales, readExternal)),
      zeroPoints ? initializerBytes(zeroPoints, readExternal) : null, numIn, numOut, attributes.get('block_size')!,
    );
    const first = splice.mark();
    let activation = quantized.get(input!);
    if (!activation) {
      const x = splice.host(input!);
      const scale = builder.op('Mul', [builder.op('Max', [builder.op('ReduceMax', [builder.op('Abs', [x])], { attributes: { axes: [-1], keepdims: 1 } }), smallest]), inverse127]);
      activation = { codes: builder.op('QuantizeLinear', [builder.op('Div', [x, scale]), one, offset128]), scale };
      quantized.set(input!, activation);
    }
    const weightName = builder.weight(`${codesName}/int8`, 'int8', [numIn, numOut], new Uint8Array(weight.values.buffer));
    const columnScales = builder.weight(`${codesName}/int8_scales`, 'float32', [numOut], new Uint8Array(weight.columnScales.buffer));
    const product = builder.op('MatMulIntegerToFloat', [activation.codes, weightName, one, columnScales, offset128], { domain: 'com.microsoft' });
    const out = builder.op('Mul', [product, activation.scale]);
    nodes.push(...splice.nodesSince(first, { [out]: node.output![0]! }));
    for (const name of [codesName, scalesName, zeroPointsName]) if (name) dropped.add(castOf.get(name) ?? name);
    matrices++;
    int8Bytes += weight.values.byteLength;
    onMatrix?.(matrices, total);
  }
  if (matrices === 0) return null;
  // What only the rewritten nodes read (the layers' int4 codes, zero points, and scales with their
  // Cast) leaves the graph.
  const reads = (list: P.INodeProto[]) => {
    const names = new Set(list.flatMap((n) => n.input!));
    for (const n of list) for (const attribute of n.attribute ?? []) for (const inner of attribute.g?.node ?? []) for (const name of inner.input!) names.add(name);
    for (const output of graph.output!) names.add(output.name!);
    return names;
  };
  const unusedCast = (n: P.INodeProto, consumed: Set<string>) => n.opType === 'Cast' && dropped.has(n.input![0]!) && !consumed.has(n.output![0]!);
  const firstReads = reads(nodes);
  const liveNodes = nodes.filter((n) => !unusedCast(n, firstReads));
  const consumed = reads(liveNodes);
  const kept = graph.initializer!.filter((tensor) => !dropped.has(tensor.name!) || consumed.has(tensor.name!));
  const added = splice.initializers();
  const metadataProps = [...(model.metadataProps ?? []), ...Object.entries(metadata).map(([key, value]) => ({ key, value }))];
  const variant: P.IModelProto = { ...model, metadataProps, graph: { ...graph, node: liveNodes, initializer: [...kept, ...added] } };
  return { model: onnx.ModelProto.encode(variant).finish(), matrices, int8Bytes };
}

/** The expansion kept in a package folder (the graph is written last: its presence means complete). */
export const INT8_CACHE_FILES = { model: PACKAGE_CACHE_FILES.int8Model, data: PACKAGE_CACHE_FILES.int8Data } as const;
/** Bump when the expansion or the variant's ops change: older caches are then rebuilt. */
const INT8_CACHE_FORMAT = 'hearth-int8-matmul-1';
const SOURCE_KEY = 'hearth.int8_matmul.source';
const PROGRESS_INTERVAL_MS = 5000;

export interface Int8MatMulLoad extends Int8MatMulVariant {
  /** cache: mapped from INT8_CACHE_FILES; expanded: now, into them; inline: now, into the graph (folder not writable). */
  from: 'cache' | 'expanded' | 'inline';
  /** Why the cache could not be written (from 'inline'). */
  note?: string;
}

/**
 * The int8 variant of `baseBytes` (the graph the CPU provider would run) for the package in
 * `packageDir`, from its cache when that was built from the same graph and package data, else
 * expanded (and cached where the folder allows). Null when there is nothing to rewrite.
 */
export function loadInt8MatMulVariant(
  baseBytes: Uint8Array, packageDir: string, modelDataFile: string, keepOutputs: number,
  log: (line: string) => void = () => {}, progressIntervalMs = PROGRESS_INTERVAL_MS,
): Int8MatMulLoad | null {
  const modelPath = join(packageDir, INT8_CACHE_FILES.model);
  const dataPath = join(packageDir, INT8_CACHE_FILES.data);
  const source = createHash('sha256').update(INT8_CACHE_FORMAT).update(baseBytes).update(String(statSync(join(packageDir, modelDataFile)).size)).digest('hex');
  const cached = readCache(modelPath, dataPath, source);
  if (cached) return { ...cached, from: 'cache' };
  const fd = openSync(join(packageDir, modelDataFile), 'r');
  const readExternal = (offset: number, length: number) => readAt(fd, offset, length);
  const suffix = `.tmp-${process.pid}`;
  removeAbandonedTemporaries(packageDir);
  // A large model's first expansion takes a while (about 1 s per 100 MiB of int8): say how far it is.
  let lastReport = performance.now();
  const progress = (done: number, total: number) => {
    if (performance.now() - lastReport < progressIntervalMs) return;
    lastReport = performance.now();
    log(`int8 matmuls: expanding the int4 layers, ${done}/${total} matrices`);
  };
  try {
    let writer: ExternalDataWriter | null = null;
    let note: string | undefined;
    try {
      writer = new ExternalDataWriter(dataPath + suffix, INT8_CACHE_FILES.data);
    } catch (error) {
      note = `the package folder cannot be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): the int8 weights are expanded at every load and held in memory`;
    }
    if (writer) {
      try {
        const variant = int8MatMulVariant(baseBytes, keepOutputs, readExternal, writer, { [SOURCE_KEY]: source }, progress);
        writer.close();
        writer = null;
        if (!variant) {
          rmSync(dataPath + suffix, { force: true });
          return null;
        }
        writeFileSync(modelPath + suffix, variant.model);
        renameSync(dataPath + suffix, dataPath);
        renameSync(modelPath + suffix, modelPath);
        return { ...variant, from: 'expanded' };
      } catch (error) {
        writer?.close();
        for (const path of [dataPath + suffix, modelPath + suffix]) rmSync(path, { force: true });
        note = `the int8 cache could not be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): the int8 weights are expanded at every load and held in memory`;
      }
    }
    const inline = int8MatMulVariant(baseBytes, keepOutputs, readExternal, null, {}, progress);
    return inline ? { ...inline, from: 'inline', note } : null;
  } finally {
    closeSync(fd);
  }
}

/** Temporaries of the cache files left by a process that died while writing them (its pid is gone). */
function removeAbandonedTemporaries(packageDir: string): void {
  const pattern = new RegExp(`^(${Object.values(INT8_CACHE_FILES).map((name) => name.replace('.', '\\.')).join('|')})\\.tmp-(\\d+)$`);
  for (const name of readdirSync(packageDir)) {
    const pid = Number(pattern.exec(name)?.[2]);
    if (!pid || pid === process.pid || isProcessAlive(pid)) continue;
    rmSync(join(packageDir, name), { force: true });
  }
}

/** The cached variant when it is complete and was built from `source`. */
function readCache(modelPath: string, dataPath: string, source: string): Int8MatMulVariant | null {
  if (!existsSync(modelPath) || !existsSync(dataPath)) return null;
  try {
    const bytes = readFileSync(modelPath);
    const model = onnx.ModelProto.decode(bytes);
    if (model.metadataProps?.find((entry) => entry.key === SOURCE_KEY)?.value !== source) return null;
    const dataBytes = statSync(dataPath).size;
    let int8Bytes = 0;
    for (const tensor of model.graph!.initializer!) {
      const location = tensor.externalData?.find((entry) => entry.key === 'location')?.value;
      if (location !== INT8_CACHE_FILES.data) continue;
      const entry = (key: string) => Number(tensor.externalData!.find((item) => item.key === key)?.value ?? 0);
      if (entry('offset') + entry('length') > dataBytes) return null;
      if (tensor.dataType === DataType.INT8) int8Bytes += entry('length');
    }
    const matrices = model.graph!.node!.filter((node) => node.opType === 'MatMulIntegerToFloat').length;
    return matrices > 0 ? { model: bytes, matrices, int8Bytes } : null;
  } catch {
    return null; // unreadable: rebuilt
  }
}
