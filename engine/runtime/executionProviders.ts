// Picks the execution provider: an accelerator when this build and machine have one, CPU always
// as the fallback, `--device` to force one. The session is created with the EP to prove it
// works; on failure we fall back to CPU and report why.
import { readFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { DeviceChoice } from '../common/servingConfig.js';
import type { DeviceReport, SessionSettings } from './runnerMessages.js';

const EP_NAMES: Record<Exclude<DeviceChoice, 'auto'>, string> = {
  cpu: 'cpu',
  cuda: 'cuda',
  dml: 'dml',
  coreml: 'coreml',
  webgpu: 'webgpu',
};

/** Physical cores: SMT siblings share execution units, so ORT gains nothing from them. */
export function physicalCoreCount(): number {
  if (process.platform === 'linux') {
    try {
      const cores = new Set<string>();
      let physicalId = '0';
      for (const line of readFileSync('/proc/cpuinfo', 'utf8').split('\n')) {
        const [key, value] = line.split(':').map((part) => part?.trim());
        if (key === 'physical id') physicalId = value ?? '0';
        if (key === 'core id') cores.add(`${physicalId}:${value}`);
      }
      if (cores.size > 0) return Math.min(cores.size, os.availableParallelism());
    } catch {
      // fall through
    }
  }
  const logical = os.availableParallelism();
  // Apple silicon has no SMT; x86 Windows/macOS usually has 2 threads per core.
  return process.platform === 'darwin' && process.arch === 'arm64' ? logical : Math.max(1, Math.floor(logical / 2) || 1);
}

/** Providers this onnxruntime-node build knows; `bundled: false` ones (CUDA) need separately installed libraries. */
function supportedBackends(): { all: Set<string>; bundled: Set<string> } {
  const list = (ort as unknown as { listSupportedBackends?: () => Array<{ name: string; bundled: boolean }> }).listSupportedBackends?.() ?? [];
  return { all: new Set(list.map((backend) => backend.name)), bundled: new Set(list.filter((backend) => backend.bundled).map((backend) => backend.name)) };
}

/** Accelerators to try, best first, for `auto`. WebGPU only where a real adapter is the norm. */
export function autoCandidates(platform: NodeJS.Platform, backends: Set<string>): string[] {
  const order: string[] = [];
  if (platform === 'win32') order.push('cuda', 'dml', 'webgpu');
  else if (platform === 'darwin') order.push('coreml', 'webgpu');
  else order.push('cuda'); // headless Linux usually has no WebGPU adapter (Dawn would pick a software one)
  return order.filter((name) => backends.has(name));
}

export interface CreatedSession {
  session: ort.InferenceSession;
  device: DeviceReport;
}

export async function createSession(modelPath: string, settings: SessionSettings, log: (line: string) => void): Promise<CreatedSession> {
  const intraOpThreads = settings.cpuThreads > 0 ? settings.cpuThreads : physicalCoreCount();
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    enableCpuMemArena: true,
    enableMemPattern: true,
    enableProfiling: settings.enableProfiling,
    ...(settings.enableProfiling ? { profileFilePrefix: join(tmpdir(), `hearth-ort-profile-${process.pid}`) } : {}),
    // Spinning lets pool threads pick up each of the ~400 small ops of a decode step without an OS
    // wake-up; force_spinning_stop parks them when a run ends, so an idle engine does not steal
    // the cores the HTTP server needs.
    extra: {
      session: {
        intra_op: { allow_spinning: settings.allowSpinning ? '1' : '0' },
        inter_op: { allow_spinning: '0' },
        force_spinning_stop: '1',
      },
    },
  };
  const backends = supportedBackends();
  const fallbackNotes: string[] = [];
  let candidates: string[];
  // `auto` only tries providers shipped with this build; an explicit --device tries what it names.
  if (settings.device === 'auto') candidates = autoCandidates(process.platform, backends.bundled);
  else if (settings.device === 'cpu') candidates = [];
  else {
    const name = EP_NAMES[settings.device];
    if (backends.all.has(name)) candidates = [name];
    else {
      candidates = [];
      fallbackNotes.push(`--device ${settings.device}: this onnxruntime-node build has no '${name}' execution provider (available: ${[...backends.all].join(', ')}); using CPU.`);
    }
  }
  for (const name of candidates) {
    try {
      const session = await ort.InferenceSession.create(modelPath, { ...base, executionProviders: [name, 'cpu'] });
      const device: DeviceReport = { executionProvider: name, requested: settings.device, intraOpThreads, allowSpinning: settings.allowSpinning, fallbackNotes };
      log(`execution provider: ${name} (requested ${settings.device})`);
      return { session, device };
    } catch (error) {
      const note = `${name} execution provider failed to start (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); falling back.`;
      fallbackNotes.push(note);
      log(note);
    }
  }
  const session = await ort.InferenceSession.create(modelPath, { ...base, executionProviders: ['cpu'] });
  log(`execution provider: cpu, ${intraOpThreads} intra-op threads, spinning ${settings.allowSpinning ? 'on' : 'off'}${fallbackNotes.length ? ` (${fallbackNotes.join(' ')})` : ''}`);
  return { session, device: { executionProvider: 'cpu', requested: settings.device, intraOpThreads, allowSpinning: settings.allowSpinning, fallbackNotes } };
}
