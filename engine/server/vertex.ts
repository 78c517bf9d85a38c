// Vertex AI's custom-container prediction contract: POST {AIP_PREDICT_ROUTE} with
// {"instances": [...], "parameters": {...}} → {"predictions": [...]}, one per instance.
// An instance is an OpenAI chat body (has `messages`) or completion body (has `prompt`);
// `parameters` supplies defaults for every instance; each prediction is the OpenAI response object.
import { z } from 'zod';
import type { RequestContext } from './context.js';
import { chatJson, submitChat } from './chatCompletions.js';
import { completionJson, submitCompletion } from './completions.js';
import { RunningGeneration } from './generation.js';
import { badRequest } from './errors.js';
import { readJsonBody, sendJson } from './http.js';
import { chatCompletionSchema, completionSchema, parseBody } from './validation.js';

export interface VertexRoutes {
  predictRoute: string;
  healthRoute: string;
}

/** Routes from Vertex's AIP_* environment (set by Vertex AI on the container), with Vertex's defaults. */
export function vertexRoutes(env: NodeJS.ProcessEnv): VertexRoutes {
  return { predictRoute: env.AIP_PREDICT_ROUTE || '/predict', healthRoute: env.AIP_HEALTH_ROUTE || '/health' };
}

const MAX_INSTANCES = 64;
const predictSchema = z.object({
  instances: z
    .array(z.record(z.string(), z.unknown()), { error: 'must be an array of objects' })
    .min(1, 'must hold at least one instance')
    .max(MAX_INSTANCES, `may hold at most ${MAX_INSTANCES} instances`),
  parameters: z.record(z.string(), z.unknown()).nullish(),
});

export async function predict(ctx: RequestContext): Promise<void> {
  const request = parseBody(predictSchema, await readJsonBody(ctx.req, ctx.state.maxBodyBytes));
  const merged = request.instances.map((instance) => ({ ...(request.parameters ?? {}), ...instance, stream: false }));
  // Validate every instance before admitting any, so a bad instance 3 does not leave 1 and 2 running.
  const parsed = merged.map((instance, i) => {
    try {
      if ('messages' in instance) return { kind: 'chat' as const, body: parseBody(chatCompletionSchema, instance) };
      if ('prompt' in instance) return { kind: 'completion' as const, body: parseBody(completionSchema, instance) };
    } catch (error) {
      throw badRequest(`instances[${i}]: ${(error as Error).message}`, `instances[${i}]`);
    }
    throw badRequest(`instances[${i}] needs 'messages' (chat) or 'prompt' (completion).`, `instances[${i}]`);
  });
  // One model per prediction (library mode: the first instance names it).
  await ctx.useModel(parsed[0]?.body.model);
  // Every instance is submitted before any is awaited, so they share the engine's steps.
  const started = [];
  try {
    for (const [i, item] of parsed.entries()) {
      started.push(
        item.kind === 'chat'
          ? { kind: 'chat' as const, prepared: submitChat(ctx, item.body, `-i${i}`) }
          : { kind: 'completion' as const, prepared: submitCompletion(ctx, item.body, `-i${i}`) },
      );
    }
  } catch (error) {
    ctx.cancelAll();
    throw error;
  }
  await RunningGeneration.allReady(ctx, started.flatMap((item) => item.prepared.generations));
  const predictions = await Promise.all(
    started.map((item) => (item.kind === 'chat' ? chatJson(ctx, item.prepared) : completionJson(ctx, item.prepared))),
  );
  sendJson(ctx.res, 200, { predictions });
}
