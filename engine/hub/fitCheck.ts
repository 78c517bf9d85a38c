// "Will it fit?" before a download: the repo's config.json gives the shape, engine/common's
// memoryEstimate gives weights + KV cache + overhead, compared with the GPU memory nvidia-smi
// reports, or the RAM available on CPU.
import { execFileSync } from 'node:child_process';
import { cpus, freemem, totalmem } from 'node:os';
import type { ModelDtype } from '../common/manifest.js';
import { fitVerdict, modelShapeFromHfConfig, type EstimateShape, type FitVerdict } from '../common/memoryEstimate.js';
import { resolveUrl } from './download.js';
import { throwForResponse, type HubSettings } from './hubSettings.js';

export interface DetectedMemory {
  device: 'cuda' | 'cpu';
  /** GPU or CPU model name. */
  name: string;
  totalBytes: number;
  /** Free now: GPU memory not in use, or RAM the OS reports as available. */
  availableBytes: number;
}

/** The first NVIDIA GPU when nvidia-smi answers, else this machine's RAM. */
export function detectMemory(prefer: 'auto' | 'cpu' | 'gpu' = 'auto'): DetectedMemory {
  if (prefer !== 'cpu') {
    const gpu = detectNvidiaGpu();
    if (gpu) return gpu;
  }
  return { device: 'cpu', name: cpus()[0]?.model.trim() ?? 'CPU', totalBytes: totalmem(), availableBytes: freemem() };
}

function detectNvidiaGpu(): DetectedMemory | undefined {
  let output: string;
  try {
    output = execFileSync('nvidia-smi', ['--query-gpu=name,memory.total,memory.used', '--format=csv,noheader,nounits'], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return undefined;
  }
  return parseNvidiaSmi(output);
}

/** `NVIDIA L4, 23034, 1` (MiB) → the GPU with the most free memory. */
export function parseNvidiaSmi(output: string): DetectedMemory | undefined {
  const MiB = 1024 * 1024;
  const gpus = output
    .trim()
    .split('\n')
    .map((line) => line.split(',').map((part) => part.trim()))
    .filter((parts) => parts.length >= 3 && Number.isFinite(Number(parts[1])))
    .map(([name, total, used]) => ({ device: 'cuda' as const, name: name!, totalBytes: Number(total) * MiB, availableBytes: (Number(total) - Number(used)) * MiB }));
  gpus.sort((a, b) => b.availableBytes - a.availableBytes);
  return gpus[0];
}

export interface FitCheckInput {
  /** config.json of the model. */
  config: Record<string, unknown>;
  dtype: ModelDtype;
  /** Default: the model's context, capped at DEFAULT_FIT_CONTEXT_TOKENS. */
  contextTokens?: number;
  /** Default DEFAULT_FIT_SEQUENCES. */
  numSequences?: number;
  memory: DetectedMemory;
}

export const DEFAULT_FIT_CONTEXT_TOKENS = 4096;
export const DEFAULT_FIT_SEQUENCES = 4;

export interface FitCheckResult {
  shape: EstimateShape & { contextLength: number; modelType: string };
  memory: DetectedMemory;
  verdict: FitVerdict;
}

export function checkFit(input: FitCheckInput): FitCheckResult {
  const shape = modelShapeFromHfConfig(input.config);
  const contextTokens = input.contextTokens ?? Math.min(shape.contextLength, DEFAULT_FIT_CONTEXT_TOKENS);
  const verdict = fitVerdict({ shape, dtype: input.dtype, contextTokens, numSequences: input.numSequences ?? DEFAULT_FIT_SEQUENCES }, input.memory.availableBytes);
  return { shape, memory: input.memory, verdict };
}

/** Reads config.json of repo@commit from the Hub (a few KB; not written to the cache). */
export async function fetchConfig(settings: HubSettings, repo: string, commit: string): Promise<Record<string, unknown>> {
  const response = await settings.fetch(resolveUrl(settings.endpoint, repo, commit, 'config.json'));
  if (!response.ok) await throwForResponse(response, repo, settings, `Reading config.json of ${repo}`);
  return (await response.json()) as Record<string, unknown>;
}
