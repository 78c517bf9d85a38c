// Child process of exportSizing.test.ts: measures this process's resident memory before and after
// loading a package and running requests that fill the configured batch, so the figure is the
// engine's alone (a fresh process, nothing else loaded). Prints one JSON line.
import { loadEngine } from '../../engine/runtime/index.js';
import type { EngineEvent } from '../../engine/common/engineApi.js';

const [packageDir, batchingJson] = process.argv.slice(2);
const batching = JSON.parse(batchingJson!);
const settle = async () => {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((resolve) => setTimeout(resolve, 200));
};
await settle();
const rssBeforeBytes = process.memoryUsage.rss();
const engine = await loadEngine({ packageDir: packageDir!, device: 'cpu', cpuThreads: 1, batching });
const promptTokenIds = Array.from({ length: 48 }, (_, i) => 3 + (i % 100));
const handles = Array.from({ length: batching.maxBatchSize }, (_, i) =>
  engine.submit({
    requestId: `sizing-${i}`,
    promptTokenIds,
    sampling: { temperature: 0, topP: 1, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, repetitionPenalty: 1 },
    maxNewTokens: 16,
    stopStrings: [],
    stopTokenIds: [],
    ignoreEos: true,
    arrivalTimeMs: Date.now(),
  }),
);
let peakRssBytes = 0;
await Promise.all(handles.map(async (handle) => {
  for await (const event of handle as AsyncIterable<EngineEvent>) {
    peakRssBytes = Math.max(peakRssBytes, process.memoryUsage.rss());
    if (event.type === 'done' && event.finishReason === 'error') throw new Error(event.error?.message);
  }
}));
await settle();
const rssAfterBytes = process.memoryUsage.rss();
const snapshot = engine.snapshot();
console.log(JSON.stringify({ rssBeforeBytes, rssAfterBytes, peakRssBytes: Math.max(peakRssBytes, rssAfterBytes), snapshot, config: engine.config }));
await engine.shutdown(1000);
process.exit(0);
