// The Serve view's settings → a validated ServeSettings → a full ServingConfig. Pure, so the
// mapping (which setting lands in which config field) is unit-tested.
import type { ServeSettings } from '../common/adminApi.js';
import { DEFAULT_MAX_BATCH_SIZE, type BatchingConfig } from '../common/batching.js';
import { MODEL_DTYPES } from '../common/manifest.js';
import { DEVICE_CHOICES, type ServingConfig } from '../common/servingConfig.js';
import { badRequest } from './httpUtil.js';

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

function wholeNumber(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw badRequest(`'${name}' must be a whole number from ${min} to ${max}; got ${JSON.stringify(value)}.`);
  }
  return value;
}

/** Checks what the UI (or a script) sent; every message names the field and the allowed values. */
export function validateServeSettings(raw: unknown): ServeSettings {
  if (typeof raw !== 'object' || raw === null) throw badRequest("Send { settings: { model, device, port, ... } }.");
  const s = raw as Partial<ServeSettings>;
  if (typeof s.model !== 'string' || s.model.trim() === '') throw badRequest("Pick a model to serve ('model': a library name or package folder).");
  if (s.dtype !== undefined && !MODEL_DTYPES.includes(s.dtype)) throw badRequest(`'dtype' must be one of ${MODEL_DTYPES.join(', ')}.`);
  const device = s.device ?? 'auto';
  if (!DEVICE_CHOICES.includes(device)) throw badRequest(`'device' must be one of ${DEVICE_CHOICES.join(', ')}.`);
  const corsOrigins = s.corsOrigins ?? [];
  if (!Array.isArray(corsOrigins) || corsOrigins.some((origin) => typeof origin !== 'string')) {
    throw badRequest("'corsOrigins' must be a list of origins such as ['http://localhost:3000'] (or ['*']).");
  }
  if (s.apiKey !== undefined && typeof s.apiKey !== 'string') throw badRequest("'apiKey' must be text.");
  return {
    model: s.model.trim(),
    dtype: s.dtype,
    servedName: s.servedName?.trim() || undefined,
    device,
    host: s.host?.trim() || '127.0.0.1',
    port: wholeNumber(s.port ?? 0, 'port', 0, 65535),
    apiKey: s.apiKey?.trim() || undefined,
    corsOrigins: corsOrigins.map((origin) => origin.trim()).filter((origin) => origin !== ''),
    maxBatchSize: wholeNumber(s.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE, 'maxBatchSize', 1, 1024),
    contextLength: wholeNumber(s.contextLength ?? 0, 'contextLength', 0, 1 << 22),
    kvCacheBytes: wholeNumber(s.kvCacheBytes ?? 0, 'kvCacheBytes', 0, Number.MAX_SAFE_INTEGER),
    contentLogging: s.contentLogging ?? true,
    vertex: s.vertex ?? false,
  };
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
    batching,
    logging: { contentLogging: settings.contentLogging, retentionDays: 30, retentionMaxRows: 100_000 },
  };
}
