// Entry of the engine host process. Started by Electron's utilityProcess (process.parentPort),
// by a Node supervisor through child_process.fork (process.send), or by hand. Announces
// readiness per engine/common/hostProcess.ts and stops cleanly on 'shutdown' or SIGTERM.
import { APP_ROOT } from '../appRoot.js';
import { webUiUrl } from '../common/desktopApi.js';
import {
  HOST_SHUTDOWN_DEADLINE_MS,
  isParentToHostMessage,
  serializeError,
  type HostToParentMessage,
} from '../common/hostProcess.js';
import { DEFAULT_UI_ORIGINS } from './adminApi.js';
import { startHost, type RunningHost } from './host.js';
import { HOST_USAGE, HostOptionsError, parseHostOptions } from './hostOptions.js';

/** Electron's utility-process port; absent in plain Node. */
interface ParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
}

const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;

function post(message: HostToParentMessage): void {
  if (parentPort) parentPort.postMessage(message);
  else if (process.send) process.send(message);
}

function onParentMessage(listener: (message: unknown) => void): void {
  if (parentPort) parentPort.on('message', (event) => listener(event.data));
  else if (process.send) process.on('message', listener);
}

async function main(): Promise<void> {
  let options;
  try {
    options = parseHostOptions(process.argv.slice(2), process.env, APP_ROOT);
  } catch (error) {
    if (error instanceof HostOptionsError) {
      console.error(`hearth host: ${error.message}`);
      post({ type: 'fatal', error: serializeError(error) });
      process.exit(2);
    }
    throw error;
  }
  if (options.help) {
    console.log(HOST_USAGE);
    return;
  }

  let host: RunningHost;
  try {
    host = await startHost({
      token: options.token,
      port: options.port,
      rendererDir: options.rendererDir,
      allowedOrigins: [...DEFAULT_UI_ORIGINS, ...options.extraOrigins],
      allowedHosts: options.allowedHosts,
      sqliteBinding: options.sqliteBinding,
      log: (line) => {
        console.error(line);
        post({ type: 'log', level: 'info', message: line });
      },
    });
  } catch (error) {
    console.error(`hearth host: could not start: ${(error as Error).message}`);
    post({ type: 'fatal', error: serializeError(error) });
    process.exit(1);
  }

  let stopping = false;
  const stop = async (deadlineMs: number) => {
    if (stopping) return;
    stopping = true;
    // If draining hangs, the deadline still ends the process (the parent would kill it anyway).
    setTimeout(() => process.exit(0), deadlineMs + 2000).unref();
    try {
      await host.close(deadlineMs);
    } finally {
      process.exit(0);
    }
  };
  onParentMessage((message) => {
    if (isParentToHostMessage(message)) void stop(message.deadlineMs);
  });
  process.on('SIGTERM', () => void stop(HOST_SHUTDOWN_DEADLINE_MS));
  process.on('SIGINT', () => void stop(HOST_SHUTDOWN_DEADLINE_MS));
  if (process.send && !parentPort) process.on('disconnect', () => void stop(HOST_SHUTDOWN_DEADLINE_MS));

  console.log(`hearth host ready: ${host.url}`);
  console.log(`HEARTH_HOST_READY ${host.url}`);
  if (options.rendererDir && (options.tokenGenerated || !parentPort)) console.log(`Open the UI: ${webUiUrl({ url: host.url, token: options.token })}`);
  post({ type: 'ready', adminUrl: host.url, token: options.token, pid: process.pid });
}

void main();
