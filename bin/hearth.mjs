#!/usr/bin/env node
// The `hearth` command. Source is TypeScript run through tsx (a runtime dependency), so the same
// files serve the CLI, the desktop app's engine host and the production container without a build.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../engine/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
