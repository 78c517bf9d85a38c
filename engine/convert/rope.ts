// Rotary embedding tables baked into the graph: cos/sin [maxPositions, headDim / 2] for
// com.microsoft RotaryEmbedding (non-interleaved, i.e. HF's rotate_half layout). Scaling
// variants only change the inverse frequencies, so they are all handled here.
import type { RopeScaling } from '../common/modelConfig.js';

export function inverseFrequencies(headDim: number, theta: number, scaling: RopeScaling): Float64Array {
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / theta ** ((2 * i) / headDim);
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
  }
  return inv;
}

export function rotaryTables(headDim: number, theta: number, scaling: RopeScaling, maxPositions: number): { cos: Float32Array; sin: Float32Array } {
  const inv = inverseFrequencies(headDim, theta, scaling);
  const half = headDim / 2;
  const cos = new Float32Array(maxPositions * half);
  const sin = new Float32Array(maxPositions * half);
  for (let p = 0; p < maxPositions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * inv[i]!;
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}
