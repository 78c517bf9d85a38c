// `hearth export` bundles, checked offline: every Kubernetes object against the Kubernetes API
// schemas (kubernetes-models), the Dockerfile through dockerfile-ast and our hadolint-like rules,
// docker-compose.yml's structure, vertex-ai.sh with `bash -n`, and config/tuned.json with the
// server's own strict serving-config schema.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { ensureFixturePackage } from '../fixtures/packages.js';
import { validateManifest } from '../fixtures/k8sValidate.js';
import { writeBundle, sizeConfig, type ExportResult } from '../../engine/export/index.js';
import { completeServingConfig } from '../../engine/export/configInput.js';
import { parseServingConfig } from '../../engine/server/servingConfigFile.js';
import type { ServingConfig } from '../../engine/common/servingConfig.js';
import { PACKAGE_CACHE_FILES } from '../../engine/convert/modelPackage.js';
import { lintDockerfile, stageInstructions, stageNames } from './exportDockerfileLint.js';
import { SERVING_DIST_DIR, SERVING_ENTRY } from '../../engine/export/bundle/dockerfile.js';
import { SERVING_ENTRIES } from '../../scripts/build.mjs';
import { linkProductionModules } from '../fixtures/productionModules.js';
import { serveToReady } from './serveProcess.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
let config: ServingConfig;
let gpuBaked: ExportResult;
let cpuVolume: ExportResult;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-export-'));
  const { packageDir, manifest } = await ensureFixturePackage({ shape: 'tiny' });
  config = completeServingConfig({ batching: { maxBatchSize: 8, maxBatchTotalTokens: 1024, kvCacheBytes: 512 * 1024 } }, manifest, packageDir).config;
  config.tuning = { objective: { ttftP95Ms: 500 }, measuredAt: '2026-01-01T00:00:00Z', machine: 'test', throughputTokensPerSec: 400, notes: ['from the test'] };
  gpuBaked = writeBundle({ config, outDir: join(dir, 'gpu'), target: 'gpu', bakeModel: true, targetRequestsPerSec: 2 });
  cpuVolume = writeBundle({ config, outDir: join(dir, 'cpu'), target: 'cpu', bakeModel: false });
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('the bundle holds every part, with the engine source, its build script and the model', () => {
  for (const file of ['Dockerfile', '.dockerignore', 'docker-compose.yml', 'config/tuned.json', 'k8s/deployment.yaml', 'k8s/service.yaml', 'k8s/hpa.yaml', 'k8s/pdb.yaml', 'k8s/configmap.yaml', 'monitoring/prometheus-adapter-values.yaml', 'vertex-ai.sh', 'README.md', 'sizing.json', 'app/package.json', 'app/package-lock.json', 'app/scripts/build.mjs', 'app/engine/cli/serveOnly.ts', 'model/manifest.json']) {
    assert.ok(existsSync(join(gpuBaked.outDir, file)), `missing ${file}`);
  }
  assert.ok(!existsSync(join(gpuBaked.outDir, 'app/bin')), 'the image runs its own build, not bin/hearth.mjs');
  const engineFiles = execFileSync('find', [join(gpuBaked.outDir, 'app/engine'), '-name', '*.test.ts']).toString().trim();
  assert.equal(engineFiles, '', 'tests are not shipped');
  assert.ok(!existsSync(join(cpuVolume.outDir, 'model')), 'a volume-mode bundle does not copy the model');
  assert.ok(existsSync(join(cpuVolume.outDir, 'k8s/models-pvc.yaml')));
});

test('a baked model leaves out the engine\'s caches in the package folder (the int8 expansion)', () => {
  const packageDir = join(dir, 'package-with-caches');
  cpSync(config.model.package, packageDir, { recursive: true });
  const caches = [...Object.values(PACKAGE_CACHE_FILES), `${PACKAGE_CACHE_FILES.int8Data}.tmp-4242`]; // and a writer's temporary
  for (const file of caches) writeFileSync(join(packageDir, file), 'cache');
  const baked = writeBundle({ config: { ...config, model: { ...config.model, package: packageDir } }, outDir: join(dir, 'caches'), target: 'cpu', bakeModel: true });
  const shipped = readdirSync(join(baked.outDir, 'model'));
  assert.ok(shipped.includes('model.onnx.data') && shipped.includes('manifest.json'), shipped.join(', '));
  for (const file of caches) assert.ok(!shipped.includes(file), `${file} is not shipped`);
});

test('every Kubernetes manifest validates against the API schema and says what the sizing says', () => {
  for (const result of [gpuBaked, cpuVolume]) {
    const objects = Object.fromEntries(readdirSync(join(result.outDir, 'k8s')).map((file) => [file, validateManifest(readFileSync(join(result.outDir, 'k8s', file), 'utf8'), file)]));
    const deployment = objects['deployment.yaml']!;
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    const plan = result.plan;
    assert.equal(container.resources.requests.memory, `${Math.ceil(plan.hostMemoryRequestBytes / 2 ** 20)}Mi`);
    assert.equal(container.resources.limits.memory, `${Math.ceil(plan.hostMemoryLimitBytes / 2 ** 20)}Mi`);
    if (plan.target === 'gpu') {
      assert.equal(container.resources.limits['nvidia.com/gpu'], '1');
      assert.ok(container.args.includes('cuda'));
    } else {
      assert.equal(container.resources.limits['nvidia.com/gpu'], undefined);
      assert.ok(container.args.includes('cpu'));
    }
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      assert.equal(container[probe].httpGet.path, '/health', probe);
      assert.equal(container[probe].httpGet.port, 'http', probe);
    }
    const startupBudgetSeconds = container.startupProbe.periodSeconds * container.startupProbe.failureThreshold;
    assert.ok(startupBudgetSeconds >= 2 * plan.loadSeconds, `startup probe allows ${startupBudgetSeconds}s for a ${plan.loadSeconds}s load`);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.ok(pod.terminationGracePeriodSeconds > plan.shutdownGraceSeconds);
    assert.ok(container.volumeMounts.some((mount: any) => mount.mountPath === '/tmp'), 'a writable /tmp on a read-only root');
    if (!plan.bakeModel) {
      assert.ok(container.volumeMounts.some((mount: any) => mount.mountPath === '/models' && mount.readOnly));
      assert.equal(objects['models-pvc.yaml']!.spec.accessModes[0], 'ReadOnlyMany');
    }

    const hpa = objects['hpa.yaml']!;
    assert.equal(hpa.spec.scaleTargetRef.name, deployment.metadata.name);
    assert.deepEqual(hpa.spec.metrics[0].pods.metric, { name: 'hearth_queue_size' });
    assert.equal(hpa.spec.metrics[0].type, 'Pods');
    assert.ok(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds >= 300, 'conservative scale-down');
    assert.equal(hpa.spec.behavior.scaleDown.selectPolicy, 'Min');
    assert.ok(hpa.spec.behavior.scaleDown.policies.every((policy: any) => policy.type === 'Pods' && policy.value === 1));
    assert.equal(hpa.spec.minReplicas, deployment.spec.replicas);

    assert.deepEqual(objects['pdb.yaml']!.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
    assert.deepEqual(objects['service.yaml']!.spec.selector, deployment.spec.selector.matchLabels);
    const tunedFromConfigMap = JSON.parse(objects['configmap.yaml']!.data['tuned.json']);
    assert.deepEqual(tunedFromConfigMap, JSON.parse(readFileSync(join(result.outDir, 'config/tuned.json'), 'utf8')));
  }
  // Replicas follow the sizing: 2 req/s at 400 tok/s ÷ 256 tokens per request × 80 %.
  const sizedRow = gpuBaked.sizing.rows.find((row) => row.gpu === gpuBaked.plan.gpu.name)!;
  assert.equal(gpuBaked.plan.minReplicas, sizedRow.replicas);
  assert.equal(sizedRow.replicas, Math.ceil(2 / ((400 / 256) * 0.8)));
});

test('the schema validation can fail: a wrong type and a missing field are caught', () => {
  const text = readFileSync(join(gpuBaked.outDir, 'k8s/deployment.yaml'), 'utf8');
  const broken = parse(text);
  broken.spec.template.spec.containers[0].ports[0].containerPort = 'eight-thousand';
  assert.throws(() => validateManifest(stringify(broken), 'deployment.yaml'), /containerPort/);
  const hpa = parse(readFileSync(join(gpuBaked.outDir, 'k8s/hpa.yaml'), 'utf8'));
  delete hpa.spec.maxReplicas;
  assert.throws(() => validateManifest(stringify(hpa), 'hpa.yaml'), /maxReplicas/);
});

test('config/tuned.json passes the server\'s strict schema and keeps the tuned batching settings exactly', () => {
  const tuned = JSON.parse(readFileSync(join(gpuBaked.outDir, 'config/tuned.json'), 'utf8'));
  const parsed = parseServingConfig(tuned, 'config/tuned.json');
  assert.deepEqual(parsed.batching, config.batching);
  assert.deepEqual(tuned.tuning, config.tuning);
  assert.equal(tuned.server.host, '0.0.0.0');
  assert.equal(tuned.server.port, 8080);
  assert.equal(tuned.server.vertex, true);
  assert.equal(tuned.server.apiKey, undefined, 'never an API key in an image');
  assert.equal(tuned.model.package, gpuBaked.plan.containerModelPath);
});

test('the Dockerfile parses and passes the lint rules for every target', () => {
  const dockerfile = readFileSync(join(gpuBaked.outDir, 'Dockerfile'), 'utf8');
  assert.deepEqual(lintDockerfile(dockerfile, ['gpu', 'gpu-volume', 'cpu', 'cpu-volume']), []);
  assert.equal(stageNames(dockerfile).at(-1), 'gpu', 'the default build is the exported variant');
  assert.match(dockerfile, /FROM nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+ AS runtime-gpu/);
  assert.match(dockerfile, /ONNXRUNTIME_NODE_INSTALL=cuda12 .*npm ci --omit=dev/);
  assert.match(dockerfile, /COPY --from=model \/models \/models/);
  assert.match(dockerfile, /HEALTHCHECK .*--start-period=\d+s/);
  assert.match(dockerfile, /127\.0\.0\.1:8080\/health/);
  // The model's stage comes before the code in the baked image, so a code change reuses its layer.
  const gpuStage = dockerfile.slice(dockerfile.lastIndexOf('AS gpu\n'));
  assert.ok(gpuStage.indexOf('COPY --from=model') < gpuStage.indexOf('COPY --from=build'));

  const volumeDockerfile = readFileSync(join(cpuVolume.outDir, 'Dockerfile'), 'utf8');
  assert.deepEqual(lintDockerfile(volumeDockerfile, ['gpu-volume', 'cpu-volume']), []);
  assert.equal(stageNames(volumeDockerfile).at(-1), 'cpu-volume');
  assert.ok(!stageNames(volumeDockerfile).includes('model'));
});

test('a build stage compiles the serving code; every runtime image holds only dist/, production node_modules, the config (and the model)', () => {
  for (const [result, targets] of [[gpuBaked, ['gpu', 'gpu-volume', 'cpu', 'cpu-volume']], [cpuVolume, ['gpu-volume', 'cpu-volume']]] as const) {
    const dockerfile = readFileSync(join(result.outDir, 'Dockerfile'), 'utf8');
    const buildStage = stageInstructions(dockerfile, 'build');
    assert.equal(buildStage.filter((step) => step.keyword === 'RUN').at(-1)?.args, `node scripts/build.mjs --serving --outdir ${SERVING_DIST_DIR}`);
    assert.ok(buildStage.some((step) => step.keyword === 'RUN' && /npm ci --ignore-scripts/.test(step.args)), 'the build installs from the lockfile, without install scripts');
    for (const target of targets) {
      const steps = stageInstructions(dockerfile, target);
      const copies = steps.filter((step) => step.keyword === 'COPY').map((step) => (step.from ? `--from=${step.from} ${step.args}` : step.args));
      const allowed = [
        `--from=build ${SERVING_DIST_DIR} ${SERVING_DIST_DIR}`,
        `--from=deps-${target.split('-')[0]} /app/node_modules /app/node_modules`,
        `config/tuned.json ${result.plan.containerConfigPath}`,
        `--from=model ${result.plan.containerModelsDir} ${result.plan.containerModelsDir}`,
        '--from=node-dist /usr/local/bin/node /usr/local/bin/node',
      ];
      assert.deepEqual(copies.filter((copy) => !allowed.includes(copy)), [], `${target} copies only the serving build, production dependencies, config and model`);
      assert.ok(copies.includes(allowed[0]!) && copies.includes(allowed[1]!), `${target} has the build and node_modules`);
      assert.deepEqual(steps.filter((step) => step.keyword === 'ENTRYPOINT').at(-1)?.exec, ['node', SERVING_ENTRY]);
      assert.ok(!steps.some((step) => /tsx/.test(step.args)), `${target}: no tsx`);
    }
    const deps = stageInstructions(dockerfile, 'deps-cpu').find((step) => step.keyword === 'RUN' && /npm ci/.test(step.args));
    assert.match(deps!.args, /npm ci --omit=dev/, 'runtime node_modules are production dependencies only');
  }
  // The entrypoint is what scripts/build.mjs --serving writes.
  assert.ok(SERVING_ENTRIES.includes(basename(SERVING_ENTRY, '.mjs')));
});

test('the image\'s stages, run without Docker: the bundle\'s own build command, then its entrypoint and command beside production-only node_modules, serve to ready', { timeout: 120_000 }, async () => {
  const dockerfile = readFileSync(join(cpuVolume.outDir, 'Dockerfile'), 'utf8');
  const image = join(dir, 'image');
  const mapPath = (path: string) => (path.startsWith('/app/') ? join(image, path) : path);
  // Build stage: its last RUN, in the bundle's app/ (where its COPYs put package files, the script and engine/), with this checkout's node_modules.
  const buildCommand = stageInstructions(dockerfile, 'build').filter((step) => step.keyword === 'RUN').at(-1)!.args.split(' ');
  assert.equal(buildCommand[0], 'node');
  symlinkSync(join(root, 'node_modules'), join(cpuVolume.outDir, 'app/node_modules'), 'dir');
  execFileSync(process.execPath, buildCommand.slice(1).map(mapPath), { cwd: join(cpuVolume.outDir, 'app'), stdio: 'pipe' });
  // Runtime stage: dist/ from the build, the production node_modules, nothing else of Hearth's.
  linkProductionModules(join(image, 'app'));
  assert.deepEqual(readdirSync(join(image, 'app')).sort(), ['dist', 'node_modules']);
  const steps = stageInstructions(dockerfile, 'cpu-volume');
  const entrypoint = steps.filter((step) => step.keyword === 'ENTRYPOINT').at(-1)!.exec!;
  const command = steps.filter((step) => step.keyword === 'CMD').at(-1)!.exec!;
  assert.equal(entrypoint[0], 'node');
  const { packageDir } = await ensureFixturePackage({ shape: 'tiny' });
  // The config's model and port are the container's (/models, 8080 on 0.0.0.0): the package and a free loopback port instead.
  const args = [...entrypoint.slice(1).map(mapPath), packageDir, ...command.map((arg) => (arg === cpuVolume.plan.containerConfigPath ? join(cpuVolume.outDir, 'config/tuned.json') : arg)), '--port', '0', '--host', '127.0.0.1'];
  const env: NodeJS.ProcessEnv = { ...process.env, HEARTH_HOME: join(dir, 'image-home'), NODE_ENV: 'production', HEARTH_CONTAINER: '1' };
  delete env.NODE_OPTIONS;
  const served = await serveToReady(args, env);
  assert.equal(served.exitCode, 0, served.output);
});

test('the Dockerfile lint catches what it is meant to catch', () => {
  const bad = [
    'FROM node:latest',
    'RUN sudo apt-get install curl',
    'WORKDIR app',
    'COPY --from=builder /x /y',
    'ENTRYPOINT node server.js',
  ].join('\n');
  const rules = new Set(lintDockerfile(bad).map((finding) => finding.rule));
  for (const rule of ['multi-stage', 'pinned-base', 'no-sudo', 'apt-hygiene', 'workdir-absolute', 'stage-ref', 'non-root', 'healthcheck', 'entrypoint-exec', 'expose']) {
    assert.ok(rules.has(rule), `expected ${rule} in ${[...rules].join(', ')}`);
  }
  assert.ok(lintDockerfile('FROM node:20 AS a\nFROM a\nUSER root\nHEALTHCHECK CMD ["true"]\nEXPOSE 1\nENTRYPOINT ["x"]').some((finding) => finding.rule === 'non-root'));
});

test('docker-compose.yml reserves the GPU, mounts the volumes and checks /health', () => {
  const gpu = parse(readFileSync(join(gpuBaked.outDir, 'docker-compose.yml'), 'utf8'));
  const service = gpu.services.hearth;
  assert.equal(service.build.target, 'gpu');
  assert.deepEqual(service.deploy.resources.reservations.devices[0], { driver: 'nvidia', count: 1, capabilities: ['gpu'] });
  assert.equal(service.healthcheck.test[0], 'CMD');
  assert.match(service.healthcheck.test.join(' '), /\/health/);
  assert.ok(service.volumes.some((volume: string) => volume.endsWith(':/var/lib/hearth')));

  const cpu = parse(readFileSync(join(cpuVolume.outDir, 'docker-compose.yml'), 'utf8')).services.hearth;
  assert.equal(cpu.build.target, 'cpu-volume');
  assert.equal(cpu.deploy.resources.reservations, undefined);
  assert.ok(cpu.volumes.some((volume: string) => volume.endsWith(':/models:ro')), 'models volume');
});

test('vertex-ai.sh is valid bash with the container routes and the GPU flags', () => {
  const script = join(gpuBaked.outDir, 'vertex-ai.sh');
  execFileSync('bash', ['-n', script]);
  assert.ok(statSync(script).mode & 0o100, 'executable');
  const text = readFileSync(script, 'utf8');
  for (const flag of ['--container-health-route=/health', '--container-predict-route=/predict', '--container-ports=8080', 'gcloud ai endpoints create', 'gcloud ai endpoints deploy-model', '--accelerator="type=$ACCELERATOR,count=1"', '--min-replica-count', '--max-replica-count']) {
    assert.ok(text.includes(flag), `missing ${flag}`);
  }
  assert.match(text, /ACCELERATOR="\$\{ACCELERATOR:-nvidia-[a-z0-9-]+\}"/);
  assert.ok(!/Bearer \$\(gcloud/.test(text), 'the example must not run print-access-token inside the heredoc');
  // A volume-mode bundle cannot go to Vertex AI: the script says so and stops.
  const volumeScript = readFileSync(join(cpuVolume.outDir, 'vertex-ai.sh'), 'utf8');
  execFileSync('bash', ['-n', join(cpuVolume.outDir, 'vertex-ai.sh')]);
  assert.match(volumeScript, /Re-export with: hearth export --bake-model|--bake-model/);
});

test('README explains build, run, scale and shows the sizing table', () => {
  const readme = readFileSync(join(gpuBaked.outDir, 'README.md'), 'utf8');
  for (const heading of ['## Build', '## Run', '## Kubernetes', '### Autoscaling on queue depth', '## Vertex AI', '## Sizing', '## Serving settings']) {
    assert.ok(readme.includes(heading), `README lacks ${heading}`);
  }
  for (const row of gpuBaked.sizing.rows) assert.ok(readme.includes(`| ${row.gpu} |`), `README sizing lacks ${row.gpu}`);
  assert.match(readme, /seriesQuery: "?hearth_queue_size\{/);
  // The adapter rule the README shows is the one shipped as Helm values.
  const adapter = parse(readFileSync(join(gpuBaked.outDir, 'monitoring/prometheus-adapter-values.yaml'), 'utf8'));
  const rule = adapter.rules.custom[0];
  assert.equal(rule.name.as, 'hearth_queue_size');
  assert.deepEqual(rule.resources.overrides.pod, { resource: 'pod' });
  assert.match(rule.metricsQuery, /<<\.Series>>\{<<\.LabelMatchers>>\}/);
});

test('exporting refuses a foreign non-empty directory but replaces a previous bundle', () => {
  const foreign = join(dir, 'foreign');
  execFileSync('mkdir', ['-p', foreign]);
  execFileSync('touch', [join(foreign, 'precious.txt')]);
  assert.throws(() => writeBundle({ config, outDir: foreign, target: 'cpu', bakeModel: false }), /not empty/);
  assert.ok(existsSync(join(foreign, 'precious.txt')));
  const again = writeBundle({ config, outDir: gpuBaked.outDir, target: 'cpu', bakeModel: false });
  assert.ok(!existsSync(join(again.outDir, 'model')), 'the previous bundle was replaced, not merged');
  // Sizing alone (no files) is the same computation.
  assert.deepEqual(sizeConfig({ config }).rows.map((row) => row.gpu), gpuBaked.sizing.rows.map((row) => row.gpu));
});
