// A served model's lifecycle, the one way to run one: mark the package as served (so `hearth rm`
// refuses it), bind the port (a taken port fails before any loading), load the engine behind the
// bound server (which answers 503 until then), warm up, serve; close drains in-flight requests
// within one deadline, shuts the engine down with what is left of it, and drops the mark.
// `hearth serve`, the desktop host's Serve tab, auto-tune's trials and the server tests all start
// models through startServedModel.
import { markServing } from '../hub/library.js';
import { loadEngine, type LoadEngineOptions, type LoadedEngine } from '../runtime/index.js';
import { createServer, type CreateServerOptions, type HearthServer } from './index.js';

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
