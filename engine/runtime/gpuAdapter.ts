// Which WebGPU adapter this machine offers. onnxruntime-node's WebGPU provider does not say, so a
// short-lived child process asks the system's Dawn (npm `webgpu`, the Dawn build for Node) for the
// default adapter, as the provider picks it. A child, because a broken driver can abort the
// process that touches it; its answer is cached for this process.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import type { GpuAdapterInfo } from '../common/accelerator.js';

// argv[1]: the resolved path of the 'webgpu' package (resolved here, not from the child's cwd).
const PROBE = `
const { create, globals } = require(process.argv[1]);
Object.assign(globalThis, globals);
(async () => {
  const adapter = await create([]).requestAdapter();
  if (!adapter) { process.stdout.write(JSON.stringify({ error: 'no WebGPU adapter' })); process.exit(0); }
  const info = adapter.info;
  const software = Boolean(info.isFallbackAdapter) || info.architecture === 'software' || /llvmpipe|lavapipe|swiftshader|warp|softpipe/i.test(info.description + ' ' + info.device);
  process.stdout.write(JSON.stringify({ adapter: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, software, shaderF16: adapter.features.has('shader-f16') } }));
  process.exit(0);
})().catch((error) => { process.stdout.write(JSON.stringify({ error: String(error && error.message || error) })); process.exit(0); });
`;

export type AdapterProbe = { adapter: GpuAdapterInfo } | { adapter: null; why: string };

let cached: Promise<AdapterProbe> | null = null;

/** The default WebGPU adapter, or why there is none (no driver, no `webgpu` package, a crash). */
export function probeWebGpuAdapter(timeoutMs = 20_000): Promise<AdapterProbe> {
  cached ??= new Promise((resolve) => {
    let webgpuModule: string;
    try {
      webgpuModule = createRequire(import.meta.url).resolve('webgpu');
    } catch {
      return resolve({ adapter: null, why: "the optional npm package 'webgpu' (Dawn for Node) is not installed" });
    }
    execFile(process.execPath, ['-e', PROBE, webgpuModule], { timeout: timeoutMs, env: process.env }, (error, stdout) => {
      try {
        const answer = JSON.parse(stdout) as { adapter?: GpuAdapterInfo; error?: string };
        if (answer.adapter) return resolve({ adapter: answer.adapter });
        return resolve({ adapter: null, why: answer.error ?? 'the adapter probe said nothing' });
      } catch {
        const why = error ? (error.killed ? `the adapter probe timed out after ${timeoutMs} ms` : error.message.split('\n')[0]!) : 'the adapter probe said nothing';
        return resolve({ adapter: null, why });
      }
    });
  });
  return cached;
}

export function describeAdapter(adapter: GpuAdapterInfo): string {
  return `${adapter.description || adapter.device} (vendor ${adapter.vendor || 'unknown'}, ${adapter.software ? 'software' : 'hardware'}, ${adapter.shaderF16 ? 'shader-f16' : 'no shader-f16'})`;
}
