// Text Generation Inference's documented launcher flags, environment variables and metrics that
// the export may emit, pinned to the image tag below. Transcribed from TGI's reference pages (the
// launcher page is docs/source/reference/launcher.md in huggingface/text-generation-inference);
// a flag the TGI writer emits that is missing here fails test/integration/exportEngines.test.ts.
//
// TGI is in maintenance mode: its documentation says only minor fixes are accepted and points to
// vLLM, SGLang and llama.cpp going forward (https://huggingface.co/docs/text-generation-inference/index).
import type { DocumentedFlag } from './vllmFlags.js';

/** The TGI image from GitHub's registry, pinned (never `latest`). */
export const TGI_IMAGE = 'ghcr.io/huggingface/text-generation-inference:3.3.5';

export const TGI_DOCS = {
  launcher: 'https://huggingface.co/docs/text-generation-inference/reference/launcher',
  metrics: 'https://huggingface.co/docs/text-generation-inference/reference/metrics',
  gated: 'https://huggingface.co/docs/text-generation-inference/basic_tutorials/gated_model_access',
  maintenance: 'https://huggingface.co/docs/text-generation-inference/index',
  api: 'https://huggingface.co/docs/text-generation-inference/reference/api_reference',
} as const;

export const TGI_FLAGS: Readonly<Record<string, DocumentedFlag>> = {
  '--model-id': { doc: TGI_DOCS.launcher, takesValue: true },
  '--revision': { doc: TGI_DOCS.launcher, takesValue: true },
  '--dtype': { doc: TGI_DOCS.launcher, takesValue: true, choices: ['float16', 'bfloat16'] },
  '--num-shard': { doc: TGI_DOCS.launcher, takesValue: true },
  '--max-concurrent-requests': { doc: TGI_DOCS.launcher, takesValue: true },
  '--max-input-tokens': { doc: TGI_DOCS.launcher, takesValue: true },
  '--max-total-tokens': { doc: TGI_DOCS.launcher, takesValue: true },
  '--waiting-served-ratio': { doc: TGI_DOCS.launcher, takesValue: true },
  '--max-batch-prefill-tokens': { doc: TGI_DOCS.launcher, takesValue: true },
  '--max-batch-total-tokens': { doc: TGI_DOCS.launcher, takesValue: true },
  '--max-waiting-tokens': { doc: TGI_DOCS.launcher, takesValue: true },
  '--cuda-memory-fraction': { doc: TGI_DOCS.launcher, takesValue: true },
  '--hostname': { doc: TGI_DOCS.launcher, takesValue: true },
  '--port': { doc: TGI_DOCS.launcher, takesValue: true },
  '--cors-allow-origin': { doc: TGI_DOCS.launcher, takesValue: true },
  '--payload-limit': { doc: TGI_DOCS.launcher, takesValue: true },
  '--usage-stats': { doc: TGI_DOCS.launcher, takesValue: true, choices: ['on', 'off', 'no-stack'] },
  '--api-key': { doc: TGI_DOCS.launcher, takesValue: true },
};

export const TGI_ENV: Readonly<Record<string, string>> = {
  /** The launcher's --api-key, read from the environment ([env: API_KEY=]). */
  API_KEY: TGI_DOCS.launcher,
  /** Token for gated or private repos. */
  HF_TOKEN: TGI_DOCS.gated,
};

/** Prometheus series TGI serves on /metrics. */
export const TGI_METRICS: Readonly<Record<string, string>> = {
  tgi_queue_size: TGI_DOCS.metrics,
  tgi_batch_current_size: TGI_DOCS.metrics,
  tgi_batch_current_max_tokens: TGI_DOCS.metrics,
  tgi_request_count: TGI_DOCS.metrics,
};

export const TGI_ROUTES = { health: '/health', metrics: '/metrics', chat: '/v1/chat/completions', doc: TGI_DOCS.api } as const;
