// The engines a bundle can target. One writer per bundle file reads the target's container spec.
import { ExportError } from '../errors.js';
import { hearthTarget } from './hearth.js';
import { tgiTarget } from './tgi.js';
import { ENGINE_NAMES, isEngineName, type EngineName, type EngineTarget } from './target.js';
import { vllmTarget } from './vllm.js';

export const ENGINE_TARGETS: Readonly<Record<EngineName, EngineTarget>> = { hearth: hearthTarget, vllm: vllmTarget, tgi: tgiTarget };

export function engineTarget(name: string): EngineTarget {
  if (!isEngineName(name)) throw new ExportError(`unknown engine '${name}'; choose one of ${ENGINE_NAMES.join(', ')}`);
  return ENGINE_TARGETS[name];
}

export { ENGINE_NAMES, isEngineName, flagArgs, type EngineName, type EngineTarget, type EngineContainer, type EngineInput, type FlagMapping, type EnvVar, type SecretNeed, type ScratchVolume } from './target.js';
export { VLLM_IMAGE, VLLM_FLAGS, VLLM_ENV, VLLM_METRICS, VLLM_DOCS } from './vllmFlags.js';
export { TGI_IMAGE, TGI_FLAGS, TGI_ENV, TGI_METRICS, TGI_DOCS } from './tgiFlags.js';
export { gpuMemoryFraction } from './upstream.js';
