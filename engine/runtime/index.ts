// Public surface of the inference engine (engine/runtime). The HTTP layer, `hearth serve`,
// `hearth bench`/tune and the desktop host import from here only.
import { HearthEngine, type LoadEngineOptions, type LoadedEngine } from './engine.js';

export type { LoadEngineOptions, LoadedEngine, StepStats } from './engine.js';
export { readManifest } from '../convert/modelPackage.js';
export { resolveBatchingConfig, batchingConfigSchema, kvBytesPerToken, type ResolvedBatchingConfig, type MemoryInfo } from './config.js';
export { OverloadedError, NotReadyError, ValidationError, EngineConfigError, serializeError, deserializeError } from './errors.js';
export { ModelTokenizer, type ChatMessage, type ChatTemplateOptions } from './tokenizer.js';
export type { DeviceReport } from './runnerMessages.js';
export { physicalCoreCount } from './executionProviders.js';

/**
 * Start loading a package and return at once: `snapshot().state` is 'loading' and `submit`
 * throws NotReadyError until `engine.ready` resolves. For a server that answers 503 while loading.
 */
export function startEngine(options: LoadEngineOptions): LoadedEngine {
  return new HearthEngine(options);
}

/** Load a package and resolve when the engine can serve (rejects with the load error). */
export async function loadEngine(options: LoadEngineOptions): Promise<LoadedEngine> {
  const engine = new HearthEngine(options);
  await engine.ready;
  return engine;
}
