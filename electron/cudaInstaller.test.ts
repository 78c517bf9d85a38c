// The CUDA installer's plan and prechecks. The install itself downloads from NuGet, so it is not
// run here; what is checked is that we call onnxruntime-node's real installer the way it reads
// its flags, and refuse early (with what to do) where it cannot work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cudaInstallProblem, findOrtPackageDir, planCudaInstall, runCudaInstall, type CudaPlanInput } from './cudaInstaller.js';

const base: CudaPlanInput = {
  ortPackageDir: '/opt/app/node_modules/onnxruntime-node',
  execPath: '/usr/bin/node',
  runAsNode: false,
  env: { PATH: '/usr/bin', npm_config_onnxruntime_node_install: 'skip' },
  platform: 'linux',
  arch: 'x64',
  packaged: false,
};

test("runs onnxruntime-node's installer for cuda12, overriding the repo's .npmrc skip", () => {
  const plan = planCudaInstall(base);
  assert.ok(!('problem' in plan));
  assert.deepEqual(plan.args, ['/opt/app/node_modules/onnxruntime-node/script/install.js', '--onnxruntime-node-install=cuda12']);
  assert.equal(plan.env.ONNXRUNTIME_NODE_INSTALL, 'cuda12');
  assert.equal(plan.env.npm_config_onnxruntime_node_install, undefined, 'npm would pass skip, which the installer reads first');
  assert.equal(plan.binDir, '/opt/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64');
  const electron = planCudaInstall({ ...base, execPath: '/opt/Hearth/hearth', runAsNode: true });
  assert.ok(!('problem' in electron) && electron.env.ELECTRON_RUN_AS_NODE === '1' && electron.command === '/opt/Hearth/hearth');
});

test('other platforms get a reason, not a failing download', () => {
  for (const [platform, arch] of [['darwin', 'arm64'], ['win32', 'x64'], ['linux', 'arm64']] as const) {
    const plan = planCudaInstall({ ...base, platform, arch });
    assert.ok('problem' in plan && plan.problem.includes(`${platform}/${arch}`));
  }
});

test('a packaged app points to the source-checkout route instead of failing half-way', () => {
  const plan = planCudaInstall({ ...base, packaged: true });
  assert.ok('problem' in plan && plan.problem.includes('npm run gpu:cuda'));
});

test('the installed onnxruntime-node has the installer the plan points at', () => {
  const plan = planCudaInstall({ ...base, ortPackageDir: findOrtPackageDir() });
  assert.ok(!('problem' in plan));
  assert.ok(existsSync(plan.args[0]!), plan.args[0]);
  assert.ok(existsSync(plan.binDir), plan.binDir);
});

test('a read-only install is refused up front with what to do instead', { skip: process.getuid?.() === 0 ? 'root can write anywhere' : false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-cuda-'));
  try {
    mkdirSync(join(dir, 'script'));
    writeFileSync(join(dir, 'script', 'install.js'), '');
    const binDir = join(dir, 'bin', 'napi-v6', 'linux', 'x64');
    mkdirSync(binDir, { recursive: true });
    chmodSync(binDir, 0o555);
    const plan = planCudaInstall({ ...base, ortPackageDir: dir });
    assert.ok(!('problem' in plan));
    assert.match(cudaInstallProblem(plan) ?? '', /cannot write.*npm run gpu:cuda/s);
    const result = await runCudaInstall(plan);
    assert.equal(result.ok, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing installer is reported, and a failing installer yields ok: false with its log', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-cuda-'));
  try {
    const missing = planCudaInstall({ ...base, ortPackageDir: dir });
    assert.ok(!('problem' in missing));
    assert.match(cudaInstallProblem(missing) ?? '', /installer is missing/);
    // A stand-in installer (the real one would download): prints and fails like a network error.
    mkdirSync(join(dir, 'script'));
    writeFileSync(join(dir, 'script', 'install.js'), "console.error('fetch failed: ' + process.env.ONNXRUNTIME_NODE_INSTALL); process.exit(1);");
    mkdirSync(join(dir, 'bin', 'napi-v6', 'linux', 'x64'), { recursive: true });
    const plan = planCudaInstall({ ...base, ortPackageDir: dir, execPath: process.execPath, env: process.env });
    assert.ok(!('problem' in plan));
    const result = await runCudaInstall(plan);
    assert.deepEqual([result.ok, result.exitCode], [false, 1]);
    assert.match(result.log, /fetch failed: cuda12/);
    assert.match(result.message, /NuGet/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
