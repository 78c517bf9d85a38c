// Memory for the dashboard: GPU memory from nvidia-smi where a GPU is present, system memory
// otherwise, and the engine's own share (weights, KV cache, the rest of its process).
import { execFile } from 'node:child_process';
import { freemem, totalmem } from 'node:os';
import type { AcceleratorSnapshot } from '../common/accelerator.js';
import type { MemoryReading } from '../common/adminApi.js';

export interface GpuMemory {
  name: string;
  usedBytes: number;
  totalBytes: number;
}

const MIB = 1024 * 1024;

/** Parses `nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader,nounits` (MiB). */
export function parseNvidiaSmi(output: string): GpuMemory[] {
  const gpus: GpuMemory[] = [];
  for (const line of output.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const parts = line.split(',').map((part) => part.trim());
    if (parts.length < 3) continue;
    const used = Number(parts[parts.length - 2]);
    const total = Number(parts[parts.length - 1]);
    if (!Number.isFinite(used) || !Number.isFinite(total)) continue;
    gpus.push({ name: parts.slice(0, -2).join(', '), usedBytes: used * MIB, totalBytes: total * MIB });
  }
  return gpus;
}

/** Reads GPU 0 through nvidia-smi; null when there is no nvidia-smi or it fails. */
export function readNvidiaSmi(timeoutMs = 2000): Promise<GpuMemory | null> {
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=name,memory.used,memory.total', '--format=csv,noheader,nounits'],
      { timeout: timeoutMs },
      (error, stdout) => {
        if (error) return resolve(null);
        resolve(parseNvidiaSmi(String(stdout))[0] ?? null);
      },
    );
  });
}

export interface EngineMemory {
  weightsBytes: number;
  kvCacheBytes: number;
  /** Resident memory of the whole host process (system-memory mode) or the GPU's used bytes. */
  processBytes: number;
  accelerator?: AcceleratorSnapshot | null;
}

/** Combines a device reading with the engine's share. `other` = what the engine holds beyond weights and KV. */
export function memoryReading(gpu: GpuMemory | null, engine: EngineMemory, system = { totalBytes: totalmem(), freeBytes: freemem() }): MemoryReading {
  const otherBytes = Math.max(0, engine.processBytes - engine.weightsBytes - engine.kvCacheBytes);
  if (gpu) {
    return {
      source: 'nvidia-smi',
      deviceName: gpu.name,
      usedBytes: gpu.usedBytes,
      totalBytes: gpu.totalBytes,
      engine: { weightsBytes: engine.weightsBytes, kvCacheBytes: engine.kvCacheBytes, otherBytes },
      accelerator: engine.accelerator ?? null,
    };
  }
  return {
    source: 'system',
    deviceName: 'System memory (no NVIDIA GPU found)',
    usedBytes: system.totalBytes - system.freeBytes,
    totalBytes: system.totalBytes,
    engine: { weightsBytes: engine.weightsBytes, kvCacheBytes: engine.kvCacheBytes, otherBytes },
    accelerator: engine.accelerator ?? null,
  };
}

/**
 * Polls nvidia-smi at most every `intervalMs` (it takes ~50 ms to run) and remembers a missing
 * nvidia-smi, so a CPU machine does not spawn a failing process every second.
 */
export class MemoryProbe {
  private lastGpu: GpuMemory | null = null;
  private hasNvidiaSmi = true;
  private lastPollMs = 0;
  private polling = false;

  constructor(private readonly intervalMs = 1000) {}

  /** The latest GPU reading (null on CPU machines); refreshes in the background. */
  gpu(): GpuMemory | null {
    const now = Date.now();
    if (this.hasNvidiaSmi && !this.polling && now - this.lastPollMs >= this.intervalMs) {
      this.polling = true;
      this.lastPollMs = now;
      void readNvidiaSmi().then((gpu) => {
        this.polling = false;
        if (gpu === null && this.lastGpu === null) this.hasNvidiaSmi = false;
        this.lastGpu = gpu;
      });
    }
    return this.lastGpu;
  }
}
