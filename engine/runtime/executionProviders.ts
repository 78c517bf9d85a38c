// Picks the execution provider: an accelerator when this build and machine have one, CPU always
// as the fallback, `--device` to force one. The session is created with the EP to prove it
// works; on failure we fall back to CPU and report why.
import { readFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { GpuAdapterInfo } from '../common/accelerator.js';
import type { DeviceChoice } from '../common/servingConfig.js';
import { describeAdapter, probeWebGpuAdapter } from './gpuAdapter.js';
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

/**
 * Accelerators to try, best first, for `auto`. WebGPU comes first wherever it is built in: it
 * runs on every vendor's GPU and keeps the KV cache on the device; it is taken only when the
 * system's adapter is real hardware (see createSession). CUDA and DirectML copy every output
 * back to the host, so they follow.
 */
export function autoCandidates(platform: NodeJS.Platform, backends: Set<string>): string[] {
  const order: string[] = ['webgpu'];
  if (platform === 'win32') order.push('cuda', 'dml');
  else if (platform === 'darwin') order.push('coreml');
  else order.push('cuda');
  return order.filter((name) => backends.has(name));
}

export interface CpuModel {
  bytes: Uint8Array;
  attention: DeviceReport['attention'];
  /** The graph's layer matmuls are int8 (int8MatMul.ts). */
  int8MatMul: boolean;
}

export interface CreatedSession {
  session: ort.InferenceSession;
  device: DeviceReport;
}

export interface SessionOutputs {
  /**
   * Output locations for a WebGPU session (the device-resident KV cache); other providers
   * return every output to the host.
   */
  webgpuOutputLocations?: Record<string, ort.Tensor.DataLocation>;
  /** A half-precision graph to load instead on a WebGPU adapter with shader-f16. */
  webgpuHalfModelPath?: string;
  /**
   * The CPU provider's graph, when it differs from modelPath's (cacheAttention.ts, int8MatMul.ts):
   * built only if the CPU provider runs; its external data is read from modelPath's folder.
   */
  cpuModel?: () => CpuModel | null;
  /** Why this graph cannot run exactly on WebGPU (webGpuProblem), or null: then WebGPU is not tried. */
  webgpuProblem?: string | null;
}

function sessionOptions(settings: SessionSettings) {
  const intraOpThreads = settings.cpuThreads > 0 ? settings.cpuThreads : physicalCoreCount();
  return {
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
  } satisfies ort.InferenceSession.SessionOptions;
}

/** A CPU session over a graph in memory whose external data lies beside modelPath. */
export function createCpuSession(bytes: Uint8Array, modelPath: string, settings: SessionSettings): Promise<ort.InferenceSession> {
  const base = sessionOptions(settings);
  return ort.InferenceSession.create(bytes, {
    ...base,
    executionProviders: ['cpu'],
    extra: { session: { ...base.extra.session, model_external_initializers_file_folder_path: dirname(modelPath) } },
  });
}

export async function createSession(modelPath: string, settings: SessionSettings, log: (line: string) => void, outputs: SessionOutputs = {}): Promise<CreatedSession> {
  const base = sessionOptions(settings);
  const intraOpThreads = base.intraOpNumThreads;
  const backends = supportedBackends();
  const fallbackNotes: string[] = [];
  let adapter: GpuAdapterInfo | null = null;
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
  if (candidates.includes('webgpu') && outputs.webgpuProblem) {
    fallbackNotes.push(`WebGPU: ${outputs.webgpuProblem}.`);
    candidates = candidates.filter((name) => name !== 'webgpu');
  }
  if (candidates.includes('webgpu')) {
    const probe = await probeWebGpuAdapter();
    adapter = probe.adapter;
    if (probe.adapter === null) {
      fallbackNotes.push(`WebGPU: no adapter (${probe.why}).`);
      candidates = candidates.filter((name) => name !== 'webgpu');
    } else if (probe.adapter.software && settings.device === 'auto') {
      // A software adapter is a CPU emulation, slower than the CPU provider: only on request.
      fallbackNotes.push(`WebGPU adapter ${describeAdapter(probe.adapter)} is a software renderer; --device auto skips it (--device webgpu uses it).`);
      candidates = candidates.filter((name) => name !== 'webgpu');
    } else {
      log(`WebGPU adapter: ${describeAdapter(probe.adapter)}`);
    }
  }
  for (const name of candidates) {
    try {
      const options = name === 'webgpu' && outputs.webgpuOutputLocations ? { ...base, preferredOutputLocation: outputs.webgpuOutputLocations } : base;
      const half = name === 'webgpu' && adapter?.shaderF16 === true && outputs.webgpuHalfModelPath !== undefined;
      const session = await ort.InferenceSession.create(half ? outputs.webgpuHalfModelPath! : modelPath, { ...options, executionProviders: [name, 'cpu'] });
      const device: DeviceReport = {
        executionProvider: name, requested: settings.device, intraOpThreads, allowSpinning: settings.allowSpinning, fallbackNotes,
        adapter: name === 'webgpu' ? adapter : null, precision: half ? 'fp16' : 'fp32', attention: 'group-query', int8MatMul: 'off',
      };
      if (half) log('precision: fp16 activations and KV cache (half-precision graph, adapter has shader-f16)');
      log(`execution provider: ${name} (requested ${settings.device})`);
      return { session, device };
    } catch (error) {
      const note = `${name} execution provider failed to start (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); falling back.`;
      fallbackNotes.push(note);
      log(note);
    }
  }
  const cpuModel = outputs.cpuModel?.() ?? null;
  const session = cpuModel ? await createCpuSession(cpuModel.bytes, modelPath, settings) : await ort.InferenceSession.create(modelPath, { ...base, executionProviders: ['cpu'] });
  log(`execution provider: cpu, ${intraOpThreads} intra-op threads, spinning ${settings.allowSpinning ? 'on' : 'off'}${cpuModel?.attention === 'cache-in-place' ? ', attention reads the KV cache in place' : ''}${cpuModel?.int8MatMul ? ', int8 matmuls' : ''}${fallbackNotes.length ? ` (${fallbackNotes.join(' ')})` : ''}`);
  return {
    session,
    device: {
      executionProvider: 'cpu', requested: settings.device, intraOpThreads, allowSpinning: settings.allowSpinning, fallbackNotes, adapter: null, precision: 'fp32',
      attention: cpuModel?.attention ?? 'group-query',
      int8MatMul: cpuModel?.int8MatMul ? 'all' : 'off',
    },
  };
}
