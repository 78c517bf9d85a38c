// The decoder graph's I/O contract in words; copied into every manifest's graph.description
// and kept in sync with ./README.md.
export const GRAPH_DESCRIPTION = `hearth-decoder-gqa-v1. Batch B rows, S new tokens per row (right-padded), P = past buffer length.
Inputs: input_ids int64 [B,S]; position_ids int64 [B,S] (row's past length + s; padded slots must still hold a valid position < maxPositions, e.g. 0);
seqlens_k int32 [B] = row's total length after this call - 1; total_sequence_length int32 scalar (rank 0; a [1] tensor is accepted too) = max over rows of seqlens_k+1;
last_token_index int64 [B] = which of the S positions' logits to return per row;
past_key.{layer}/past_value.{layer} float32 [B, numKvHeads, P, headDim] (BNSH): row b's valid past is its first (seqlens_k[b]+1-S_b) positions, the rest is ignored (any P >= the longest row's past works; keep P tight because attention clears a B x kvH x max(P,total) x headDim buffer per call).
Outputs: logits float32 [B, vocab] for the last_token_index position of each row only; new_key.{layer} (after rotary) and new_value.{layer} float32 [B, S, numKvHeads, headDim] for the S new tokens, which the caller appends to its cache.
Run shapes (GroupQueryAttention on ORT 1.30 CPU): (1) decode: S = 1, any B, each row with its own past length; (2) first prompt: past empty for every row, S = total_sequence_length (the longest row), rows right-padded with seqlens_k[b] = len_b - 1, P = 0 (or any P; the past is ignored because S == total_sequence_length); (3) continued prefill: B = 1, S = chunk length, past > 0. ORT rejects S > 1 with past for B > 1.
Weights: fp32 = float32 MatMul; fp16 = float16 weights cast to float32 at session load (compute in fp32); int4 = com.microsoft MatMulNBits (4-bit, block 32, asymmetric zero points) for every projection and lm_head, embedding table float16.`;
