// Rotary embedding tables baked into the graph: cos/sin [maxPositions, headDim / 2] for
// com.microsoft RotaryEmbedding (non-interleaved, i.e. HF's rotate_half layout). Scaling
// variants change the inverse frequencies, and YaRN also scales cos and sin (its attention
// factor), so they are all handled here.
import type { RopeScaling } from '../common/modelConfig.js';

/**
 * `headDim`: the rotating dimensions (all of a head, or Phi-4-mini's partial rotary dimension).
 * `longRope`: for LongRoPE, which factors (a sequence within or past the original context).
 */
export function inverseFrequencies(headDim: number, theta: number, scaling: RopeScaling, longRope: 'short' | 'long' = 'short'): Float64Array {
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / theta ** ((2 * i) / headDim);
  // 'dynamic' keeps the default frequencies: transformers changes them only past
  // max_position_embeddings, the end of the package's context (modelConfig.ts).
  if (scaling.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] = inv[i]! / scaling.factor;
  } else if (scaling.type === 'llama3') {
    const lowFreqWavelen = scaling.originalMaxPositions / scaling.lowFreqFactor;
    const highFreqWavelen = scaling.originalMaxPositions / scaling.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i]!;
      if (wavelen > lowFreqWavelen) inv[i] = inv[i]! / scaling.factor;
      else if (wavelen >= highFreqWavelen) {
        const smooth = (scaling.originalMaxPositions / wavelen - scaling.lowFreqFactor) / (scaling.highFreqFactor - scaling.lowFreqFactor);
        inv[i] = (1 - smooth) * (inv[i]! / scaling.factor) + smooth * inv[i]!;
      }
    }
  } else if (scaling.type === 'longrope') {
    const factors = longRope === 'long' ? scaling.longFactor : scaling.shortFactor;
    for (let i = 0; i < half; i++) inv[i] = inv[i]! / factors[i]!;
  } else if (scaling.type === 'yarn') {
    // Dimensions that rotate fewer than beta_slow times over the original context are
    // interpolated (÷ factor), those that rotate more than beta_fast times kept, a linear ramp between.
    const correctionDim = (rotations: number) => (headDim * Math.log(scaling.originalMaxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
    let low = correctionDim(scaling.betaFast);
    let high = correctionDim(scaling.betaSlow);
    if (scaling.truncate) [low, high] = [Math.floor(low), Math.ceil(high)];
    low = Math.max(low, 0);
    high = Math.min(high, headDim - 1);
    if (low === high) high += 0.001;
    for (let i = 0; i < half; i++) {
      const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
      const keep = 1 - ramp;
      inv[i] = (inv[i]! / scaling.factor) * (1 - keep) + inv[i]! * keep;
    }
  }
  return inv;
}

/** YaRN and LongRoPE multiply cos and sin (so q and k) by their attention factor; other scalings leave them. */
export function rotaryAmplitude(scaling: RopeScaling): number {
  return scaling.type === 'yarn' || scaling.type === 'longrope' ? scaling.attentionFactor : 1;
}

/**
 * cos/sin [maxPositions, headDim / 2], one row per position. LongRoPE's rows below the original
 * context use the short factors, the rest the long ones: what transformers computes for a token
 * decoded at that position (its forward pass reaches past the original context exactly when the
 * position does), and a pure function of the position, so a key never depends on the call, chunk
 * or batch it was computed in (see engine/convert/README.md for the one case that differs).
 */
export function rotaryTables(headDim: number, theta: number, scaling: RopeScaling, maxPositions: number): { cos: Float32Array; sin: Float32Array } {
  const amplitude = rotaryAmplitude(scaling);
  const half = headDim / 2;
  const short = inverseFrequencies(headDim, theta, scaling, 'short');
  const long = scaling.type === 'longrope' ? inverseFrequencies(headDim, theta, scaling, 'long') : short;
  const switchAt = scaling.type === 'longrope' ? scaling.originalMaxPositions : Infinity;
  const cos = new Float32Array(maxPositions * half);
  const sin = new Float32Array(maxPositions * half);
  for (let p = 0; p < maxPositions; p++) {
    const inv = p < switchAt ? short : long;
    for (let i = 0; i < half; i++) {
      const angle = p * inv[i]!;
      cos[p * half + i] = amplitude * Math.cos(angle);
      sin[p * half + i] = amplitude * Math.sin(angle);
    }
  }
  return { cos, sin };
}
