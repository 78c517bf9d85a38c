// Reads a serving config file (`hearth serve --config tuned.json`, written by `hearth tune` or by
// hand; JSON or YAML). Every field is optional here; unknown fields are refused so a typo is
// not silently ignored. Batching settings are checked again against the model by engine/runtime/config.ts.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { batchingConfigSchema } from '../runtime/config.js';
import { DEVICE_CHOICES, type DeviceChoice, type ServingConfig } from '../common/servingConfig.js';
import { INT8_MATMUL_MODES, type Int8MatMulMode } from '../common/accelerator.js';
import { paramPath } from './validation.js';


const servingConfigSchema = z
  .object({
    version: z.literal(1, { error: 'must be 1 (the only serving-config version)' }),
    model: z.object({ package: z.string().min(1), servedName: z.string().min(1).optional() }).partial().strict(),
    server: z
      .object({
        host: z.string().min(1),
        port: z.number().int().min(0).max(65535, 'must be a port number 0..65535'),
        apiKey: z.string().min(1),
        corsOrigins: z.array(z.string()),
        allowedHosts: z.array(z.string().min(1)),
        vertex: z.boolean(),
        maxBodyBytes: z.number().int().positive(),
      })
      .partial()
      .strict(),
    device: z.enum(DEVICE_CHOICES, { error: `must be one of ${DEVICE_CHOICES.join(', ')}` }),
    cpuThreads: z.number().int().min(0),
    cpuSpinning: z.boolean(),
    cpuInt8MatMul: z.union([z.boolean(), z.enum(INT8_MATMUL_MODES)], { error: `must be true, false or one of ${INT8_MATMUL_MODES.join(', ')}` }),
    batching: batchingConfigSchema,
    logging: z
      .object({
        contentLogging: z.boolean(),
        retentionDays: z.number().min(0),
        retentionMaxRows: z.number().int().min(0),
      })
      .partial()
      .strict(),
    tuning: z.unknown(),
  })
  .partial()
  .strict();

/** A serving config as a file may give it: any subset of ServingConfig. */
export type PartialServingConfig = {
  version?: 1;
  model?: Partial<ServingConfig['model']>;
  server?: Partial<ServingConfig['server']>;
  device?: DeviceChoice;
  cpuThreads?: number;
  cpuSpinning?: boolean;
  cpuInt8MatMul?: boolean | Int8MatMulMode;
  batching?: Partial<ServingConfig['batching']>;
  logging?: Partial<ServingConfig['logging']>;
  tuning?: ServingConfig['tuning'];
};

export class ServingConfigError extends Error {
  override readonly name = 'ServingConfigError';
}

export function parseServingConfig(value: unknown, source: string): PartialServingConfig {
  const parsed = servingConfigSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `'${paramPath(issue.path) || '(root)'}' ${issue.message}`);
    throw new ServingConfigError(`The serving config ${source} is invalid: ${problems.join('; ')}. Fix the file, or regenerate it with hearth tune.`);
  }
  return parsed.data as PartialServingConfig;
}

export function loadServingConfigFile(file: string): PartialServingConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ServingConfigError(`Cannot read the serving config ${file}: ${(error as Error).message}.`);
  }
  let value: unknown;
  try {
    value = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new ServingConfigError(`The serving config ${file} is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(error as Error).message}.`);
  }
  return parseServingConfig(value, file);
}
