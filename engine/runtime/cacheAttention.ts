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
import type { GraphContract } from '../common/manifest.js';
import type { GraphBuilder } from '../convert/onnx/graphBuilder.js';
import { GraphSplice } from '../convert/onnx/graphSplice.js';
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
  numHeads: number;
  numKvHeads: number;
  headDim: number;
}

/** Scores of masked positions: finite, so a row whose past is empty still softmaxes cleanly. */
const MASKED = -1e30;

/**
 * How a layer's G = numHeads / numKvHeads query heads meet their KV head's cache: as G one-row
 * products (`perHead`, broadcast over the group: [B, kvH, G, S, D] × [B, kvH, 1, P, D]) or as one
 * product of S·G rows (`grouped`: [B, kvH, 1, S·G, D]). At decode (S = 1) a one-row product runs
 * on MLAS's M = 1 kernels, which read K and V where they lie; a product of several rows packs
 * (copies) K and V first, which pays once G is large enough to amortize the copy. Measured, all
 * 30 or 24 layers at 2000 tokens (scripts/bench-attention.ts, docs/benchmarks.md): SmolLM2-135M's
 * G = 3 per head 6.5 ms against grouped 7.7; Qwen2.5-0.5B's G = 7 grouped 4.6–5.7 against per
 * head 5.2 (56 against 59 for 16 rows at 2000 tokens).
 */
export type QueryLayout = 'perHead' | 'grouped';
export const PER_HEAD_MAX_GROUP = 4;

export function queryLayout(numHeads: number, numKvHeads: number): QueryLayout {
  return numHeads / numKvHeads <= PER_HEAD_MAX_GROUP ? 'perHead' : 'grouped';
}

/** Additive masks shared by every layer's attention (they depend only on the run's shapes and seqlens_k). */
export interface AttentionMasks {
  /** [B, 1, 1, 1, P]: 0 where position p of row b is past, MASKED beyond */
  past: string;
  /** [S·R, S] for R query rows per token (1 per head, G grouped): 0 where new key j is visible to score row r (token floor(r / R)) */
  causal: string;
  /** int64 [2]: P, S (the split of the softmaxed scores) */
  split: string;
}

/**
 * `sequenceInput`: any tensor shaped [B, S, …] of the run (input_ids); `pastKey`: one layer's
 * past_key (every layer's has the same P).
 */
export function attentionMasks(g: GraphBuilder, sequenceInput: string, pastKey: string, seqlensK: string, layout: QueryLayout, group: number): AttentionMasks {
  const f32 = (value: number) => g.constant(g.fresh('f32'), 'float32', [], new Uint8Array(Float32Array.of(value).buffer));
  const i64 = (value: number) => g.int64s([value], []);
  const rowsPerToken = layout === 'perHead' ? 1 : group;
  const sequenceLength = g.op('Gather', [g.op('Shape', [sequenceInput]), i64(1)], { attributes: { axis: 0 } });
  const pastPositions = g.op('Gather', [g.op('Shape', [pastKey]), i64(2)], { attributes: { axis: 0 } });
  // Row b's past: max(0, seqlens_k[b] + 1 - S) positions (first prompts are right-padded: past 0).
  const totals = g.op('Cast', [g.op('Add', [seqlensK, g.constant(g.fresh('one'), 'int32', [], new Uint8Array(Int32Array.of(1).buffer))])], { attributes: { to: 7 /* INT64 */ } });
  const pastLengths = g.op('Max', [g.op('Sub', [totals, sequenceLength]), i64(0)]);
  const positions = g.op('Range', [i64(0), pastPositions, i64(1)]);
  const pastVisible = g.op('Less', [g.op('Unsqueeze', [positions, g.int64s([0])]), g.op('Unsqueeze', [pastLengths, g.int64s([1])])]);
  const past = g.op('Unsqueeze', [g.op('Where', [pastVisible, f32(0), f32(MASKED)]), g.int64s([1, 2, 3])]);
  const rowTokens = g.op('Div', [g.op('Range', [i64(0), g.op('Mul', [sequenceLength, i64(rowsPerToken)]), i64(1)]), i64(rowsPerToken)]);
  const keyTokens = g.op('Range', [i64(0), sequenceLength, i64(1)]);
  const visible = g.op('LessOrEqual', [g.op('Unsqueeze', [keyTokens, g.int64s([0])]), g.op('Unsqueeze', [rowTokens, g.int64s([1])])]);
  const causal = g.op('Where', [visible, f32(0), f32(MASKED)]);
  const split = g.op('Concat', [g.op('Unsqueeze', [pastPositions, g.int64s([0])]), g.op('Unsqueeze', [sequenceLength, g.int64s([0])])], { attributes: { axis: 0 } });
  return { past, causal, split };
}

/** Emits one layer's attention (queries laid out as `layout`, which its masks must share); returns its output name, [B, S, numHeads·D]. */
export function cacheAttention(g: GraphBuilder, inputs: CacheAttentionInputs, masks: AttentionMasks, layout: QueryLayout): string {
  const { q, k, v, pastKey, pastValue, numHeads, numKvHeads, headDim } = inputs;
  const group = numHeads / numKvHeads;
  // The scale goes on q: MLAS takes its M = 1 path only for products scaled by 1.
  const scale = g.constant(g.fresh('scale'), 'float32', [], new Uint8Array(Float32Array.of(1 / Math.sqrt(headDim)).buffer));
  const unsqueezeGroup = (x: string) => g.op('Unsqueeze', [x, g.int64s([2])]);

  // Query head kvh·G + g at token s: per head [B, kvH, G, S, D]; grouped [B, kvH, 1, S·G, D]
  // (row s·G + g). Keys and values → [B, kvH, 1, ·, D].
  const byHead = g.op('Reshape', [g.op('Mul', [q, scale]), g.int64s([0, 0, numKvHeads, group, headDim])]);
  const queries = layout === 'perHead'
    ? g.op('Transpose', [byHead], { attributes: { perm: [0, 2, 3, 1, 4] } })
    : g.op('Reshape', [g.op('Transpose', [byHead], { attributes: { perm: [0, 2, 1, 3, 4] } }), g.int64s([0, numKvHeads, 1, -1, headDim])]);
  const heads = (x: string) => unsqueezeGroup(g.op('Transpose', [g.op('Reshape', [x, g.int64s([0, 0, numKvHeads, headDim])])], { attributes: { perm: [0, 2, 1, 3] } }));

  // Scores against the past, read in place ([…, P]), and against the new tokens ([…, S]).
  const pastScores = g.op('FusedMatMul', [queries, unsqueezeGroup(pastKey)], { domain: 'com.microsoft', attributes: { transB: 1 } });
  const newScores = g.op('FusedMatMul', [queries, heads(k)], { domain: 'com.microsoft', attributes: { transB: 1 } });
  const scores = g.op('Concat', [g.op('Add', [pastScores, masks.past]), g.op('Add', [newScores, masks.causal])], { attributes: { axis: -1 } });
  const probs = g.op('Softmax', [scores], { attributes: { axis: -1 } });
  const [pastProbs, newProbs] = g.node('Split', [probs, masks.split], { attributes: { axis: -1 }, outputs: 2 }) as [string, string];
  const context = g.op('Add', [g.op('MatMul', [pastProbs, unsqueezeGroup(pastValue)]), g.op('MatMul', [newProbs, heads(v)])]);

  // → [B, S, kvH, G, D] → [B, S, numHeads·D]
  const byToken = layout === 'perHead'
    ? g.op('Transpose', [context], { attributes: { perm: [0, 3, 1, 2, 4] } })
    : g.op('Transpose', [g.op('Reshape', [context, g.int64s([0, numKvHeads, -1, group, headDim])])], { attributes: { perm: [0, 2, 1, 3, 4] } });
  return g.op('Reshape', [byToken, g.int64s([0, 0, numHeads * headDim])]);
}

/** The CPU variant's extra input: bool scalar, true = cacheAttention, false = GroupQueryAttention. */
export const IN_PLACE_INPUT = 'cache_attention_in_place';

/**
 * The CPU variant of a decoder graph: each GroupQueryAttention node becomes an If on the
 * IN_PLACE_INPUT scalar between cacheAttention (reads past_* in place, writes nothing of cache
 * size) and the node as shipped, and the present_* outputs are dropped (a host-memory runner
 * fetches logits and new_* only). Neither wins everywhere (scripts/bench-attention.ts):
 * GroupQueryAttention attends each row only up to its own length but clears and fills a
 * B × P present buffer per layer; cacheAttention reads all of B × P. The runner picks per run
 * (hostKvCache.ts). Built at load from the package's model.onnx (weights stay in model.onnx.data
 * and are shared by both branches), so every package with this graph contract gets it. Null when
 * a node uses a GroupQueryAttention feature cacheAttention does not reproduce (sliding window,
 * rotary inside the op, packed QKV, softcap, a custom scale): that graph runs as shipped.
 */
/**
 * Why the WebGPU provider cannot run this graph exactly, or null. onnxruntime 1.30's WebGPU
 * GroupQueryAttention ignores `softcap` (Gemma 2's attention soft-capping): it returns uncapped
 * attention, 8.8e-2 off on the Gemma 2 fixture, where the CPU kernel caps as transformers does.
 */
export function webGpuProblem(modelBytes: Uint8Array): string | null {
  const graph = onnx.ModelProto.decode(modelBytes).graph!;
  const capped = graph.node!.some(
    (node) => node.opType === 'GroupQueryAttention' && node.attribute!.some((attribute) => attribute.name === 'softcap' && Number(attribute.f ?? 0) !== 0),
  );
  return capped ? "this model soft-caps attention logits (Gemma 2), which onnxruntime 1.30's WebGPU GroupQueryAttention ignores; it runs on the CPU, where the result is exact" : null;
}

export function inPlaceAttentionVariant(modelBytes: Uint8Array, contract: GraphContract): Uint8Array | null {
  const model = onnx.ModelProto.decode(modelBytes);
  const graph = model.graph!;
  const splice = new GraphSplice('cache_attention/');
  const inputIds = graph.input!.find((info) => info.name === contract.inputs.inputIds)?.name;
  const nodes: P.INodeProto[] = [];
  const dropped = new Set<string>();
  let masks: AttentionMasks | null = null;
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
    const numHeads = int('num_heads', 0);
    const numKvHeads = int('kv_num_heads', 0);
    const unsupported =
      int('local_window_size', -1) !== -1 || int('do_rotary', 0) !== 0 || int('smooth_softmax', 0) !== 0 || float('softcap') !== 0 || float('scale') !== 0 ||
      !k || !v || !pastKey || !pastValue || !seqlensK || extra.some(Boolean) || !inputIds || !(numKvHeads > 0 && numHeads % numKvHeads === 0);
    if (unsupported) return null;
    const { builder } = splice;
    const host = (name: string) => splice.host(name);
    const firstNew = splice.mark();
    const layout = queryLayout(numHeads, numKvHeads);
    masks ??= attentionMasks(builder, host(inputIds!), host(pastKey), host(seqlensK), layout, numHeads / numKvHeads);
    const firstAttention = splice.mark();
    const out = cacheAttention(builder, { q: host(q!), k: host(k), v: host(v), pastKey: host(pastKey), pastValue: host(pastValue), numHeads, numKvHeads, headDim: contract.headDim }, masks, layout);
    const attention = node.output![0]!;
    const inPlaceOut = `${attention}/in_place`;
    nodes.push(...splice.nodesSince(firstNew, {}, firstAttention)); // the masks, once
    const branchOutput = (name: string): P.IValueInfoProto => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } });
    const thenBranch: P.IGraphProto = { name: `cache_attention.${rewritten}`, node: splice.nodesSince(firstAttention, { [out]: inPlaceOut }), output: [branchOutput(inPlaceOut)] };
    const gqaOut = `${attention}/group_query`;
    const elseBranch: P.IGraphProto = {
      name: `group_query_attention.${rewritten}`,
      node: [{ ...node, output: [gqaOut, `${attention}/present_key`, `${attention}/present_value`] }],
      output: [branchOutput(gqaOut)],
    };
    const GRAPH = onnx.AttributeProto.AttributeType.GRAPH;
    nodes.push({
      opType: 'If', domain: '', name: `attention_switch.${rewritten}`, input: [IN_PLACE_INPUT], output: [attention],
      attribute: [{ name: 'then_branch', type: GRAPH, g: thenBranch }, { name: 'else_branch', type: GRAPH, g: elseBranch }],
    });
    for (const present of node.output!.slice(1)) if (present) dropped.add(present);
    rewritten++;
  }
  if (rewritten === 0) return null;
  const consumed = new Set(nodes.flatMap((n) => n.input!));
  for (const name of dropped) if (consumed.has(name)) return null;
  const variant: P.IModelProto = {
    ...model,
    graph: {
      ...graph,
      node: nodes,
      initializer: [...graph.initializer!, ...splice.initializers()],
      input: [...graph.input!, { name: IN_PLACE_INPUT, type: { tensorType: { elemType: onnx.TensorProto.DataType.BOOL, shape: { dim: [] } } } }],
      output: graph.output!.filter((info) => !dropped.has(info.name!)),
    },
  };
  return onnx.ModelProto.encode(variant).finish();
}
