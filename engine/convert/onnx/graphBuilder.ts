// A small builder over the ONNX protobuf schema: named values, nodes, initializers (inline for
// small constants, external for weights) and typed graph inputs/outputs.
import { onnx } from './proto.js';
import type { onnx as P } from 'onnx-proto';
import type { ExternalDataWriter } from './externalData.js';

export const DataType = onnx.TensorProto.DataType;
export type ElementType = 'float32' | 'float16' | 'int64' | 'int32' | 'uint8' | 'int8';

const elementTypeCodes: Record<ElementType, number> = {
  float32: DataType.FLOAT,
  float16: DataType.FLOAT16,
  int64: DataType.INT64,
  int32: DataType.INT32,
  uint8: DataType.UINT8,
  int8: DataType.INT8,
};

/** A dimension: a fixed size or a symbolic name (e.g. `batch`). */
export type Dim = number | string;
export type AttributeValue = number | string | number[] | { float: number };

export interface NodeOptions {
  domain?: string;
  attributes?: Record<string, AttributeValue>;
  /** Number of outputs, or explicit output names (`''` skips an optional output). */
  outputs?: number | string[];
  name?: string;
}

export class GraphBuilder {
  private readonly nodes: P.INodeProto[] = [];
  private readonly initializers: P.ITensorProto[] = [];
  /** Every tensor written to the external data file, in order (views excluded: they store nothing). */
  readonly stored: { name: string; bytes: number }[] = [];
  private readonly inputs: P.IValueInfoProto[] = [];
  private readonly outputs: P.IValueInfoProto[] = [];
  private counter = 0;

  constructor(private readonly data: ExternalDataWriter | null) {}

  fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  input(name: string, type: ElementType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: ElementType, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Adds a node; returns its output names. */
  node(opType: string, inputs: string[], options: NodeOptions = {}): string[] {
    const outputSpec = options.outputs ?? 1;
    const outputs = typeof outputSpec === 'number'
      ? Array.from({ length: outputSpec }, () => this.fresh(opType))
      : outputSpec;
    this.nodes.push({
      opType,
      domain: options.domain ?? '',
      name: options.name ?? this.fresh(`n_${opType}`),
      input: inputs,
      output: outputs,
      attribute: Object.entries(options.attributes ?? {}).map(([name, value]) => attribute(name, value)),
    });
    return outputs;
  }

  /** Single-output shorthand. */
  op(opType: string, inputs: string[], options: Omit<NodeOptions, 'outputs'> & { output?: string } = {}): string {
    return this.node(opType, inputs, { ...options, outputs: [options.output ?? this.fresh(opType)] })[0]!;
  }

  /** A small constant stored inside model.onnx. */
  constant(name: string, type: ElementType, dims: number[], bytes: Uint8Array): string {
    this.initializers.push({ name, dataType: elementTypeCodes[type], dims, rawData: bytes });
    return name;
  }

  int64s(values: number[], dims: number[] = [values.length]): string {
    return this.constant(this.fresh('const_i64'), 'int64', dims, new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer));
  }

  /** A weight stored in model.onnx.data (or inline when the builder has no external file). */
  weight(name: string, type: ElementType, dims: number[], bytes: Uint8Array): string {
    return this.streamedWeight(name, type, dims, (write) => write(bytes));
  }

  /** A weight whose bytes are produced in chunks by `produce` (never whole in memory). */
  streamedWeight(name: string, type: ElementType, dims: number[], produce: (write: (bytes: Uint8Array) => void) => void): string {
    if (!this.data) {
      const chunks: Uint8Array[] = [];
      produce((bytes) => chunks.push(bytes.slice()));
      return this.constant(name, type, dims, Buffer.concat(chunks));
    }
    const tensor = this.data.begin();
    produce((bytes) => tensor.write(bytes));
    const { offset, length } = tensor.end();
    this.stored.push({ name, bytes: length });
    this.initializers.push({
      name,
      dataType: elementTypeCodes[type],
      dims,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: this.data.location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(length) },
      ],
    });
    return name;
  }

  /**
   * A second initializer over the bytes of `of` with other dims (same element type and byte
   * count): stored once. onnxruntime maps each external initializer on its own, so a kernel that
   * prepacks one copy (and releases it) leaves the other mapped and paged in only where read.
   */
  view(name: string, of: string, dims: number[]): string {
    const source = this.initializers.find((tensor) => tensor.name === of);
    if (!source?.externalData) throw new Error(`view ${name}: ${of} is not an external initializer (bug)`);
    const elements = (shape: unknown[]) => shape.reduce<number>((product, dim) => product * Number(dim), 1);
    if (elements(dims) !== elements(source.dims ?? [])) throw new Error(`view ${name}: [${dims}] does not cover ${of}'s [${source.dims}] (bug)`);
    this.initializers.push({ ...source, name, dims });
    return name;
  }

  encodeModel(opsets: Record<string, number>, producer: string): Uint8Array {
    return onnx.ModelProto.encode(this.buildModel(opsets, producer)).finish();
  }

  /** The model as a protobuf object (nodes and initializers shared with the builder, not copied). */
  buildModel(opsets: Record<string, number>, producer: string): P.IModelProto {
    return {
      irVersion: 8,
      producerName: producer,
      opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
      graph: {
        name: 'hearth_decoder',
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
  }
}

function valueInfo(name: string, type: ElementType, dims: Dim[]): P.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: elementTypeCodes[type],
        shape: { dim: dims.map((dim) => (typeof dim === 'number' ? { dimValue: dim } : { dimParam: dim })) },
      },
    },
  };
}

function attribute(name: string, value: AttributeValue): P.IAttributeProto {
  const { AttributeType } = onnx.AttributeProto;
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { name, type: AttributeType.INT, i: value } : { name, type: AttributeType.FLOAT, f: value };
  }
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  return { name, type: AttributeType.FLOAT, f: value.float };
}
