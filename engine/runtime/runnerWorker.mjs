// Worker entry: a worker thread does not inherit the parent's tsx loader, so register it here
// (works whether the parent used `--import tsx` or tsx's register()) and load the TS module.
import { register } from 'tsx/esm/api';

register();
await import('./runnerWorker.ts');
