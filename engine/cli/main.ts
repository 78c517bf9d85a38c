// Entry point of the `hearth` command. Each subcommand lives in its own module under
// ./commands and is loaded only when used, so `hearth --help` stays instant and a
// subcommand's heavy dependencies (onnxruntime, sqlite) load only when needed.
import { runCommand, type CommandModule } from './runCommand.js';

interface CommandEntry {
  summary: string;
  load: () => Promise<CommandModule>;
}

const commands: Record<string, CommandEntry> = {
  convert: { summary: 'Convert a safetensors checkpoint into an ONNX model package', load: () => import('./commands/convert.js') },
  serve: { summary: 'Serve a model package with an OpenAI-compatible API', load: () => import('./commands/serve.js') },
  pull: { summary: 'Download a Hub model (resumable, verified) and convert it', load: () => import('./commands/pull.js') },
  import: { summary: 'Convert a local checkpoint (e.g. your fine-tune) into the model library', load: () => import('./commands/import.js') },
  search: { summary: 'Search the Hub for text-generation models', load: () => import('./commands/search.js') },
  fit: { summary: 'Check whether a Hub model fits this machine before downloading', load: () => import('./commands/fit.js') },
  models: { summary: 'List the models in the local library', load: () => import('./commands/models.js') },
  rm: { summary: 'Remove a model from the local library', load: () => import('./commands/rm.js') },
  bench: { summary: 'Benchmark a running server: concurrency sweep, throughput and latency percentiles', load: () => import('./commands/bench.js') },
  tune: { summary: 'Auto-tune batching settings against a latency objective', load: () => import('./commands/tune.js') },
  size: { summary: 'GPU sizing and monthly cost for a tuned config', load: () => import('./commands/size.js') },
  export: { summary: 'Export a tuned config as a production bundle (Docker, Kubernetes, Vertex AI)', load: () => import('./commands/export.js') },
  app: { summary: 'Open the desktop app (or the web UI when Electron is not installed)', load: () => import('./commands/app.js') },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, entry]) => `  ${name.padEnd(width)}  ${entry.summary}`);
  return ['Usage: hearth <command> [options]', '', 'Commands:', ...lines, '', 'Run `hearth <command> --help` for a command\'s options.'].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    const { HEARTH_VERSION } = await import('../common/version.js');
    console.log(HEARTH_VERSION);
    return 0;
  }
  const entry = commands[name];
  if (!entry) {
    console.error(`hearth: unknown command '${name}'.\n\n${usage()}`);
    return 2;
  }
  return runCommand(name, entry.load, rest);
}
