// Several models behind one server (`hearth serve --library`): a request names a model; the pool
// leases its engine, loading it first if needed (concurrent requests for it wait on the same
// load), within a number of loaded models and a memory budget. A load that would not fit unloads
// the least recently used idle models first; a model with running requests is never unloaded
// under them. Idle models unload after their keep-alive (the server's default, or the request's
// `keep_alive`: 0 = as soon as it is idle, -1 = never); pinned models never unload.
import type { ModelDtype } from '../common/manifest.js';
import { ApiError } from './errors.js';
import type { ServedEngine } from './servedEngine.js';

/** A servable model variant of the library. */
export interface PoolModel {
  /** Library name. */
  name: string;
  dtype: ModelDtype;
  packageDir: string;
  contextLength: number;
}

export interface LoadedModel {
  engine: ServedEngine;
  /** Frees the model: in-flight requests (none, when the pool unloads) finish within the deadline. */
  unload(deadlineMs: number): Promise<void>;
}

export interface ModelPoolOptions {
  /** Every servable variant, for /v1/models and bare-name lookups. */
  catalog(): PoolModel[];
  /** The variant `name` or `name:dtype` names (a bare name: the configured or best variant), or undefined. */
  resolve(requested: string): PoolModel | undefined;
  load(model: PoolModel): Promise<LoadedModel>;
  /** Memory the model will take once loaded (weights + KV cache), before loading it. */
  estimateBytes(model: PoolModel): number;
  maxLoadedModels: number;
  memoryBudgetBytes: number;
  /** Seconds an idle model stays loaded; -1 = until evicted. */
  idleUnloadSeconds: number;
  /** Models (`name` or `name:dtype`) that are never unloaded once loaded. */
  pinned?: readonly string[];
  /** Deadline for an unload's drain (the model is idle, so this is only a bound). */
  unloadDeadlineMs?: number;
  log?: (line: string) => void;
  now?: () => number;
}

export type PoolModelState = 'loading' | 'ready' | 'unloading';

export interface PoolModelStatus {
  /** `name:dtype`. */
  id: string;
  name: string;
  dtype: ModelDtype;
  state: PoolModelState;
  pinned: boolean;
  activeRequests: number;
  /** Memory the model holds (its estimate while loading). */
  memoryBytes: number;
  loadMs: number | null;
  lastUsedMs: number;
}

export interface ModelLease {
  readonly engine: ServedEngine;
  /** `name:dtype` of the variant serving the request (labels, the request log). */
  readonly id: string;
  readonly name: string;
  /** Ends the lease; `keepAliveSeconds` (the request's keep_alive) overrides the idle timeout. */
  release(keepAliveSeconds?: number): void;
}

interface Slot {
  id: string;
  model: PoolModel;
  state: PoolModelState;
  /** Settles when loaded (the slot is removed when loading fails). */
  loaded: Promise<LoadedModel>;
  instance: LoadedModel | null;
  active: number;
  lastUsedMs: number;
  bytes: number;
  loadMs: number | null;
  pinned: boolean;
  /** Seconds to stay loaded once idle (the last request's keep_alive, else the default). */
  keepAliveSeconds: number;
  idleTimer: NodeJS.Timeout | null;
  /** Settles when an unload finished (a reload of the same variant waits for the memory). */
  unloaded: Promise<void> | null;
}

export type PoolEvent =
  | { type: 'loaded'; id: string; loadMs: number }
  | { type: 'load_failed'; id: string }
  | { type: 'unloaded'; id: string; reason: 'capacity' | 'idle' | 'explicit' };

export const variantId = (model: Pick<PoolModel, 'name' | 'dtype'>) => `${model.name}:${model.dtype}`;

export class ModelPool {
  private readonly slots = new Map<string, Slot>();
  /** Unloads still running, by variant id (their memory is not yet back). */
  private readonly unloading = new Map<string, Promise<void>>();
  /** Capacity decisions (evict, then start a load) run one at a time. */
  private admission: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly listeners = new Set<(event: PoolEvent) => void>();

  constructor(private readonly options: ModelPoolOptions) {
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => {});
    if (options.maxLoadedModels < 1) throw new Error('maxLoadedModels must be at least 1');
  }

  /** Loads and unloads as they happen (metrics count them). */
  onEvent(listener: (event: PoolEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: PoolEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /** Every servable variant with its state ('unloaded' when not in memory). */
  status(): Array<PoolModel & { id: string; state: PoolModelState | 'unloaded'; loaded: PoolModelStatus | null }> {
    const loaded = new Map(this.loadedStatus().map((status) => [status.id, status]));
    return this.options.catalog().map((model) => {
      const id = variantId(model);
      const status = loaded.get(id) ?? null;
      return { ...model, id, state: status?.state ?? 'unloaded', loaded: status };
    });
  }

  /** Models in memory (or loading), most recently used first. */
  loadedStatus(): PoolModelStatus[] {
    return [...this.slots.values()]
      .sort((a, b) => b.lastUsedMs - a.lastUsedMs)
      .map((slot) => ({
        id: slot.id,
        name: slot.model.name,
        dtype: slot.model.dtype,
        state: slot.state,
        pinned: slot.pinned,
        activeRequests: slot.active,
        memoryBytes: slot.bytes,
        loadMs: slot.loadMs,
        lastUsedMs: slot.lastUsedMs,
      }));
  }

  /** Loaded engines (for /health, /metrics). */
  engines(): Array<{ id: string; engine: ServedEngine }> {
    return [...this.slots.values()].filter((slot) => slot.state === 'ready' && slot.instance).map((slot) => ({ id: slot.id, engine: slot.instance!.engine }));
  }

  usedBytes(): number {
    return [...this.slots.values()].reduce((sum, slot) => sum + slot.bytes, 0);
  }

  /**
   * The engine for `requested` (a library name, or `name:dtype`), loaded if needed. Throws an
   * ApiError: 400 without a name when several models are servable, 404 for an unknown one, 503
   * when it cannot fit (with the numbers) or failed to load.
   */
  async acquire(requested: string | null | undefined): Promise<ModelLease> {
    if (this.closed) throw new ApiError(503, 'The server is shutting down; retry against another instance.', { code: 'shutting_down' });
    const model = this.lookup(requested);
    const id = variantId(model);
    for (;;) {
      const slot = this.slots.get(id) ?? (await this.admit(model));
      slot.active++;
      this.cancelIdleTimer(slot);
      let instance: LoadedModel;
      try {
        instance = await slot.loaded;
      } catch (error) {
        slot.active--;
        throw error;
      }
      if (slot.state !== 'ready' || this.slots.get(id) !== slot) {
        // Unloaded between the load and this request (explicit unload): start over.
        slot.active--;
        continue;
      }
      slot.lastUsedMs = this.now();
      return this.lease(slot, instance);
    }
  }

  /** Loads `requested` now (the admin API's load; a no-op when loaded). */
  async load(requested: string): Promise<PoolModelStatus> {
    const lease = await this.acquire(requested);
    lease.release();
    return this.loadedStatus().find((status) => status.id === lease.id)!;
  }

  /**
   * Unloads a loaded model and resolves once its engine has shut down; its `name:dtype`, or null
   * when it was not loaded. Refused (409) while it has running requests: a stream is never cut.
   */
  async unload(requested: string): Promise<string | null> {
    const model = this.lookup(requested);
    const slot = this.slots.get(variantId(model));
    if (!slot) return null;
    const busy = () =>
      new ApiError(409, `'${slot.id}' has ${slot.active} running request(s); unload it when they finish (or let it unload once idle).`, { code: 'model_busy' });
    if (slot.active > 0) throw busy();
    await slot.loaded.catch(() => {});
    if (this.slots.get(slot.id) !== slot) return slot.id; // failed to load, or already unloaded meanwhile
    if (slot.active > 0) throw busy();
    await this.evict(slot, 'explicit');
    return slot.id;
  }

  /** The limits loads are admitted within, and the memory the loaded models hold now. */
  limits(): { maxLoadedModels: number; memoryBudgetBytes: number; usedBytes: number; idleUnloadSeconds: number } {
    const { maxLoadedModels, memoryBudgetBytes, idleUnloadSeconds } = this.options;
    return { maxLoadedModels, memoryBudgetBytes, usedBytes: this.usedBytes(), idleUnloadSeconds };
  }

  /** Unloads everything (server shutdown): running requests get `deadlineMs` to finish. */
  async close(deadlineMs: number): Promise<void> {
    this.closed = true;
    const slots = [...this.slots.values()];
    await Promise.all(
      slots.map(async (slot) => {
        this.cancelIdleTimer(slot);
        const instance = await slot.loaded.catch(() => null);
        this.slots.delete(slot.id);
        await instance?.unload(deadlineMs);
      }),
    );
    await Promise.all(this.unloading.values());
  }

  private lookup(requested: string | null | undefined): PoolModel {
    const catalog = this.options.catalog();
    if (requested === undefined || requested === null || requested === '') {
      if (catalog.length === 1) return catalog[0]!;
      throw new ApiError(400, `Name the model to use in 'model': this server serves ${this.describe(catalog)} (see GET /v1/models).`, { param: 'model', code: 'model_required' });
    }
    const model = this.options.resolve(requested);
    if (!model) {
      throw new ApiError(404, `The model '${requested}' does not exist on this server. It serves ${this.describe(catalog)} (see GET /v1/models); \`hearth pull\` adds more.`, {
        param: 'model',
        code: 'model_not_found',
      });
    }
    return model;
  }

  private describe(catalog: PoolModel[]): string {
    if (catalog.length === 0) return 'no models yet';
    const names = [...new Set(catalog.map((model) => model.name))].sort();
    return names.map((name) => `'${name}'`).join(', ');
  }

  /** Makes room (evicting least recently used idle models) and starts loading `model`. */
  private admit(model: PoolModel): Promise<Slot> {
    const next = this.admission.then(async () => {
      const id = variantId(model);
      const existing = this.slots.get(id);
      if (existing) return existing;
      await this.unloading.get(id);
      let bytes: number;
      try {
        bytes = this.options.estimateBytes(model);
      } catch (error) {
        // e.g. batching settings this model cannot take (a context longer than its own).
        throw new ApiError(503, `The model '${id}' cannot be served with these settings: ${(error as Error).message} Other models keep serving.`, {
          code: 'model_load_failed',
          reason: 'model_load_failed',
        });
      }
      const { maxLoadedModels, memoryBudgetBytes } = this.options;
      if (bytes > memoryBudgetBytes) {
        throw new ApiError(
          503,
          `'${id}' needs about ${mib(bytes)} MiB (weights and KV cache), more than the whole memory budget of ${mib(memoryBudgetBytes)} MiB. ` +
            'Raise --memory-budget, lower its context or batch (batching.maxTotalTokens, kvCacheBytes), or use a smaller variant such as int4. Other models keep serving.',
          { code: 'model_too_large', reason: 'model_too_large' },
        );
      }
      while (this.slots.size + 1 > maxLoadedModels || this.usedBytes() + bytes > memoryBudgetBytes) {
        const victim = this.leastRecentlyUsedIdle();
        if (!victim) {
          const busy = this.loadedStatus().map((status) => `${status.id} (${status.activeRequests} running, ${mib(status.memoryBytes)} MiB${status.pinned ? ', pinned' : ''})`);
          throw new ApiError(
            503,
            `'${id}' (about ${mib(bytes)} MiB) does not fit next to the loaded models, and none of them is idle: ${busy.join(', ')}; ` +
              `budget ${mib(memoryBudgetBytes)} MiB, at most ${maxLoadedModels} loaded. Retry when a request finishes, or raise --max-loaded-models / --memory-budget.`,
            { code: 'model_capacity', reason: 'model_capacity', headers: { 'Retry-After': '5' } },
          );
        }
        await this.evict(victim, 'capacity');
      }
      return this.startLoad(model, bytes);
    });
    this.admission = next.catch(() => {});
    return next;
  }

  private startLoad(model: PoolModel, bytes: number): Slot {
    const id = variantId(model);
    const startedMs = this.now();
    const slot: Slot = {
      id,
      model,
      state: 'loading',
      loaded: null as unknown as Promise<LoadedModel>,
      instance: null,
      active: 0,
      lastUsedMs: startedMs,
      bytes,
      loadMs: null,
      pinned: (this.options.pinned ?? []).some((pin) => pin === id || pin === model.name),
      keepAliveSeconds: this.options.idleUnloadSeconds,
      idleTimer: null,
      unloaded: null,
    };
    this.log(`hearth serve: loading '${id}' (about ${mib(bytes)} MiB)…`);
    slot.loaded = this.options.load(model).then(
      (instance) => {
        slot.instance = instance;
        slot.state = 'ready';
        slot.loadMs = this.now() - startedMs;
        this.emit({ type: 'loaded', id, loadMs: slot.loadMs });
        this.log(`hearth serve: '${id}' loaded in ${slot.loadMs} ms.`);
        if (slot.active === 0) this.scheduleIdleUnload(slot);
        return instance;
      },
      (error: unknown) => {
        if (this.slots.get(id) === slot) this.slots.delete(id);
        this.emit({ type: 'load_failed', id });
        const message = (error as Error)?.message ?? String(error);
        this.log(`hearth serve: '${id}' failed to load: ${message}`);
        throw new ApiError(503, `The model '${id}' failed to load: ${message} Other models keep serving.`, { code: 'model_load_failed', reason: 'model_load_failed' });
      },
    );
    slot.loaded.catch(() => {});
    this.slots.set(id, slot);
    return slot;
  }

  private lease(slot: Slot, instance: LoadedModel): ModelLease {
    let released = false;
    return {
      engine: instance.engine,
      id: slot.id,
      name: slot.model.name,
      release: (keepAliveSeconds?: number) => {
        if (released) return;
        released = true;
        slot.active--;
        slot.lastUsedMs = this.now();
        if (keepAliveSeconds !== undefined) slot.keepAliveSeconds = keepAliveSeconds;
        if (slot.active === 0) this.scheduleIdleUnload(slot);
      },
    };
  }

  private scheduleIdleUnload(slot: Slot): void {
    this.cancelIdleTimer(slot);
    if (slot.pinned || slot.keepAliveSeconds < 0 || slot.state !== 'ready' || this.closed) return;
    const unloadIfIdle = () => {
      slot.idleTimer = null;
      if (this.slots.get(slot.id) === slot && slot.active === 0 && slot.state === 'ready') void this.evict(slot, 'idle');
    };
    if (slot.keepAliveSeconds === 0) {
      unloadIfIdle();
      return;
    }
    slot.idleTimer = setTimeout(unloadIfIdle, slot.keepAliveSeconds * 1000);
    slot.idleTimer.unref();
  }

  private cancelIdleTimer(slot: Slot): void {
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.idleTimer = null;
  }

  private leastRecentlyUsedIdle(): Slot | undefined {
    return [...this.slots.values()]
      .filter((slot) => slot.state === 'ready' && slot.active === 0 && !slot.pinned)
      .sort((a, b) => a.lastUsedMs - b.lastUsedMs)[0];
  }

  /** Unloads an idle slot; its memory counts as used until the unload finished. */
  private async evict(slot: Slot, reason: 'capacity' | 'idle' | 'explicit'): Promise<void> {
    if (slot.unloaded) return slot.unloaded;
    this.cancelIdleTimer(slot);
    slot.state = 'unloading';
    const instance = slot.instance;
    slot.unloaded = (async () => {
      this.log(`hearth serve: unloading '${slot.id}' (${reason}).`);
      try {
        await instance?.unload(this.options.unloadDeadlineMs ?? 5000);
      } finally {
        if (this.slots.get(slot.id) === slot) this.slots.delete(slot.id);
        this.unloading.delete(slot.id);
        this.emit({ type: 'unloaded', id: slot.id, reason });
      }
    })();
    this.unloading.set(slot.id, slot.unloaded);
    return slot.unloaded;
  }
}

function mib(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}
