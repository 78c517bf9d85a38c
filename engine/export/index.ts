// `hearth size` and `hearth export`: GPU sizing and cost for a serving config, and a production
// bundle (Dockerfile, docker-compose.yml, k8s/, vertex-ai.sh, README.md) that serves it.
// Clean functions for the CLI and the desktop host's admin API (Export view):
//
//   sizeConfig({ config, gpus?, prices?, throughput?, targetRequestsPerSec? }) → SizingResult
//     (rows: per GPU fits / maxConcurrency / $ per hour and month / replicas; notes; recommended)
//   sizeDeployment({ model, batching, gpus, prices, ... }) → same, from a manifest you already have
//   writeBundle({ config, outDir, target: 'gpu'|'cpu', engine?: 'hearth'|'vllm'|'tgi', bakeModel, gpuName?, ... }) → { outDir, files, plan, sizing }
//   previewBundle({ ...same without outDir }) → { 'Dockerfile': text, 'k8s/deployment.yaml': text, ... }
//   DEFAULT_GPUS, DEFAULT_PRICES (editable tables; sources in gpuCatalog.ts), parseGpuTable, parsePriceTable
export * from './gpuCatalog.js';
export * from './sizing.js';
export { planBundle, estimateLoadSeconds, dnsLabel, type BundlePlan, type BundleTarget, type BundlePlanInput } from './plan.js';
export { writeBundle, previewBundle, sizeConfig, readManifest, packageDirOf, throughputFromConfig, ExportError, type ExportOptions, type ExportResult } from './bundle.js';
export { renderDockerfile, BASE_IMAGES, CONTAINER_UID } from './bundle/dockerfile.js';
export { buildK8sManifests, renderK8s, prometheusAdapterValues, QUEUE_METRIC, type K8sManifests } from './bundle/k8s.js';
export { composeObject, renderCompose } from './bundle/compose.js';
export { renderVertexScript } from './bundle/vertex.js';
export { renderReadme } from './bundle/readme.js';
export { hubSourceOf, type HubSource } from './hubSource.js';
export { ENGINE_NAMES, ENGINE_TARGETS, engineTarget, isEngineName, gpuMemoryFraction, VLLM_IMAGE, VLLM_FLAGS, VLLM_ENV, VLLM_METRICS, VLLM_DOCS, TGI_IMAGE, TGI_FLAGS, TGI_ENV, TGI_METRICS, TGI_DOCS, type EngineName, type EngineContainer, type FlagMapping } from './engines/index.js';
