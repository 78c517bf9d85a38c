// Where Hearth keeps its data: HEARTH_HOME, or the OS's app-data folder.
import { homedir, platform } from 'node:os';
import { join } from 'node:path';

export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HEARTH_HOME) return env.HEARTH_HOME;
  const home = homedir();
  switch (platform()) {
    case 'win32':
      return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Hearth');
    case 'darwin':
      return join(home, 'Library', 'Application Support', 'Hearth');
    default:
      return join(env.XDG_DATA_HOME ?? join(home, '.local', 'share'), 'hearth');
  }
}

export function databasePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(dataDir(env), 'hearth.db');
}
