import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inverseFrequencies, rotaryTables } from './rope.js';

test('YaRN frequencies for Qwen3\'s long-context setting (head_dim 128, rope_theta 1e6, factor 4 over 32768)', () => {
  const scaling = { type: 'yarn' as const, factor: 4, originalMaxPositions: 32768, betaFast: 32, betaSlow: 1, truncate: true, attentionFactor: 0.1 * Math.log(4) + 1 };
  const inv = inverseFrequencies(128, 1e6, scaling);
  const base = (i: number) => 1e6 ** (-(2 * i) / 128);
  // The correction range: dims rotating ≥ 32 times over 32768 positions are kept (i ≤ 23 after the
  // floor of 23.6), ≤ once interpolated (i ≥ 40 after the ceil of 39.65), linear in between.
  for (const i of [0, 10, 23]) assert.ok(Math.abs(inv[i]! / base(i) - 1) < 1e-12, `dim ${i} kept`);
  for (const i of [40, 50, 63]) assert.ok(Math.abs(inv[i]! / (base(i) / 4) - 1) < 1e-12, `dim ${i} interpolated`);
  const ramp = (30 - 23) / (40 - 23);
  assert.ok(Math.abs(inv[30]! / ((base(30) / 4) * ramp + base(30) * (1 - ramp)) - 1) < 1e-12, 'dim 30 on the ramp');
  // cos and sin carry the attention factor.
  const { cos, sin } = rotaryTables(128, 1e6, scaling, 2);
  assert.ok(Math.abs(cos[0]! - scaling.attentionFactor) < 1e-6);
  assert.ok(Math.abs(Math.hypot(cos[64]!, sin[64]!) - scaling.attentionFactor) < 1e-6);
});
