// GET /v1/models and GET /v1/models/{id}: the one model this server serves.
import type { RequestContext } from './context.js';
import { ApiError } from './errors.js';
import { sendJson } from './http.js';
import { unixSeconds } from './generation.js';

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

export async function listModels(ctx: RequestContext): Promise<void> {
  const card = modelCard(ctx);
  ctx.model = card.id;
  sendJson(ctx.res, 200, { object: 'list', data: [card] });
}

export async function getModel(ctx: RequestContext, id: string): Promise<void> {
  const card = modelCard(ctx);
  ctx.model = id;
  if (id !== card.id) {
    throw new ApiError(404, `The model '${id}' does not exist on this server; it serves '${card.id}'.`, { param: 'model', code: 'model_not_found' });
  }
  sendJson(ctx.res, 200, card);
}
