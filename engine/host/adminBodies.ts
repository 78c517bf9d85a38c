// Bodies of the admin API's POST routes, as zod schemas (as the OpenAI routes' are in
// server/validation.ts): a handler gets a typed, checked value or the client gets a 400 that names
// the field and says what is allowed.
import { z } from 'zod';
import type { BenchSweepRequest, ConversationChange, ExportBundleRequest, ImportRequest, PullRequest, ServeModelRequest, ServeSettings, SizingRequest } from '../common/adminApi.js';
import type { AdminBody, AdminBodyRoute } from '../common/adminRoutes.js';
import { DEFAULT_MAX_BATCH_SIZE } from '../common/batching.js';
import { MODEL_DTYPES } from '../common/manifest.js';
import { DEVICE_CHOICES, DEFAULT_SERVE_PORT } from '../common/servingConfig.js';
import type { ServingConfig } from '../common/servingConfig.js';
import { INT8_MATMUL_MODES } from '../common/accelerator.js';

const wholeNumber = (name: string, min: number, max: number) =>
  z.number({ error: `'${name}' must be a whole number from ${min} to ${max}` }).int(`'${name}' must be a whole number from ${min} to ${max}`).min(min, `'${name}' must be a whole number from ${min} to ${max}`).max(max, `'${name}' must be a whole number from ${min} to ${max}`);
const oneOf = <T extends readonly [string, ...string[]]>(name: string, values: T) => z.enum(values, { error: `'${name}' must be one of ${values.join(', ')}` });
const trimmedOrUndefined = z.string().transform((value) => value.trim() || undefined);

const PICK_MODEL = "Pick a model to serve ('model': a library name or package folder), or serve the whole library ('library')";

const serveLibrarySchema = z.object({
  maxLoadedModels: wholeNumber('library.maxLoadedModels', 1, 64).default(3),
  memoryBudgetBytes: wholeNumber('library.memoryBudgetBytes', 0, Number.MAX_SAFE_INTEGER).default(0),
  idleUnloadSeconds: z
    .number({ error: "'library.idleUnloadSeconds' must be a number of seconds (-1 = keep loaded)" })
    .int("'library.idleUnloadSeconds' must be a whole number of seconds (-1 = keep loaded)")
    .min(-1, "'library.idleUnloadSeconds' must be at least -1 (-1 = keep loaded)")
    .default(300),
});

export const serveSettingsSchema = z.object({
  // Checked below: a library server names no model.
  model: z.string({ error: PICK_MODEL }).trim().default(''),
  dtype: oneOf('dtype', MODEL_DTYPES).optional(),
  servedName: trimmedOrUndefined.optional(),
  device: oneOf('device', DEVICE_CHOICES).default('auto'),
  host: z.string().transform((value) => value.trim() || '127.0.0.1').default('127.0.0.1'),
  port: wholeNumber('port', 0, 65535).default(DEFAULT_SERVE_PORT),
  apiKey: z.string({ error: "'apiKey' must be text" }).transform((value) => value.trim() || undefined).optional(),
  corsOrigins: z
    .array(z.string(), { error: "'corsOrigins' must be a list of origins such as ['http://localhost:3000'] (or ['*'])" })
    .transform((origins) => origins.map((origin) => origin.trim()).filter((origin) => origin !== ''))
    .default([]),
  maxBatchSize: wholeNumber('maxBatchSize', 1, 1024).default(DEFAULT_MAX_BATCH_SIZE),
  contextLength: wholeNumber('contextLength', 0, 1 << 22).default(0),
  kvCacheBytes: wholeNumber('kvCacheBytes', 0, Number.MAX_SAFE_INTEGER).default(0),
  contentLogging: z.boolean().default(true),
  vertex: z.boolean().default(false),
  cpuInt8MatMul: oneOf('cpuInt8MatMul', INT8_MATMUL_MODES).default('off'),
  library: serveLibrarySchema.optional(),
}).superRefine((settings, context) => {
  if (!settings.library && settings.model === '') context.addIssue({ code: 'custom', path: ['model'], message: PICK_MODEL });
}) satisfies z.ZodType<ServeSettings, unknown>;

export const serveStartSchema = z.object({ settings: serveSettingsSchema });

export const pullSchema = z.object({
  repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, "'repo' must be a Hub repo id such as 'HuggingFaceTB/SmolLM2-135M-Instruct'"),
  dtype: oneOf('dtype', MODEL_DTYPES).default('int4'),
  revision: z.string().optional(),
  name: z.string().optional(),
}) satisfies z.ZodType<PullRequest, unknown>;

export const importSchema = z.object({
  path: z.string({ error: "'path' must be the checkpoint folder's absolute path" }).trim().min(1, "Give the checkpoint folder ('path': its absolute path)"),
  dtype: oneOf('dtype', MODEL_DTYPES).default('int4'),
  name: trimmedOrUndefined.optional(),
}) satisfies z.ZodType<ImportRequest, unknown>;

const TIMINGS = z.object({ ttftMs: z.number().nullable(), totalMs: z.number(), completionTokens: z.number().nullable(), tokensPerSec: z.number().nullable(), finishReason: z.string().nullable().optional() });
const conversationMessage = z.object({
  role: z.enum(['user', 'assistant'], { error: "a message's 'role' must be 'user' or 'assistant'" }),
  content: z.string({ error: "a message's 'content' must be text" }),
  reasoning: z.string().optional(),
  model: z.string().optional(),
  timings: TIMINGS.optional(),
  error: z.string().optional(),
});

export const conversationSchema = z.object({
  title: z.string().max(200, "'title' must be at most 200 characters").optional(),
  systemPrompt: z.string().optional(),
  messages: z.array(conversationMessage, { error: "'messages' must be a list of {role, content}" }).max(10_000).optional(),
}) satisfies z.ZodType<ConversationChange, unknown>;

const LEVELS = "'concurrencyLevels' must be a list of whole numbers between 1 and 1024, e.g. [1, 2, 4, 8]";
const positive = (name: string) => z.number().int(`'${name}' must be a whole number of at least 1`).min(1, `'${name}' must be a whole number of at least 1`);

export const benchSweepSchema = z.object({
  label: z.string().optional(),
  concurrencyLevels: z.array(z.number({ error: LEVELS }).int(LEVELS).min(1, LEVELS).max(1024, LEVELS), { error: LEVELS }).min(1, LEVELS),
  promptTokens: positive('promptTokens'),
  outputTokens: positive('outputTokens'),
  requestsPerLevel: positive('requestsPerLevel'),
  model: trimmedOrUndefined.optional(),
}) satisfies z.ZodType<BenchSweepRequest, unknown>;

export const serveModelSchema = z.object({
  model: z.string({ error: "Name the model in 'model' (a library name, or name:dtype)" }).trim().min(1, "Name the model in 'model' (a library name, or name:dtype)"),
}) satisfies z.ZodType<ServeModelRequest, unknown>;

// The serving config is checked in depth where it is used (export re-resolves its batching); here: that it is one.
const servingConfig = z.custom<ServingConfig>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), "Send the serving 'config' (an object, as GET /api/export/defaults returns it)");
const gpus = z.array(z.object({ name: z.string(), memoryBytes: z.number().positive() }));
const prices = z.array(z.object({ gpu: z.string(), usdPerHour: z.number().nonnegative() }));

export const sizingSchema = z.object({
  config: servingConfig,
  gpus,
  prices,
  targetRequestsPerSec: z.number().positive().optional(),
  measuredRequestsPerSec: z.number().positive().optional(),
}) satisfies z.ZodType<SizingRequest, unknown>;

export const exportBundleSchema = z.object({
  config: servingConfig,
  outDir: z.string().optional(),
  target: z.enum(['gpu', 'cpu'], { error: "'target' must be 'gpu' or 'cpu'" }),
  engine: z.enum(['hearth', 'vllm', 'tgi'], { error: "'engine' must be 'hearth', 'vllm' or 'tgi'" }).default('hearth'),
  bakeModel: z.boolean().default(false),
  gpus: gpus.optional(),
  prices: prices.optional(),
}) satisfies z.ZodType<ExportBundleRequest, unknown>;

/** The body schema of every admin route that takes a body (a compile error when one is missing). */
export const ADMIN_BODY_SCHEMAS: { [K in AdminBodyRoute]: z.ZodType<AdminBody<K>, unknown> } = {
  pull: pullSchema,
  importModel: importSchema,
  conversationCreate: conversationSchema,
  conversationUpdate: conversationSchema,
  serveStart: serveStartSchema,
  serveReload: serveStartSchema,
  benchStart: benchSweepSchema,
  exportSizing: sizingSchema,
  exportBundle: exportBundleSchema,
  serveModelLoad: serveModelSchema,
  serveModelUnload: serveModelSchema,
};
