// vLLM's documented command-line flags, environment variables and metrics that the export may
// emit, pinned to the image tag below. Transcribed from the vLLM documentation of that release
// (each entry names its page); a flag the vLLM writer emits that is missing here fails
// test/integration/exportEngines.test.ts. Bumping VLLM_IMAGE means re-reading these pages for the
// new release and updating the list (flags are renamed between releases, e.g. --disable-log-requests
// became --enable-log-requests after 0.10).

/** The official OpenAI-compatible server image (Docker Hub vllm/vllm-openai), never `latest`. */
export const VLLM_IMAGE = 'vllm/vllm-openai:v0.8.5';

export const VLLM_DOCS = {
  engineArgs: 'https://docs.vllm.ai/en/v0.8.5/serving/engine_args.html',
  server: 'https://docs.vllm.ai/en/v0.8.5/serving/openai_compatible_server.html',
  envVars: 'https://docs.vllm.ai/en/v0.8.5/serving/env_vars.html',
  metrics: 'https://docs.vllm.ai/en/v0.8.5/serving/metrics.html',
  docker: 'https://docs.vllm.ai/en/v0.8.5/deployment/docker.html',
  hubToken: 'https://huggingface.co/docs/huggingface_hub/package_reference/environment_variables#hftoken',
} as const;

export interface DocumentedFlag {
  /** Page that documents it. */
  doc: string;
  /** Takes a value (`--flag VALUE`) or is a switch. */
  takesValue: boolean;
  /** The values the docs list, when they list them. */
  choices?: readonly string[];
}

export const VLLM_FLAGS: Readonly<Record<string, DocumentedFlag>> = {
  // Engine arguments (the api_server entrypoint of the image takes the model as --model).
  '--model': { doc: VLLM_DOCS.engineArgs, takesValue: true },
  '--revision': { doc: VLLM_DOCS.engineArgs, takesValue: true },
  '--served-model-name': { doc: VLLM_DOCS.engineArgs, takesValue: true },
  '--dtype': { doc: VLLM_DOCS.engineArgs, takesValue: true, choices: ['auto', 'half', 'float16', 'bfloat16', 'float', 'float32'] },
  '--max-model-len': { doc: VLLM_DOCS.engineArgs, takesValue: true },
  '--max-num-seqs': { doc: VLLM_DOCS.engineArgs, takesValue: true },
  '--max-num-batched-tokens': { doc: VLLM_DOCS.engineArgs, takesValue: true },
  '--enable-chunked-prefill': { doc: VLLM_DOCS.engineArgs, takesValue: false },
  '--gpu-memory-utilization': { doc: VLLM_DOCS.engineArgs, takesValue: true },
  '--enable-prefix-caching': { doc: VLLM_DOCS.engineArgs, takesValue: false },
  '--tensor-parallel-size': { doc: VLLM_DOCS.engineArgs, takesValue: true },
  '--disable-log-requests': { doc: VLLM_DOCS.engineArgs, takesValue: false },
  // OpenAI-compatible server arguments.
  '--host': { doc: VLLM_DOCS.server, takesValue: true },
  '--port': { doc: VLLM_DOCS.server, takesValue: true },
  '--api-key': { doc: VLLM_DOCS.server, takesValue: true },
  '--allowed-origins': { doc: VLLM_DOCS.server, takesValue: true },
};

export const VLLM_ENV: Readonly<Record<string, string>> = {
  /** The server requires `Authorization: Bearer <key>` when set (same as --api-key). */
  VLLM_API_KEY: VLLM_DOCS.envVars,
  /** Read by huggingface_hub when vLLM downloads a gated or private repo. */
  HF_TOKEN: VLLM_DOCS.hubToken,
};

/** Prometheus series vLLM serves on /metrics (the `vllm:` prefix is part of the name). */
export const VLLM_METRICS: Readonly<Record<string, string>> = {
  'vllm:num_requests_waiting': VLLM_DOCS.metrics,
  'vllm:num_requests_running': VLLM_DOCS.metrics,
  'vllm:gpu_cache_usage_perc': VLLM_DOCS.metrics,
};

/** Routes of the server the bundle relies on. */
export const VLLM_ROUTES = { health: '/health', metrics: '/metrics', chat: '/v1/chat/completions', doc: VLLM_DOCS.server } as const;
