// The decisions behind a bundle, made once and shared by every file it contains: names, paths
// inside the image, the config the container serves, resources from the sizing, probe timings
// from the expected model load time, and the autoscaling envelope. Pure.
import type { ServingConfig } from '../common/servingConfig.js';
import { HEARTH_VERSION } from '../common/version.js';
import type { GpuSpec } from './gpuCatalog.js';
import type { HubSource } from './hubSource.js';
import type { SizingResult } from './sizing.js';
import { engineTarget, type EngineContainer, type EngineName } from './engines/index.js';

export { estimateLoadSeconds } from './engines/loadTime.js';

export type BundleTarget = 'gpu' | 'cpu';

export interface BundlePlanInput {
  /** The tuned config as `hearth tune` wrote it (model.package is a local path). */
  config: ServingConfig;
  sizing: SizingResult;
  target: BundleTarget;
  /** The engine the container runs (default hearth). */
  engine?: EngineName;
  /** The model's Hub checkpoint (vllm and tgi serve it; they refuse a package without one). */
  hub?: HubSource | null;
  /** Bake the model into the image (true) or mount it from a volume (false). */
  bakeModel: boolean;
  /** GPU the Kubernetes nodes and Vertex AI machines carry (GPU target). */
  gpu: GpuSpec;
  /** Image name without tag (default hearth-<model>). */
  imageName?: string;
  imageTag?: string;
  /** Expected seconds from container start to /health 200 (default: estimated from weights size). */
  loadSeconds?: number;
  /** Replicas the sizing asks for (default 1). */
  minReplicas?: number;
  maxReplicas?: number;
}

export interface BundlePlan {
  engine: EngineName;
  /** The serving container as the engine target decided it: image, args, env, port, probes, metric. */
  container: EngineContainer;
  hub: HubSource | null;
  appName: string;
  modelName: string;
  /** Directory name of the model package under /models. */
  modelDirName: string;
  image: string;
  imageName: string;
  imageTag: string;
  target: BundleTarget;
  bakeModel: boolean;
  /** Build target (Dockerfile stage) the bundle's own scripts use. */
  buildTarget: string;
  port: number;
  containerModelsDir: string;
  containerModelPath: string;
  containerConfigPath: string;
  containerDataDir: string;
  /** The config the container serves: the tuned one with container paths and 0.0.0.0:8080. */
  containerConfig: ServingConfig;
  gpu: GpuSpec;
  hostMemoryRequestBytes: number;
  hostMemoryLimitBytes: number;
  cpuRequest: string;
  loadSeconds: number;
  /** How long SIGTERM lets in-flight requests finish before the pod is killed. */
  shutdownGraceSeconds: number;
  minReplicas: number;
  maxReplicas: number;
  /** Average queued requests per pod above which the HPA adds pods. */
  queueDepthTarget: number;
  sizing: SizingResult;
  hearthVersion: string;
}

export const CONTAINER_PORT = 8080;
export const SHUTDOWN_GRACE_SECONDS = 25;

/** Lowercase DNS-1123 label from any name: what Kubernetes and image names accept. */
export function dnsLabel(name: string, maxLength = 40): string {
  const label = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '').slice(0, maxLength).replace(/-$/, '');
  return label || 'model';
}

export function planBundle(input: BundlePlanInput): BundlePlan {
  const { config, sizing } = input;
  const modelName = config.model.servedName ?? sizing.model;
  const modelDirName = dnsLabel(`${sizing.model}-${sizing.dtype}`, 63);
  const appName = dnsLabel(`hearth-${modelName}`);
  const imageName = input.imageName ?? appName;
  const imageTag = input.imageTag ?? `${HEARTH_VERSION}-${input.target}`;
  const containerModelsDir = '/models';
  const containerModelPath = `${containerModelsDir}/${modelDirName}`;
  const containerConfigPath = '/etc/hearth/tuned.json';
  const { apiKey: _neverInAnImage, ...server } = config.server;
  const containerConfig: ServingConfig = {
    ...config,
    model: { ...config.model, package: containerModelPath },
    // The API key comes from HEARTH_API_KEY (a secret), never from a file baked into an image.
    server: { ...server, host: '0.0.0.0', port: CONTAINER_PORT, vertex: true },
    device: input.target === 'gpu' ? 'cuda' : 'cpu',
  };
  const engine = input.engine ?? 'hearth';
  const target = engineTarget(engine);
  const host = target.hostMemory(sizing.estimate, input.target, sizing.cpuInt8MatMulBytes);
  const hub = input.hub ?? null;
  const container = target.container({
    appName,
    modelName,
    config,
    sizing,
    gpu: input.gpu,
    device: input.target,
    bakeModel: input.bakeModel,
    port: CONTAINER_PORT,
    builtImage: `${imageName}:${imageTag}`,
    shutdownGraceSeconds: SHUTDOWN_GRACE_SECONDS,
    containerDataDir: '/var/lib/hearth',
    containerConfigPath,
    hub,
  });
  const minReplicas = Math.max(1, input.minReplicas ?? 1);
  const maxReplicas = Math.max(minReplicas + 1, input.maxReplicas ?? Math.max(4, minReplicas * 3));
  return {
    engine,
    container,
    hub,
    appName,
    modelName,
    modelDirName,
    image: container.image,
    imageName,
    imageTag,
    target: input.target,
    bakeModel: input.bakeModel,
    buildTarget: `${input.target}${input.bakeModel ? '' : '-volume'}`,
    port: CONTAINER_PORT,
    containerModelsDir,
    containerModelPath,
    containerConfigPath,
    containerDataDir: '/var/lib/hearth',
    containerConfig,
    gpu: input.gpu,
    hostMemoryRequestBytes: host.requestBytes,
    hostMemoryLimitBytes: host.limitBytes,
    cpuRequest: input.target === 'gpu' ? '2' : String(Math.max(1, config.cpuThreads || 2)),
    loadSeconds: input.loadSeconds ?? target.loadSeconds(sizing.estimate.weightsBytes, input.target),
    shutdownGraceSeconds: SHUTDOWN_GRACE_SECONDS,
    minReplicas,
    maxReplicas,
    queueDepthTarget: Math.max(2, Math.ceil(config.batching.maxBatchSize / 8)),
    sizing,
    hearthVersion: HEARTH_VERSION,
  };
}

/** Kubernetes quantity in Mi, rounded up. */
export function mebibytes(bytes: number): string {
  return `${Math.ceil(bytes / 2 ** 20)}Mi`;
}
