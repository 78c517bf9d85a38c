// What the vLLM and TGI targets share: both pull a pinned upstream image that downloads the
// original checkpoint from the Hub by repo id and commit, need a GPU, shared memory for PyTorch's
// workers and a writable cache for the download, and get their memory share from the sizing.
import { ExportError } from '../errors.js';
import type { HubSource } from '../hubSource.js';
import type { GpuSpec } from '../gpuCatalog.js';
import type { SizingResult } from '../sizing.js';
import type { EngineInput, ScratchVolume, SecretNeed } from './target.js';

/** The Hub checkpoint the engine must download, or a clear error for a package converted from a local folder. */
export function requireHubSource(input: EngineInput, engineLabel: string): HubSource {
  if (input.hub) return input.hub;
  throw new ExportError(
    `${engineLabel} serves the original checkpoint from the Hugging Face Hub (repo id and commit), and '${input.modelName}' has none on record: ` +
      `it was converted from a local folder, not pulled. Pull it with \`hearth pull <org/name>\` and export that package, or export with --engine hearth`,
  );
}

export function requireGpu(input: EngineInput, engineLabel: string): void {
  if (input.device !== 'gpu') {
    throw new ExportError(`${engineLabel}'s pinned image is its CUDA build: export with --target gpu, or use --engine hearth for a CPU deployment`);
  }
}

/** The engine's --dtype value for a package dtype, or a clear error naming the ones it takes. */
export function engineDtype(dtype: string, supported: Readonly<Record<string, string>>, engineLabel: string, repo: string): string {
  const value = supported[dtype];
  if (value) return value;
  const usable = Object.keys(supported).join(' or ');
  const why = dtype === 'int4'
    ? `Hearth's int4 is its own ONNX quantization of the weights; ${engineLabel} loads the original checkpoint and cannot reproduce it`
    : `${engineLabel}'s --dtype does not take ${dtype}`;
  throw new ExportError(`this package is ${dtype}: ${why}. Export an ${usable} variant (\`hearth pull ${repo} --dtype ${Object.keys(supported)[0]}\`), or export with --engine hearth`);
}

/**
 * Share of GPU memory the engine may take: the fill limit the sizing planned this GPU with
 * (usable ÷ total), so the engine's KV cache gets what the sizing left after weights and overhead
 * — at least the tuned budget, since the export refuses a GPU the config does not fit.
 */
export function gpuMemoryFraction(sizing: SizingResult, gpu: GpuSpec): number {
  const row = sizing.rows.find((candidate) => candidate.gpu === gpu.name);
  if (!row) throw new ExportError(`the sizing has no row for ${gpu.name}; pick a GPU from the table (--gpu)`);
  // The epsilon keeps 0.92 × memory (floored to bytes) at 0.92 rather than 0.91.
  return Math.floor((row.usableBytes / row.memoryBytes) * 100 + 1e-6) / 100;
}

export const SHM_BYTES = 2 ** 30;

export function upstreamScratch(cacheMountPath: string, weightsBytes: number): ScratchVolume[] {
  return [
    { name: 'hub-cache', mountPath: cacheMountPath, sizeLimitBytes: Math.ceil(weightsBytes * 1.2 + 2 ** 30), why: 'the checkpoint downloaded at start (an emptyDir: each new pod downloads it again; use a PVC to keep it)' },
    { name: 'shm', mountPath: '/dev/shm', sizeLimitBytes: SHM_BYTES, medium: 'Memory', why: "shared memory for PyTorch's worker processes (docker: --shm-size)" },
  ];
}

/** Host memory: the Python runtime and PyTorch (~4 GiB) plus the weights staged while loading. */
export function upstreamHostMemory(weightsBytes: number): { requestBytes: number; limitBytes: number } {
  return { requestBytes: Math.ceil(weightsBytes + 4 * 2 ** 30), limitBytes: Math.ceil(weightsBytes * 2 + 6 * 2 ** 30 + SHM_BYTES) };
}

export function upstreamSecrets(appName: string, apiKeyEnv: string): SecretNeed[] {
  return [
    { name: `${appName}-hf-token`, key: 'token', envName: 'HF_TOKEN', why: 'a Hugging Face token, needed for gated or private repos only' },
    { name: `${appName}-api-key`, key: 'api-key', envName: apiKeyEnv, why: 'clients must then send `Authorization: Bearer <key>`' },
  ];
}
