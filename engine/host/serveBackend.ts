// The real serving backend: the same served-model lifecycle `hearth serve` runs
// (server/servedModel.ts), in the host's process.
import type { ServeSettings } from '../common/adminApi.js';
import { pickBatching } from '../common/batching.js';
import { PortInUseError } from '../server/index.js';
import { startServedModel } from '../server/servedModel.js';
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
      const packageDir = resolvePackageDir(settings, options.env ?? process.env);
      let served;
      try {
        served = await startServedModel({
          packageDir,
          engine: { device: settings.device, batching: batchingFromSettings(settings), servedName: settings.servedName },
          server: {
            host: settings.host,
            port: settings.port,
            servedName: settings.servedName,
            apiKey: settings.apiKey ?? null,
            corsOrigins: settings.corsOrigins,
            vertex: settings.vertex ?? false,
            requestLog: options.requestLog,
            contentLogging: settings.contentLogging,
          },
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
        onStep: (listener) => engine.onStep(listener),
        close: (deadlineMs: number) => served.close(deadlineMs),
      };
    },
  };
}
