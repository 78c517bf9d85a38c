// GPU sizing and cost for a serving config: which GPUs hold the weights + KV cache + overhead,
// how many full-context sequences each could hold, what a replica costs per month, and how many
// replicas a target request rate needs at the measured throughput. Pure: the memory model is the
// engine's own estimator (engine/common/memoryEstimate.ts), not a second one.
import type { BatchingConfig } from '../common/batching.js';
import type { ModelManifest } from '../common/manifest.js';
import { estimateMemory, int4LayoutOf, kvBytesPerToken, kvDtypeFor, RUNTIME_OVERHEAD_BYTES, formatBytes, weightsBytes, type MemoryEstimate } from '../common/memoryEstimate.js';
import type { Int8MatMulMode } from '../common/accelerator.js';
import { HOURS_PER_MONTH, type GpuPrice, type GpuSpec } from './gpuCatalog.js';
import type { SizingRow as SizingRowSummary } from '../common/adminApi.js';

/**
 * Device memory the CUDA execution provider takes beyond weights, KV and activations: the CUDA
 * context (≈300–500 MiB), cuBLAS/cuDNN workspaces and ORT's arena slack. Conservative on purpose.
 */
export const GPU_RUNTIME_OVERHEAD_BYTES = 768 * 2 ** 20;
/** Share of device memory we plan to fill; the rest absorbs arena fragmentation. */
export const GPU_MEMORY_UTILIZATION = 0.92;
/** Replicas are planned to run at this share of their measured peak, so queues stay short. */
export const REPLICA_TARGET_UTILIZATION = 0.8;

export type SizedModel = Pick<ModelManifest, 'name' | 'dtype' | 'shape' | 'weightsBytes' | 'quantization'>;

export interface MeasuredThroughput {
  /** Aggregate generated tokens/s of one replica (e.g. tuning.throughputTokensPerSec). */
  tokensPerSec?: number;
  /** Completed requests/s of one replica; preferred over tokensPerSec when given. */
  requestsPerSec?: number;
  /** Generated tokens per request, to turn tokens/s into requests/s (default: 256). */
  tokensPerRequest?: number;
  /** Where it was measured (machine description), for the notes. */
  measuredOn?: string;
}

export interface SizingInput {
  model: SizedModel;
  batching: BatchingConfig;
  gpus: readonly GpuSpec[];
  prices: readonly GpuPrice[];
  throughput?: MeasuredThroughput;
  /** Requests per second the deployment must sustain (default 1). */
  targetRequestsPerSec?: number;
  /** Runtime memory beside weights/KV/activations; default the CUDA figure below (RUNTIME_OVERHEAD_BYTES for CPU). */
  gpuRuntimeOverheadBytes?: number;
  memoryUtilization?: number;
  /** The config's int8 matmuls for Hearth on the CPU (`cpuInt8MatMul`): their weights, counted apart (cpuInt8MatMulBytes). */
  cpuInt8MatMul?: Int8MatMulMode;
}

/** One GPU's row: the admin API's row (what the Export view shows) plus what the CLI and bundle use. */
export interface SizingRow extends SizingRowSummary {
  /** Device memory we plan to use (memoryBytes × utilization). */
  usableBytes: number;
  /** usdPerMonth × replicas. */
  deploymentUsdPerMonth: number | null;
}

export interface SizingResult {
  model: string;
  dtype: string;
  /** KV-cache tokens the config holds (over all sequences). */
  kvCacheTokens: number;
  kvBytesPerToken: number;
  /** The estimate for the config itself on a GPU (same for every GPU). */
  estimate: MemoryEstimate;
  rows: SizingRow[];
  /** The cheapest GPU that fits at the target rate, if any. */
  recommended: string | null;
  notes: string[];
  /** What the config's int8 matmuls add to Hearth's memory on the CPU (0 when off, or nothing to expand). */
  cpuInt8MatMulBytes: number;
}

/** KV-cache tokens a batching config reserves: its explicit budget, else its batch token limit. */
export function kvCacheTokensOf(batching: BatchingConfig, bytesPerToken: number): number {
  if (batching.kvCacheBytes > 0) return Math.floor(batching.kvCacheBytes / bytesPerToken);
  return Math.min(batching.maxBatchTotalTokens, batching.maxBatchSize * batching.maxTotalTokens);
}

export function replicasFor(targetRequestsPerSec: number, replicaRequestsPerSec: number): number {
  if (!(replicaRequestsPerSec > 0)) throw new Error('measured throughput must be above 0 to plan replicas');
  return Math.max(1, Math.ceil(targetRequestsPerSec / (replicaRequestsPerSec * REPLICA_TARGET_UTILIZATION) - 1e-9));
}

export function sizeDeployment(input: SizingInput): SizingResult {
  const { model, batching } = input;
  const overheadGpu = input.gpuRuntimeOverheadBytes ?? GPU_RUNTIME_OVERHEAD_BYTES;
  const utilization = input.memoryUtilization ?? GPU_MEMORY_UTILIZATION;
  const perToken = kvBytesPerToken(model.shape, kvDtypeFor(model.dtype));
  const kvTokens = kvCacheTokensOf(batching, perToken);
  const estimateFor = (contextTokens: number, numSequences: number) =>
    estimateMemory({
      shape: model.shape,
      dtype: model.dtype,
      contextTokens,
      numSequences,
      maxPrefillTokens: batching.maxPrefillTokens,
      runtimeOverheadBytes: overheadGpu,
      knownWeightsBytes: model.weightsBytes,
      int4Layout: int4LayoutOf(model),
    });
  const numSequences = Math.max(1, batching.maxBatchSize);
  const estimate = estimateFor(kvTokens / numSequences, numSequences);

  const throughput = input.throughput ?? {};
  const tokensPerRequest = throughput.tokensPerRequest ?? 256;
  const replicaRequestsPerSec = throughput.requestsPerSec ?? (throughput.tokensPerSec !== undefined ? throughput.tokensPerSec / tokensPerRequest : undefined);
  const targetRequestsPerSec = input.targetRequestsPerSec ?? 1;

  const rows = input.gpus.map((gpu): SizingRow => {
    const usableBytes = Math.floor(gpu.memoryBytes * utilization);
    const fits = estimate.totalBytes <= usableBytes;
    const maxConcurrency = largestFitting((n) => estimateFor(batching.maxTotalTokens, n).totalBytes <= usableBytes);
    const price = input.prices.find((entry) => entry.gpu.toLowerCase() === gpu.name.toLowerCase());
    const usdPerHour = price?.usdPerHour ?? null;
    const usdPerMonth = usdPerHour === null ? null : usdPerHour * HOURS_PER_MONTH;
    const replicas = fits && replicaRequestsPerSec !== undefined ? replicasFor(targetRequestsPerSec, replicaRequestsPerSec) : null;
    return {
      gpu: gpu.name,
      memoryBytes: gpu.memoryBytes,
      usableBytes,
      weightsBytes: estimate.weightsBytes,
      kvCacheBytes: estimate.kvCacheBytes,
      overheadBytes: estimate.activationBytes + estimate.overheadBytes,
      requiredBytes: estimate.totalBytes,
      fits,
      maxConcurrency,
      usdPerHour,
      usdPerMonth,
      replicas,
      deploymentUsdPerMonth: usdPerMonth !== null && replicas !== null ? usdPerMonth * replicas : null,
    };
  });

  const affordable = rows.filter((row) => row.fits && row.usdPerMonth !== null);
  affordable.sort((a, b) => (a.deploymentUsdPerMonth ?? a.usdPerMonth!) - (b.deploymentUsdPerMonth ?? b.usdPerMonth!));
  const notes = [
    `memory = weights ${formatBytes(estimate.weightsBytes)} + KV cache ${formatBytes(estimate.kvCacheBytes)} (${kvTokens} tokens × ${perToken} B) + working memory ${formatBytes(estimate.activationBytes)} (activations, attention workspace) + overhead ${formatBytes(estimate.overheadBytes)} (includes ${formatBytes(overheadGpu)} of runtime: ${overheadGpu === RUNTIME_OVERHEAD_BYTES ? 'CPU' : 'CUDA context and workspaces'})`,
    `a GPU fits when that total is within ${Math.round(utilization * 100)}% of its memory; max concurrency counts sequences at the full ${batching.maxTotalTokens}-token context`,
    `the estimator is engine/common/memoryEstimate.ts (the same one \`hearth fit\` uses, tested against the engine's measured memory on CPU); the GPU overhead is an assumption — check nvidia-smi on the target`,
  ];
  if (replicaRequestsPerSec === undefined) {
    notes.push('no measured throughput: run `hearth tune` or `hearth bench`, or pass --throughput, to plan replicas');
  } else {
    notes.push(
      `replicas = ceil(target ${targetRequestsPerSec} req/s ÷ (${replicaRequestsPerSec.toFixed(3)} req/s per replica × ${REPLICA_TARGET_UTILIZATION} target utilization))` +
        (throughput.requestsPerSec === undefined ? `, with ${tokensPerRequest} generated tokens per request` : '') +
        (throughput.measuredOn ? `; throughput measured on ${throughput.measuredOn} — a GPU replica is usually faster, so re-measure there (\`hearth bench\` against the deployed server) before buying` : ''),
    );
  }
  notes.push(`monthly = hourly × ${HOURS_PER_MONTH} h (on-demand list prices; edit the price table for your discounts)`);
  const int8Mode = input.cpuInt8MatMul ?? 'off';
  const layout = int4LayoutOf(model);
  const cpuInt8MatMulBytes = weightsBytes(model.shape, model.dtype, layout, int8Mode).loadedBytes - weightsBytes(model.shape, model.dtype, layout).loadedBytes;
  if (cpuInt8MatMulBytes > 0) notes.push(`on the CPU, Hearth's int8 matmuls (cpuInt8MatMul '${int8Mode}') add ${formatBytes(cpuInt8MatMulBytes)} of weights to its host memory (not to a GPU's)`);
  return {
    model: model.name,
    dtype: model.dtype,
    kvCacheTokens: kvTokens,
    kvBytesPerToken: perToken,
    estimate,
    rows,
    recommended: affordable[0]?.gpu ?? null,
    notes,
    cpuInt8MatMulBytes,
  };
}

/** Largest n ≥ 0 with fits(n) (fits is monotone decreasing), capped at 65536. */
function largestFitting(fits: (n: number) => boolean): number {
  if (!fits(1)) return 0;
  let low = 1;
  let high = 2;
  while (high <= 65536 && fits(high)) {
    low = high;
    high *= 2;
  }
  high = Math.min(high, 65537);
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (fits(mid)) low = mid;
    else high = mid;
  }
  return low;
}

/** Host (CPU) memory a container needs: for a GPU target ORT stages the weights in host memory while loading. */
export function hostMemoryBytes(target: 'gpu' | 'cpu', estimate: MemoryEstimate, cpuInt8MatMulBytes = 0): { requestBytes: number; limitBytes: number } {
  const nodeAndTokenizerBytes = RUNTIME_OVERHEAD_BYTES + 256 * 2 ** 20;
  if (target === 'cpu') {
    const requestBytes = Math.ceil((estimate.totalBytes + cpuInt8MatMulBytes) * 1.1 + nodeAndTokenizerBytes);
    return { requestBytes, limitBytes: Math.ceil(requestBytes * 1.5) };
  }
  const requestBytes = Math.ceil(estimate.weightsBytes + nodeAndTokenizerBytes + 512 * 2 ** 20);
  return { requestBytes, limitBytes: Math.ceil(estimate.weightsBytes * 2 + nodeAndTokenizerBytes + 1024 * 2 ** 20) };
}
