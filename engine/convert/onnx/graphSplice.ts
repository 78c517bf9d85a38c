// Nodes built with GraphBuilder for splicing into an existing graph (the runtime's graph variants,
// engine/runtime/cacheAttention.ts and int8MatMul.ts). The builder sees the host graph's tensors
// under placeholder names, and its own names (Mul_3, …, which the host graph also uses) get a
// prefix, so nothing can collide.
import type { onnx as P } from 'onnx-proto';
import type { ExternalDataWriter } from './externalData.js';
import { GraphBuilder } from './graphBuilder.js';

export class GraphSplice {
  readonly builder: GraphBuilder;
  /** Live views of the builder's nodes and initializers. */
  private readonly built: P.IGraphProto;
  private readonly hostNames = new Map<string, string>();

  /** `data`: where the builder's weights go (external), or inline without it. */
  constructor(private readonly prefix: string, data: ExternalDataWriter | null = null) {
    this.builder = new GraphBuilder(data);
    this.built = this.builder.buildModel({}, 'hearth-runtime').graph!;
  }

  /** A name for the builder that stands for host tensor `name`. */
  host(name: string): string {
    const alias = `external/${this.hostNames.size}`;
    this.hostNames.set(alias, name);
    return alias;
  }

  /** Where the builder's node list is now (for nodesSince). */
  mark(): number {
    return this.built.node!.length;
  }

  /**
   * The nodes built from `from` to `to` (default: now), named for the host graph: placeholders
   * back to the host's tensors, `outputs` (builder name → host name) as given, the rest prefixed.
   */
  nodesSince(from: number, outputs: Record<string, string>, to = this.mark()): P.INodeProto[] {
    const rename = (name: string) => (Object.hasOwn(outputs, name) ? outputs[name]! : this.hostNames.get(name) ?? `${this.prefix}${name}`);
    return this.built.node!.slice(from, to).map((node) => ({ ...node, name: `${this.prefix}${node.name}`, input: node.input!.map(rename), output: node.output!.map(rename) }));
  }

  /** The builder's initializers, prefixed as nodesSince refers to them. */
  initializers(): P.ITensorProto[] {
    return this.built.initializer!.map((tensor) => ({ ...tensor, name: `${this.prefix}${tensor.name}` }));
  }
}
