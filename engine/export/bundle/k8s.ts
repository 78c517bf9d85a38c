// Kubernetes manifests: ConfigMap (the tuned config), Deployment, Service, HorizontalPodAutoscaler
// (autoscaling/v2, on the engine's per-pod queue depth — hearth_queue_size, vllm:num_requests_waiting,
// tgi_queue_size — served through a custom-metrics adapter), PodDisruptionBudget, and a
// PersistentVolumeClaim for the model when Hearth mounts it. The engine-specific parts (image,
// args, env, port, probes, metric, writable paths) come from the plan's engine container.
// Typed with kubernetes-models' interfaces so a misspelt field fails the typecheck; tests also
// validate every object against the Kubernetes API schemas.
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import { mebibytes, type BundlePlan } from '../plan.js';
import type { EngineContainer as EngineContainerSpec, EnvVar as EngineEnvVar } from '../engines/index.js';

/** Hearth's own queue-depth gauge (each engine target names its own: plan.container.queueMetric). */
export const QUEUE_METRIC = 'hearth_queue_size';

function k8sEnv(env: readonly EngineEnvVar[]) {
  return env.map((entry) =>
    'secret' in entry ? { name: entry.name, valueFrom: { secretKeyRef: { name: entry.secret.name, key: entry.secret.key, optional: true } } } : { name: entry.name, value: entry.value },
  );
}

export interface K8sManifests {
  configMap: IConfigMap;
  deployment: IDeployment;
  service: IService;
  hpa: IHorizontalPodAutoscaler;
  pdb: IPodDisruptionBudget;
  /** Only when the model is mounted rather than baked. */
  modelsPvc: IPersistentVolumeClaim | null;
}

export function renderTunedJson(plan: BundlePlan): string {
  return `${JSON.stringify(plan.containerConfig, null, 2)}\n`;
}

/** Probe thresholds: the startup probe allows twice the expected load time before giving up. */
export function probeTimings(loadSeconds: number) {
  const startupPeriodSeconds = 10;
  return {
    startupPeriodSeconds,
    startupFailureThreshold: Math.ceil((2 * loadSeconds) / startupPeriodSeconds) + 3,
    readinessPeriodSeconds: 5,
    livenessPeriodSeconds: 20,
  };
}

export function buildK8sManifests(plan: BundlePlan): K8sManifests {
  const labels = { 'app.kubernetes.io/name': plan.appName, 'app.kubernetes.io/component': 'inference', 'app.kubernetes.io/part-of': 'hearth' };
  const selector = { 'app.kubernetes.io/name': plan.appName };
  const configName = `${plan.appName}-config`;
  const tunedJson = renderTunedJson(plan);
  const c = plan.container;
  const probes = probeTimings(plan.loadSeconds);
  const health = { path: c.healthPath, port: 'http' };
  const gpuLimit: Record<string, string> = plan.target === 'gpu' ? { 'nvidia.com/gpu': '1' } : {};

  const volumes: NonNullable<NonNullable<NonNullable<IDeployment['spec']>['template']['spec']>['volumes']> = [];
  const volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[] = [];
  if (c.configMountPath) {
    volumes.push({ name: 'config', configMap: { name: configName } });
    volumeMounts.push({ name: 'config', mountPath: c.configMountPath, readOnly: true });
  }
  for (const scratch of c.scratch) {
    volumes.push({ name: scratch.name, emptyDir: { ...(scratch.medium ? { medium: scratch.medium } : {}), ...(scratch.sizeLimitBytes ? { sizeLimit: mebibytes(scratch.sizeLimitBytes) } : {}) } });
    volumeMounts.push({ name: scratch.name, mountPath: scratch.mountPath });
  }
  let modelsPvc: IPersistentVolumeClaim | null = null;
  if (c.modelsMountPath) {
    const claimName = `${plan.appName}-models`;
    volumes.push({ name: 'models', persistentVolumeClaim: { claimName, readOnly: true } });
    volumeMounts.push({ name: 'models', mountPath: c.modelsMountPath, readOnly: true });
    modelsPvc = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: claimName, labels },
      spec: {
        // Every replica mounts the same model read-only; needs a storage class that offers
        // ReadOnlyMany (NFS/Filestore, or a pre-populated GCE persistent disk).
        accessModes: ['ReadOnlyMany'],
        resources: { requests: { storage: mebibytes(plan.sizing.estimate.packageBytes * 1.2 + 64 * 2 ** 20) } },
      },
    };
  }
  // Hearth's image runs as its own uid on a read-only root; vLLM's and TGI's images run as root
  // and write caches under their home (their documentation runs them that way).
  const podSecurity: IPodSecurityContext = c.runAsUser !== null
    ? { runAsNonRoot: true, runAsUser: c.runAsUser, runAsGroup: c.runAsUser, fsGroup: c.runAsUser, seccompProfile: { type: 'RuntimeDefault' } }
    : { seccompProfile: { type: 'RuntimeDefault' } };
  const containerSecurity: ISecurityContext = c.runAsUser !== null
    ? { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } }
    : { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
  const configHash = createHash('sha256').update(tunedJson).update(JSON.stringify([c.image, c.args])).digest('hex').slice(0, 16);

  const deployment: IDeployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: plan.appName, labels },
    spec: {
      replicas: plan.minReplicas,
      revisionHistoryLimit: 3,
      // A new pod must load the model before an old one goes: never below the serving count.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      progressDeadlineSeconds: Math.max(600, plan.loadSeconds * 3),
      selector: { matchLabels: selector },
      template: {
        metadata: {
          labels,
          annotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(c.port),
            'prometheus.io/path': c.metricsPath,
            // A changed config rolls the pods (ConfigMap edits alone do not restart them).
            'hearth.dev/config-sha256': configHash,
          },
        },
        spec: {
          terminationGracePeriodSeconds: plan.shutdownGraceSeconds + 5,
          securityContext: podSecurity,
          ...(plan.target === 'gpu' ? { tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] } : {}),
          containers: [
            {
              name: c.name,
              image: c.image,
              imagePullPolicy: 'IfNotPresent',
              args: c.args,
              ports: [{ name: 'http', containerPort: c.port, protocol: 'TCP' }],
              env: k8sEnv(c.env),
              resources: {
                requests: { cpu: plan.cpuRequest, memory: mebibytes(plan.hostMemoryRequestBytes), ...gpuLimit },
                limits: { memory: mebibytes(plan.hostMemoryLimitBytes), ...gpuLimit },
              },
              // The health route is 200 only once the model is loaded (Hearth: and has produced its warm-up token).
              startupProbe: { httpGet: health, periodSeconds: probes.startupPeriodSeconds, timeoutSeconds: 5, failureThreshold: probes.startupFailureThreshold },
              readinessProbe: { httpGet: health, periodSeconds: probes.readinessPeriodSeconds, timeoutSeconds: 3, failureThreshold: 2 },
              livenessProbe: { httpGet: health, periodSeconds: probes.livenessPeriodSeconds, timeoutSeconds: 5, failureThreshold: 3 },
              // Give the Service time to drop this pod before SIGTERM stops new admissions.
              lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
              securityContext: containerSecurity,
              volumeMounts,
            },
          ],
          volumes,
        },
      },
    },
  };

  const service: IService = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: plan.appName, labels },
    spec: { type: 'ClusterIP', selector, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
  };

  const hpa: IHorizontalPodAutoscaler = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: plan.appName, labels },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: plan.appName },
      minReplicas: plan.minReplicas,
      maxReplicas: plan.maxReplicas,
      metrics: [
        {
          type: 'Pods',
          pods: { metric: { name: c.hpaMetric }, target: { type: 'AverageValue', averageValue: String(plan.queueDepthTarget) } },
        },
      ],
      behavior: {
        // Up: react within a minute (a new pod still needs its load time), at most +2 pods or ×2 per minute.
        scaleUp: {
          stabilizationWindowSeconds: 60,
          selectPolicy: 'Max',
          policies: [
            { type: 'Pods', value: 2, periodSeconds: 60 },
            { type: 'Percent', value: 100, periodSeconds: 60 },
          ],
        },
        // Down: conservative — a pod costs a cold start to bring back. Wait 10 minutes of low
        // queue, then remove one pod per 5 minutes.
        scaleDown: {
          stabilizationWindowSeconds: 600,
          selectPolicy: 'Min',
          policies: [{ type: 'Pods', value: 1, periodSeconds: 300 }],
        },
      },
    },
  };

  const pdb: IPodDisruptionBudget = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: plan.appName, labels },
    // At most one pod evicted at a time by drains and upgrades. (minAvailable with a single
    // replica would block node drains forever.)
    spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
  };

  const configMap: IConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: configName, labels },
    data: { 'tuned.json': tunedJson },
  };
  return { configMap, deployment, service, hpa, pdb, modelsPvc };
}

/** A Prometheus series name as a regular expression (vLLM's names hold ':'). */
const regexOf = (name: string) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * prometheus-adapter rule exposing the engine's queue gauge (each pod serves it on its metrics
 * route) as the per-pod custom metric the HPA reads, under the HPA's name for it. Helm values for
 * prometheus-community/prometheus-adapter.
 */
export function prometheusAdapterValues(container: Pick<EngineContainerSpec, 'queueMetric' | 'hpaMetric'> = { queueMetric: QUEUE_METRIC, hpaMetric: QUEUE_METRIC }): Record<string, unknown> {
  return {
    rules: {
      default: false,
      custom: [
        {
          seriesQuery: `${container.queueMetric}{namespace!="",pod!=""}`,
          resources: { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } },
          name: { matches: `^${regexOf(container.queueMetric)}$`, as: container.hpaMetric },
          // Averaged over a minute so one burst does not add pods.
          metricsQuery: 'avg_over_time(<<.Series>>{<<.LabelMatchers>>}[1m])',
        },
      ],
    },
  };
}

/**
 * YAML as kubectl and docker compose read it. Written with YAML 1.1's scalars so a value such as
 * `off` (TGI's --usage-stats) is quoted: kubectl's parser reads a bare off/on/yes/no as a boolean.
 */
export function toYaml(object: unknown): string {
  return stringify(object, { version: '1.1', lineWidth: 0, aliasDuplicateObjects: false });
}

function yamlFile(comment: string[], object: unknown): string {
  return `${comment.map((line) => `# ${line}`).join('\n')}\n${toYaml(object)}`;
}

/** File name (under k8s/) → content. */
export function renderK8s(plan: BundlePlan): Record<string, string> {
  const m = buildK8sManifests(plan);
  const files: Record<string, string> = {
    'configmap.yaml': yamlFile(
      [plan.container.configMountPath ? `The tuned serving config, mounted at ${plan.containerConfigPath}.` : `The tuned Hearth config the ${plan.engine} flags in deployment.yaml were derived from (not mounted; kept for provenance).`],
      m.configMap,
    ),
    'deployment.yaml': yamlFile(
      [
        `${engineLabel(plan)} serving '${plan.modelName}' on ${plan.target === 'gpu' ? `one ${plan.gpu.name} per pod` : 'CPU'}.`,
        `Memory from the sizing: request ${mebibytes(plan.hostMemoryRequestBytes)}, limit ${mebibytes(plan.hostMemoryLimitBytes)} (host RAM).`,
        `Expected model load ≈ ${plan.loadSeconds}s: the startup probe allows ${probeTimings(plan.loadSeconds).startupFailureThreshold * 10}s.`,
        plan.gpu.gkeAccelerator ? `On GKE pick the GPU with nodeSelector cloud.google.com/gke-accelerator: ${plan.gpu.gkeAccelerator}` : '',
      ].filter(Boolean),
      m.deployment,
    ),
    'service.yaml': yamlFile(['Cluster-internal Service; put an Ingress or a LoadBalancer in front for outside clients.'], m.service),
    'hpa.yaml': yamlFile(
      [
        `Scales on ${plan.container.queueMetric} (${plan.container.queueMetricMeaning}), served to the HPA as ${plan.container.hpaMetric}, averaged per pod: add pods above ${plan.queueDepthTarget}.`,
        'Needs a custom-metrics adapter: see ../monitoring/prometheus-adapter-values.yaml and README.md.',
      ],
      m.hpa,
    ),
    'pdb.yaml': yamlFile(['Voluntary disruptions (drains, upgrades) evict at most one pod at a time.'], m.pdb),
  };
  if (m.modelsPvc) {
    files['models-pvc.yaml'] = yamlFile([`The model package volume: copy the package to ${plan.modelDirName}/ on it (README.md).`], m.modelsPvc);
  }
  return files;
}

export function engineLabel(plan: Pick<BundlePlan, 'engine'>): string {
  return { hearth: 'Hearth', vllm: 'vLLM', tgi: 'TGI' }[plan.engine];
}

export function renderPrometheusAdapterValues(plan: Pick<BundlePlan, 'container'>): string {
  const { queueMetric, hpaMetric } = plan.container;
  return yamlFile(
    [
      `Helm values for prometheus-community/prometheus-adapter: serves ${queueMetric} per pod`,
      `through custom.metrics.k8s.io as ${hpaMetric}, so the HorizontalPodAutoscaler can read it.`,
      '  helm install prometheus-adapter prometheus-community/prometheus-adapter -n monitoring \\',
      '    --set prometheus.url=http://prometheus-server.monitoring.svc --values prometheus-adapter-values.yaml',
      `Check: kubectl get --raw "/apis/custom.metrics.k8s.io/v1beta1/namespaces/default/pods/*/${hpaMetric}"`,
      'Prometheus must scrape the pods (they carry prometheus.io/scrape annotations).',
    ],
    prometheusAdapterValues(plan.container),
  );
}
