// Library mode's model management (`hearth serve --library`), the paths llama.cpp's router mode
// uses: GET /models (what is loaded, its memory, the budget), POST /models/load and
// POST /models/unload with `{"model": "name" | "name:dtype"}`. A load waits until the model is
// ready and fails as a request naming it would (404 unknown, 503 too big / no idle room / failed).
// An unload of a model with running requests is refused (409) rather than waited for: a stream
// must never be cut, and waiting could last as long as any client keeps sending to that model;
// the caller retries once its requests finished (or lets the idle timeout unload it).
import { z } from 'zod';
import type { RequestContext } from './context.js';
import { ApiError } from './errors.js';
import { readJsonBody, sendJson } from './http.js';
import type { ModelPool } from './modelPool.js';
import { parseBody } from './validation.js';

const modelBody = z.object({
  model: z.string({ error: "Name the model in 'model' (a library name, or name:dtype; see GET /v1/models)" }).trim().min(1, "Name the model in 'model' (a library name, or name:dtype; see GET /v1/models)"),
});

function libraryPool(ctx: RequestContext): ModelPool {
  const pool = ctx.state.pool;
  if (!pool) {
    throw new ApiError(404, 'This server serves one model; loading and unloading models by name is for `hearth serve --library`.', { code: 'not_library_mode' });
  }
  return pool;
}

/** GET /models: the loaded models (most recently used first) and the limits they share. */
export async function loadedModels(ctx: RequestContext): Promise<void> {
  const pool = libraryPool(ctx);
  sendJson(ctx.res, 200, { object: 'list', data: pool.loadedStatus(), ...pool.limits() });
}

/** POST /models/load: loads the model (a no-op when loaded) and answers once it is ready. */
export async function loadModel(ctx: RequestContext): Promise<void> {
  const pool = libraryPool(ctx);
  const { model } = parseBody(modelBody, await readJsonBody(ctx.req, ctx.state.maxBodyBytes));
  ctx.model = model;
  const status = await pool.load(model);
  ctx.model = status.id;
  sendJson(ctx.res, 200, status);
}

/** POST /models/unload: unloads it once its memory is back (409 while it has running requests). */
export async function unloadModel(ctx: RequestContext): Promise<void> {
  const pool = libraryPool(ctx);
  const { model } = parseBody(modelBody, await readJsonBody(ctx.req, ctx.state.maxBodyBytes));
  ctx.model = model;
  sendJson(ctx.res, 200, { unloaded: await pool.unload(model) });
}
