// The real engine host (engine/host/main.ts) in its own process, forked as the desktop supervisor
// forks it: globalSetup starts the suites' shared one; a spec that restarts a host starts its own.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withEngineMalloc } from '../../engine/common/hostProcess.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface EngineHostOptions {
  /** HEARTH_HOME: the database, library and logs. A restart passes the same one. */
  home: string;
  token: string;
  /** 0 picks a free port; a restart passes the port it had, so the page's URL stays valid. */
  port: number;
  rendererDir: string;
  env?: Record<string, string>;
}

export interface EngineHost {
  url: string;
  port: number;
  /** Drains and exits as the app's quit does (shutdown message), killed if it takes over 8 s. */
  stop(): Promise<void>;
}

export async function startEngineHost(options: EngineHostOptions): Promise<EngineHost> {
  const child: ChildProcess = fork(join(root, 'engine/host/main.ts'), [], {
    execArgv: ['--import', 'tsx'],
    cwd: root,
    // As the desktop supervisor forks it (electron/main.ts).
    env: withEngineMalloc({
      ...process.env,
      ...options.env,
      HEARTH_HOME: options.home,
      HEARTH_ADMIN_TOKEN: options.token,
      HEARTH_ADMIN_PORT: String(options.port),
      HEARTH_RENDERER_DIR: options.rendererDir,
    }, process.platform),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (message: { type?: string; adminUrl?: string; error?: { message: string } }) => {
      if (message.type === 'ready') resolve(message.adminUrl!);
      if (message.type === 'fatal') reject(new Error(`engine host failed to start: ${message.error?.message}`));
    });
    child.once('exit', (code) => reject(new Error(`engine host exited with ${code} before it was ready`)));
  });
  return {
    url,
    port: Number(new URL(url).port),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.connected) child.send({ type: 'shutdown', deadlineMs: 2000 });
      else child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(timer);
    },
  };
}
