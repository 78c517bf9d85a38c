// Text Generation Inference: the TGI image at a pinned tag, the launcher flags from the tuned
// config (TGI's batching settings are the ones Hearth's are named after). TGI is in maintenance
// mode; the bundle README says so. Every flag it emits is in tgiFlags.ts.
import { ExportError } from '../errors.js';
import { estimateDownloadAndLoadSeconds } from './loadTime.js';
import type { EngineContainer, EngineInput, EngineTarget, FlagMapping } from './target.js';
import { flagArgs } from './target.js';
import { TGI_IMAGE, TGI_METRICS, TGI_ROUTES } from './tgiFlags.js';
import { engineDtype, gpuMemoryFraction, requireGpu, requireHubSource, upstreamHostMemory, upstreamScratch, upstreamSecrets } from './upstream.js';

const LABEL = 'TGI';
/** The image's Hub cache (HF_HOME=/data). */
const TGI_CACHE = '/data';

export function tgiMapping(input: EngineInput): FlagMapping[] {
  requireGpu(input, LABEL);
  const hub = requireHubSource(input, LABEL);
  const b = input.config.batching;
  const dtype = engineDtype(input.sizing.dtype, { fp16: 'float16' }, LABEL, hub.repo);
  // TGI requires max_input_tokens < max_total_tokens ≤ max_batch_total_tokens, and a whole prompt in one prefill.
  const maxInputTokens = Math.min(b.maxInputTokens, b.maxTotalTokens - 1);
  const maxBatchTotalTokens = Math.min(b.maxBatchTotalTokens, input.sizing.kvCacheTokens);
  if (maxBatchTotalTokens < b.maxTotalTokens) {
    throw new ExportError(`the KV budget holds ${maxBatchTotalTokens} tokens, less than one full ${b.maxTotalTokens}-token sequence, which TGI refuses: raise maxBatchTotalTokens (or kvCacheBytes) or lower maxTotalTokens`);
  }
  const mapping: FlagMapping[] = [
    { flag: '--model-id', value: hub.repo, from: `the Hub repo \`hearth pull\` fetched (${hub.from === 'library' ? "the library's record" : "the package manifest's source"})` },
    { flag: '--revision', value: hub.commit, from: 'the exact commit that pull resolved to' },
    { flag: '--dtype', value: dtype, from: `the package dtype (${input.sizing.dtype})` },
    { flag: '--num-shard', value: '1', from: 'the sizing: one GPU per replica' },
    { flag: '--max-concurrent-requests', value: String(b.maxConcurrentRequests), from: 'batching.maxConcurrentRequests' },
    { flag: '--max-input-tokens', value: String(maxInputTokens), from: 'batching.maxInputTokens', note: maxInputTokens < b.maxInputTokens ? `lowered from ${b.maxInputTokens}: TGI needs it below --max-total-tokens` : undefined },
    { flag: '--max-total-tokens', value: String(b.maxTotalTokens), from: 'batching.maxTotalTokens' },
    {
      flag: '--max-batch-prefill-tokens',
      // TGI also needs it within --max-batch-total-tokens (≥ max-total-tokens > max-input-tokens).
      value: String(Math.min(Math.max(b.maxPrefillTokens, maxInputTokens), maxBatchTotalTokens)),
      from: 'batching.maxPrefillTokens',
      note: b.maxPrefillTokens < maxInputTokens ? `raised from ${b.maxPrefillTokens} to --max-input-tokens: TGI prefills a prompt in one step where Hearth chunks it` : undefined,
    },
    { flag: '--max-batch-total-tokens', value: String(maxBatchTotalTokens), from: `batching.maxBatchTotalTokens, capped by the sized KV cache (${input.sizing.kvCacheTokens} tokens)` },
    // Hearth's scheduler admits waiting prompts at every step (each step has a prefill budget); in
    // TGI's router that is a waiting/served ratio of 0 and at most one decode token before a prefill.
    { flag: '--waiting-served-ratio', value: '0', from: "Hearth's admission policy: waiting requests join the batch at the next step" },
    { flag: '--max-waiting-tokens', value: '1', from: "Hearth's admission policy: no waiting request is passed over for a decode step" },
    { flag: '--cuda-memory-fraction', value: gpuMemoryFraction(input.sizing, input.gpu).toFixed(2), from: `the sizing's fill limit on ${input.gpu.name}` },
    { flag: '--hostname', value: '0.0.0.0', from: 'the container (server.host is the desktop\'s)' },
    { flag: '--port', value: String(input.port), from: 'the container port (server.port is the desktop\'s)' },
    { flag: '--payload-limit', value: String(input.config.server.maxBodyBytes), from: 'server.maxBodyBytes' },
    { flag: '--usage-stats', value: 'off', from: 'Hearth sends no telemetry; neither does the bundle' },
  ];
  for (const origin of input.config.server.corsOrigins) mapping.push({ flag: '--cors-allow-origin', value: origin, from: 'server.corsOrigins' });
  return mapping;
}

export const tgiTarget: EngineTarget = {
  name: 'tgi',
  label: `TGI (${TGI_IMAGE}, maintenance mode)`,
  loadSeconds: (weightsBytes) => estimateDownloadAndLoadSeconds(weightsBytes),
  hostMemory: (estimate) => upstreamHostMemory(estimate.weightsBytes),
  container(input: EngineInput): EngineContainer {
    const mapping = tgiMapping(input);
    const queueMetric = 'tgi_queue_size';
    if (!TGI_METRICS[queueMetric]) throw new ExportError(`bug: ${queueMetric} is not in the pinned TGI metric list`);
    return {
      engine: 'tgi',
      name: 'tgi',
      image: TGI_IMAGE,
      buildTarget: null,
      args: flagArgs(mapping),
      env: [
        { name: 'HF_TOKEN', secret: { name: `${input.appName}-hf-token`, key: 'token' } },
        { name: 'API_KEY', secret: { name: `${input.appName}-api-key`, key: 'api-key' } },
      ],
      secrets: upstreamSecrets(input.appName, 'API_KEY'),
      port: input.port,
      healthPath: TGI_ROUTES.health,
      metricsPath: TGI_ROUTES.metrics,
      queueMetric,
      queueMetricMeaning: 'requests waiting in the router queue',
      hpaMetric: queueMetric,
      predictRoute: TGI_ROUTES.chat,
      vertexRawPredict: true,
      runAsUser: null,
      configMountPath: null,
      modelsMountPath: null,
      scratch: upstreamScratch(TGI_CACHE, input.sizing.estimate.weightsBytes),
      healthCheckCommand: ['curl', '-fsS', '-o', '/dev/null', `http://127.0.0.1:${input.port}${TGI_ROUTES.health}`],
      mapping,
      notes: [
        `TGI downloads ${input.hub?.repo} at commit ${input.hub?.commit} from the Hub when a pod starts and serves it in ${mapping.find((entry) => entry.flag === '--dtype')?.value}; Hearth's converted package is not used.`,
        'maxBatchSize does not map: TGI caps a batch by tokens (--max-batch-total-tokens); its --max-batch-size is only for hardware without unpadded batching. maxQueuedTokens has no TGI equivalent.',
      ],
    };
  },
};
