// Builds the complete ServingConfig `hearth tune` writes: the base config's choices, the
// effective batching settings the engine ran with (after defaults and derived limits, so serving
// the file reproduces them exactly), and the tuning record.
import { pickBatching, type BatchingConfig } from '../common/batching.js';
import type { DeviceChoice, ServingConfig } from '../common/servingConfig.js';

/** What a base config file may give (the same shape `hearth serve --config` accepts). */
export interface BaseServingConfig {
  model?: Partial<ServingConfig['model']>;
  server?: Partial<ServingConfig['server']>;
  device?: DeviceChoice;
  cpuThreads?: number;
  batching?: Partial<BatchingConfig>;
  logging?: Partial<ServingConfig['logging']>;
}



export function tunedServingConfig(input: {
  packageDir: string;
  base?: BaseServingConfig;
  effectiveBatching: BatchingConfig;
  tuning: NonNullable<ServingConfig['tuning']>;
}): ServingConfig {
  const base = input.base ?? {};
  return {
    version: 1,
    model: { ...base.model, package: input.packageDir },
    server: {
      host: base.server?.host ?? '127.0.0.1',
      port: base.server?.port ?? 8000,
      ...(base.server?.apiKey ? { apiKey: base.server.apiKey } : {}),
      corsOrigins: base.server?.corsOrigins ?? [],
      vertex: base.server?.vertex ?? false,
      maxBodyBytes: base.server?.maxBodyBytes ?? 4 * 1024 * 1024,
    },
    device: base.device ?? 'auto',
    cpuThreads: base.cpuThreads ?? 0,
    batching: pickBatching(input.effectiveBatching),
    logging: {
      contentLogging: base.logging?.contentLogging ?? false,
      retentionDays: base.logging?.retentionDays ?? 30,
      retentionMaxRows: base.logging?.retentionMaxRows ?? 100_000,
    },
    tuning: input.tuning,
  };
}
