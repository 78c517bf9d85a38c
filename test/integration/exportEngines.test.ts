// `hearth export --engine vllm|tgi` beside Hearth's own, checked offline on real bundles written
// from generated packages: every flag a container runs with is in that engine's pinned list of
// documented flags (engine/export/engines/*Flags.ts, each with its documentation page); every
// Kubernetes object validates against the API schemas and the objects agree with each other
// (selectors, named ports, probes, the HPA's target and metric, the adapter rule, the secrets);
// the metric the HPA scales on is one the engine exports; the tuned settings arrive as the flags
// engine/export/README.md says; the Hub checkpoint comes from the library's record; and a
// local-only package, an unsupported dtype or a CPU target give a clear error — from the library
// and from a real `hearth export` run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { runHearth } from '../fixtures/cli.js';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { validateManifest } from '../fixtures/k8sValidate.js';
import {
  ExportError, GPU_MEMORY_UTILIZATION, TGI_FLAGS, TGI_METRICS, VLLM_FLAGS, VLLM_METRICS, TGI_ENV, VLLM_ENV, TGI_IMAGE, VLLM_IMAGE, writeBundle, type ExportResult,
} from '../../engine/export/index.js';
import type { DocumentedFlag } from '../../engine/export/engines/vllmFlags.js';
import { completeServingConfig } from '../../engine/export/configInput.js';
import { openDb } from '../../engine/store/db.js';
import { ModelRegistry } from '../../engine/store/modelRegistry.js';
import type { ServingConfig } from '../../engine/common/servingConfig.js';
import type { ModelManifest } from '../../engine/common/manifest.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const REPO = 'fixture-org/tiny-llama';
const MANIFEST_COMMIT = 'a'.repeat(40);
const LIBRARY_COMMIT = '0123456789abcdef0123456789abcdef01234567';

let dir: string;
let home: string;
let previousHome: string | undefined;
/** Packages: pulled (Hub source in the manifest), in the library (its record differs from the manifest), converted locally. */
const packages: Record<'fp32' | 'fp16' | 'int4' | 'library' | 'local', string> = {} as never;
const configs: Record<string, ServingConfig> = {};
const bundles: Record<'hearth' | 'vllm' | 'tgi', ExportResult> = {} as never;

/** A copy of a fixture package whose manifest records a Hub source, as `hearth pull` writes it. */
function pulledCopy(packageDir: string, name: string, commit = MANIFEST_COMMIT): string {
  const copy = join(dir, 'packages', name);
  cpSync(packageDir, copy, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(copy, 'manifest.json'), 'utf8')) as ModelManifest;
  manifest.source = { ...manifest.source, repo: REPO, revision: commit };
  writeFileSync(join(copy, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return copy;
}

function configFor(packageDir: string): ServingConfig {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'manifest.json'), 'utf8')) as ModelManifest;
  const config = completeServingConfig({ batching: { maxBatchSize: 8, maxBatchTotalTokens: 1024, maxPrefillTokens: 128, maxInputTokens: 200, maxTotalTokens: 256, kvCacheBytes: 0 } }, manifest, packageDir).config;
  config.tuning = { objective: { ttftP95Ms: 500 }, measuredAt: '2026-01-01T00:00:00Z', machine: 'test', throughputTokensPerSec: 400, notes: [] };
  return config;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-export-engines-'));
  home = join(dir, 'home');
  mkdirSync(home, { recursive: true });
  previousHome = process.env.HEARTH_HOME;
  process.env.HEARTH_HOME = home;
  const [fp32, fp16, int4] = await Promise.all(['fp32', 'fp16', 'int4'].map((dtype) => ensureFixturePackage({ shape: 'tiny', dtype: dtype as 'fp32' })));
  packages.local = fp32!.packageDir; // the generator converts from a local folder: no Hub source
  packages.fp32 = pulledCopy(fp32!.packageDir, 'fp32');
  packages.fp16 = pulledCopy(fp16!.packageDir, 'fp16');
  packages.int4 = pulledCopy(int4!.packageDir, 'int4');
  packages.library = pulledCopy(fp16!.packageDir, 'library');
  // The library's record for that last one (as `hearth pull` leaves it) names another commit than its manifest.
  const db = openDb(join(home, 'hearth.db'));
  const registry = new ModelRegistry(db, { dataDir: home });
  registry.beginDownload({ name: 'tiny-llama', repo: REPO, revision: 'main', commit: LIBRARY_COMMIT, files: [], snapshotDir: join(dir, 'snapshot') });
  registry.beginConversion('tiny-llama', 'fp16', packages.library);
  registry.markReady('tiny-llama', 'fp16', fp16!.manifest.weightsBytes);
  db.close();

  for (const [name, packageDir] of Object.entries(packages)) configs[name] = configFor(packageDir);
  bundles.hearth = writeBundle({ config: configs.fp16!, outDir: join(dir, 'hearth'), target: 'gpu', engine: 'hearth', bakeModel: false });
  bundles.vllm = writeBundle({ config: configs.fp32!, outDir: join(dir, 'vllm'), target: 'gpu', engine: 'vllm', bakeModel: false, gpuName: 'L4' });
  bundles.tgi = writeBundle({ config: configs.fp16!, outDir: join(dir, 'tgi'), target: 'gpu', engine: 'tgi', bakeModel: false, gpuName: 'L4' });
});

after(() => {
  if (previousHome === undefined) delete process.env.HEARTH_HOME;
  else process.env.HEARTH_HOME = previousHome;
  rmSync(dir, { recursive: true, force: true });
});

function k8sObjects(result: ExportResult): Record<string, Record<string, any>> {
  const k8sDir = join(result.outDir, 'k8s');
  return Object.fromEntries(readdirSync(k8sDir).map((file) => [file, validateManifest(readFileSync(join(k8sDir, file), 'utf8'), file)]));
}

/**
 * The flags in `args` that the pinned list does not document, or that break its shape: a flag
 * that takes a value must be followed by one (a documented choice when the docs list them), a
 * switch must not be.
 */
function undocumentedFlags(args: readonly string[], documented: Readonly<Record<string, DocumentedFlag>>): string[] {
  const problems: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    if (!flag.startsWith('--')) {
      problems.push(`stray value '${flag}'`);
      continue;
    }
    const spec = documented[flag];
    if (!spec) {
      problems.push(`${flag} is not documented`);
      if (args[i + 1] !== undefined && !args[i + 1]!.startsWith('--')) i++;
      continue;
    }
    if (!spec.takesValue) continue;
    const value = args[++i];
    if (value === undefined || value.startsWith('--')) problems.push(`${flag} has no value`);
    else if (spec.choices && !spec.choices.includes(value)) problems.push(`${flag} ${value} is not one of ${spec.choices.join(', ')}`);
  }
  return problems;
}

/** `--flag value` → value (the last occurrence), '' for a switch, undefined when absent. */
function flagValue(args: readonly string[], flag: string): string | undefined {
  const i = args.lastIndexOf(flag);
  if (i < 0) return undefined;
  const next = args[i + 1];
  return next === undefined || next.startsWith('--') ? '' : next;
}

const deploymentArgs = (result: ExportResult): string[] => k8sObjects(result)['deployment.yaml']!.spec.template.spec.containers[0].args;

test('every flag the vLLM and TGI containers run with is in that engine\'s pinned list of documented flags', () => {
  for (const [engine, documented] of [['vllm', VLLM_FLAGS], ['tgi', TGI_FLAGS]] as const) {
    const args = deploymentArgs(bundles[engine]);
    assert.ok(args.length > 10, `${engine} runs with the tuned flags`);
    assert.deepEqual(undocumentedFlags(args, documented), [], engine);
    // Read as kubectl reads it (YAML 1.1): every argument is still a string (a bare `off` would be false).
    const asKubectlReadsIt = parse(readFileSync(join(bundles[engine].outDir, 'k8s/deployment.yaml'), 'utf8'), { version: '1.1' }).spec.template.spec.containers[0].args;
    assert.deepEqual(asKubectlReadsIt, args, `${engine}: YAML 1.1 reads the same strings`);
    // docker-compose and Vertex AI run the very same arguments.
    const compose = parse(readFileSync(join(bundles[engine].outDir, 'docker-compose.yml'), 'utf8'));
    assert.deepEqual(compose.services[engine].command, args, `${engine} compose command`);
    const vertex = readFileSync(join(bundles[engine].outDir, 'vertex-ai.sh'), 'utf8');
    const containerArgs = /--container-args='([^']*)'/.exec(vertex)?.[1];
    assert.ok(containerArgs, `${engine} vertex-ai.sh passes --container-args`);
    const list = containerArgs.startsWith('^;^') ? containerArgs.slice(3).split(';') : containerArgs.split(',');
    assert.deepEqual(list, args, `${engine} vertex args`);
    // Every pinned flag names the documentation page it was checked against.
    for (const [flag, spec] of Object.entries(documented)) assert.match(spec.doc, /^https:\/\/(docs\.vllm\.ai\/en\/v\d|huggingface\.co\/docs\/)/, `${engine} ${flag}`);
  }
  // Environment variables the containers read are documented too.
  for (const [engine, documented] of [['vllm', VLLM_ENV], ['tgi', TGI_ENV]] as const) {
    const env = k8sObjects(bundles[engine])['deployment.yaml']!.spec.template.spec.containers[0].env as { name: string }[];
    for (const variable of env) assert.ok(documented[variable.name], `${engine} reads ${variable.name}, which is not in its pinned list`);
  }
});

test('the flag check can fail: an unknown flag, a missing value, a value outside the documented choices', () => {
  assert.deepEqual(undocumentedFlags(['--made-up-flag', '3'], VLLM_FLAGS), ['--made-up-flag is not documented']);
  assert.deepEqual(undocumentedFlags(['--port', '8080', '--max-model-len'], VLLM_FLAGS), ['--max-model-len has no value']);
  assert.deepEqual(undocumentedFlags(['--enable-chunked-prefill', 'yes'], VLLM_FLAGS), ["stray value 'yes'"], 'a switch takes no value');
  assert.deepEqual(undocumentedFlags(['--dtype', 'float32'], TGI_FLAGS), ['--dtype float32 is not one of float16, bfloat16']);
  assert.deepEqual(undocumentedFlags(['--max-batch-size', '8'], VLLM_FLAGS), ['--max-batch-size is not documented'], "TGI's flag is not vLLM's");
});

test('the tuned settings arrive as the flags engine/export/README.md maps them to, with the sizing\'s memory share', () => {
  const vllm = deploymentArgs(bundles.vllm);
  const b = configs.fp32!.batching;
  const row = bundles.vllm.sizing.rows.find((candidate) => candidate.gpu === 'L4')!;
  const share = Math.floor((row.usableBytes / row.memoryBytes) * 100 + 1e-6) / 100;
  assert.equal(flagValue(vllm, '--model'), REPO);
  assert.equal(flagValue(vllm, '--revision'), MANIFEST_COMMIT);
  assert.equal(flagValue(vllm, '--served-model-name'), bundles.vllm.plan.modelName);
  assert.equal(flagValue(vllm, '--dtype'), 'float32');
  assert.equal(flagValue(vllm, '--max-model-len'), String(b.maxTotalTokens));
  assert.equal(flagValue(vllm, '--max-num-seqs'), String(b.maxBatchSize));
  assert.equal(flagValue(vllm, '--max-num-batched-tokens'), String(b.maxPrefillTokens));
  assert.equal(flagValue(vllm, '--gpu-memory-utilization'), share.toFixed(2));
  assert.equal(share, GPU_MEMORY_UTILIZATION, 'the share the sizing plans to fill');
  assert.equal(flagValue(vllm, '--port'), String(bundles.vllm.plan.container.port));

  const tgi = deploymentArgs(bundles.tgi);
  const t = configs.fp16!.batching;
  assert.equal(flagValue(tgi, '--model-id'), REPO);
  assert.equal(flagValue(tgi, '--revision'), MANIFEST_COMMIT);
  assert.equal(flagValue(tgi, '--dtype'), 'float16');
  assert.equal(flagValue(tgi, '--max-concurrent-requests'), String(t.maxConcurrentRequests));
  assert.equal(flagValue(tgi, '--max-input-tokens'), String(t.maxInputTokens));
  assert.equal(flagValue(tgi, '--max-total-tokens'), String(t.maxTotalTokens));
  // TGI prefills a whole prompt in one step: the chunk budget (128) is raised to the longest prompt (200).
  assert.equal(flagValue(tgi, '--max-batch-prefill-tokens'), String(Math.max(t.maxPrefillTokens, t.maxInputTokens)));
  assert.equal(flagValue(tgi, '--max-batch-total-tokens'), String(Math.min(t.maxBatchTotalTokens, bundles.tgi.sizing.kvCacheTokens)));
  assert.equal(flagValue(tgi, '--waiting-served-ratio'), '0');
  assert.equal(flagValue(tgi, '--max-waiting-tokens'), '1');
  assert.equal(flagValue(tgi, '--cuda-memory-fraction'), share.toFixed(2));

  // The mapping table documents every pinned flag with its source page.
  const table = readFileSync(join(root, 'engine/export/README.md'), 'utf8');
  for (const [engine, documented] of [['vLLM', VLLM_FLAGS], ['TGI', TGI_FLAGS]] as const) {
    for (const [flag, spec] of Object.entries(documented)) {
      const row = table.split('\n').find((line) => line.startsWith('|') && line.includes(`\`${flag}`) && line.includes(spec.doc));
      assert.ok(row, `engine/export/README.md maps ${engine} ${flag} and cites ${spec.doc}`);
    }
  }
});

test('the Kubernetes objects of every engine validate and agree: selectors, named port, probes, HPA target and metric, adapter rule, secrets', () => {
  for (const [engine, exported] of [['hearth', { hearth_queue_size: 'engine/server/metrics.ts' }], ['vllm', VLLM_METRICS], ['tgi', TGI_METRICS]] as const) {
    const result = bundles[engine];
    const c = result.plan.container;
    const objects = k8sObjects(result);
    const deployment = objects['deployment.yaml']!;
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    assert.equal(container.image, c.image, engine);
    if (engine !== 'hearth') {
      assert.equal(container.image, engine === 'vllm' ? VLLM_IMAGE : TGI_IMAGE);
      assert.match(container.image, /:[\w.]+$/, 'a pinned tag');
      assert.doesNotMatch(container.image, /:latest$/);
    }
    const selector = deployment.spec.selector.matchLabels;
    for (const [key, value] of Object.entries(selector)) assert.equal(deployment.spec.template.metadata.labels[key], value, `${engine}: the pods carry the selector`);
    assert.deepEqual(objects['service.yaml']!.spec.selector, selector, engine);
    assert.deepEqual(objects['pdb.yaml']!.spec.selector.matchLabels, selector, engine);
    const http = container.ports.find((port: any) => port.name === 'http');
    assert.equal(http.containerPort, c.port, engine);
    assert.equal(objects['service.yaml']!.spec.ports[0].targetPort, 'http');
    assert.equal(flagValue(container.args, engine === 'tgi' ? '--port' : engine === 'vllm' ? '--port' : '--none') ?? String(c.port), String(c.port), `${engine} listens where the port says`);
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      assert.equal(container[probe].httpGet.path, '/health', `${engine} ${probe}`);
      assert.equal(container[probe].httpGet.port, 'http', `${engine} ${probe}`);
    }
    assert.ok(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold >= 2 * result.plan.loadSeconds, `${engine} startup budget`);
    assert.equal(deployment.spec.template.metadata.annotations['prometheus.io/port'], String(c.port));
    assert.equal(deployment.spec.template.metadata.annotations['prometheus.io/path'], '/metrics');
    assert.equal(container.resources.limits['nvidia.com/gpu'], '1');

    const hpa = objects['hpa.yaml']!;
    assert.equal(hpa.spec.scaleTargetRef.kind, 'Deployment');
    assert.equal(hpa.spec.scaleTargetRef.name, deployment.metadata.name);
    assert.equal(hpa.spec.minReplicas, deployment.spec.replicas);
    const adapter = parse(readFileSync(join(result.outDir, 'monitoring/prometheus-adapter-values.yaml'), 'utf8')).rules.custom[0];
    const scrapedSeries = /^([^{]+)\{/.exec(adapter.seriesQuery)![1]!;
    assert.ok(exported[scrapedSeries as keyof typeof exported], `${engine}: the adapter reads ${scrapedSeries}, which the engine exports`);
    assert.ok(new RegExp(adapter.name.matches).test(scrapedSeries), `${engine}: the rename rule matches the series`);
    assert.equal(hpa.spec.metrics[0].pods.metric.name, adapter.name.as, `${engine}: the HPA asks for the name the adapter serves`);
    // The bundle README shows the very rule it ships.
    const readme = readFileSync(join(result.outDir, 'README.md'), 'utf8');
    const shown = parse(/```yaml\n([\s\S]*?)```/.exec(readme)![1]!);
    assert.deepEqual(shown.rules.custom[0], adapter, `${engine} README adapter rule`);

    // Every secret the engine needs is read from a Secret, optionally (the Deployment starts without it).
    for (const secret of c.secrets) {
      const env = container.env.find((entry: any) => entry.name === secret.envName);
      assert.deepEqual(env?.valueFrom?.secretKeyRef, { name: secret.name, key: secret.key, optional: true }, `${engine} ${secret.envName}`);
      assert.ok(readme.includes(`kubectl create secret generic ${secret.name} --from-literal=${secret.key}=`), `${engine} README creates ${secret.name}`);
    }
    // Volumes the container mounts exist in the pod.
    const volumes = new Set(pod.volumes.map((volume: any) => volume.name));
    for (const mount of container.volumeMounts) assert.ok(volumes.has(mount.name), `${engine} mounts ${mount.name}`);
  }
  // The Hearth server registers the gauge its HPA reads (vLLM's and TGI's come from their pinned, cited lists).
  assert.match(readFileSync(join(root, 'engine/server/metrics.ts'), 'utf8'), /gauge\('hearth_queue_size'/);
  assert.equal(bundles.vllm.plan.container.hpaMetric, 'vllm_num_requests_waiting');
  assert.equal(bundles.tgi.plan.container.hpaMetric, 'tgi_queue_size');
});

test('vLLM and TGI get the Hub token from a Secret, shared memory, a download cache and no build; TGI\'s README says it is in maintenance mode', () => {
  for (const engine of ['vllm', 'tgi'] as const) {
    const result = bundles[engine];
    const files = readdirSync(result.outDir);
    assert.ok(!files.includes('Dockerfile') && !files.includes('app') && !files.includes('model'), `${engine}: an image reference, nothing to build`);
    for (const file of ['docker-compose.yml', 'vertex-ai.sh', 'README.md', 'sizing.json', 'config/tuned.json', 'k8s/deployment.yaml', 'k8s/service.yaml', 'k8s/hpa.yaml', 'k8s/pdb.yaml', 'k8s/configmap.yaml', 'monitoring/prometheus-adapter-values.yaml']) {
      assert.ok(existsSync(join(result.outDir, file)), `${engine} lacks ${file}`);
    }
    const pod = k8sObjects(result)['deployment.yaml']!.spec.template.spec;
    const container = pod.containers[0];
    const hfToken = container.env.find((entry: any) => entry.name === 'HF_TOKEN');
    assert.deepEqual(hfToken.valueFrom.secretKeyRef, { name: `${result.plan.appName}-hf-token`, key: 'token', optional: true });
    const shm = pod.volumes.find((volume: any) => volume.emptyDir?.medium === 'Memory');
    assert.ok(container.volumeMounts.some((mount: any) => mount.name === shm.name && mount.mountPath === '/dev/shm'), `${engine} /dev/shm`);

    const compose = parse(readFileSync(join(result.outDir, 'docker-compose.yml'), 'utf8')).services[engine];
    assert.equal(compose.build, undefined);
    assert.equal(compose.image, container.image);
    assert.deepEqual(compose.deploy.resources.reservations.devices[0], { driver: 'nvidia', count: 1, capabilities: ['gpu'] });
    assert.match(compose.shm_size, /^\d+m$/);
    assert.ok('HF_TOKEN' in compose.environment && compose.environment.HF_TOKEN === null, 'HF_TOKEN passes through from the shell');
    assert.match(compose.healthcheck.test.join(' '), /127\.0\.0\.1:8080\/health/);

    execFileSync('bash', ['-n', join(result.outDir, 'vertex-ai.sh')]);
    const vertex = readFileSync(join(result.outDir, 'vertex-ai.sh'), 'utf8');
    assert.ok(vertex.includes(`docker pull '${container.image}'`));
    assert.ok(vertex.includes('--container-health-route=/health') && vertex.includes('--container-ports=8080'));
    assert.ok(vertex.includes(':rawPredict'), 'the engine does not read Vertex\'s {"instances"} body');

    const readme = readFileSync(join(result.outDir, 'README.md'), 'utf8');
    assert.ok(readme.includes('hearth bench --url http://'), `${engine} README: hearth bench --url`);
    assert.ok(readme.includes('hearth bench --compare'), `${engine} README: hearth bench --compare`);
    assert.ok(readme.includes(REPO) && readme.includes(MANIFEST_COMMIT), `${engine} README names the checkpoint`);
  }
  const tgiReadme = readFileSync(join(bundles.tgi.outDir, 'README.md'), 'utf8');
  assert.match(tgiReadme, /\*\*TGI is in maintenance mode\.\*\*/);
  assert.doesNotMatch(readFileSync(join(bundles.vllm.outDir, 'README.md'), 'utf8'), /maintenance mode/);
  // Hearth's own bundle keeps its image build and its own README benchmark section.
  assert.ok(existsSync(join(bundles.hearth.outDir, 'Dockerfile')) && existsSync(join(bundles.hearth.outDir, 'app/package.json')));
  assert.ok(readFileSync(join(bundles.hearth.outDir, 'README.md'), 'utf8').includes('hearth bench --compare'));
});

test('the checkpoint comes from the library\'s record of the pull when the package is in the library', () => {
  const result = writeBundle({ config: configs.library!, outDir: join(dir, 'library'), target: 'gpu', engine: 'vllm', bakeModel: false, gpuName: 'L4' });
  assert.deepEqual(result.plan.hub, { repo: REPO, commit: LIBRARY_COMMIT, from: 'library' });
  assert.equal(flagValue(deploymentArgs(result), '--revision'), LIBRARY_COMMIT);
  assert.equal(bundles.vllm.plan.hub?.from, 'manifest', 'a package outside the library falls back to its manifest');
});

test('a local-only package, an unsupported dtype or a CPU target: a clear error, and nothing written', () => {
  const attempt = (name: string, config: ServingConfig, engine: 'vllm' | 'tgi', target: 'gpu' | 'cpu' = 'gpu') => {
    const outDir = join(dir, `refused-${name}`);
    let error: unknown;
    try {
      writeBundle({ config, outDir, target, engine, bakeModel: false, gpuName: 'L4' });
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof ExportError, `${name}: an ExportError, got ${String(error)}`);
    assert.ok(!existsSync(outDir), `${name}: nothing written`);
    return (error as Error).message;
  };
  for (const engine of ['vllm', 'tgi'] as const) {
    const local = attempt(`local-${engine}`, configs.local!, engine);
    assert.match(local, /original checkpoint from the Hugging Face Hub/);
    assert.match(local, /converted from a local folder/);
    assert.match(local, /hearth pull/);
    const int4 = attempt(`int4-${engine}`, configs.int4!, engine);
    assert.match(int4, /int4/);
    assert.match(int4, new RegExp(`hearth pull ${REPO} --dtype fp16`));
    assert.match(attempt(`cpu-${engine}`, configs.fp16!, engine, 'cpu'), /--target gpu/);
  }
  assert.match(attempt('fp32-tgi', configs.fp32!, 'tgi'), /fp32: TGI's --dtype does not take fp32\. Export an fp16 variant/);
});

const hearthCli = (args: string[]) => runHearth(args, { ...process.env, HEARTH_HOME: home });

test('`hearth export --engine` from the command line: a TGI bundle, and the clear errors with exit code 1', { timeout: 240_000 }, async () => {
  const tuned = join(dir, 'tuned-fp16.json');
  writeFileSync(tuned, JSON.stringify({ model: { package: packages.fp16 }, batching: { maxBatchSize: 8, maxBatchTotalTokens: 1024 } }));
  const out = join(dir, 'cli-tgi');
  const ok = await hearthCli(['export', '--engine', 'tgi', '--config', tuned, '--out', out, '--gpu', 'L4']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`docker compose .* up -d .*${TGI_IMAGE.replace(/[.]/g, '\\.')} serves ${REPO}@aaaaaaaaaaaa`));
  const args = parse(readFileSync(join(out, 'k8s/deployment.yaml'), 'utf8')).spec.template.spec.containers[0].args;
  assert.deepEqual(undocumentedFlags(args, TGI_FLAGS), []);

  const local = join(dir, 'tuned-local.json');
  writeFileSync(local, JSON.stringify({ model: { package: packages.local } }));
  const refused = await hearthCli(['export', '--engine', 'vllm', '--config', local, '--out', join(dir, 'cli-refused')]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /vLLM serves the original checkpoint from the Hugging Face Hub/);
  assert.ok(!existsSync(join(dir, 'cli-refused')));
  const unknown = await hearthCli(['export', '--engine', 'sglang', '--config', tuned, '--out', join(dir, 'cli-unknown')]);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /--engine must be one of hearth, vllm, tgi, got 'sglang'/);
});
