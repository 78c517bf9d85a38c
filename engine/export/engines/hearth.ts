// Hearth's own engine: the image this bundle builds (Dockerfile), `hearth serve --config` with the
// tuned config from the ConfigMap, non-root with a read-only root filesystem.
import { CONTAINER_UID, healthCheckCommand, serveArgs } from '../bundle/dockerfile.js';
import { hostMemoryBytes } from '../sizing.js';
import { estimateLoadSeconds } from './loadTime.js';
import type { EngineContainer, EngineInput, EngineTarget, FlagMapping } from './target.js';

export const hearthTarget: EngineTarget = {
  name: 'hearth',
  label: "Hearth (this engine, the image the bundle builds)",
  loadSeconds: estimateLoadSeconds,
  hostMemory: (estimate, device, cpuInt8MatMulBytes) => hostMemoryBytes(device, estimate, cpuInt8MatMulBytes),
  container(input: EngineInput): EngineContainer {
    const args = serveArgs(input, input.device);
    const mapping: FlagMapping[] = [
      { flag: '--config', value: input.containerConfigPath, from: 'the whole tuned config (ConfigMap tuned.json)' },
      { flag: '--device', value: input.device === 'gpu' ? 'cuda' : 'cpu', from: 'the export target (one tuned.json serves both image variants)' },
      { flag: '--shutdown-grace-ms', value: args.at(-1)!, from: 'the pod termination grace period' },
    ];
    return {
      engine: 'hearth',
      name: 'hearth',
      image: input.builtImage,
      buildTarget: `${input.device}${input.bakeModel ? '' : '-volume'}`,
      args,
      env: [
        { name: 'HEARTH_HOME', value: input.containerDataDir },
        { name: 'HEARTH_API_KEY', secret: { name: `${input.appName}-api-key`, key: 'api-key' } },
      ],
      secrets: [{ name: `${input.appName}-api-key`, key: 'api-key', envName: 'HEARTH_API_KEY', why: 'clients must then send `Authorization: Bearer <key>`' }],
      port: input.port,
      healthPath: '/health',
      metricsPath: '/metrics',
      queueMetric: 'hearth_queue_size',
      queueMetricMeaning: 'requests waiting to be admitted to the running batch',
      hpaMetric: 'hearth_queue_size',
      predictRoute: '/predict',
      vertexRawPredict: false,
      runAsUser: CONTAINER_UID,
      configMountPath: '/etc/hearth',
      modelsMountPath: input.bakeModel ? null : '/models',
      scratch: [
        { name: 'data', mountPath: input.containerDataDir, why: 'the request log' },
        // The root filesystem is read-only; /tmp stays writable scratch space for anything that needs one.
        { name: 'tmp', mountPath: '/tmp', sizeLimitBytes: 256 * 2 ** 20, why: 'scratch space on a read-only root' },
      ],
      healthCheckCommand: healthCheckCommand(input.port),
      mapping,
      notes: [],
    };
  },
};
