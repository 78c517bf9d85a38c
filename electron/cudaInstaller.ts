// Adds onnxruntime-node's CUDA 12 execution provider for Linux/NVIDIA users by running the
// package's own installer (`node node_modules/onnxruntime-node/script/install.js
// --onnxruntime-node-install=cuda12`). It downloads the provider libraries from NuGet into
// onnxruntime-node/bin/napi-v6/linux/x64/, so it works in a source checkout (`npm start`), not in a
// packaged app: there the package sits in app.asar.unpacked (read-only in an AppImage, root-owned
// in a .deb) and the installer's own dependencies stay inside app.asar, out of its reach.
// Used by the app's menu/IPC and by `npm run gpu:cuda` (scripts/install-cuda-provider.ts).
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { CudaInstallResult } from '../engine/common/desktopApi.js';

export interface CudaInstallPlan {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Where the provider libraries land. */
  binDir: string;
}

export interface CudaPlanInput {
  /** onnxruntime-node's package folder (already mapped out of app.asar when packaged). */
  ortPackageDir: string;
  /** Node, or Electron's binary run as Node (ELECTRON_RUN_AS_NODE). */
  execPath: string;
  runAsNode: boolean;
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  arch: string;
  /** Running from a packaged app (app.isPackaged). */
  packaged: boolean;
}

/** The command to run, or why it cannot run here (a message a user can act on). */
export function planCudaInstall(input: CudaPlanInput): CudaInstallPlan | { problem: string } {
  if (input.platform !== 'linux' || input.arch !== 'x64') {
    return {
      problem:
        `The CUDA provider installer is for Linux x64 with an NVIDIA GPU; this is ${input.platform}/${input.arch}. ` +
        (input.platform === 'win32' ? 'On Windows, onnxruntime-node already ships DirectML and CUDA support.' : 'Hearth uses the CPU (or CoreML on macOS) here.'),
    };
  }
  if (input.packaged) {
    return {
      problem:
        'The packaged app cannot add the CUDA provider in place (its files are read-only). Run Hearth from a source checkout: ' +
        '`npm run setup && npm run gpu:cuda && npm start` (see docs/desktop.md, "CUDA provider").',
    };
  }
  const env: NodeJS.ProcessEnv = { ...input.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12' };
  // npm passes the repo's .npmrc `onnxruntime-node-install=skip` as this variable, and the
  // installer reads it before its argv flag: drop it or the install silently does nothing.
  delete env.npm_config_onnxruntime_node_install;
  delete env.ONNXRUNTIME_NODE_INSTALL_CUDA;
  if (input.runAsNode) env.ELECTRON_RUN_AS_NODE = '1';
  return {
    command: input.execPath,
    args: [join(input.ortPackageDir, 'script', 'install.js'), '--onnxruntime-node-install=cuda12'],
    env,
    binDir: join(input.ortPackageDir, 'bin', 'napi-v6', 'linux', 'x64'),
  };
}

/** onnxruntime-node's folder (in a packaged app, the unpacked copy next to app.asar). */
export function findOrtPackageDir(): string {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('onnxruntime-node'); // .../onnxruntime-node/dist/index.js
  return dirname(dirname(entry)).replace(/app\.asar([\\/])/, 'app.asar.unpacked$1');
}

/** Checks the plan can succeed here (installer present, target writable); null when fine. */
export function cudaInstallProblem(plan: CudaInstallPlan): string | null {
  if (!existsSync(plan.args[0]!)) return `onnxruntime-node's installer is missing (${plan.args[0]}). Reinstall Hearth's dependencies with \`npm ci\`.`;
  try {
    accessSync(plan.binDir, constants.W_OK);
  } catch {
    return (
      `Hearth cannot write to ${plan.binDir} (a read-only install such as an AppImage, or a system folder). ` +
      'Install the CUDA provider from a source checkout with `npm run gpu:cuda`, or run Hearth from a folder you own.'
    );
  }
  return null;
}

const LOG_TAIL_CHARS = 8000;

export function runCudaInstall(plan: CudaInstallPlan, onOutput: (chunk: string) => void = () => {}): Promise<CudaInstallResult> {
  const problem = cudaInstallProblem(plan);
  if (problem) return Promise.resolve({ ok: false, exitCode: null, log: '', message: problem });
  return new Promise((resolve) => {
    let log = '';
    const child = spawn(plan.command, plan.args, { env: plan.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer): void => {
      const text = chunk.toString();
      onOutput(text);
      log = (log + text).slice(-LOG_TAIL_CHARS);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (error) => resolve({ ok: false, exitCode: null, log, message: `Could not start the installer: ${error.message}` }));
    child.on('close', (exitCode) => {
      const ok = exitCode === 0 && existsSync(join(plan.binDir, 'libonnxruntime_providers_cuda.so'));
      resolve({
        ok,
        exitCode,
        log,
        message: ok
          ? 'CUDA provider installed. Restart the engine (or Hearth) and choose device "cuda" or "auto". It needs an NVIDIA driver with CUDA 12 and cuDNN 9 libraries.'
          : `The CUDA provider install failed (exit code ${exitCode}). It downloads from NuGet: check the network and proxy (GLOBAL_AGENT_HTTPS_PROXY), then retry. The log shows the installer's own message.`,
      });
    });
  });
}
