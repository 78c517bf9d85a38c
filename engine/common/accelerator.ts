// What the engine reports about the device it runs on (runtime-free: /info, /metrics, the
// dashboard and the CLI read it).

/** A WebGPU adapter as the system's Dawn reports it. */
export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software rasterizer (llvmpipe, SwiftShader, WARP): correct but CPU-speed. */
  software: boolean;
  /** The `shader-f16` feature (half-precision arithmetic in shaders). */
  shaderF16: boolean;
}

/**
 * int4 packages on the CPU provider (engine/runtime/int8MatMul.ts): 'all' runs every token's layer
 * matmuls in int8 (`--cpu-int8-matmul`); 'prompt' only prompt tokens', generated tokens keep int4
 * (`--cpu-int8-prefill`: two sessions, both weight copies loaded); 'off' runs the package as stored.
 */
export const INT8_MATMUL_MODES = ['off', 'prompt', 'all'] as const;
export type Int8MatMulMode = (typeof INT8_MATMUL_MODES)[number];

/** Where the KV cache lives: host memory (copied to the device each run) or the device itself. */
export type KvResidency = 'host' | 'device';

export interface AcceleratorSnapshot {
  /** Execution provider in use: 'cpu', 'webgpu', 'cuda', … */
  executionProvider: string;
  /** Threads onnxruntime runs a step's CPU ops on. */
  cpuThreads: number;
  /** Whether those threads spin between ops during a run (`--cpu-spinning`). */
  cpuSpinning: boolean;
  /** Which tokens the CPU provider runs through int8 layer matmuls (Int8MatMulMode). */
  cpuInt8MatMul: Int8MatMulMode;
  kvResidency: KvResidency;
  /** fp16: half-precision activations and KV cache (a shader-f16 GPU and a package with model.f16.onnx). */
  precision: 'fp32' | 'fp16';
  /** The WebGPU adapter, when that provider was considered (null otherwise or when none answered). */
  adapter: GpuAdapterInfo | null;
  /** Why the provider and residency are what they are (fallbacks, software adapters, old packages). */
  notes: string[];
  /** Host → device bytes since load (0 on the CPU provider: nothing crosses). */
  toDeviceBytes: number;
  /** Device → host bytes since load. */
  toHostBytes: number;
  /** Engine steps since load (bytes per step = the counters over this). */
  steps: number;
  /** KV-cache bytes held on the device now (0 when the cache lives in host memory). */
  deviceKvCacheBytes: number;
  /** Weights held on the device, as the package stores them after load (0 on the CPU provider). */
  deviceWeightsBytes: number;
}
