// `hearth serve` and nothing else: the production container's entrypoint (dist/hearth-serve.mjs),
// so the image carries the serving code only, not the other commands (bench, tune, hub, host…).
import { runCommand } from './runCommand.js';

process.exitCode = await runCommand('serve', () => import('./commands/serve.js'), process.argv.slice(2));
