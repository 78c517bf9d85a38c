// Disk space check before a download: refuses with the numbers when the files (and the package
// converted from them) will not fit.
import { existsSync, statSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { formatBytes } from '../common/memoryEstimate.js';
import { HubError } from './hubSettings.js';

/** Free bytes for an unprivileged user on the filesystem holding `path`. */
export async function freeBytesAt(path: string): Promise<number> {
  const stats = await statfs(existingAncestor(path));
  return Number(stats.bavail) * Number(stats.bsize);
}

function existingAncestor(path: string): string {
  let current = path;
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current);
  return current;
}

function deviceOf(path: string): number {
  return statSync(existingAncestor(path)).dev;
}

export interface SpaceNeed {
  /** Folder the bytes go to. */
  dir: string;
  bytes: number;
  what: string;
}

/** Safety margin: filesystems misbehave when completely full. */
export const DISK_HEADROOM_BYTES = 64 * 1024 * 1024;

/**
 * Throws a HubError('disk-space') when the needs, grouped by filesystem, exceed its free bytes.
 * `freeBytes` overrides the measurement (tests inject a tiny number).
 */
export async function assertDiskSpace(needs: SpaceNeed[], freeBytes?: (dir: string) => number | Promise<number>): Promise<void> {
  const groups = new Map<number | string, SpaceNeed[]>();
  for (const need of needs.filter((n) => n.bytes > 0)) {
    const key = deviceOf(need.dir);
    groups.set(key, [...(groups.get(key) ?? []), need]);
  }
  for (const group of groups.values()) {
    const free = await (freeBytes ?? freeBytesAt)(group[0]!.dir);
    const needed = group.reduce((sum, need) => sum + need.bytes, 0);
    if (needed + DISK_HEADROOM_BYTES > free) {
      const parts = group.map((need) => `${need.what} ${formatBytes(need.bytes)} in ${need.dir}`).join(' + ');
      throw new HubError(
        `Not enough disk space: needs ${formatBytes(needed)} (${parts}) plus ${formatBytes(DISK_HEADROOM_BYTES)} headroom, ` +
          `but only ${formatBytes(free)} is free there. Free some space, or point HF_HUB_CACHE (downloads) / HEARTH_HOME (converted models) at a bigger disk.`,
        'disk-space',
      );
    }
  }
}
