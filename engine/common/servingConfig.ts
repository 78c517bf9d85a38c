// The serving config: what `hearth serve --config tuned.json` reads, what auto-tune writes,
// and what `hearth export` embeds in a production bundle. Runtime-free types; validation lives
// in engine/runtime/config.ts (the one place batching settings are read).
import type { BatchingConfig } from './batching.js';
import type { Int8MatMulMode } from './accelerator.js';

/** Every --device value, in the order help texts and the Serve view list them. */
export const DEVICE_CHOICES = ['auto', 'cpu', 'cuda', 'dml', 'coreml', 'webgpu'] as const;
export type DeviceChoice = (typeof DEVICE_CHOICES)[number];

/** The OpenAI API's port when none is given: `hearth serve`, the Serve view, `hearth bench --url`. */
export const DEFAULT_SERVE_PORT = 8000;

export interface ServingConfig {
  /** Schema version of this file. */
  version: 1;
  model: {
    /** Path of a model package directory (made by `hearth convert`/`pull`), or a library name. */
    package: string;
    /** Name the API reports and accepts in the `model` field; defaults to the manifest's name. */
    servedName?: string;
  };
  server: {
    host: string;
    port: number;
    /** When set, requests need `Authorization: Bearer <apiKey>`. Prefer HEARTH_API_KEY in production. */
    apiKey?: string;
    /** Allowed CORS origins; empty = CORS off (requests from any web page are refused). */
    corsOrigins: string[];
    /** Host names served besides loopback and `host` ('*' = any); guards against DNS rebinding. */
    allowedHosts?: string[];
    /** Serve Vertex AI's `/predict` contract as well. */
    vertex: boolean;
    maxBodyBytes: number;
  };
  device: DeviceChoice;
  /** Engine threads for CPU execution; 0 = one per physical core. */
  cpuThreads: number;
  /** CPU threads spin between a step's ops (faster on an idle machine, slower on a busy one); off when absent. */
  cpuSpinning?: boolean;
  /**
   * int4 packages on the CPU: the layers' matmuls in int8 (Int8MatMulMode). true = 'all' (faster
   * prefill, slower few-stream decode); 'prompt': prompt tokens only (the fast prefill, int4's
   * decode, both weight copies in memory); off when absent.
   */
  cpuInt8MatMul?: boolean | Int8MatMulMode;
  batching: BatchingConfig;
  logging: {
    /** Store prompt and response text in the request log. */
    contentLogging: boolean;
    retentionDays: number;
    retentionMaxRows: number;
  };
  /** Present when auto-tune produced this config: the objective and the measurements behind it. */
  tuning?: {
    objective: { ttftP95Ms?: number; itlP95Ms?: number; e2eP95Ms?: number };
    measuredAt: string;
    machine: string;
    throughputTokensPerSec: number;
    notes: string[];
  };
}

/** A config's `cpuInt8MatMul` as the engine's mode (true is 'all', absent is 'off'). */
export function int8MatMulModeOf(value: ServingConfig['cpuInt8MatMul']): Int8MatMulMode {
  if (value === true) return 'all';
  if (value === false || value === undefined) return 'off';
  return value;
}
