// Library mode's load and unload costs (issue 15): one library model served by
// startServedLibrary, loaded by a request, unloaded, loaded again. Prints the first load (from a
// cold page cache when this process may drop it: root on Linux), the reload (files in the OS page
// cache) and the process's resident memory before loading, loaded, and after the unload.
//
//   node --import tsx scripts/bench-library-load.ts [--fixture smollm2-135m] [--dtype int4] [--rounds 3]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startServedLibrary } from '../engine/server/servedModel.js';
import { addToLibrary } from '../test/fixtures/library.js';
import { benchPackage } from './engineRuns.js';

const { values } = parseArgs({ options: { fixture: { type: 'string', default: 'smollm2-135m' }, dtype: { type: 'string', default: 'int4' }, rounds: { type: 'string', default: '3' } } });
const { packageDir } = await benchPackage({ fixture: values.fixture, dtype: values.dtype });
const home = mkdtempSync(join(tmpdir(), 'hearth-bench-library-'));
const env = { ...process.env, HEARTH_HOME: home };
addToLibrary(env, 'bench', values.dtype as 'int4', packageDir);
const served = await startServedLibrary({ env, engine: { device: 'cpu' }, server: { port: 0 }, idleUnloadSeconds: -1, log: () => {} });

function dropPageCache(): boolean {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}
const rssMiB = () => process.memoryUsage.rss() / 2 ** 20;
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};
const request = async () => {
  const started = performance.now();
  const response = await fetch(`${served.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'bench', prompt: 'Hello', max_tokens: 1 }) });
  if (response.status !== 200) throw new Error(`request failed: ${response.status} ${await response.text()}`);
  await response.text();
  return performance.now() - started;
};

await settle();
const rows: string[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  const cold = round === 0 && dropPageCache();
  const before = rssMiB();
  const firstMs = await request();
  const loadMs = served.pool.loadedStatus()[0]?.loadMs ?? null;
  const warmMs = await request();
  await settle();
  const loaded = rssMiB();
  await served.pool.unload('bench');
  await settle();
  const after = rssMiB();
  rows.push(
    `| ${round + 1} | ${round === 0 ? (cold ? 'cold page cache' : 'first load (page cache not dropped: not root)') : 'page cache warm'} | ${loadMs} | ${firstMs.toFixed(0)} | ${warmMs.toFixed(0)} | ${before.toFixed(0)} | ${loaded.toFixed(0)} | ${after.toFixed(0)} |`,
  );
}
console.log(`library load/unload, ${values.fixture} ${values.dtype} (${packageDir})`);
console.log('| round | files | pool load ms (load + warm-up) | first request ms | next request ms | RSS before MiB | RSS loaded MiB | RSS after unload MiB |');
console.log('|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
await served.close(1000);
rmSync(home, { recursive: true, force: true });
