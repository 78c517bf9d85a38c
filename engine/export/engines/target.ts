// An engine target: everything about the serving container that depends on which engine runs in
// it (Hearth's own, vLLM or TGI) — image, arguments, environment, port, probes, the metric the
// autoscaler reads, secrets, writable paths — as plain data. The bundle's writers (Kubernetes,
// docker-compose, Vertex AI, README) read only this and the plan, so every engine gets the same
// bundle shape from one writer per file.
import type { MemoryEstimate } from '../../common/memoryEstimate.js';
import type { ServingConfig } from '../../common/servingConfig.js';
import type { GpuSpec } from '../gpuCatalog.js';
import type { HubSource } from '../hubSource.js';
import type { SizingResult } from '../sizing.js';

export const ENGINE_NAMES = ['hearth', 'vllm', 'tgi'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export function isEngineName(value: string): value is EngineName {
  return (ENGINE_NAMES as readonly string[]).includes(value);
}

/** A plain value, or one read from a Kubernetes Secret (optional: absent when the Secret is). */
export type EnvVar = { name: string; value: string } | { name: string; secret: { name: string; key: string } };

export interface SecretNeed {
  /** Secret name and key the Deployment reads. */
  name: string;
  key: string;
  /** Environment variable it becomes in the container. */
  envName: string;
  why: string;
}

export interface ScratchVolume {
  name: string;
  mountPath: string;
  sizeLimitBytes?: number;
  /** 'Memory': a tmpfs (shared memory for /dev/shm). */
  medium?: 'Memory';
  why: string;
}

/** One emitted flag and the Hearth setting it comes from (the bundle README's mapping table). */
export interface FlagMapping {
  flag: string;
  value: string | null;
  from: string;
  note?: string;
}

export interface EngineContainer {
  engine: EngineName;
  /** Container name in the pod, service name in docker-compose. */
  name: string;
  /** What the pods run. */
  image: string;
  /** Dockerfile target the bundle builds the image from; null when the image is pulled as is. */
  buildTarget: string | null;
  args: string[];
  env: EnvVar[];
  secrets: SecretNeed[];
  port: number;
  healthPath: string;
  metricsPath: string;
  /** The queue-depth series as the engine serves it on metricsPath. */
  queueMetric: string;
  /** What it means, for comments and the README. */
  queueMetricMeaning: string;
  /** The name prometheus-adapter serves it under and the HPA asks for (custom-metrics names avoid ':'). */
  hpaMetric: string;
  /** Where Vertex AI sends predictions, and whether clients must call :rawPredict (the engine does not speak Vertex's {"instances"} body). */
  predictRoute: string;
  vertexRawPredict: boolean;
  /** Runs as this uid with a read-only root filesystem, or null: as the image's own user (root) with a writable root. */
  runAsUser: number | null;
  /** Mount path of the ConfigMap's tuned.json when the container reads it, else null (kept for provenance). */
  configMountPath: string | null;
  /** Where the model package volume is mounted read-only (Hearth, volume mode), else null. */
  modelsMountPath: string | null;
  scratch: ScratchVolume[];
  /** docker-compose health check (exec form, without "CMD"). */
  healthCheckCommand: string[];
  mapping: FlagMapping[];
  /** Engine-specific facts the README states (maintenance status, what does not map). */
  notes: string[];
}

/** What a target needs to decide its container: the plan's engine-independent parts. */
export interface EngineInput {
  appName: string;
  modelName: string;
  /** The tuned config (host form). */
  config: ServingConfig;
  sizing: SizingResult;
  gpu: GpuSpec;
  device: 'gpu' | 'cpu';
  bakeModel: boolean;
  port: number;
  /** The image the bundle builds (hearth) — `<name>:<tag>`. */
  builtImage: string;
  shutdownGraceSeconds: number;
  containerDataDir: string;
  containerConfigPath: string;
  hub: HubSource | null;
}

export interface EngineTarget {
  name: EngineName;
  /** Shown in the CLI help and the Export view. */
  label: string;
  /** Throws ExportError when the model or config cannot run on this engine (and says what to do). */
  container(input: EngineInput): EngineContainer;
  /** Seconds from container start to /health 200. */
  loadSeconds(weightsBytes: number, device: 'gpu' | 'cpu'): number;
  /** Host (CPU) memory request and limit of one pod; `cpuInt8MatMulBytes`: what the config's int8 matmuls add to Hearth on the CPU (other engines ignore the setting). */
  hostMemory(estimate: MemoryEstimate, device: 'gpu' | 'cpu', cpuInt8MatMulBytes: number): { requestBytes: number; limitBytes: number };
}

/** `--flag value` pairs (null value: a switch) in order, flattened for a container's args. */
export function flagArgs(mapping: readonly FlagMapping[]): string[] {
  return mapping.flatMap((entry) => (entry.value === null ? [entry.flag] : [entry.flag, entry.value]));
}
