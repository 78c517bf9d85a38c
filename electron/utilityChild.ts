// Electron's side of the supervisor's ChildHandle: the engine host runs in a utilityProcess
// (a Node process Chromium manages: no renderer privileges, can load native modules).
import { utilityProcess } from 'electron';
import type { ChildHandle } from './supervisor.js';

export function forkUtilityChild(modulePath: string, env: NodeJS.ProcessEnv): ChildHandle {
  const child = utilityProcess.fork(modulePath, [], { env, serviceName: 'Hearth engine host', stdio: 'inherit' });
  return {
    get pid() {
      return child.pid;
    },
    postMessage: (message) => child.postMessage(message),
    onMessage: (listener) => child.on('message', listener),
    onExit: (listener) => child.once('exit', (code) => listener(code)),
    kill: () => {
      // utilityProcess.kill() is a SIGTERM the host may still be handling; the supervisor only
      // calls kill() once the shutdown deadline has passed, so end it for sure.
      const pid = child.pid;
      if (pid === undefined) return void child.kill();
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        child.kill();
      }
    },
  };
}
