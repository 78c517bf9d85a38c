// Attention in standard ONNX ops that reads the KV cache where it lies: the past K/V inputs are
// MatMul operands, the new tokens' K/V are attended separately, and nothing of cache size is
// written. GroupQueryAttention on ORT 1.30's CPU provider instead clears and fills a fresh
// present buffer (past + new) per layer and call: O(rows × P) writes on top of the reads. Its
// past/present share-buffer mode would avoid that, but onnxruntime-node copies every fetched
// output into a new ArrayBuffer, so binding present over the cache costs a full cache copy per
// step (measured: scripts/bench-attention.ts, docs/benchmarks.md).
//
// Same semantics as the decoder graph's GroupQueryAttention call (engine/convert/README.md): row b
// has seqlens_k[b] + 1 tokens after the call, its past is the first max(0, seqlens_k[b] + 1 - S)
// positions of past_*, the rest of P is ignored; new tokens attend causally to each other; query
// head h reads KV head floor(h / (numHeads / numKvHeads)); scale 1/sqrt(headDim).
import type { onnx as P } from 'onnx-proto';
import { GraphBuilder } from '../convert/onnx/graphBuilder.js';
import { onnx } from '../convert/onnx/proto.js';

export interface CacheAttentionInputs {
  /** [B, S, numHeads·D] after rotary */
  q: string;
  /** [B, S, numKvHeads·D] after rotary */
  k: string;
  /** [B, S, numKvHeads·D] */
  v: string;
  /** [B, numKvHeads, P, D] */
  pastKey: string;
  pastValue: string;
  /** int32 [B] */
  seqlensK: string;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
}

/** Scores of masked positions: finite, so a row whose past is empty still softmaxes cleanly. */
const MASKED = -1e30;

/** Emits the attention; returns its output name, [B, S, numHeads·D]. */
export function cacheAttention(g: GraphBuilder, inputs: CacheAttentionInputs): string {
  const { q, k, v, pastKey, pastValue, seqlensK, numHeads, numKvHeads, headDim } = inputs;
  const group = numHeads / numKvHeads;
  const f32 = (value: number) => g.constant(g.fresh('f32'), 'float32', [], new Uint8Array(Float32Array.of(value).buffer));
  const i64 = (value: number) => g.int64s([value], []);

  // Queries grouped by KV head: [B, kvH, S·G, D] with row s·G + g = query head kvh·G + g at token s.
  const scaled = g.op('Mul', [q, f32(1 / Math.sqrt(headDim))]);
  const grouped = g.op('Transpose', [g.op('Reshape', [scaled, g.int64s([0, 0, numKvHeads, group, headDim])])], { attributes: { perm: [0, 2, 1, 3, 4] } });
  const queries = g.op('Reshape', [grouped, g.int64s([0, numKvHeads, -1, headDim])]);
  const heads = (x: string) => g.op('Transpose', [g.op('Reshape', [x, g.int64s([0, 0, numKvHeads, headDim])])], { attributes: { perm: [0, 2, 1, 3] } });
  const newKeys = heads(k);
  const newValues = heads(v);

  // Scores against the past, in place: [B, kvH, S·G, P].
  const pastScores = g.op('FusedMatMul', [queries, pastKey], { domain: 'com.microsoft', attributes: { transB: 1 } });
  const newScores = g.op('FusedMatMul', [queries, newKeys], { domain: 'com.microsoft', attributes: { transB: 1 } });

  // Masks. Past: position p of row b is visible iff p < max(0, seqlens_k[b] + 1 - S): [B, 1, 1, P].
  const sequenceLength = g.op('Gather', [g.op('Shape', [q]), i64(1)], { attributes: { axis: 0 } });
  const pastPositions = g.op('Gather', [g.op('Shape', [pastKey]), i64(2)], { attributes: { axis: 0 } });
  const totals = g.op('Cast', [g.op('Add', [seqlensK, g.constant(g.fresh('one'), 'int32', [], new Uint8Array(Int32Array.of(1).buffer))])], { attributes: { to: 7 /* INT64 */ } });
  const pastLengths = g.op('Max', [g.op('Sub', [totals, sequenceLength]), i64(0)]);
  const positions = g.op('Range', [i64(0), pastPositions, i64(1)]);
  const pastVisible = g.op('Less', [g.op('Unsqueeze', [positions, g.int64s([0])]), g.op('Unsqueeze', [pastLengths, g.int64s([1])])]);
  const pastMask = g.op('Unsqueeze', [g.op('Where', [pastVisible, f32(0), f32(MASKED)]), g.int64s([1, 2])]);
  // New tokens: key j is visible to score row r (token floor(r / G)) iff j <= floor(r / G): [S·G, S].
  const rowTokens = g.op('Div', [g.op('Range', [i64(0), g.op('Mul', [sequenceLength, i64(group)]), i64(1)]), i64(group)]);
  const keyTokens = g.op('Range', [i64(0), sequenceLength, i64(1)]);
  const causal = g.op('LessOrEqual', [g.op('Unsqueeze', [keyTokens, g.int64s([0])]), g.op('Unsqueeze', [rowTokens, g.int64s([1])])]);
  const newMask = g.op('Where', [causal, f32(0), f32(MASKED)]);

  const scores = g.op('Concat', [g.op('Add', [pastScores, pastMask]), g.op('Add', [newScores, newMask])], { attributes: { axis: -1 } });
  const probs = g.op('Softmax', [scores], { attributes: { axis: -1 } });
  const [pastProbs, newProbs] = g.node('Split', [probs, g.op('Concat', [g.op('Unsqueeze', [pastPositions, g.int64s([0])]), g.op('Unsqueeze', [sequenceLength, g.int64s([0])])], { attributes: { axis: 0 } })], { attributes: { axis: -1 }, outputs: 2 }) as [string, string];
  const context = g.op('Add', [g.op('MatMul', [pastProbs, pastValue]), g.op('MatMul', [newProbs, newValues])]);

  // [B, kvH, S·G, D] → [B, S, kvH·G·D]
  const byToken = g.op('Transpose', [g.op('Reshape', [context, g.int64s([0, numKvHeads, -1, group, headDim])])], { attributes: { perm: [0, 2, 1, 3, 4] } });
  return g.op('Reshape', [byToken, g.int64s([0, 0, numHeads * headDim])]);
}

/**
 * The CPU variant of a decoder graph: every GroupQueryAttention node replaced by cacheAttention
 * and the present_* outputs dropped (a host-memory runner fetches logits and new_* only), so a
 * step writes no cache-sized buffer. Built at load from the package's model.onnx (weights stay in
 * model.onnx.data), so every package with this graph contract gets it. Null when a node uses a
 * GroupQueryAttention feature cacheAttention does not reproduce (sliding window, rotary inside
 * the op, packed QKV, softcap, a custom scale): that graph runs as shipped.
 */
export function inPlaceAttentionVariant(modelBytes: Uint8Array, headDim: number): Uint8Array | null {
  const model = onnx.ModelProto.decode(modelBytes);
  const graph = model.graph!;
  const nodes: P.INodeProto[] = [];
  const dropped = new Set<string>();
  const initializers: P.ITensorProto[] = [];
  let rewritten = 0;
  for (const node of graph.node!) {
    if (node.opType !== 'GroupQueryAttention' || node.domain !== 'com.microsoft') {
      nodes.push(node);
      continue;
    }
    const attributes = new Map(node.attribute!.map((attribute) => [attribute.name!, attribute]));
    const int = (name: string, fallback: number) => Number(attributes.get(name)?.i ?? fallback);
    const float = (name: string) => Number(attributes.get(name)?.f ?? 0);
    const [q, k, v, pastKey, pastValue, seqlensK, , ...extra] = node.input!;
    const unsupported =
      int('local_window_size', -1) !== -1 || int('do_rotary', 0) !== 0 || int('smooth_softmax', 0) !== 0 || float('softcap') !== 0 || float('scale') !== 0 ||
      !k || !v || !pastKey || !pastValue || !seqlensK || extra.some(Boolean);
    if (unsupported) return null;
    const builder = new GraphBuilder(null);
    const out = cacheAttention(builder, { q: q!, k, v, pastKey, pastValue, seqlensK, numHeads: int('num_heads', 0), numKvHeads: int('kv_num_heads', 0), headDim });
    const built = builder.buildModel({}, 'hearth-runtime').graph!;
    // The builder's names (Mul_3, …) could collide with the package graph's: prefix them.
    const prefix = `cache_attention.${rewritten}/`;
    const produced = new Set([...built.node!.flatMap((n) => n.output!), ...built.initializer!.map((t) => t.name!)]);
    const rename = (name: string) => (name === out ? node.output![0]! : produced.has(name) ? prefix + name : name);
    for (const n of built.node!) nodes.push({ ...n, name: prefix + n.name, input: n.input!.map(rename), output: n.output!.map(rename) });
    for (const tensor of built.initializer!) initializers.push({ ...tensor, name: rename(tensor.name!) });
    for (const present of node.output!.slice(1)) if (present) dropped.add(present);
    rewritten++;
  }
  if (rewritten === 0) return null;
  const consumed = new Set(nodes.flatMap((n) => n.input!));
  for (const name of dropped) if (consumed.has(name)) return null;
  const variant: P.IModelProto = {
    ...model,
    graph: { ...graph, node: nodes, initializer: [...graph.initializer!, ...initializers], output: graph.output!.filter((info) => !dropped.has(info.name!)) },
  };
  return onnx.ModelProto.encode(variant).finish();
}
