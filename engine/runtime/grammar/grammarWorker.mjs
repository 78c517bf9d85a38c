// Worker entry when the engine runs from source (see ../runnerWorker.mjs): register tsx, load the
// TS module. From the build, grammarRuntime's ./grammarWorker.mjs is dist/grammarWorker.mjs.
import { register } from 'tsx/esm/api';

register();
await import('./grammarWorker.ts');
