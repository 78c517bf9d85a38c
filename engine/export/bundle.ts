// Writes a production bundle to a directory: everything needed to deploy the tuned config on the
// chosen engine. Hearth: the image is built from the bundle, with the model package, Hearth's
// engine source and its build script copied in so the directory builds on its own (`docker build
// bundle/`: the image's build stage compiles the serving code; the runtime image holds only the
// result). vLLM/TGI: a pinned upstream image serves the Hub checkpoint; nothing is built.
import { chmodSync, cpSync, existsSync, linkSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { APP_ROOT } from '../appRoot.js';
import type { ModelManifest } from '../common/manifest.js';
import { RUNTIME_OVERHEAD_BYTES } from '../common/memoryEstimate.js';
import { int8MatMulModeOf, type ServingConfig } from '../common/servingConfig.js';
import { resolvePackage } from '../hub/library.js';
import { DEFAULT_GPUS, DEFAULT_PRICES, findGpu, type GpuPrice, type GpuSpec } from './gpuCatalog.js';
import { planBundle, type BundlePlan, type BundleTarget } from './plan.js';
import { sizeDeployment, type MeasuredThroughput, type SizingResult } from './sizing.js';
import { renderCompose } from './bundle/compose.js';
import { renderDockerfile, renderDockerignore } from './bundle/dockerfile.js';
import { renderK8s, renderPrometheusAdapterValues, renderTunedJson } from './bundle/k8s.js';
import { renderReadme } from './bundle/readme.js';
import { renderVertexScript } from './bundle/vertex.js';
import { isPackageCacheFile, PackageError, readManifest as readPackageManifest } from '../convert/modelPackage.js';
import type { EngineName } from './engines/index.js';
import { ExportError } from './errors.js';
import { hubSourceOf } from './hubSource.js';

export { ExportError } from './errors.js';

export interface ExportOptions {
  config: ServingConfig;
  outDir: string;
  target: BundleTarget;
  /** The engine production runs (default hearth). */
  engine?: EngineName;
  bakeModel: boolean;
  /** GPU for the Kubernetes/Vertex deployment; default: the cheapest that fits. */
  gpuName?: string;
  gpus?: readonly GpuSpec[];
  prices?: readonly GpuPrice[];
  throughput?: MeasuredThroughput;
  targetRequestsPerSec?: number;
  loadSeconds?: number;
  imageName?: string;
  imageTag?: string;
  /** Replace a non-empty directory that is not a previous bundle. */
  force?: boolean;
  /** Root of Hearth's source (package.json, package-lock.json, scripts/build.mjs, engine/); default: this installation. */
  appSourceDir?: string;
}

export interface ExportResult {
  outDir: string;
  /** Files written, relative to outDir (app/ and model/ summarized as directories). */
  files: string[];
  plan: BundlePlan;
  sizing: SizingResult;
}

const MARKER = '.hearth-bundle';

/** The package folder of a config's model.package: a package path or a library name (`hearth models`). */
export function packageDirOf(packageOrName: string): string {
  try {
    return resolvePackage(packageOrName);
  } catch (error) {
    throw new ExportError((error as Error).message.replace(/\.$/, ''));
  }
}

export function readManifest(packageOrName: string): ModelManifest {
  const packageDir = packageDirOf(packageOrName);
  try {
    return readPackageManifest(packageDir);
  } catch (error) {
    if (error instanceof PackageError) throw new ExportError(`${error.message.replace(/\.$/, '')} (the config's model.package)`);
    throw error;
  }
}

/** Throughput to plan replicas with: the tuning measurement unless the caller gives one. */
export function throughputFromConfig(config: ServingConfig): MeasuredThroughput | undefined {
  if (!config.tuning) return undefined;
  return { tokensPerSec: config.tuning.throughputTokensPerSec, measuredOn: config.tuning.machine };
}

/**
 * Sizing for a config. `target: 'cpu'` sizes with the CPU runtime's overhead (no CUDA context):
 * that is the figure the engine's measured memory on this machine is compared with.
 */
export function sizeConfig(options: Pick<ExportOptions, 'config' | 'gpus' | 'prices' | 'throughput' | 'targetRequestsPerSec'> & { target?: BundleTarget }, manifest?: ModelManifest): SizingResult {
  const model = manifest ?? readManifest(options.config.model.package);
  return sizeDeployment({
    model,
    batching: options.config.batching,
    gpus: options.gpus ?? DEFAULT_GPUS,
    prices: options.prices ?? DEFAULT_PRICES,
    throughput: options.throughput ?? throughputFromConfig(options.config),
    targetRequestsPerSec: options.targetRequestsPerSec,
    gpuRuntimeOverheadBytes: options.target === 'cpu' ? RUNTIME_OVERHEAD_BYTES : undefined,
    cpuInt8MatMul: int8MatMulModeOf(options.config.cpuInt8MatMul),
  });
}

function prepareOutDir(outDir: string, force: boolean): void {
  if (existsSync(outDir)) {
    if (!statSync(outDir).isDirectory()) throw new ExportError(`${outDir} exists and is not a directory`);
    const entries = readdirSync(outDir);
    if (entries.length > 0 && !entries.includes(MARKER) && !force) {
      throw new ExportError(`${outDir} is not empty and holds no previous bundle; choose an empty directory or pass --force`);
    }
    for (const entry of entries) rmSync(join(outDir, entry), { recursive: true, force: true });
  }
  mkdirSync(outDir, { recursive: true });
}

/** Hard-links files when source and bundle share a filesystem (a multi-GB model costs nothing), else copies. */
function linkOrCopyTree(from: string, to: string, include: (path: string) => boolean = () => true): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const source = join(from, name);
    const target = join(to, name);
    if (!include(source)) continue;
    if (statSync(source).isDirectory()) {
      linkOrCopyTree(source, target, include);
    } else {
      try {
        linkSync(source, target);
      } catch {
        cpSync(source, target);
      }
    }
  }
}

/** The plan and sizing for an export: the GPU (given, else the cheapest that fits), the engine's container. */
function planFor(options: Omit<ExportOptions, 'outDir'>): { plan: BundlePlan; sizing: SizingResult } {
  const manifest = readManifest(options.config.model.package);
  const gpus = options.gpus ?? DEFAULT_GPUS;
  const sizing = sizeConfig(options, manifest);
  let gpu: GpuSpec;
  try {
    gpu = findGpu(gpus, options.gpuName ?? sizing.recommended ?? 'L4');
  } catch (error) {
    throw new ExportError((error as Error).message);
  }
  const sizedRow = sizing.rows.find((row) => row.gpu === gpu.name);
  if (options.target === 'gpu' && sizedRow && !sizedRow.fits) {
    throw new ExportError(`the config needs ${(sizing.estimate.totalBytes / 2 ** 30).toFixed(1)} GiB, more than a ${gpu.name} offers; pick a larger GPU (--gpu) or lower maxBatchTotalTokens`);
  }
  const engine = options.engine ?? 'hearth';
  const plan = planBundle({
    config: options.config,
    sizing,
    target: options.target,
    engine,
    hub: engine === 'hearth' ? null : hubSourceOf(packageDirOf(options.config.model.package), manifest),
    bakeModel: options.bakeModel,
    gpu,
    imageName: options.imageName,
    imageTag: options.imageTag,
    loadSeconds: options.loadSeconds,
    minReplicas: sizedRow?.replicas ?? 1,
  });
  return { plan, sizing };
}

/** File (relative to the bundle) → content, for every generated text file of the plan's engine. */
function renderFiles(plan: BundlePlan, sizing: SizingResult): Record<string, string> {
  const hearth = plan.engine === 'hearth';
  const k8s = Object.fromEntries(Object.entries(renderK8s(plan)).map(([name, content]) => [`k8s/${name}`, content]));
  return {
    ...(hearth ? { Dockerfile: renderDockerfile(plan), '.dockerignore': renderDockerignore() } : {}),
    'docker-compose.yml': renderCompose(plan),
    'config/tuned.json': renderTunedJson(plan),
    ...k8s,
    'monitoring/prometheus-adapter-values.yaml': renderPrometheusAdapterValues(plan),
    'vertex-ai.sh': renderVertexScript(plan),
    'sizing.json': `${JSON.stringify(sizing, null, 2)}\n`,
    'README.md': renderReadme(plan),
  };
}

export function writeBundle(options: ExportOptions): ExportResult {
  const outDir = resolve(options.outDir);
  const { plan, sizing } = planFor(options);

  prepareOutDir(outDir, options.force ?? false);
  const files: string[] = [];
  const write = (path: string, content: string, mode?: number) => {
    const full = join(outDir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
    if (mode !== undefined) chmodSync(full, mode);
    files.push(path);
  };
  write(MARKER, `Written by hearth export; the next export into this directory replaces it.\n`);
  for (const [path, content] of Object.entries(renderFiles(plan, sizing))) write(path, content, path.endsWith('.sh') ? 0o755 : undefined);
  if (plan.engine !== 'hearth') return { outDir, files, plan, sizing };

  const appRoot = options.appSourceDir ?? APP_ROOT;
  for (const file of ['package.json', 'package-lock.json', 'scripts/build.mjs']) {
    if (!existsSync(join(appRoot, file))) throw new ExportError(`Hearth's ${file} is missing from ${appRoot}; export from a complete Hearth installation`);
    mkdirSync(dirname(join(outDir, 'app', file)), { recursive: true });
    cpSync(join(appRoot, file), join(outDir, 'app', file));
  }
  const notTests = (path: string) => !/\.test\.ts$/.test(path) && !relative(appRoot, path).split(/[\\/]/).includes('node_modules');
  linkOrCopyTree(join(appRoot, 'engine'), join(outDir, 'app', 'engine'), notTests);
  files.push('app/');
  if (options.bakeModel) {
    // Without the engine's caches, finished or being written (rebuilt by the container's first load that needs them).
    linkOrCopyTree(packageDirOf(options.config.model.package), join(outDir, 'model'), (path) => !isPackageCacheFile(basename(path)));
    files.push('model/');
  }
  return { outDir, files, plan, sizing };
}

/** The bundle's text files rendered in memory (for previews in the Export view). */
export function previewBundle(options: Omit<ExportOptions, 'outDir'>): Record<string, string> {
  const { plan, sizing } = planFor(options);
  const files = renderFiles(plan, sizing);
  delete files['.dockerignore'];
  return files;
}
