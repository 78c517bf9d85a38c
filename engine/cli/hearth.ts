// The `hearth` command's entry: bin/hearth.mjs runs its build (dist/hearth.mjs) or, in a source
// checkout without a fresh build, this file through tsx.
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
