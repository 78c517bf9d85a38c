#!/usr/bin/env node
// Start-up time of a serving command: spawns it RUNS times, measures from spawn to the first
// stdout line matching READY, stops it with SIGTERM, and prints each time and the median.
//   node scripts/startup-time.mjs [--runs 5] [--ready 'hearth serve: ready'] -- node bin/hearth.mjs serve PACKAGE --port 0
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';

const split = process.argv.indexOf('--');
if (split < 0 || split === process.argv.length - 1) {
  console.error("usage: node scripts/startup-time.mjs [--runs N] [--ready REGEX] -- COMMAND [ARGS...]");
  process.exit(2);
}
const { values } = parseArgs({ args: process.argv.slice(2, split), options: { runs: { type: 'string', default: '5' }, ready: { type: 'string', default: 'hearth serve: ready' } } });
const [command, ...args] = process.argv.slice(split + 1);
const ready = new RegExp(values.ready);

function once() {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let readyMs = null;
    const onData = (chunk) => {
      output += chunk;
      if (readyMs === null && ready.test(output)) {
        readyMs = Number(process.hrtime.bigint() - started) / 1e6;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('exit', (code) => (readyMs === null ? reject(new Error(`exited (${code}) before ${ready}:\n${output}`)) : resolve(readyMs)));
  });
}

const times = [];
for (let run = 0; run < Number(values.runs); run++) times.push(await once());
const sorted = [...times].sort((a, b) => a - b);
console.log(`runs: ${times.map((ms) => ms.toFixed(0)).join(', ')} ms`);
console.log(`median: ${sorted[Math.floor(sorted.length / 2)].toFixed(0)} ms (min ${sorted[0].toFixed(0)}, max ${sorted.at(-1).toFixed(0)})`);
