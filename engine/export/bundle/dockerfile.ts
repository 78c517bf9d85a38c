// The bundle's Dockerfile: multi-stage, four targets (gpu, gpu-volume, cpu, cpu-volume; the
// plan's choice is the last stage, so a plain `docker build .` builds it). Base images are pinned
// to exact tags; the runtime runs as a non-root user; the model is copied from its own stage so
// its (large) layer is built once and stays cached while the code changes. A build stage compiles
// the serving code (scripts/build.mjs --serving); the runtime images hold only that (dist/) and the
// production node_modules: no TypeScript, no compiler, none of the other commands' code.
import type { BundlePlan } from '../plan.js';

/** Pinned base images (exact tags, never `latest`). CUDA 12 + cuDNN 9 is what onnxruntime-node 1.30's CUDA provider links against. */
export const BASE_IMAGES = {
  node: 'node:20.19.5-bookworm-slim',
  cuda: 'nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04',
  model: 'busybox:1.37.0',
} as const;

export const CONTAINER_UID = 10001;

/** JSON-array (exec form) instruction arguments. */
const exec = (args: string[]) => JSON.stringify(args);

export function healthCheckCommand(port: number): string[] {
  // Node is in the image already; curl is not (one tool fewer to patch).
  return ['node', '-e', `fetch('http://127.0.0.1:${port}/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`];
}

/**
 * Arguments after `hearth serve`: the config, the device of this image variant (one tuned.json
 * serves both variants; the flag wins over the file) and the drain time on SIGTERM.
 */
/** Where the build stage compiles to and the runtime finds the serving code. */
export const SERVING_DIST_DIR = '/app/dist';
/** The container's entrypoint: `hearth serve` alone, compiled (scripts/build.mjs ENTRIES['hearth-serve']). */
export const SERVING_ENTRY = `${SERVING_DIST_DIR}/hearth-serve.mjs`;

export function serveArgs(plan: Pick<BundlePlan, 'containerConfigPath' | 'shutdownGraceSeconds'>, variant: 'gpu' | 'cpu'): string[] {
  return ['--config', plan.containerConfigPath, '--device', variant === 'gpu' ? 'cuda' : 'cpu', '--shutdown-grace-ms', String((plan.shutdownGraceSeconds - 5) * 1000)];
}

function depsStage(name: string, ortInstall: string, why: string): string {
  return `# ${why}
FROM ${BASE_IMAGES.node} AS ${name}
WORKDIR /app
# Compilers only for the rare case a native module has no prebuilt binary for this platform.
RUN apt-get update \\
 && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \\
 && rm -rf /var/lib/apt/lists/*
COPY app/package.json app/package-lock.json ./
RUN ONNXRUNTIME_NODE_INSTALL=${ortInstall} ELECTRON_SKIP_BINARY_DOWNLOAD=1 npm ci --omit=dev --no-audit --no-fund \\
 && npm cache clean --force`;
}

function buildStage(): string {
  return `# The serving code compiled once; only dist/ goes on to the runtime images.
FROM ${BASE_IMAGES.node} AS build
WORKDIR /src
COPY app/package.json app/package-lock.json ./
# The whole lockfile (esbuild is a dev dependency), install scripts skipped: nothing native is built or downloaded.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY app/scripts/build.mjs scripts/build.mjs
COPY app/engine engine
RUN node scripts/build.mjs --serving --outdir ${SERVING_DIST_DIR}`;
}

function finalStage(plan: BundlePlan, variant: 'gpu' | 'cpu', baked: boolean): string {
  const name = `${variant}${baked ? '' : '-volume'}`;
  const modelLine = baked
    ? `# The model first: its layer only changes when the model does.\nCOPY --from=model ${plan.containerModelsDir} ${plan.containerModelsDir}`
    : `# The model is mounted at ${plan.containerModelPath} (docker -v, a Kubernetes volume).\nVOLUME ["${plan.containerModelsDir}"]`;
  return `FROM runtime-${variant} AS ${name}
${modelLine}
COPY --from=build ${SERVING_DIST_DIR} ${SERVING_DIST_DIR}
# The tuned serving config (Kubernetes mounts its ConfigMap over it).
COPY config/tuned.json ${plan.containerConfigPath}
USER ${CONTAINER_UID}:${CONTAINER_UID}
EXPOSE ${plan.port}
HEALTHCHECK --interval=15s --timeout=5s --start-period=${plan.loadSeconds}s --retries=3 \\
  CMD ${exec(healthCheckCommand(plan.port))}
ENTRYPOINT ${exec(['node', SERVING_ENTRY])}
CMD ${exec(serveArgs(plan, variant))}`;
}

function runtimeStage(plan: BundlePlan, variant: 'gpu' | 'cpu'): string {
  const base = variant === 'gpu' ? BASE_IMAGES.cuda : BASE_IMAGES.node;
  const nodeLine = variant === 'gpu' ? '# Node runtime from the official image (the CUDA base has none).\nCOPY --from=node-dist /usr/local/bin/node /usr/local/bin/node\n' : '';
  return `FROM ${base} AS runtime-${variant}
${nodeLine}RUN groupadd --system --gid ${CONTAINER_UID} hearth \\
 && useradd --system --uid ${CONTAINER_UID} --gid hearth --home-dir ${plan.containerDataDir} --shell /usr/sbin/nologin hearth \\
 && mkdir -p ${plan.containerDataDir} /etc/hearth \\
 && chown hearth:hearth ${plan.containerDataDir}
COPY --from=deps-${variant} /app/node_modules /app/node_modules
ENV NODE_ENV=production \\
    HEARTH_HOME=${plan.containerDataDir} \\
    HEARTH_CONTAINER=1
WORKDIR /app`;
}

export function renderDockerfile(plan: BundlePlan): string {
  const other = plan.target === 'gpu' ? 'cpu' : 'gpu';
  // Stages a target never uses are skipped by BuildKit, so listing all variants costs nothing.
  const finals = [
    ...(plan.bakeModel ? [finalStage(plan, other, true)] : []),
    finalStage(plan, other, false),
    ...(plan.bakeModel ? [finalStage(plan, plan.target, false), finalStage(plan, plan.target, true)] : [finalStage(plan, plan.target, false)]),
  ];
  return `# syntax=docker/dockerfile:1
# Generated by \`hearth export\` (Hearth ${plan.hearthVersion}) for model '${plan.modelName}'.
# Targets:  gpu (CUDA, model baked in) · gpu-volume (CUDA, model mounted at ${plan.containerModelsDir})
#           cpu · cpu-volume (no GPU needed).  The last stage (${plan.buildTarget}) is the default.
#   docker build -t ${plan.image} .            # or: --target <name>
#   docker run --gpus all -p ${plan.port}:${plan.port} ${plan.image}

FROM ${BASE_IMAGES.node} AS node-dist

${buildStage()}

${depsStage('deps-gpu', 'cuda12', "Production dependencies with onnxruntime-node's CUDA 12 execution provider, fetched at build time.")}
# Fail the build, not the deployment, when the CUDA provider did not install.
RUN test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so

${depsStage('deps-cpu', 'skip', 'Production dependencies, CPU execution only.')}
${plan.bakeModel ? `
# The model package in a stage of its own: built once, cached while the code changes.
FROM ${BASE_IMAGES.model} AS model
COPY model/ ${plan.containerModelPath}/
` : ''}
${runtimeStage(plan, 'gpu')}

${runtimeStage(plan, 'cpu')}

${finals.join('\n\n')}
`;
}

export function renderDockerignore(): string {
  return ['# Only what the Dockerfile copies is sent to the builder.', '*', '!app/', '!config/', '!model/', 'app/node_modules', ''].join('\n');
}
