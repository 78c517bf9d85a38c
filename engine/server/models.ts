// GET /v1/models and GET /v1/models/{id}: the one model this server serves, or in library mode
// every model of the library, with whether it is loaded and its variants (`name:dtype`).
import type { RequestContext } from './context.js';
import { ApiError } from './errors.js';
import { sendJson } from './http.js';
import { unixSeconds } from './generation.js';
import type { ModelPool } from './modelPool.js';

function modelCard(ctx: RequestContext) {
  const engine = ctx.engine();
  const id = ctx.servedName();
  return {
    id,
    object: 'model',
    created: unixSeconds(Date.parse(engine.manifest.createdAt) || Date.now()),
    owned_by: 'hearth',
    root: engine.manifest.source.repo ?? engine.manifest.name,
    parent: null,
    max_model_len: engine.config.maxTotalTokens,
  };
}

/** Library mode: one card per model name, its variants and what is loaded (ids for `model`: the name, or `name:dtype`). */
function libraryCards(pool: ModelPool) {
  const byName = new Map<string, ReturnType<ModelPool['status']>>();
  for (const variant of pool.status()) byName.set(variant.name, [...(byName.get(variant.name) ?? []), variant]);
  return [...byName].map(([name, variants]) => {
    const loaded = variants.find((variant) => variant.state === 'ready') ?? null;
    return {
      id: name,
      object: 'model',
      created: unixSeconds(Date.now()),
      owned_by: 'hearth',
      root: name,
      parent: null,
      max_model_len: Math.max(...variants.map((variant) => variant.contextLength)),
      status: { loaded: loaded !== null, variant: loaded?.id ?? null },
      variants: variants.map((variant) => ({
        id: variant.id,
        dtype: variant.dtype,
        context_length: variant.contextLength,
        state: variant.state,
        memory_bytes: variant.loaded?.memoryBytes ?? null,
        active_requests: variant.loaded?.activeRequests ?? 0,
        pinned: variant.loaded?.pinned ?? false,
      })),
    };
  });
}

export async function listModels(ctx: RequestContext): Promise<void> {
  const pool = ctx.state.pool;
  if (pool) {
    sendJson(ctx.res, 200, { object: 'list', data: libraryCards(pool) });
    return;
  }
  const card = modelCard(ctx);
  ctx.model = card.id;
  sendJson(ctx.res, 200, { object: 'list', data: [card] });
}

export async function getModel(ctx: RequestContext, id: string): Promise<void> {
  ctx.model = id;
  const pool = ctx.state.pool;
  if (pool) {
    const cards = libraryCards(pool);
    const card = cards.find((candidate) => candidate.id === id || candidate.variants.some((variant) => variant.id === id));
    if (!card) {
      throw new ApiError(404, `The model '${id}' does not exist on this server; it serves ${cards.map((candidate) => `'${candidate.id}'`).join(', ') || 'no models yet'}.`, { param: 'model', code: 'model_not_found' });
    }
    sendJson(ctx.res, 200, card);
    return;
  }
  const card = modelCard(ctx);
  if (id !== card.id) {
    throw new ApiError(404, `The model '${id}' does not exist on this server; it serves '${card.id}'.`, { param: 'model', code: 'model_not_found' });
  }
  sendJson(ctx.res, 200, card);
}
