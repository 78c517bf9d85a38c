// README.md of the bundle: how to build (or pull), run, scale and benchmark it, which tuned setting
// became which engine flag, and what the sizing says.
import { formatBytes } from '../../common/memoryEstimate.js';
import type { BundlePlan } from '../plan.js';
import { TGI_DOCS } from '../engines/index.js';
import { engineLabel, prometheusAdapterValues, probeTimings, toYaml } from './k8s.js';

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

const usd = (value: number | null) => (value === null ? '—' : `$${value.toFixed(value < 10 ? 2 : 0)}`);

export function renderReadme(plan: BundlePlan): string {
  const { sizing, containerConfig: config } = plan;
  const b = config.batching;
  const tuning = config.tuning;
  const gpu = plan.target === 'gpu';
  const probes = probeTimings(plan.loadSeconds);
  const runFlags = gpu ? '--gpus all ' : '';
  const volumeFlag = plan.bakeModel ? '' : `-v /path/to/models:${plan.containerModelsDir}:ro `;

  const sizingRows = sizing.rows.map((row) => [
    row.gpu,
    formatBytes(row.memoryBytes),
    row.fits ? 'yes' : 'no',
    String(row.maxConcurrency),
    usd(row.usdPerHour),
    usd(row.usdPerMonth),
    row.replicas === null ? '—' : String(row.replicas),
    usd(row.deploymentUsdPerMonth),
  ]);

  const c = plan.container;
  const hearth = plan.engine === 'hearth';
  const label = engineLabel(plan);
  const secretLines = c.secrets.map((secret) => `kubectl create secret generic ${secret.name} --from-literal=${secret.key}=${secret.envName === 'HF_TOKEN' ? 'hf_...' : 'change-me'}   # optional: ${secret.why}`).join('\n');
  const top = hearth ? hearthTop(plan, runFlags, volumeFlag, gpu) : upstreamTop(plan);
  const mappingRows = c.mapping.map((entry) => [`\`${entry.flag}${entry.value === null ? '' : ` ${entry.value}`}\``, entry.from + (entry.note ? ` — ${entry.note}` : '')]);
  const adapterName = c.hpaMetric === c.queueMetric ? c.queueMetric : `${c.queueMetric}, renamed ${c.hpaMetric}`;
  return `${top}## Kubernetes

\`\`\`sh
${secretLines}
kubectl apply -f k8s/
kubectl rollout status deployment/${plan.appName}
\`\`\`

- One ${gpu ? `\`nvidia.com/gpu\` (${plan.gpu.name}) per pod` : 'CPU pod'}; host memory request ${formatBytes(plan.hostMemoryRequestBytes)}, limit ${formatBytes(plan.hostMemoryLimitBytes)}.${gpu && plan.gpu.gkeAccelerator ? `\n- On GKE, choose the GPU with \`nodeSelector: {cloud.google.com/gke-accelerator: ${plan.gpu.gkeAccelerator}}\` in the Deployment.` : ''}
- Probes on \`${c.healthPath}\`: a startup probe allows ${probes.startupFailureThreshold * probes.startupPeriodSeconds} s for the model to ${hearth ? 'load' : 'download and load'} (expected ≈ ${plan.loadSeconds} s,
  about twice that), then readiness every ${probes.readinessPeriodSeconds} s and liveness every ${probes.livenessPeriodSeconds} s.
- Rolling updates add a pod before removing one (\`maxUnavailable: 0\`); the PodDisruptionBudget lets
  drains evict one pod at a time.${c.modelsMountPath ? `\n- The model comes from the \`${plan.appName}-models\` claim (ReadOnlyMany). Fill it once, e.g. with a pod that mounts it read-write and \`kubectl cp\` the package to \`${plan.modelDirName}/\`.` : ''}${c.scratch.map((scratch) => `\n- \`${scratch.mountPath}\`: ${scratch.why}.`).join('')}
- \`k8s/configmap.yaml\` holds the tuned Hearth config${c.configMountPath ? ` the container serves (mounted at ${plan.containerConfigPath})` : ` the flags were derived from (for the record; ${label} does not read it)`}.

### Autoscaling on queue depth

The HorizontalPodAutoscaler scales on \`${c.queueMetric}\` — ${c.queueMetricMeaning}, per pod, as ${label}
serves it on \`${c.metricsPath}\` — not on CPU or GPU utilisation, which stay high even when latency is fine. It adds
pods when the per-pod average exceeds **${plan.queueDepthTarget}** (maxBatchSize ${b.maxBatchSize} ÷ 8, at least 2), at most
+2 pods or ×2 per minute; it removes one pod per 5 minutes after 10 quiet minutes (a pod brought
back costs a cold start). Replicas: ${plan.minReplicas}–${plan.maxReplicas}.

The metric reaches the HPA through a custom-metrics adapter (${adapterName}). With Prometheus scraping the pods
(they carry \`prometheus.io/scrape\` annotations) install prometheus-adapter with the rule in
\`monitoring/prometheus-adapter-values.yaml\`:

\`\`\`yaml
${adapterYaml(plan)}
\`\`\`

\`kubectl get --raw "/apis/custom.metrics.k8s.io/v1beta1/namespaces/default/pods/*/${c.hpaMetric}"\`
shows what the HPA sees.

## Vertex AI

${hearth
  ? `\`PROJECT=my-project REGION=us-central1 ./vertex-ai.sh\` builds the \`${gpu ? 'gpu' : 'cpu'}\` target, pushes it to
Artifact Registry, uploads it with \`--container-health-route=/health --container-predict-route=/predict
--container-ports=${plan.port}\`, and deploys it${gpu ? ` on ${plan.gpu.gcpAccelerator ?? 'nvidia-l4'}` : ''}. \`/predict\` takes
\`{"instances": [<chat or completion body>, ...]}\` and answers \`{"predictions": [<OpenAI response>, ...]}\`.
${plan.bakeModel ? '' : 'This bundle mounts the model from a volume, which Vertex AI cannot do: re-export with `--bake-model`.\n'}`
  : `\`PROJECT=my-project REGION=us-central1 [HF_TOKEN=hf_...] ./vertex-ai.sh\` mirrors \`${c.image}\` into Artifact Registry,
uploads it with \`--container-ports=${c.port} --container-health-route=${c.healthPath} --container-predict-route=${c.predictRoute}\`
and the flags below as \`--container-args\`, and deploys it${gpu ? ` on ${plan.gpu.gcpAccelerator ?? 'nvidia-l4'}` : ''}. ${label} does not read Vertex's
\`{"instances": [...]}\` body: call the endpoint's \`:rawPredict\` with an OpenAI chat body (the script prints an example).
`}
## Benchmark the deployment against the desktop

\`hearth bench\` measures any OpenAI-compatible server, so the numbers compare like for like:

\`\`\`sh
kubectl port-forward service/${plan.appName} 8080:80 &          # or the Ingress / load balancer URL
hearth bench --url http://127.0.0.1:8080 --model ${plan.modelName}${hearth ? '' : ' --api-key change-me'} --label ${plan.appName}-${plan.engine}
hearth bench --list                                              # find the desktop run the tuning used
hearth bench --compare <desktop-run> ${plan.appName}-${plan.engine}
\`\`\`

${tuning ? `The desktop measured ${tuning.throughputTokensPerSec.toFixed(1)} tokens/s on ${tuning.machine}; the sizing's replica count assumes it — if the deployment is faster, lower minReplicas.` : 'Benchmark the desktop first (`hearth bench` against `hearth serve`) so there is a run to compare with.'}
${hearth ? '' : `The engines differ in what they count (${label} reports its own queue and batch metrics), so compare latency and throughput from \`hearth bench\`, not the servers' own gauges.\n`}
## Serving settings

${hearth ? `| Setting | Value |
|---|---|
| device | ${config.device} |
| maxBatchSize | ${b.maxBatchSize} |
| maxBatchTotalTokens | ${b.maxBatchTotalTokens} |
| maxPrefillTokens | ${b.maxPrefillTokens} |
| maxQueuedTokens | ${b.maxQueuedTokens} |
| maxConcurrentRequests | ${b.maxConcurrentRequests} |
| maxInputTokens / maxTotalTokens | ${b.maxInputTokens} / ${b.maxTotalTokens} |
| kvCacheBytes | ${b.kvCacheBytes === 0 ? 'derived at start' : formatBytes(b.kvCacheBytes)} |
` : `The tuned settings as ${label} flags (the full mapping, with the ${label} documentation for each flag and what does not map: engine/export/README.md in Hearth's source):

${table([`${label} flag`, 'from'], mappingRows)}

${c.notes.map((note) => `- ${note}`).join('\n')}
`}
${tuning ? `Tuned ${tuning.measuredAt} on ${tuning.machine}: ${tuning.throughputTokensPerSec.toFixed(1)} tokens/s while meeting
${Object.entries(tuning.objective).map(([key, value]) => `${key} ≤ ${value} ms`).join(', ') || 'no latency objective'}.
${tuning.notes.map((note) => `- ${note}`).join('\n')}
` : 'This config was not produced by `hearth tune`; its settings are unmeasured.\n'}
## Sizing

${table(['GPU', 'memory', 'fits', 'max concurrency', '$/h', '$/month', 'replicas', 'deployment $/month'], sizingRows)}

${sizing.recommended ? `**Cheapest that fits: ${sizing.recommended}.** ` : '**No listed GPU fits this config.** '}Memory for this config: ${formatBytes(sizing.estimate.totalBytes)}
(weights ${formatBytes(sizing.estimate.weightsBytes)}, KV cache ${formatBytes(sizing.estimate.kvCacheBytes)} for ${sizing.kvCacheTokens} tokens,
activations ${formatBytes(sizing.estimate.activationBytes)}, overhead ${formatBytes(sizing.estimate.overheadBytes)}).${hearth ? '' : `
The figures are Hearth's estimate for its own engine on this package; ${label} allocates its KV cache from the memory share it is given, so they bound what it needs rather than predict it.`}

${sizing.notes.map((note) => `- ${note}`).join('\n')}
`;
}

/** The adapter rule as the README shows it: the same object monitoring/prometheus-adapter-values.yaml ships. */
function adapterYaml(plan: BundlePlan): string {
  return toYaml(prometheusAdapterValues(plan.container)).trimEnd();
}

function upstreamTop(plan: BundlePlan): string {
  const c = plan.container;
  const label = engineLabel(plan);
  const hub = plan.hub!;
  const maintenance = plan.engine === 'tgi'
    ? `> **TGI is in maintenance mode.** Hugging Face accepts only minor fixes to it and recommends vLLM, SGLang or
> llama.cpp going forward (${TGI_DOCS.maintenance}). This bundle works, but prefer \`hearth export --engine vllm\` for a new deployment.

`
    : '';
  const dockerArgs = c.args.map((arg) => (/^[\w./:@=-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
  return `# ${plan.modelName} — ${label} serving bundle

${maintenance}Generated by \`hearth export --engine ${plan.engine}\` (Hearth ${plan.hearthVersion}). The pods run the pinned upstream image
\`${c.image}\`, which downloads the original checkpoint **${hub.repo}** at commit \`${hub.commit}\`
(the one \`hearth pull\` fetched) from the Hugging Face Hub and serves it with the settings you tuned on the
desktop, translated to ${label}'s flags (below). Hearth's converted package is not used, and no image is built.

| File | What it is |
|---|---|
| \`docker-compose.yml\` | one service: the ${label} image with its flags, GPU reserved, Hub cache volume, shared memory, health check |
| \`k8s/\` | Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget, ConfigMap (the tuned Hearth config, for the record); Secrets are created with \`kubectl create secret\` (below) |
| \`monitoring/prometheus-adapter-values.yaml\` | exposes \`${c.queueMetric}\` to the autoscaler${c.hpaMetric === c.queueMetric ? '' : ` as \`${c.hpaMetric}\``} |
| \`vertex-ai.sh\` | mirror the image to Artifact Registry, upload and deploy on Vertex AI |
| \`config/tuned.json\` | the tuned Hearth config the flags come from |
| \`sizing.json\` | the sizing below, machine-readable |

## Run

\`\`\`sh
docker run --rm --gpus all --shm-size 1g -p ${c.port}:${c.port} -e HF_TOKEN ${c.image} \\
  ${dockerArgs}
curl -s localhost:${c.port}${c.healthPath}            # 200 once the model is loaded
curl -s localhost:${c.port}/v1/chat/completions -H 'Content-Type: application/json' \\
  -d '{"model": "${plan.modelName}", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 32}'
\`\`\`

or \`docker compose up -d\`. \`HF_TOKEN\` is needed only for gated or private repos (accept the model's terms on
the Hub first); set the API-key variable (\`${c.secrets.find((secret) => secret.envName !== 'HF_TOKEN')?.envName}\`) to require \`Authorization: Bearer <key>\`.
GPU containers need the NVIDIA Container Toolkit on the host. Metrics: \`${c.metricsPath}\` (Prometheus).

`;
}

function hearthTop(plan: BundlePlan, runFlags: string, volumeFlag: string, gpu: boolean): string {
  return `# ${plan.modelName} — Hearth serving bundle

Generated by \`hearth export\` (Hearth ${plan.hearthVersion}). The container runs the same engine and
the same tuned settings you measured on the desktop: \`hearth serve --config ${plan.containerConfigPath}\`.

| File | What it is |
|---|---|
| \`Dockerfile\` | multi-stage image; targets \`gpu\`, \`gpu-volume\`, \`cpu\`, \`cpu-volume\`; default \`${plan.buildTarget}\` |
| \`config/tuned.json\` | the serving config baked into the image (the API key is never in it) |
| \`app/\` | Hearth's engine source, lockfile and build script: the image's build stage compiles the serving code, and the runtime image holds only that and the production dependencies (Node ${'20'}, no TypeScript) |
${plan.bakeModel ? `| \`model/\` | the model package, copied into the image by its own cached stage |\n` : ''}| \`docker-compose.yml\` | one service, ${gpu ? 'GPU reserved, ' : ''}health check, ${plan.bakeModel ? 'data volume' : 'model and data volumes'} |
| \`k8s/\` | ConfigMap, Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget${plan.bakeModel ? '' : ', model PersistentVolumeClaim'} |
| \`monitoring/prometheus-adapter-values.yaml\` | exposes \`${plan.container.queueMetric}\` to the autoscaler |
| \`vertex-ai.sh\` | build, push, upload and deploy on Vertex AI |
| \`sizing.json\` | the full sizing below, machine-readable |

## Build

\`\`\`sh
docker build -t ${plan.image} .                    # ${plan.buildTarget}
docker build --target cpu-volume -t ${plan.imageName}:cpu .   # any other variant
\`\`\`

The GPU targets start from \`nvidia/cuda\` (CUDA 12 + cuDNN 9) and install onnxruntime-node's CUDA
provider at build time (\`ONNXRUNTIME_NODE_INSTALL=cuda12\`); the build fails if it is missing.
The model ${plan.bakeModel ? 'is copied from a stage of its own, so rebuilding after a code change reuses its cached layer' : `is not in the image: mount the package at \`${plan.containerModelPath}\``}.
The image runs as uid 10001 and never as root.

## Run

\`\`\`sh
docker run --rm ${runFlags}-p ${plan.port}:${plan.port} ${volumeFlag}-e HEARTH_API_KEY=change-me ${plan.image}
curl -s localhost:${plan.port}/health            # 200 once the model is loaded and answered its warm-up
curl -s localhost:${plan.port}/v1/chat/completions -H 'Authorization: Bearer change-me' -H 'Content-Type: application/json' \\
  -d '{"model": "${plan.modelName}", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 32}'
\`\`\`

or \`docker compose up --build -d\`${plan.bakeModel ? '' : ` (put the package in \`./models/${plan.modelDirName}\`, or set \`HEARTH_MODELS_DIR\`)`}.
${gpu ? 'GPU containers need the NVIDIA Container Toolkit on the host.\n' : ''}
Routes: OpenAI \`/v1/chat/completions\`, \`/v1/completions\`, \`/v1/models\`; TGI \`/generate\`,
\`/generate_stream\`, \`/info\` (the effective settings); \`/predict\` (Vertex AI); \`/health\`; \`/metrics\`
(Prometheus). SIGTERM stops admissions, lets in-flight requests finish for up to
${plan.shutdownGraceSeconds - 5} s, then exits 0.

`;
}
