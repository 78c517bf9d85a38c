// `hearth serve <model-package>`: load a package and serve it over the OpenAI-compatible API.
// Listens at once (503 while loading), shuts down gracefully on SIGTERM/SIGINT.
import { DEFAULT_SERVE_PORT, DEVICE_CHOICES, int8MatMulModeOf, type DeviceChoice } from '../../common/servingConfig.js';
import type { LoadedEngine } from '../../runtime/index.js';
import { byteSize, intInRange, parseCommandArgs } from '../args.js';
import { CliError } from '../cliError.js';

const USAGE = `Usage: hearth serve <model-package-or-library-name> [options]
       hearth serve --library [options]

Serves a model package (a folder made by hearth convert, or a library name from hearth pull) with an OpenAI-compatible API
(/v1/chat/completions, /v1/completions, /v1/models), TGI's /generate, /health and /metrics.

Options:
  --port N            Port to listen on (default 8000; 0 picks a free port)
  --host ADDR         Address to bind (default 127.0.0.1; 0.0.0.0 exposes it to the network)
  --api-key KEY       Require 'Authorization: Bearer KEY' (or set HEARTH_API_KEY)
  --config FILE       Serving config (JSON/YAML, e.g. from hearth tune); flags override it
  --device NAME       auto | cpu | cuda | dml | coreml | webgpu (default auto).
                      webgpu: any vendor's GPU, KV cache kept on the device. auto: WebGPU on a
                      hardware adapter (never a software one such as llvmpipe), else CUDA/DirectML/
                      CoreML where installed, else the CPU. cuda (npm run gpu:cuda, NVIDIA + CUDA 12)
                      and dml copy every output, the KV cache included, back to the host each step.
  --served-name NAME  Model name the API reports and accepts (default: the package's name)
  --cpu-threads N     Engine threads for CPU execution (0 = one per physical core)
  --cpu-spinning      Keep the CPU threads spinning between the ops of a step instead of sleeping:
                      faster on a machine that is otherwise idle (docs/benchmarks.md), much slower
                      when other programs compete for the cores. Off by default.
  --cpu-int8-matmul   int4 models on the CPU: run the layers as int8 matmuls (weights expanded at
                      the first load into an int8 copy in the package folder; activations quantized
                      per token). Prefill about twice as fast, one stream 10-28 % slower, a little
                      more rounding (docs/benchmarks.md). Off by default.
  --cpu-int8-prefill  The same int8 matmuls for prompt tokens only: generated tokens keep int4, so
                      prefill is about twice as fast and decode as fast as without it; both weight
                      copies are loaded (about 1.6x the package's size more RAM). Not with
                      --cpu-int8-matmul.
  --cors-origin URL   Allow browser requests from this origin (repeatable; '*' for any); requests
                      from other web pages get 403
  --allowed-hosts A,B Host names to answer to besides localhost, 127.0.0.1, [::1] and --host
                      (or set HEARTH_ALLOWED_HOSTS; '*' for any). Other Host headers get 403, so a
                      web page cannot reach the server by DNS rebinding. Bound to 0.0.0.0 or ::,
                      any Host is accepted unless this is given.
  --vertex            Also serve Vertex AI's /predict (honours AIP_HTTP_PORT, AIP_*_ROUTE)
  --log-content       Store prompt and response text in the request log
  --shutdown-grace-ms N  How long in-flight requests may finish on SIGTERM (default 10000)

Library mode (--library): every ready model of the library at one port; a request's 'model'
(a library name, or name:dtype for one variant) loads it on first use.
  --max-loaded-models N     Most models in memory at once (default 3)
  --memory-budget SIZE      Memory the loaded models may hold together, e.g. 8G (default 75% of RAM);
                            the least recently used idle model is unloaded to make room
  --idle-unload-seconds N   Unload a model idle this long (default 300; -1 = never); a request's
                            keep_alive (seconds or '5m'; 0 = unload when done, -1 = keep) overrides it
  --pin NAME                Never unload this model once loaded (repeatable)
  -h, --help          Show this help`;


export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      'api-key': { type: 'string' },
      config: { type: 'string' },
      device: { type: 'string' },
      'served-name': { type: 'string' },
      'cpu-threads': { type: 'string' },
      'cpu-spinning': { type: 'boolean' },
      'cpu-int8-matmul': { type: 'boolean' },
      'cpu-int8-prefill': { type: 'boolean' },
      'cors-origin': { type: 'string', multiple: true },
      'allowed-hosts': { type: 'string' },
      vertex: { type: 'boolean' },
      'log-content': { type: 'boolean' },
      'shutdown-grace-ms': { type: 'string' },
      library: { type: 'boolean' },
      'max-loaded-models': { type: 'string' },
      'memory-budget': { type: 'string' },
      'idle-unload-seconds': { type: 'string' },
      pin: { type: 'string', multiple: true },
    },
    USAGE,
  );
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new CliError(`expected one model package, got ${positionals.length}.\n\n${USAGE}`, 2);

  const { loadServingConfigFile, ServingConfigError } = await import('../../server/servingConfigFile.js');
  let file;
  try {
    file = values.config ? loadServingConfigFile(values.config) : {};
  } catch (error) {
    if (error instanceof ServingConfigError) throw new CliError(error.message, 2);
    throw error;
  }

  const library = values.library ?? false;
  if (library && positionals.length > 0) throw new CliError(`--library serves every library model; name none (got '${positionals[0]}').\n\n${USAGE}`, 2);
  if (!library && (values['max-loaded-models'] ?? values['memory-budget'] ?? values['idle-unload-seconds'] ?? values.pin) !== undefined) {
    throw new CliError(`--max-loaded-models, --memory-budget, --idle-unload-seconds and --pin need --library.\n\n${USAGE}`, 2);
  }
  const maxLoadedModels = intInRange('max-loaded-models', values['max-loaded-models'], 1, 64);
  const memoryBudgetBytes = byteSize('memory-budget', values['memory-budget']);
  const idleUnloadSeconds = intInRange('idle-unload-seconds', values['idle-unload-seconds'], -1, 7 * 86_400);
  const packageArg = positionals[0] ?? file.model?.package;
  if (!packageArg && !library) throw new CliError(`name the model package to serve, or serve the whole library with --library.\n\n${USAGE}`, 2);
  // A package folder, or a library name (`hearth models` lists them; `name:int4` picks a variant).
  const { resolvePackage, LibraryError } = await import('../../hub/library.js');
  let packageDir = '';
  try {
    if (!library) packageDir = resolvePackage(packageArg!);
  } catch (error) {
    if (error instanceof LibraryError) throw new CliError(error.message, 2);
    throw error;
  }
  const device = (values.device ?? file.device ?? 'auto') as DeviceChoice;
  if (!DEVICE_CHOICES.includes(device)) throw new CliError(`--device must be one of ${DEVICE_CHOICES.join(', ')}; got '${values.device}'.`, 2);
  const vertex = values.vertex ?? file.server?.vertex ?? false;
  // Vertex AI tells the container which port to serve on; an explicit --port still wins.
  const vertexPort = vertex && process.env.AIP_HTTP_PORT ? intInRange('port (AIP_HTTP_PORT)', process.env.AIP_HTTP_PORT, 1, 65535) : undefined;
  const port = intInRange('port', values.port, 0, 65535) ?? vertexPort ?? file.server?.port ?? DEFAULT_SERVE_PORT;
  const host = values.host ?? file.server?.host ?? '127.0.0.1';
  const apiKey = values['api-key'] ?? file.server?.apiKey ?? process.env.HEARTH_API_KEY ?? null;
  const cpuThreads = intInRange('cpu-threads', values['cpu-threads'], 0, 1024) ?? file.cpuThreads;
  const allowSpinning = values['cpu-spinning'] ?? file.cpuSpinning ?? false;
  if (values['cpu-int8-matmul'] && values['cpu-int8-prefill']) throw new CliError('--cpu-int8-matmul and --cpu-int8-prefill exclude each other: the first runs every token in int8, the second prompt tokens only.', 2);
  const cpuInt8MatMul = values['cpu-int8-prefill'] ? 'prompt' : values['cpu-int8-matmul'] ? 'all' : int8MatMulModeOf(file.cpuInt8MatMul);
  const graceMs = intInRange('shutdown-grace-ms', values['shutdown-grace-ms'], 0, 3_600_000) ?? 10_000;
  const contentLogging = values['log-content'] ?? file.logging?.contentLogging ?? false;

  const [{ PortInUseError }, { startServedModel, startServedLibrary }, { RequestLog }, { parseList }] = await Promise.all([
    import('../../server/index.js'),
    import('../../server/servedModel.js'),
    import('../../store/requestLog.js'),
    import('../../server/browserGuard.js'),
  ]);
  // Flag, then config file, then env: the same precedence as the API key.
  const allowedHosts =
    values['allowed-hosts'] !== undefined ? parseList(values['allowed-hosts']) : (file.server?.allowedHosts ?? parseList(process.env.HEARTH_ALLOWED_HOSTS));
  const requestLog = new RequestLog({
    retentionDays: file.logging?.retentionDays ?? 30,
    retentionMaxRows: file.logging?.retentionMaxRows ?? 100_000,
  });
  const log = (line: string) => console.log(line);
  const servedName = values['served-name'] ?? file.model?.servedName;
  // Marked, bound (a taken port fails before any loading), then loaded behind the bound server
  // while /health and the API answer 503 (server/servedModel.ts).
  const server = {
    host,
    port,
    apiKey,
    corsOrigins: values['cors-origin'] ?? file.server?.corsOrigins ?? [],
    allowedHosts,
    vertex,
    maxBodyBytes: file.server?.maxBodyBytes,
    requestLog,
    contentLogging,
  };
  let served: { url: string; close(deadlineMs: number): Promise<void>; ready: Promise<LoadedEngine | null> };
  try {
    if (library) {
      const libraryServer = await startServedLibrary({
        engine: { device, cpuThreads, allowSpinning, cpuInt8MatMul, batching: file.batching },
        server,
        maxLoadedModels,
        memoryBudgetBytes,
        idleUnloadSeconds,
        pinned: values.pin,
        log: (line) => console.error(line),
      });
      served = { url: libraryServer.url, close: libraryServer.close, ready: Promise.resolve(null) };
      const models = libraryServer.pool.status();
      log(
        `hearth serve: listening on ${served.url}: the library's ${new Set(models.map((model) => model.name)).size} model(s) (${models.map((model) => model.id).join(', ') || 'none yet'}), ` +
          'each loaded when a request names it.',
      );
    } else {
      served = await startServedModel({
        packageDir,
        engine: { device, cpuThreads, allowSpinning, cpuInt8MatMul, batching: file.batching, servedName },
        server: { ...server, servedName },
        log: (line) => console.error(line),
      });
      log(`hearth serve: listening on ${served.url} (loading ${packageDir}; /health turns 200 when ready)`);
    }
  } catch (error) {
    requestLog.close();
    if (error instanceof PortInUseError) throw new CliError(error.message, 1);
    throw error;
  }

  let stopping: Promise<number> | null = null;
  const stop = async (reason: string): Promise<number> => {
    log(`hearth serve: ${reason}; finishing in-flight requests (up to ${graceMs} ms)…`);
    await served.close(graceMs);
    requestLog.close();
    log('hearth serve: stopped.');
    return 0;
  };

  return new Promise<number>((resolveExit) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        console.error(`hearth serve: ${signal} again, exiting now.`);
        process.exit(130);
      }
      stopping = stop(`${signal} received`);
      stopping.then(resolveExit, (error) => {
        console.error(`hearth serve: shutdown failed: ${(error as Error).message}`);
        resolveExit(1);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    served.ready.then(
      (engine) => {
        if (!engine) {
          log(`hearth serve: OpenAI API at ${served.url}/v1${apiKey ? ' (API key required)' : ''}`);
          return;
        }
        const snapshot = engine.snapshot();
        const config = engine.config;
        log(
          `hearth serve: ready — model '${snapshot.model}' on ${snapshot.device}${engine.device?.fallbackNotes.length ? ` (${engine.device.fallbackNotes.join("; ")})` : ''}; KV cache ${snapshot.kvCacheCapacityTokens} tokens ` +
            `(${(snapshot.kvCacheBytes / 2 ** 20).toFixed(1)} MiB); max batch ${config.maxBatchSize}, ` +
            `max concurrent ${config.maxConcurrentRequests}, context ${config.maxTotalTokens} tokens.`,
        );
        log(`hearth serve: OpenAI API at ${served.url}/v1${apiKey ? ' (API key required)' : ''}`);
      },
      (error: Error) => {
        console.error(`hearth serve: the model could not be loaded: ${error.message}`);
        if (!stopping) {
          stopping = stop('load failed').then(() => 1);
          stopping.then(resolveExit);
        }
      },
    );
  });
}
