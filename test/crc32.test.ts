// CRC-32 kernels (assembly/crc32.ts): the sixteen-bytes-a-step kernel and its bytewise sibling
// agree with the JavaScript reference (src/io.ts) and with zlib at every length around the step
// and at every alignment, and continue a running CRC piece by piece. In a threaded runtime the
// tables (a heap block, built on first use) stay intact when the workers instantiate over the
// shared memory.
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';
import { runtime } from '../src/wasm/runtime';
import { crc32, crc32Update } from '../src/io/crc32';
import { BUILDS, loadRaw, type RawKernels } from './helpers/wasm';

/** CRC-32 by the definition, one bit at a time. */
function bitwise(b: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (const x of b) { c ^= x; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; }
  return (c ^ 0xffffffff) >>> 0;
}

/** Arbitrary bytes (xorshift32). */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; out[i] = s >>> 24; }
  return out;
}

const hasZlibCrc = typeof (zlib as { crc32?: unknown }).crc32 === 'function';

describe('crc32 in JavaScript (the reference)', () => {
  test('known answers and the bitwise definition at lengths 0..70, continued piece by piece', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    const data = bytes(70, 3);
    for (let n = 0; n <= 70; n++) {
      const want = bitwise(data.subarray(0, n));
      expect(crc32(data.subarray(0, n))).toBe(want);
      for (const cut of [0, 1, 5, n >> 1, n]) {
        if (cut > n) continue;
        expect(crc32Update(crc32(data.subarray(0, cut)), data.subarray(cut, n))).toBe(want);
      }
    }
  });
});

for (const name of BUILDS) {
  describe(`crc32 kernels (${name} build)`, () => {
    let k: RawKernels;
    beforeAll(async () => { k = await loadRaw(name); });

    /** Runs a kernel over `data` copied to `offset` bytes past a 16-byte-aligned block. */
    function kernel(fn: string, data: Uint8Array, offset = 0, crc = 0): number {
      const p = k.alloc(data.length + offset + 16);
      k.u8(p + offset, data.length).set(data);
      const c = k.exports[fn](crc, p + offset, data.length) >>> 0;
      k.free(p);
      return c;
    }

    test('known answers', () => {
      const enc = (s: string) => new TextEncoder().encode(s);
      for (const fn of ['crc32_update', 'crc32_update_bytewise']) {
        expect(kernel(fn, enc('123456789'))).toBe(0xcbf43926);
        expect(kernel(fn, new Uint8Array(0))).toBe(0);
        expect(kernel(fn, enc('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
      }
    });

    test('every length 0..300 at every alignment 0..15 equals the definition (and the bytewise sibling)', () => {
      const data = bytes(300, 7);
      for (let n = 0; n <= 300; n++) {
        const want = bitwise(data.subarray(0, n));
        for (let off = 0; off < 16; off++) {
          const got = kernel('crc32_update', data.subarray(0, n), off);
          if (got !== want) throw new Error(`crc32_update: length ${n}, offset ${off}: ${got} != ${want}`);
        }
        expect(kernel('crc32_update_bytewise', data.subarray(0, n), n & 15)).toBe(want);
      }
    });

    test('large inputs of every length mod 16 equal the JavaScript reference and zlib', () => {
      for (const n of [1 << 16, (1 << 20) + 1, (1 << 20) + 7, (1 << 20) + 15, 3_000_017]) {
        const data = bytes(n, n);
        const want = crc32(data);
        expect(kernel('crc32_update', data, n & 15)).toBe(want);
        if (hasZlibCrc) expect((zlib as unknown as { crc32(b: Uint8Array): number }).crc32(data)).toBe(want);
      }
    });

    test('continues a running CRC: pieces at any cut give the CRC of the whole', () => {
      const data = bytes(1000, 11);
      const want = crc32(data);
      for (const cuts of [[0], [1], [15], [16], [17], [500], [999], [1000], [3, 40, 41, 700], [16, 32, 48, 64]]) {
        let c = 0, at = 0;
        for (const cut of [...cuts, data.length]) {
          c = kernel('crc32_update', data.subarray(at, cut), at & 15, c);
          at = cut;
        }
        expect(c, `cuts ${cuts}`).toBe(want);
      }
      expect(kernel('crc32_update_bytewise', data.subarray(400), 0, kernel('crc32_update_bytewise', data.subarray(0, 400)))).toBe(want);
    });
  });
}

describe('crc32 in a threaded runtime', () => {
  afterAll(async () => { await tn.close(); });

  test('the tables survive the workers instantiating over the shared memory', async () => {
    await tn.close();
    await tn.ready({ threads: 1 });
    const data = bytes(100_003, 5);
    const want = crc32(data);
    const check = () => {
      const rt = runtime();
      const p = rt.heap.alloc(data.length);
      rt.heap.u8(p, data.length).set(data);
      const got = rt.kernels.crc32_update(0, p, data.length) >>> 0;
      rt.heap.free(p);
      return got;
    };
    expect(check()).toBe(want);
    await tn.close();
    await tn.ready({ threads: 3 });
    expect(check()).toBe(want); // tables built before the pool's workers come up
    // A product big enough to run on the pool: the workers are up and running kernels.
    tn.scope(() => { tn.matMul(tn.zeros([100, 784]), tn.zeros([784, 1024])); });
    expect(check()).toBe(want);
  });
});
