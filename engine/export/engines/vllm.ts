// vLLM: the official OpenAI-compatible server image at a pinned tag, serving the Hub checkpoint
// Hearth pulled (repo id at the exact commit) with the tuned settings as its flags. Every flag it
// emits is in vllmFlags.ts (documented for that tag); engine/export/README.md maps each setting.
import { ExportError } from '../errors.js';
import { estimateDownloadAndLoadSeconds } from './loadTime.js';
import type { EngineContainer, EngineInput, EngineTarget, FlagMapping } from './target.js';
import { flagArgs } from './target.js';
import { engineDtype, gpuMemoryFraction, requireGpu, requireHubSource, upstreamHostMemory, upstreamScratch, upstreamSecrets } from './upstream.js';
import { VLLM_IMAGE, VLLM_METRICS, VLLM_ROUTES } from './vllmFlags.js';

const LABEL = 'vLLM';
/** The Hub cache inside the image (HF_HOME of its root user). */
const VLLM_CACHE = '/root/.cache/huggingface';

export function vllmMapping(input: EngineInput): FlagMapping[] {
  requireGpu(input, LABEL);
  const hub = requireHubSource(input, LABEL);
  const b = input.config.batching;
  const dtype = engineDtype(input.sizing.dtype, { fp16: 'float16', fp32: 'float32' }, LABEL, hub.repo);
  const fraction = gpuMemoryFraction(input.sizing, input.gpu);
  const mapping: FlagMapping[] = [
    { flag: '--model', value: hub.repo, from: `the Hub repo \`hearth pull\` fetched (${hub.from === 'library' ? "the library's record" : "the package manifest's source"})` },
    { flag: '--revision', value: hub.commit, from: 'the exact commit that pull resolved to' },
    { flag: '--served-model-name', value: input.modelName, from: 'model.servedName (else the package name): clients keep the same `model` field' },
    { flag: '--host', value: '0.0.0.0', from: 'the container (server.host is the desktop\'s)' },
    { flag: '--port', value: String(input.port), from: 'the container port (server.port is the desktop\'s)' },
    { flag: '--dtype', value: dtype, from: `the package dtype (${input.sizing.dtype})` },
    { flag: '--max-model-len', value: String(b.maxTotalTokens), from: 'batching.maxTotalTokens' },
    { flag: '--max-num-seqs', value: String(b.maxBatchSize), from: 'batching.maxBatchSize' },
    {
      flag: '--max-num-batched-tokens',
      // vLLM refuses a step token budget below --max-num-seqs (each running sequence decodes one token per step).
      value: String(Math.max(b.maxPrefillTokens, b.maxBatchSize)),
      from: 'batching.maxPrefillTokens (tokens per step)',
      note: b.maxPrefillTokens < b.maxBatchSize ? `raised from ${b.maxPrefillTokens} to --max-num-seqs, which vLLM requires` : undefined,
    },
    { flag: '--enable-chunked-prefill', value: null, from: 'Hearth chunks long prompts to maxPrefillTokens per step' },
    { flag: '--gpu-memory-utilization', value: fraction.toFixed(2), from: `the sizing's fill limit on ${input.gpu.name} (KV gets what weights and overhead leave: at least the tuned ${input.sizing.kvCacheTokens}-token budget)` },
    { flag: '--tensor-parallel-size', value: '1', from: 'the sizing: one GPU per replica' },
  ];
  if (b.prefixCacheBytes > 0) mapping.push({ flag: '--enable-prefix-caching', value: null, from: 'batching.prefixCacheBytes > 0 (vLLM sizes its prefix cache itself)' });
  if (!input.config.logging.contentLogging) mapping.push({ flag: '--disable-log-requests', value: null, from: 'logging.contentLogging false: prompts stay out of the logs' });
  if (input.config.server.corsOrigins.length > 0) mapping.push({ flag: '--allowed-origins', value: JSON.stringify(input.config.server.corsOrigins), from: 'server.corsOrigins' });
  return mapping;
}

export const vllmTarget: EngineTarget = {
  name: 'vllm',
  label: `vLLM (${VLLM_IMAGE})`,
  loadSeconds: (weightsBytes) => estimateDownloadAndLoadSeconds(weightsBytes),
  hostMemory: (estimate) => upstreamHostMemory(estimate.weightsBytes),
  container(input: EngineInput): EngineContainer {
    const mapping = vllmMapping(input);
    const queueMetric = 'vllm:num_requests_waiting';
    if (!VLLM_METRICS[queueMetric]) throw new ExportError(`bug: ${queueMetric} is not in the pinned vLLM metric list`);
    return {
      engine: 'vllm',
      name: 'vllm',
      image: VLLM_IMAGE,
      buildTarget: null,
      args: flagArgs(mapping),
      env: [
        { name: 'HF_TOKEN', secret: { name: `${input.appName}-hf-token`, key: 'token' } },
        { name: 'VLLM_API_KEY', secret: { name: `${input.appName}-api-key`, key: 'api-key' } },
      ],
      secrets: upstreamSecrets(input.appName, 'VLLM_API_KEY'),
      port: input.port,
      healthPath: VLLM_ROUTES.health,
      metricsPath: VLLM_ROUTES.metrics,
      queueMetric,
      queueMetricMeaning: 'requests waiting to be scheduled',
      hpaMetric: 'vllm_num_requests_waiting',
      predictRoute: VLLM_ROUTES.chat,
      vertexRawPredict: true,
      runAsUser: null,
      configMountPath: null,
      modelsMountPath: null,
      scratch: upstreamScratch(VLLM_CACHE, input.sizing.estimate.weightsBytes),
      // The image has Python, not curl.
      healthCheckCommand: ['python3', '-c', `import urllib.request; urllib.request.urlopen('http://127.0.0.1:${input.port}${VLLM_ROUTES.health}', timeout=4)`],
      mapping,
      notes: [
        `vLLM downloads ${input.hub?.repo} at commit ${input.hub?.commit} from the Hub when a pod starts and serves it in ${mapping.find((entry) => entry.flag === '--dtype')?.value}; Hearth's converted package is not used.`,
        "vLLM's KV cache is paged and sized by --gpu-memory-utilization, not by a token count: Hearth's maxBatchTotalTokens and kvCacheBytes have no flag of their own.",
        'vLLM has no admission limits: maxConcurrentRequests, maxQueuedTokens and maxInputTokens do not map (requests queue; the HPA scales on that queue). Put limits in the gateway in front.',
      ],
    };
  },
};
