// A minimal PNG encoder: 8-bit grayscale (color type 0), no interlace, filter 0 on every row,
// deflated with node:zlib. Enough for weight images; any PNG reader opens the result.
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

let table;
/** CRC-32 (IEEE, as PNG and zlib use) of bytes. */
export function crc32(bytes) {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** PNG bytes of a width×height grayscale image (pixels: row-major, one byte each, 0 = black). */
export function encodeGray(pixels, width, height) {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new RangeError(`png: bad size ${width}×${height}`);
  if (pixels.length !== width * height) throw new RangeError(`png: ${pixels.length} pixels for ${width}×${height}`);
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr.set([8, 0, 0, 0, 0], 8); // bit depth 8, grayscale, deflate, filter method 0, no interlace
  const raw = new Uint8Array(height * (width + 1));
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1); // filter byte 0
  const parts = [SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/**
 * Tiles images (each tileW×tileH floats, e.g. one unit's incoming weights) into a grid with a
 * 1-pixel gray border. Each tile is scaled on its own: 0 → mid gray, ±max|w| → white / black.
 * Returns { pixels, width, height }.
 */
export function tileGrid(tiles, tileW, tileH, columns) {
  const rows = Math.ceil(tiles.length / columns);
  const width = columns * (tileW + 1) + 1, height = rows * (tileH + 1) + 1;
  const pixels = new Uint8Array(width * height).fill(64);
  tiles.forEach((t, k) => {
    let m = 0;
    for (let i = 0; i < t.length; i++) m = Math.max(m, Math.abs(t[i]));
    const s = m > 0 ? 127.5 / m : 0;
    const x0 = 1 + (k % columns) * (tileW + 1), y0 = 1 + Math.floor(k / columns) * (tileH + 1);
    for (let y = 0; y < tileH; y++) {
      for (let x = 0; x < tileW; x++) pixels[(y0 + y) * width + x0 + x] = Math.max(0, Math.min(255, Math.round(127.5 + s * t[y * tileW + x])));
    }
  });
  return { pixels, width, height };
}

export function writeGrayPng(path, pixels, width, height) {
  writeFileSync(path, encodeGray(pixels, width, height));
}

/** Writes tiles (e.g. units' weights) as one grid PNG of ⌈√n⌉ columns (tileGrid's scaling). */
export function writeTilesPng(path, tiles, tileW, tileH) {
  const g = tileGrid(tiles, tileW, tileH, Math.ceil(Math.sqrt(tiles.length)));
  writeGrayPng(path, g.pixels, g.width, g.height);
}
