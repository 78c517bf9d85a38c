// GPU sizing and bundle export for the Export view, over engine/export. Throughput for the
// replica count comes from the request (the view), the config's tuning record, or the latest
// benchmark run, in that order; the notes say which.
import { join } from 'node:path';
import type { ExportBundleResponse, ExportDefaults, SizingRequest, SizingResponse } from '../common/adminApi.js';
import type { ServingConfig } from '../common/servingConfig.js';
import { getRun } from '../bench/index.js';
import { DEFAULT_GPUS, DEFAULT_PRICES, ENGINE_NAMES, ENGINE_TARGETS, ExportError, dnsLabel, sizeConfig, throughputFromConfig, writeBundle, type MeasuredThroughput } from '../export/index.js';
import type { Db } from '../store/db.js';
import { badRequest } from './httpUtil.js';
import type { ExportService } from './services.js';

export interface ExportServiceOptions {
  dataDir: string;
  currentConfig: () => ServingConfig | null;
  db: Db;
}

/** The best level of the latest stored benchmark run, as one replica's throughput. */
function latestBenchThroughput(db: Db): MeasuredThroughput | undefined {
  try {
    const run = getRun(db, 'latest');
    const best = [...run.levels].sort((a, b) => b.throughputTokensPerSec - a.throughputTokensPerSec)[0];
    if (!best || best.requestsPerSec <= 0) return undefined;
    return { requestsPerSec: best.requestsPerSec, measuredOn: `${run.machine} (benchmark '${run.label}', concurrency ${best.concurrency})` };
  } catch {
    return undefined;
  }
}

function userError(error: unknown): never {
  if (error instanceof ExportError) {
    const message = /not empty/.test(error.message)
      ? `${error.message.replace(/ or pass --force$/, '')}: pick another output folder.`
      : `${error.message}.`;
    // Capitalize a plain first word ('the config …'), not a name ('vLLM serves …').
    throw badRequest(message.replace(/^[a-z](?=[a-z]*\b)/, (first) => first.toUpperCase()));
  }
  throw error;
}

export async function exportService(options: ExportServiceOptions): Promise<ExportService> {
  const throughputFor = (request: { config: ServingConfig; measuredRequestsPerSec?: number }): MeasuredThroughput | undefined =>
    request.measuredRequestsPerSec ? { requestsPerSec: request.measuredRequestsPerSec } : (throughputFromConfig(request.config) ?? latestBenchThroughput(options.db));
  const service: ExportService = {
    async defaults(): Promise<ExportDefaults> {
      const config = options.currentConfig();
      const name = config ? dnsLabel(config.model.servedName ?? config.model.package.split(/[\\/]/).filter(Boolean).pop() ?? 'model') : 'model';
      return {
        engines: ENGINE_NAMES.map((engine) => ({ name: engine, label: ENGINE_TARGETS[engine].label })),
        gpus: DEFAULT_GPUS.map((gpu) => ({ name: gpu.name, memoryBytes: gpu.memoryBytes })),
        prices: DEFAULT_PRICES.map((price) => ({ ...price })),
        config,
        outDir: join(options.dataDir, 'bundles', name),
      };
    },
    async sizing(request: SizingRequest): Promise<SizingResponse> {
      try {
        const result = sizeConfig({ config: request.config, gpus: request.gpus, prices: request.prices, throughput: throughputFor(request), targetRequestsPerSec: request.targetRequestsPerSec });
        return {
          rows: result.rows.map((row) => ({
            gpu: row.gpu,
            memoryBytes: row.memoryBytes,
            weightsBytes: row.weightsBytes,
            kvCacheBytes: row.kvCacheBytes,
            overheadBytes: row.overheadBytes,
            requiredBytes: row.requiredBytes,
            fits: row.fits,
            maxConcurrency: row.maxConcurrency,
            usdPerHour: row.usdPerHour,
            usdPerMonth: row.deploymentUsdPerMonth ?? row.usdPerMonth,
            replicas: row.replicas,
          })),
          notes: [...(result.recommended ? [`Recommended: ${result.recommended} (the cheapest that fits at the target rate).`] : []), ...result.notes],
        };
      } catch (error) {
        return userError(error);
      }
    },
    async bundle(request): Promise<ExportBundleResponse> {
      const defaults = await service.defaults();
      try {
        const result = writeBundle({
          config: request.config,
          outDir: request.outDir?.trim() || defaults.outDir,
          target: request.target,
          engine: request.engine ?? 'hearth',
          bakeModel: request.bakeModel,
          gpus: request.gpus,
          prices: request.prices,
          throughput: throughputFor(request),
        });
        const { plan } = result;
        const next = plan.container.buildTarget
          ? `cd ${result.outDir} && docker build -t ${plan.image} .`
          : `cd ${result.outDir} && docker compose up -d   (${plan.image} serves ${plan.hub?.repo} at ${plan.hub?.commit.slice(0, 12)})`;
        return { outDir: result.outDir, engine: plan.engine, image: plan.image, files: result.files, next };
      } catch (error) {
        return userError(error);
      }
    },
  };
  return service;
}
