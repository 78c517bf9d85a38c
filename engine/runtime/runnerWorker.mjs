// Worker entry when the engine runs from source: a worker thread does not inherit the parent's tsx
// loader, so register it here (works whether the parent used `--import tsx` or tsx's register())
// and load the TS module. From the build, modelRunner's ./runnerWorker.mjs is dist/runnerWorker.mjs
// (scripts/build.mjs), the compiled runnerWorker.ts, and this file is not used.
import { register } from 'tsx/esm/api';

register();
await import('./runnerWorker.ts');
