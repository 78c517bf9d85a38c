// GPU sizing and bundle export for the Export view. Wired to engine/export once it lands in
// this build; until then the Export view says export is unavailable.
import type { ServingConfig } from '../common/servingConfig.js';
import type { Db } from '../store/db.js';
import type { ExportService } from './services.js';

export interface ExportServiceOptions {
  dataDir: string;
  currentConfig: () => ServingConfig | null;
  db: Db;
}

export async function exportService(_options: ExportServiceOptions): Promise<ExportService | undefined> {
  return undefined;
}
