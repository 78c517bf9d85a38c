// Start, stop and reload the OpenAI-compatible server inside the host process. One server at a
// time; transitions are serialized so a double click on Start cannot load two models.
// The actual engine + HTTP server come from a ServeBackend (serveBackend.ts wires the real
// engine/runtime + engine/server; tests may wire the same real parts differently).
import type { ServedModelStatus, ServedModelsResponse, ServeSettings, ServeStatus } from '../common/adminApi.js';
import type { Engine } from '../common/engineApi.js';
import type { ModelManifest } from '../common/manifest.js';
import type { ServingConfig } from '../common/servingConfig.js';
import { conflict } from './httpUtil.js';

export interface RunningServer {
  /** e.g. http://127.0.0.1:8080 (no /v1). */
  origin: string;
  /** The one model's engine, manifest, name and config; null for a library server (see `library`). */
  engine: Engine | null;
  manifest: ModelManifest | null;
  servedName: string | null;
  /** The serving config in effect, with the engine's resolved batching settings. */
  config: ServingConfig | null;
  /** A library server (settings.library): its models, loaded on demand; null when one model is served. */
  library: LibraryServer | null;
  /** Stops accepting requests, drains within deadlineMs, frees the model. */
  close(deadlineMs: number): Promise<void>;
  /** Calls `listener` after every engine step (the dashboard's rows per step); returns the unsubscribe. */
  onStep?(listener: (step: { batchSize: number }) => void): () => void;
}

/** The models of a library server, as the admin API and the dashboard use them. */
export interface LibraryServer {
  models(): ServedModelsResponse;
  /** Loads `model` (a name or `name:dtype`) and resolves once it is ready; ApiErrors as a request naming it. */
  load(model: string): Promise<ServedModelStatus>;
  /** Unloads it once idle; 409 while it has running requests. */
  unload(model: string): Promise<string | null>;
  /** The loaded engines by `name:dtype`. */
  engines(): Array<{ id: string; engine: Engine }>;
  /** The serving config of a loaded model (`name:dtype`): its package with the batching its engine resolved; null when not loaded. */
  configFor(id: string): ServingConfig | null;
}

export interface ServeBackend {
  /** Loads the model and starts the OpenAI server; resolves once it answers (warm-up done). */
  start(settings: ServeSettings): Promise<RunningServer>;
}

export const SERVE_DRAIN_DEADLINE_MS = 5000;

export class ServeController {
  private status: ServeStatus = emptyStatus();
  private running: RunningServer | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private listeners = new Set<(status: ServeStatus) => void>();

  constructor(private readonly backend: ServeBackend) {}

  onChange(listener: (status: ServeStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  current(): ServeStatus {
    return this.status;
  }

  server(): RunningServer | null {
    return this.status.state === 'ready' ? this.running : null;
  }

  /** Starts serving; fails with 409 when a server is already running (use reload). */
  start(settings: ServeSettings): Promise<ServeStatus> {
    return this.serialize(async () => {
      if (this.running) {
        throw conflict(`Already serving ${this.status.servedName ? `'${this.status.servedName}'` : 'the library'}. Stop it first, or use Reload to apply new settings.`);
      }
      return this.launch(settings);
    });
  }

  stop(): Promise<ServeStatus> {
    return this.serialize(async () => {
      await this.shutdownRunning();
      this.update({ ...emptyStatus(), settings: this.status.settings, config: this.status.config });
      return this.status;
    });
  }

  /** Stops the running server (if any) and starts with the new settings. */
  reload(settings: ServeSettings): Promise<ServeStatus> {
    return this.serialize(async () => {
      await this.shutdownRunning();
      return this.launch(settings);
    });
  }

  /** Stops the running server, letting in-flight requests finish within `deadlineMs`. */
  async close(deadlineMs = SERVE_DRAIN_DEADLINE_MS): Promise<void> {
    await this.serialize(() => this.shutdownRunning(deadlineMs));
  }

  private async launch(settings: ServeSettings): Promise<ServeStatus> {
    this.update({ ...emptyStatus(), state: 'starting', settings });
    try {
      const server = await this.backend.start(settings);
      this.running = server;
      this.update({
        state: 'ready',
        settings,
        config: server.config,
        baseUrl: `${server.origin}/v1`,
        servedName: server.servedName,
        manifest: server.manifest && {
          name: server.manifest.name,
          architecture: server.manifest.architecture,
          dtype: server.manifest.dtype,
          weightsBytes: server.manifest.weightsBytes,
          contextLength: server.manifest.shape.contextLength,
        },
        startedAtMs: Date.now(),
        error: null,
      });
    } catch (error) {
      this.update({ ...emptyStatus(), state: 'failed', settings, error: (error as Error).message });
    }
    return this.status;
  }

  private async shutdownRunning(deadlineMs = SERVE_DRAIN_DEADLINE_MS): Promise<void> {
    const server = this.running;
    if (!server) return;
    this.update({ ...this.status, state: 'stopping' });
    this.running = null;
    try {
      await server.close(deadlineMs);
    } catch (error) {
      console.error(`hearth host: stopping the server failed: ${(error as Error).message}`);
    }
  }

  private update(status: ServeStatus): void {
    this.status = status;
    for (const listener of this.listeners) listener(status);
  }

  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const next = this.chain.then(task, task);
    this.chain = next.catch(() => undefined);
    return next;
  }
}

function emptyStatus(): ServeStatus {
  return { state: 'stopped', settings: null, config: null, baseUrl: null, servedName: null, manifest: null, startedAtMs: null, error: null };
}
