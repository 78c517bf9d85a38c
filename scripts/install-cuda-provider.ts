// `npm run gpu:cuda`: adds onnxruntime-node's CUDA 12 provider (Linux x64 + NVIDIA) by running the
// package's own installer — the same thing the desktop app's Engine menu does
// (electron/cudaInstaller.ts). Needs network access to NuGet; see docs/desktop.md.
import { findOrtPackageDir, planCudaInstall, runCudaInstall } from '../electron/cudaInstaller.js';

const plan = planCudaInstall({
  ortPackageDir: findOrtPackageDir(),
  execPath: process.execPath,
  runAsNode: false,
  env: process.env,
  platform: process.platform,
  arch: process.arch,
  packaged: false,
});
if ('problem' in plan) {
  console.error(plan.problem);
  process.exit(1);
}
console.log(`== installing the CUDA provider into ${plan.binDir}`);
const result = await runCudaInstall(plan, (chunk) => process.stdout.write(chunk));
console.log(result.message);
process.exit(result.ok ? 0 : 1);
