// Kubernetes manifests: ConfigMap (the tuned config), Deployment, Service, HorizontalPodAutoscaler
// (autoscaling/v2, on the per-pod queue depth `hearth_queue_size` served through a custom-metrics
// adapter), PodDisruptionBudget, and a PersistentVolumeClaim for the model when it is not baked.
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
import { mebibytes, type BundlePlan } from '../plan.js';
import { CONTAINER_UID, serveArgs } from './dockerfile.js';

export const QUEUE_METRIC = 'hearth_queue_size';

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
  const probes = probeTimings(plan.loadSeconds);
  const health = { path: '/health', port: 'http' };
  const gpuLimit: Record<string, string> = plan.target === 'gpu' ? { 'nvidia.com/gpu': '1' } : {};

  const volumes: NonNullable<NonNullable<NonNullable<IDeployment['spec']>['template']['spec']>['volumes']> = [
    { name: 'config', configMap: { name: configName } },
    { name: 'data', emptyDir: {} },
    // The root filesystem is read-only; /tmp stays writable scratch space for anything that needs one.
    { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
  ];
  const volumeMounts = [
    { name: 'config', mountPath: '/etc/hearth', readOnly: true },
    { name: 'data', mountPath: plan.containerDataDir },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  let modelsPvc: IPersistentVolumeClaim | null = null;
  if (!plan.bakeModel) {
    const claimName = `${plan.appName}-models`;
    volumes.push({ name: 'models', persistentVolumeClaim: { claimName, readOnly: true } });
    volumeMounts.push({ name: 'models', mountPath: plan.containerModelsDir, readOnly: true });
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
            'prometheus.io/port': String(plan.port),
            'prometheus.io/path': '/metrics',
            // A changed config rolls the pods (ConfigMap edits alone do not restart them).
            'hearth.dev/config-sha256': createHash('sha256').update(tunedJson).digest('hex').slice(0, 16),
          },
        },
        spec: {
          terminationGracePeriodSeconds: plan.shutdownGraceSeconds + 5,
          securityContext: { runAsNonRoot: true, runAsUser: CONTAINER_UID, runAsGroup: CONTAINER_UID, fsGroup: CONTAINER_UID, seccompProfile: { type: 'RuntimeDefault' } },
          ...(plan.target === 'gpu' ? { tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] } : {}),
          containers: [
            {
              name: 'hearth',
              image: plan.image,
              imagePullPolicy: 'IfNotPresent',
              args: serveArgs(plan, plan.target),
              ports: [{ name: 'http', containerPort: plan.port, protocol: 'TCP' }],
              env: [
                { name: 'HEARTH_HOME', value: plan.containerDataDir },
                { name: 'HEARTH_API_KEY', valueFrom: { secretKeyRef: { name: `${plan.appName}-api-key`, key: 'api-key', optional: true } } },
              ],
              resources: {
                requests: { cpu: plan.cpuRequest, memory: mebibytes(plan.hostMemoryRequestBytes), ...gpuLimit },
                limits: { memory: mebibytes(plan.hostMemoryLimitBytes), ...gpuLimit },
              },
              // /health is 200 only once the model is loaded and has produced its warm-up token.
              startupProbe: { httpGet: health, periodSeconds: probes.startupPeriodSeconds, timeoutSeconds: 5, failureThreshold: probes.startupFailureThreshold },
              readinessProbe: { httpGet: health, periodSeconds: probes.readinessPeriodSeconds, timeoutSeconds: 3, failureThreshold: 2 },
              livenessProbe: { httpGet: health, periodSeconds: probes.livenessPeriodSeconds, timeoutSeconds: 5, failureThreshold: 3 },
              // Give the Service time to drop this pod before SIGTERM stops new admissions.
              lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
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
          pods: { metric: { name: QUEUE_METRIC }, target: { type: 'AverageValue', averageValue: String(plan.queueDepthTarget) } },
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

/**
 * prometheus-adapter rule exposing `hearth_queue_size` (a gauge each pod serves on /metrics) as
 * the per-pod custom metric the HPA reads. Helm values for prometheus-community/prometheus-adapter.
 */
export function prometheusAdapterValues(): Record<string, unknown> {
  return {
    rules: {
      default: false,
      custom: [
        {
          seriesQuery: `${QUEUE_METRIC}{namespace!="",pod!=""}`,
          resources: { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } },
          name: { matches: `^${QUEUE_METRIC}$`, as: QUEUE_METRIC },
          // Averaged over a minute so one burst does not add pods.
          metricsQuery: 'avg_over_time(<<.Series>>{<<.LabelMatchers>>}[1m])',
        },
      ],
    },
  };
}

function yamlFile(comment: string[], object: unknown): string {
  return `${comment.map((line) => `# ${line}`).join('\n')}\n${stringify(object, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}

/** File name (under k8s/) → content. */
export function renderK8s(plan: BundlePlan): Record<string, string> {
  const m = buildK8sManifests(plan);
  const files: Record<string, string> = {
    'configmap.yaml': yamlFile(['The tuned serving config, mounted at /etc/hearth/tuned.json.'], m.configMap),
    'deployment.yaml': yamlFile(
      [
        `Hearth serving '${plan.modelName}' on ${plan.target === 'gpu' ? `one ${plan.gpu.name} per pod` : 'CPU'}.`,
        `Memory from the sizing: request ${mebibytes(plan.hostMemoryRequestBytes)}, limit ${mebibytes(plan.hostMemoryLimitBytes)} (host RAM).`,
        `Expected model load ≈ ${plan.loadSeconds}s: the startup probe allows ${probeTimings(plan.loadSeconds).startupFailureThreshold * 10}s.`,
        plan.gpu.gkeAccelerator ? `On GKE pick the GPU with nodeSelector cloud.google.com/gke-accelerator: ${plan.gpu.gkeAccelerator}` : '',
      ].filter(Boolean),
      m.deployment,
    ),
    'service.yaml': yamlFile(['Cluster-internal Service; put an Ingress or a LoadBalancer in front for outside clients.'], m.service),
    'hpa.yaml': yamlFile(
      [
        `Scales on ${QUEUE_METRIC} (requests waiting for a batch slot), averaged per pod: add pods above ${plan.queueDepthTarget}.`,
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

export function renderPrometheusAdapterValues(): string {
  return yamlFile(
    [
      'Helm values for prometheus-community/prometheus-adapter: serves hearth_queue_size per pod',
      'through custom.metrics.k8s.io so the HorizontalPodAutoscaler can read it.',
      '  helm install prometheus-adapter prometheus-community/prometheus-adapter -n monitoring \\',
      '    --set prometheus.url=http://prometheus-server.monitoring.svc --values prometheus-adapter-values.yaml',
      'Check: kubectl get --raw "/apis/custom.metrics.k8s.io/v1beta1/namespaces/default/pods/*/hearth_queue_size"',
      'Prometheus must scrape the pods (they carry prometheus.io/scrape annotations).',
    ],
    prometheusAdapterValues(),
  );
}
