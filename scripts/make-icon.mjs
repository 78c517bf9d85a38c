#!/usr/bin/env node
// Draws Hearth's app icon (a flame on a warm rounded square) straight into PNG bytes with zlib,
// so the icon is reproducible without an image editor: `node scripts/make-icon.mjs`.
// Writes resources/icon.png (1024 px; electron-builder derives the .ico/.icns sizes from it)
// and resources/icons/<size>x<size>.png for Linux desktop entries.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

const root = new URL('..', import.meta.url).pathname;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
function png(size, rgba) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) rgba.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

// Shapes in unit coordinates (0..1, y down).
function insideRoundedSquare(x, y) {
  const r = 0.2;
  const m = 0.04;
  const cx = Math.min(Math.max(x, m + r), 1 - m - r);
  const cy = Math.min(Math.max(y, m + r), 1 - m - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}
/** A flame: a circle at the bottom blended into a point at the top (teardrop). */
function flame(x, y, cx, baseY, radius, height) {
  if (y > baseY + radius) return false;
  if (y >= baseY) return (x - cx) ** 2 + (y - baseY) ** 2 <= radius * radius;
  const t = (baseY - y) / height; // 0 at the circle's centre, 1 at the tip
  if (t > 1) return false;
  const halfWidth = radius * Math.sqrt(1 - t) * (1 - 0.35 * t);
  const lean = 0.06 * Math.sin(t * Math.PI) ; // a slight flicker to the right
  return Math.abs(x - cx - lean) <= halfWidth;
}
function colour(x, y) {
  if (!insideRoundedSquare(x, y)) return null;
  if (flame(x, y, 0.5, 0.66, 0.13, 0.42)) return [255, 244, 214];
  if (flame(x, y, 0.5, 0.62, 0.2, 0.5)) return [255, 196, 77];
  if (y > 0.84 && y < 0.88 && x > 0.24 && x < 0.76) return [120, 45, 20]; // the hearth's log
  const g = y; // warm vertical gradient
  return [Math.round(214 + 20 * (1 - g)), Math.round(78 + 30 * (1 - g)), Math.round(32 + 10 * (1 - g))];
}

function render(size) {
  const samples = 4;
  const rgba = Buffer.alloc(size * size * 4);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < samples; sy++) {
        for (let sx = 0; sx < samples; sx++) {
          const c = colour((px + (sx + 0.5) / samples) / size, (py + (sy + 0.5) / samples) / size);
          if (!c) continue;
          r += c[0]; g += c[1]; b += c[2]; a++;
        }
      }
      const i = (py * size + px) * 4;
      if (a > 0) rgba.set([Math.round(r / a), Math.round(g / a), Math.round(b / a), Math.round((255 * a) / samples ** 2)], i);
    }
  }
  return png(size, rgba);
}

mkdirSync(join(root, 'resources', 'icons'), { recursive: true });
writeFileSync(join(root, 'resources', 'icon.png'), render(1024));
for (const size of [16, 32, 48, 64, 128, 256, 512]) writeFileSync(join(root, 'resources', 'icons', `${size}x${size}.png`), render(size));
console.log('wrote resources/icon.png and resources/icons/*.png');
