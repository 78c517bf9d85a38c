// Hub search, fit check and pulls for the Models view. Wired to engine/hub once it lands in
// this build; until then the Models view says Hub access is unavailable.
import type { Db } from '../store/db.js';
import type { ModelRegistry } from '../store/modelRegistry.js';
import type { HubService } from './services.js';

export async function hubService(_db: Db, _registry: ModelRegistry, _env: NodeJS.ProcessEnv, _log: (line: string) => void): Promise<HubService | undefined> {
  return undefined;
}
