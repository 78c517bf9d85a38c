// A served model's lifecycle, the one way to run one: mark the package as served (so `hearth rm`
// refuses it), bind the port (a taken port fails before any loading), load the engine behind the
// bound server (which answers 503 until then), warm up, serve; close drains in-flight requests
// within one deadline, shuts the engine down with what is left of it, and drops the mark.
// `hearth serve`, the desktop host's Serve tab, auto-tune's trials and the server tests all start
// models through startServedModel; `hearth serve --library` serves the whole library through
// startServedLibrary, whose pool loads each model the same way (mark, load, warm up; unload
// drains and drops the mark).
import { freemem, totalmem } from 'node:os';
import { int4LayoutOf, weightsBytes } from '../common/memoryEstimate.js';
import { markServing, readyVariants } from '../hub/library.js';
import { loadEngine, readManifest, resolveBatchingConfig, type LoadEngineOptions, type LoadedEngine } from '../runtime/index.js';
import type { StepStats } from './servedEngine.js';
import { createServer, warmUp, type CreateServerOptions, type HearthServer } from './index.js';
import { ModelPool, variantId, type LoadedModel, type PoolModel } from './modelPool.js';

export interface ServedModelOptions {
  /** The package folder (resolve library names first: hub/library.ts resolvePackage). */
  packageDir: string;
  engine?: Omit<LoadEngineOptions, 'packageDir' | 'log'>;
  server?: Omit<CreateServerOptions, 'engine' | 'log'>;
  /** The data directory's environment for the serving mark; false: no mark (a throwaway package). */
  mark?: { env?: NodeJS.ProcessEnv } | false;
  log?: (line: string) => void;
}

export interface ServedModel {
  readonly url: string;
  readonly server: HearthServer;
  /** Resolves with the engine once it is loaded and warmed up; rejects if loading failed (the server keeps answering 503 with why). */
  readonly ready: Promise<LoadedEngine>;
  /**
   * Stops accepting requests, lets in-flight ones finish within `deadlineMs` (the server's drain
   * and the engine's share it), frees the model and drops the mark. Safe to call twice.
   */
  close(deadlineMs: number): Promise<void>;
}

export async function startServedModel(options: ServedModelOptions): Promise<ServedModel> {
  const log = options.log ?? ((line: string) => console.error(line));
  const unmark = options.mark === false ? () => {} : markServing(options.packageDir, options.mark?.env ?? process.env);
  let engineLoaded!: (engine: LoadedEngine) => void;
  let engineFailed!: (error: unknown) => void;
  const engine = new Promise<LoadedEngine>((resolve, reject) => {
    engineLoaded = resolve;
    engineFailed = reject;
  });
  engine.catch(() => {}); // observed through `ready`
  let server: HearthServer;
  try {
    server = await createServer({ ...options.server, engine, log });
  } catch (error) {
    unmark();
    throw error;
  }
  loadEngine({ ...options.engine, packageDir: options.packageDir, log }).then(engineLoaded, engineFailed);
  const ready = server.ready.then(() => engine);
  ready.catch(() => {});

  let closing: Promise<void> | null = null;
  const close = (deadlineMs: number): Promise<void> =>
    (closing ??= (async () => {
      const startedMs = Date.now();
      try {
        await server.close(deadlineMs);
        const loaded = await engine.catch(() => null);
        await loaded?.shutdown(Math.max(0, deadlineMs - (Date.now() - startedMs)));
      } finally {
        unmark();
      }
    })());
  return { url: server.url, server, ready, close };
}

export interface ServedLibraryOptions {
  /** The data directory's environment: its library is served, and marks go there. */
  env?: NodeJS.ProcessEnv;
  /** How each model is loaded (device, threads, batching: the same for every model). */
  engine?: Omit<LoadEngineOptions, 'packageDir' | 'log' | 'servedName'>;
  server?: Omit<CreateServerOptions, 'engine' | 'pool' | 'servedName' | 'log'>;
  /** Most models in memory at once (default DEFAULT_MAX_LOADED_MODELS). */
  maxLoadedModels?: number;
  /** Memory the loaded models may hold together (default: DEFAULT_MEMORY_BUDGET_FRACTION of this machine's memory). */
  memoryBudgetBytes?: number;
  /** Seconds an idle model stays loaded (default DEFAULT_IDLE_UNLOAD_SECONDS; -1 = until evicted). */
  idleUnloadSeconds?: number;
  /** Models (`name` or `name:dtype`) that never unload once loaded. */
  pinned?: string[];
  /** Called after every step of every loaded model's engine, with its `name:dtype` (the desktop dashboard's batch size). */
  onStep?: (modelId: string, stats: StepStats) => void;
  log?: (line: string) => void;
}

export const DEFAULT_MAX_LOADED_MODELS = 3;
export const DEFAULT_MEMORY_BUDGET_FRACTION = 0.75;
/** As Ollama's default keep-alive: 5 minutes. */
export const DEFAULT_IDLE_UNLOAD_SECONDS = 300;
/** The library is re-read at most this often (and at once when a request names a model it does not know). */
const CATALOG_REFRESH_MS = 2000;

export interface ServedLibrary {
  readonly url: string;
  readonly server: HearthServer;
  readonly pool: ModelPool;
  /** Stops accepting requests, drains within `deadlineMs`, unloads every model. */
  close(deadlineMs: number): Promise<void>;
}

export async function startServedLibrary(options: ServedLibraryOptions = {}): Promise<ServedLibrary> {
  const log = options.log ?? ((line: string) => console.error(line));
  const env = options.env ?? process.env;
  let catalog: PoolModel[] = [];
  let catalogReadMs = -Infinity;
  const readCatalog = (force = false): PoolModel[] => {
    if (force || Date.now() - catalogReadMs > CATALOG_REFRESH_MS) {
      catalog = readyVariants(env).flatMap((variant) => {
        try {
          const manifest = readManifest(variant.packageDir);
          return [{ ...variant, contextLength: Math.min(manifest.shape.contextLength, manifest.graph.maxPositions) }];
        } catch {
          return []; // a package that went missing is not servable
        }
      });
      catalogReadMs = Date.now();
    }
    return catalog;
  };
  // eslint-disable-next-line prefer-const -- assigned once the server (whose metrics the loader feeds) exists
  let server: HearthServer | undefined;
  const pool: ModelPool = new ModelPool({
    catalog: () => readCatalog(),
    resolve: (requested) => {
      const find = (models: PoolModel[]) => {
        const [name, dtype] = requested.split(':');
        const candidates = models.filter((model) => model.name === name && (dtype === undefined || model.dtype === dtype));
        // A bare name: the variant already loaded, else the newest one (as `hearth serve <name>` picks it).
        const loaded = new Set(pool.loadedStatus().map((status) => status.id));
        return candidates.find((model) => loaded.has(variantId(model))) ?? candidates[0];
      };
      return find(readCatalog()) ?? find(readCatalog(true));
    },
    estimateBytes: (model) => {
      const manifest = readManifest(model.packageDir);
      const batching = resolveBatchingConfig(options.engine?.batching, manifest, { freeBytes: freemem() });
      // int8 matmuls apply on the CPU provider only: counting them whatever the device errs high.
      const int8MatMul = options.engine?.cpuInt8MatMul ?? 'off';
      return weightsBytes(manifest.shape, manifest.dtype, int4LayoutOf(manifest), int8MatMul).loadedBytes + batching.kvCacheBytes + batching.prefixCacheBytes;
    },
    load: async (model): Promise<LoadedModel> => {
      const unmark = markServing(model.packageDir, env);
      let engine: LoadedEngine | undefined;
      try {
        engine = await loadEngine({ ...options.engine, packageDir: model.packageDir, servedName: model.name, log });
        const id = variantId(model);
        const stopSteps = engine.onStep?.((stats) => {
          server?.metrics.observeStep(stats);
          options.onStep?.(id, stats);
        });
        await warmUp(engine);
        const loaded = engine;
        return {
          engine: loaded,
          unload: async (deadlineMs) => {
            if (typeof stopSteps === 'function') stopSteps();
            try {
              await loaded.shutdown(deadlineMs);
            } finally {
              unmark();
            }
          },
        };
      } catch (error) {
        await engine?.shutdown(0).catch(() => {});
        unmark();
        throw error;
      }
    },
    maxLoadedModels: options.maxLoadedModels ?? DEFAULT_MAX_LOADED_MODELS,
    memoryBudgetBytes: options.memoryBudgetBytes ?? Math.floor(totalmem() * DEFAULT_MEMORY_BUDGET_FRACTION),
    idleUnloadSeconds: options.idleUnloadSeconds ?? DEFAULT_IDLE_UNLOAD_SECONDS,
    pinned: options.pinned,
    log,
  });
  server = await createServer({ ...options.server, pool, log });
  const served = server;
  let closing: Promise<void> | null = null;
  const close = (deadlineMs: number): Promise<void> =>
    (closing ??= (async () => {
      const startedMs = Date.now();
      await served.close(deadlineMs);
      await pool.close(Math.max(0, deadlineMs - (Date.now() - startedMs)));
    })());
  return { url: served.url, server: served, pool, close };
}
