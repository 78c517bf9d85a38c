// The real serving backend: engine/runtime loads the package, engine/server answers the
// OpenAI API — the same code `hearth serve` runs, in the host's process.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ServeSettings } from '../common/adminApi.js';
import type { BatchingConfig } from '../common/batching.js';
import { markServing } from '../hub/index.js';
import { loadEngine } from '../runtime/index.js';
import { PortInUseError, createServer } from '../server/index.js';
import type { RequestLog } from '../store/requestLog.js';
import { badRequest, notFound } from './httpUtil.js';
import type { RunningServer, ServeBackend } from './serveController.js';
import { batchingFromSettings, servingConfigFromSettings } from './serveSettings.js';
import type { LibraryService } from './services.js';

export interface ServeBackendOptions {
  requestLog: RequestLog;
  library?: LibraryService;
  log?: (line: string) => void;
  /** For the serving mark (`hearth rm` refuses a model a process serves). */
  env?: NodeJS.ProcessEnv;
}

function isPackageDir(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, 'manifest.json'));
}

export async function resolvePackageDir(settings: ServeSettings, library?: LibraryService): Promise<string> {
  const asPath = resolve(settings.model);
  if (isPackageDir(asPath)) return asPath;
  if (/[\\/]/.test(settings.model)) {
    throw notFound(`No model package at ${asPath} (a folder with manifest.json). Pick a model from the library, or convert one with \`hearth convert\`.`);
  }
  if (!library) throw badRequest(`'${settings.model}' is not a package folder and the model library is not available; give the package folder's path.`);
  const dir = await library.resolve(settings.model, settings.dtype);
  if (!dir) {
    throw notFound(
      `The library has no ready ${settings.dtype ? `${settings.dtype} variant of ` : ''}'${settings.model}'. Download it on the Models tab, or pick another variant.`,
    );
  }
  return dir;
}

export function realServeBackend(options: ServeBackendOptions): ServeBackend {
  const log = options.log ?? ((line: string) => console.error(line));
  return {
    async start(settings: ServeSettings): Promise<RunningServer> {
      const packageDir = await resolvePackageDir(settings, options.library);
      const enginePromise = loadEngine({
        packageDir,
        device: settings.device,
        batching: batchingFromSettings(settings),
        servedName: settings.servedName,
        log,
      });
      enginePromise.catch(() => {});
      let server;
      try {
        server = await createServer({
          engine: enginePromise,
          host: settings.host,
          port: settings.port,
          servedName: settings.servedName,
          apiKey: settings.apiKey ?? null,
          corsOrigins: settings.corsOrigins,
          vertex: settings.vertex ?? false,
          requestLog: options.requestLog,
          contentLogging: settings.contentLogging,
          log,
        });
      } catch (error) {
        enginePromise.then((engine) => engine.shutdown(0), () => {});
        if (error instanceof PortInUseError) {
          throw new Error(`Port ${error.port} on ${error.host} is already in use (another server is running there?). Pick another port in the settings, or 0 for any free port.`);
        }
        throw error;
      }
      try {
        await server.ready;
      } catch (error) {
        await server.close(0);
        throw new Error(`The model could not be loaded: ${(error as Error).message}`);
      }
      const engine = await enginePromise;
      const unmark = markServing(packageDir, options.env ?? process.env);
      const { kvCacheCapacityTokens: _capacity, kvCacheBytesPerToken: _perToken, ...batching } = engine.config;
      const config = servingConfigFromSettings(settings, packageDir, batching satisfies BatchingConfig);
      return {
        origin: server.url,
        engine,
        manifest: engine.manifest,
        servedName: settings.servedName ?? engine.manifest.name,
        config,
        onStep: (listener) => engine.onStep(listener),
        async close(deadlineMs: number) {
          try {
            await server.close(deadlineMs);
            await engine.shutdown(deadlineMs);
          } finally {
            unmark();
          }
        },
      };
    },
  };
}
