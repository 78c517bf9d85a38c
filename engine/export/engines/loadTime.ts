// Expected seconds from container start to /health 200, which sizes the startup probe.

/**
 * Hearth: reading the weights (~150 MB/s from a network disk, the slow case), building the session
 * (about as long again for a GPU upload), plus a fixed start-up of Node and the tokenizer.
 */
export function estimateLoadSeconds(weightsBytes: number, device: 'gpu' | 'cpu'): number {
  const readSeconds = weightsBytes / 150e6;
  const sessionSeconds = device === 'gpu' ? readSeconds + 15 : readSeconds * 0.5;
  return Math.ceil(10 + readSeconds + sessionSeconds);
}

/**
 * vLLM and TGI download the checkpoint from the Hub at start (~100 MB/s, a slow case), load it to
 * the GPU (as Hearth's GPU session does), then profile memory and capture CUDA graphs (~60 s).
 */
export function estimateDownloadAndLoadSeconds(weightsBytes: number): number {
  return Math.ceil(60 + weightsBytes / 100e6 + estimateLoadSeconds(weightsBytes, 'gpu'));
}
