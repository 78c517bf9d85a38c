// The real serving backend: the same served-model lifecycle `hearth serve` runs
// (server/servedModel.ts), in the host's process.
import type { ServeSettings } from '../common/adminApi.js';
import { pickBatching } from '../common/batching.js';
import { PortInUseError } from '../server/index.js';
import { startServedLibrary, startServedModel } from '../server/servedModel.js';
import type { ServedModelStatus } from '../common/adminApi.js';
import type { PoolModelStatus } from '../server/modelPool.js';
import type { RequestLog } from '../store/requestLog.js';
import { LibraryError, resolvePackage } from '../hub/library.js';
import { notFound } from './httpUtil.js';
import type { RunningServer, ServeBackend } from './serveController.js';
import { batchingFromSettings, servingConfigFromSettings } from './serveSettings.js';

export interface ServeBackendOptions {
  requestLog: RequestLog;
  log?: (line: string) => void;
  /** For the serving mark (`hearth rm` refuses a model a process serves). */
  env?: NodeJS.ProcessEnv;
}

/** The package folder for the Serve tab's choice: the same resolver `hearth serve` uses (a folder, or a library name and variant). */
export function resolvePackageDir(settings: ServeSettings, env: NodeJS.ProcessEnv = process.env): string {
  try {
    return resolvePackage(settings.dtype ? `${settings.model}:${settings.dtype}` : settings.model, env);
  } catch (error) {
    if (error instanceof LibraryError) throw notFound(`${error.message} (The Models tab lists what the library holds.)`);
    throw error;
  }
}

export function realServeBackend(options: ServeBackendOptions): ServeBackend {
  const log = options.log ?? ((line: string) => console.error(line));
  return {
    async start(settings: ServeSettings): Promise<RunningServer> {
      if (settings.library) return startLibrary(settings, options, log);
      const packageDir = resolvePackageDir(settings, options.env ?? process.env);
      let served;
      try {
        served = await startServedModel({
          packageDir,
          engine: { device: settings.device, cpuInt8MatMul: settings.cpuInt8MatMul, batching: batchingFromSettings(settings), servedName: settings.servedName },
          server: { ...serverOptions(settings, options), servedName: settings.servedName },
          mark: { env: options.env ?? process.env },
          log,
        });
      } catch (error) {
        if (error instanceof PortInUseError) {
          throw new Error(`Port ${error.port} on ${error.host} is already in use (another server is running there?). Pick another port in the settings, or 0 for any free port.`);
        }
        throw error;
      }
      let engine;
      try {
        engine = await served.ready;
      } catch (error) {
        await served.close(0);
        throw new Error(`The model could not be loaded: ${(error as Error).message}`);
      }
      const config = servingConfigFromSettings(settings, packageDir, pickBatching(engine.config));
      return {
        origin: served.url,
        engine,
        manifest: engine.manifest,
        servedName: settings.servedName ?? engine.manifest.name,
        config,
        library: null,
        onStep: (listener) => engine.onStep(listener),
        close: (deadlineMs: number) => served.close(deadlineMs),
      };
    },
  };
}

/** The HTTP side of the Serve view's settings, the same for one model and for the library. */
function serverOptions(settings: ServeSettings, options: ServeBackendOptions) {
  return {
    host: settings.host,
    port: settings.port,
    apiKey: settings.apiKey ?? null,
    corsOrigins: settings.corsOrigins,
    vertex: settings.vertex ?? false,
    requestLog: options.requestLog,
    contentLogging: settings.contentLogging,
  };
}

/** The Serve view's library mode: `hearth serve --library` in the host's process. */
async function startLibrary(settings: ServeSettings, options: ServeBackendOptions, log: (line: string) => void): Promise<RunningServer> {
  const library = settings.library!;
  const stepListeners = new Set<(step: { batchSize: number }) => void>();
  let served;
  try {
    served = await startServedLibrary({
      env: options.env ?? process.env,
      engine: { device: settings.device, cpuInt8MatMul: settings.cpuInt8MatMul, batching: batchingFromSettings(settings) },
      server: serverOptions(settings, options),
      maxLoadedModels: library.maxLoadedModels,
      memoryBudgetBytes: library.memoryBudgetBytes > 0 ? library.memoryBudgetBytes : undefined,
      idleUnloadSeconds: library.idleUnloadSeconds,
      onStep: (_id, stats) => {
        for (const listener of stepListeners) listener(stats);
      },
      log,
    });
  } catch (error) {
    if (error instanceof PortInUseError) {
      throw new Error(`Port ${error.port} on ${error.host} is already in use (another server is running there?). Pick another port in the settings, or 0 for any free port.`);
    }
    throw error;
  }
  const pool = served.pool;
  const toStatus = (status: PoolModelStatus): ServedModelStatus => {
    const variant = pool.status().find((model) => model.id === status.id);
    return { ...statusFields(status), contextLength: variant?.contextLength ?? 0 };
  };
  return {
    origin: served.url,
    engine: null,
    manifest: null,
    servedName: null,
    config: null,
    library: {
      models: () => ({
        models: pool.status().map((variant) => ({
          id: variant.id,
          name: variant.name,
          dtype: variant.dtype,
          state: variant.state,
          pinned: variant.loaded?.pinned ?? false,
          activeRequests: variant.loaded?.activeRequests ?? 0,
          memoryBytes: variant.loaded?.memoryBytes ?? null,
          loadMs: variant.loaded?.loadMs ?? null,
          contextLength: variant.contextLength,
        })),
        ...pool.limits(),
      }),
      load: async (model) => toStatus(await pool.load(model)),
      unload: (model) => pool.unload(model),
      engines: () => pool.engines(),
      configFor: (id) => {
        const engine = pool.engines().find((loaded) => loaded.id === id)?.engine;
        const variant = pool.status().find((model) => model.id === id);
        if (!engine || !variant) return null;
        // One model of the library, exported (or benchmarked) as `hearth serve <name>` would serve it.
        return servingConfigFromSettings({ ...settings, model: variant.name, servedName: variant.name, library: undefined }, variant.packageDir, pickBatching(engine.config));
      },
    },
    onStep: (listener) => {
      stepListeners.add(listener);
      return () => stepListeners.delete(listener);
    },
    close: (deadlineMs: number) => served.close(deadlineMs),
  };
}

function statusFields(status: PoolModelStatus): Omit<ServedModelStatus, 'contextLength'> {
  return {
    id: status.id,
    name: status.name,
    dtype: status.dtype,
    state: status.state,
    pinned: status.pinned,
    activeRequests: status.activeRequests,
    memoryBytes: status.memoryBytes,
    loadMs: status.loadMs,
  };
}
