// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320, as zlib and PNG) in JavaScript, and a
// checksum function for the model file that runs the wasm kernel (assembly/crc32.ts) over bytes
// already in wasm memory — the weights are checksummed where they live, with no copy.
import type { Runtime } from '../wasm/runtime.js';

/** A running CRC-32: the CRC of the bytes behind `crc` (0 for none) followed by `bytes`. */
export type Checksum = (crc: number, bytes: Uint8Array) => number;

/**
 * Bytes per kernel call: each piece is checksummed while it is still in cache, and the kernel,
 * called once per piece, runs optimized code after V8 tiers it up (a single call over megabytes
 * would stay in the baseline tier from start to end).
 */
export const PIECE = 1 << 18;

let tables: Uint32Array[] | undefined;

/** CRC-32 of bytes; four bytes per step (slicing-by-4). */
export function crc32(bytes: Uint8Array): number {
  return crc32Update(0, bytes);
}

/** The CRC-32 of the bytes behind `crc` (0 for none) followed by `bytes`, in JavaScript. */
export function crc32Update(crc: number, bytes: Uint8Array): number {
  if (!tables) {
    const t0 = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t0[n] = c >>> 0;
    }
    tables = [t0];
    for (let k = 1; k < 4; k++) {
      const prev = tables[k - 1], t = new Uint32Array(256);
      for (let n = 0; n < 256; n++) t[n] = (prev[n] >>> 8) ^ t0[prev[n] & 0xff];
      tables.push(t);
    }
  }
  const [t0, t1, t2, t3] = tables;
  let c = ~crc;
  let i = 0;
  for (const end = bytes.length - 3; i < end; i += 4) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c = t3[c & 0xff] ^ t2[(c >>> 8) & 0xff] ^ t1[(c >>> 16) & 0xff] ^ t0[c >>> 24];
  }
  for (; i < bytes.length; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A Checksum on the wasm kernel: bytes that are a view of rt's memory are checksummed in place,
 * piece by piece; large bytes elsewhere go through one scratch block; small ones stay in JS.
 */
export function heapChecksum(rt: Runtime): Checksum {
  return (crc, bytes) => {
    const k = rt.kernels;
    if (bytes.buffer === rt.heap.memory.buffer) {
      const ptr = bytes.byteOffset, n = bytes.length;
      for (let o = 0; o < n; o += PIECE) crc = k.crc32_update(crc, ptr + o, Math.min(PIECE, n - o)) >>> 0;
      return crc;
    }
    if (bytes.length < 4096) return crc32Update(crc, bytes);
    const scratch = rt.heap.alloc(Math.min(PIECE, bytes.length));
    try {
      for (let o = 0; o < bytes.length; o += PIECE) {
        const n = Math.min(PIECE, bytes.length - o);
        rt.heap.u8(scratch, n).set(bytes.subarray(o, o + n));
        crc = k.crc32_update(crc, scratch, n) >>> 0;
      }
    } finally {
      rt.heap.free(scratch);
    }
    return crc;
  };
}
