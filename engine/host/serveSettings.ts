// The Serve view's settings → a validated ServeSettings → a full ServingConfig. Pure, so the
// mapping (which setting lands in which config field) is unit-tested.
import type { ServeSettings } from '../common/adminApi.js';
import type { BatchingConfig } from '../common/batching.js';
import type { ServingConfig } from '../common/servingConfig.js';
import { DEFAULT_MAX_BODY_BYTES } from '../server/http.js';
import { badRequest, parseWith } from './httpUtil.js';
import { serveSettingsSchema } from './adminBodies.js';


/** Checks what the UI (or a script) sent; every message names the field and the allowed values (adminBodies.ts). */
export function validateServeSettings(raw: unknown): ServeSettings {
  if (typeof raw !== 'object' || raw === null) throw badRequest("Send { settings: { model, device, port, ... } }.");
  return parseWith(serveSettingsSchema, raw);
}

/** The batching fields the Serve view sets; the rest come from the engine's defaults. */
export function batchingFromSettings(settings: ServeSettings): Partial<BatchingConfig> {
  const partial: Partial<BatchingConfig> = { maxBatchSize: settings.maxBatchSize, kvCacheBytes: settings.kvCacheBytes };
  if (settings.contextLength > 0) partial.maxTotalTokens = settings.contextLength;
  return partial;
}

export function servingConfigFromSettings(settings: ServeSettings, packageDir: string, batching: BatchingConfig): ServingConfig {
  return {
    version: 1,
    model: { package: packageDir, ...(settings.servedName ? { servedName: settings.servedName } : {}) },
    server: {
      host: settings.host ?? '127.0.0.1',
      port: settings.port,
      ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
      corsOrigins: settings.corsOrigins,
      vertex: settings.vertex ?? false,
      maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
    },
    device: settings.device,
    cpuThreads: 0,
    ...(settings.cpuInt8MatMul && settings.cpuInt8MatMul !== 'off' ? { cpuInt8MatMul: settings.cpuInt8MatMul } : {}),
    batching,
    logging: { contentLogging: settings.contentLogging, retentionDays: 30, retentionMaxRows: 100_000 },
  };
}
