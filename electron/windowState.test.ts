import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_WINDOW_STATE, readWindowState, restoreWindowState, writeWindowState } from './windowState.js';

const screen = [{ x: 0, y: 0, width: 1920, height: 1080 }];

test('a saved size and position come back as saved', () => {
  assert.deepEqual(restoreWindowState({ x: 100, y: 50, width: 1000, height: 700, maximized: true }, screen), { x: 100, y: 50, width: 1000, height: 700, maximized: true });
});

test('a position on an unplugged monitor is dropped, the size kept', () => {
  assert.deepEqual(restoreWindowState({ x: 2500, y: 100, width: 1000, height: 700, maximized: false }, screen), { width: 1000, height: 700, maximized: false });
});

test('garbage and tiny sizes fall back to usable values', () => {
  assert.deepEqual(restoreWindowState('nonsense', screen), DEFAULT_WINDOW_STATE);
  assert.deepEqual(restoreWindowState({ width: 10, height: Number.NaN }, screen), { width: 640, height: DEFAULT_WINDOW_STATE.height, maximized: false });
});

test('the state round-trips through its JSON file; a corrupt file gives the defaults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-window-'));
  try {
    const file = join(dir, 'nested', 'window-state.json');
    writeWindowState(file, { x: 10, y: 20, width: 900, height: 600, maximized: false });
    assert.deepEqual(readWindowState(file, screen), { x: 10, y: 20, width: 900, height: 600, maximized: false });
    writeFileSync(file, '{"width": 9');
    assert.deepEqual(readWindowState(file, screen), DEFAULT_WINDOW_STATE);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
