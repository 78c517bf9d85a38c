// Summarise an ONNX Runtime profile (written by `scripts/bench-engine.ts --profile`, path in
// os.tmpdir()/hearth-ort-profile-*.json): where a run's time goes, per op type and per op type +
// input shape (batch rows × new tokens), so decode and prefill shapes show separately.
//
//   node --import tsx scripts/ort-profile-summary.ts /tmp/hearth-ort-profile-1234_....json [--top 25]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
if (positionals.length !== 1) {
  console.error('usage: node --import tsx scripts/ort-profile-summary.ts PROFILE.json [--top N]');
  process.exit(2);
}

interface ProfileEvent {
  cat?: string;
  name: string;
  dur: number;
  args?: { op_name?: string; input_type_shape?: Array<Record<string, number[]>> };
}

const events = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as ProfileEvent[];
const runs = events.filter((event) => event.cat === 'Session' && event.name === 'model_run');
const nodes = events.filter((event) => event.cat === 'Node' && event.name.endsWith('_kernel_time'));
const byOp = new Map<string, { us: number; calls: number }>();
const byShape = new Map<string, { us: number; calls: number }>();
for (const node of nodes) {
  const op = node.args?.op_name ?? '?';
  const firstInput = node.args?.input_type_shape?.[0];
  const shape = firstInput ? JSON.stringify(Object.values(firstInput)[0]) : '';
  for (const [map, key] of [[byOp, op], [byShape, `${op} ${shape}`]] as const) {
    const entry = map.get(key) ?? { us: 0, calls: 0 };
    entry.us += node.dur;
    entry.calls++;
    map.set(key, entry);
  }
}
const totalUs = nodes.reduce((sum, node) => sum + node.dur, 0);
const runUs = runs.reduce((sum, run) => sum + run.dur, 0);
console.log(`${runs.length} runs, ${(runUs / 1000).toFixed(1)} ms in runs, ${(totalUs / 1000).toFixed(1)} ms in kernels (${((100 * totalUs) / Math.max(1, runUs)).toFixed(0)}%)`);
const top = Number(values.top);
console.log('\nby op type');
for (const [op, { us, calls }] of [...byOp].sort((a, b) => b[1].us - a[1].us).slice(0, top)) {
  console.log(`  ${op.padEnd(34)} ${(us / 1000).toFixed(1).padStart(9)} ms  ${String(calls).padStart(6)} calls  ${((100 * us) / totalUs).toFixed(1).padStart(5)}%`);
}
console.log('\nby op type and first input shape');
for (const [key, { us, calls }] of [...byShape].sort((a, b) => b[1].us - a[1].us).slice(0, top)) {
  console.log(`  ${key.padEnd(50)} ${(us / 1000).toFixed(1).padStart(9)} ms  ${String(calls).padStart(6)} calls  avg ${(us / calls).toFixed(0).padStart(7)} us`);
}
