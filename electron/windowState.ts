// Remembers the window's size and position in a small JSON file in userData. Pure parts
// (parse + fit to the screens) are unit-tested; a corrupt or off-screen state falls back to defaults.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface WindowState {
  x?: number;
  y?: number;
  width: number;
  height: number;
  maximized: boolean;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const DEFAULT_WINDOW_STATE: WindowState = { width: 1280, height: 820, maximized: false };
const MIN_WIDTH = 640;
const MIN_HEIGHT = 480;

/** Parses a stored state and fits it to the current displays' work areas. */
export function restoreWindowState(raw: unknown, workAreas: readonly Rect[]): WindowState {
  if (typeof raw !== 'object' || raw === null) return { ...DEFAULT_WINDOW_STATE };
  const value = raw as Record<string, unknown>;
  const num = (key: string): number | undefined => (typeof value[key] === 'number' && Number.isFinite(value[key]) ? (value[key] as number) : undefined);
  const width = Math.max(MIN_WIDTH, Math.round(num('width') ?? DEFAULT_WINDOW_STATE.width));
  const height = Math.max(MIN_HEIGHT, Math.round(num('height') ?? DEFAULT_WINDOW_STATE.height));
  const maximized = value.maximized === true;
  const x = num('x');
  const y = num('y');
  if (x === undefined || y === undefined) return { width, height, maximized };
  // Keep the position only if the title bar would land on a screen (a monitor may be unplugged).
  const titleBar: Rect = { x: Math.round(x), y: Math.round(y), width, height: 32 };
  const visible = workAreas.some((area) => overlaps(titleBar, area));
  return visible ? { x: titleBar.x, y: titleBar.y, width, height, maximized } : { width, height, maximized };
}

function overlaps(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && a.x + a.width > b.x && a.y < b.y + b.height && a.y + a.height > b.y;
}

export function readWindowState(file: string, workAreas: readonly Rect[]): WindowState {
  try {
    return restoreWindowState(JSON.parse(readFileSync(file, 'utf8')), workAreas);
  } catch {
    return { ...DEFAULT_WINDOW_STATE };
  }
}

/** Writes atomically (temp + rename) so a crash mid-write never leaves a half file. */
export function writeWindowState(file: string, state: WindowState): void {
  mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.tmp`;
  writeFileSync(temp, `${JSON.stringify(state)}\n`);
  renameSync(temp, file);
}
