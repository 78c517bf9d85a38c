// GET /health: 200 only once the model is loaded and has produced a token (the server runs a
// one-token warm-up right after loading, so this turns green without user traffic).
import type { RequestContext } from './context.js';
import { sendJson } from './http.js';

export async function health(ctx: RequestContext): Promise<void> {
  const { engine, loadError, draining } = ctx.state;
  if (draining) return sendJson(ctx.res, 503, { status: 'stopping' });
  // Library mode: the server is up; models load on demand, each warmed up before it serves.
  const pool = ctx.state.pool;
  if (pool) return sendJson(ctx.res, 200, { status: 'ok', models: pool.loadedStatus().map((model) => ({ id: model.id, state: model.state })) });
  if (loadError) return sendJson(ctx.res, 503, { status: 'failed', error: loadError.message });
  if (!engine) return sendJson(ctx.res, 503, { status: 'loading' });
  const snapshot = engine.snapshot();
  if (snapshot.state !== 'ready') return sendJson(ctx.res, 503, { status: snapshot.state });
  if (!snapshot.hasGenerated) return sendJson(ctx.res, 503, { status: 'warming_up' });
  sendJson(ctx.res, 200, { status: 'ok', model: ctx.servedName(), device: snapshot.device });
}
