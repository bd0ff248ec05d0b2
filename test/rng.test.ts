// The counter-based mask generator: known answers, exact agreement of every path with the
// TypeScript reference, and statistical checks of the masks it draws.
import { beforeAll, describe, expect, test } from 'vitest';
import { BUILDS, EDGE_SIZES, expectSame, loadRaw, type RawKernels } from './helpers/wasm';
import { refMask, rngKeys, rngWord, unpackBits } from './helpers/rng-ref';

// rngWord(j) for j = 0, 1, 2, 3, 1e6 under (seed, stream, step): pinned so that any change to
// the generator (which would change every user's masks) is caught.
const KNOWN: Array<[[number, number, number], number[]]> = [
  [[0, 0, 0], [0xb0ddb3cc, 0x813f8f68, 0x3bb12d91, 0x9b0e501a, 0xc9fc95d1]],
  [[1, 0, 0], [0x794885e2, 0xe7f6959a, 0x698e8704, 0x85f1e62f, 0xef861236]],
  [[42, 3, 7], [0xdcea4d02, 0x06484918, 0x634f28ac, 0x157284df, 0xcb0ced4a]],
  [[0xffffffff, 0xffffffff, 0xffffffff], [0x9a985827, 0x977c563b, 0xf2b9134d, 0x6c600d94, 0xf0604113]],
];

function words(k: RawKernels, seed: number, stream: number, step: number, first: number, n: number): Uint32Array {
  const out = k.alloc(n * 4);
  k.exports.rng_words_u32(out, seed, stream, step, first, n);
  const w = k.u32(out, n).slice();
  k.free(out);
  return w;
}

/** Draws the mask of n elements with the SIMD forward kernel (the path training uses). */
function drawMask(k: RawKernels, keep16: number, seed: number, stream: number, step: number, n: number, first = 0,
                  kernel = 'dropout_forward_f32'): Uint8Array {
  const x = k.alloc(n * 4), y = k.alloc(n * 4), m = k.alloc(Math.ceil(n / 32) * 4);
  k.f32(x, n).fill(1);
  k.exports[kernel](y, m, x, keep16, 1, seed, stream, step, first, n);
  const bits = unpackBits(k.u32(m, Math.ceil(n / 32)), n);
  const ys = k.f32(y, n);
  for (let i = 0; i < n; i++) if (ys[i] !== bits[i]) throw new Error(`y and mask disagree at ${i}`);
  k.free(x); k.free(y); k.free(m);
  return bits;
}


/** Pearson correlation of a[ai + t] and b[bi + t] for t = 0, stride, 2·stride, … < n. */
function corr(a: Uint8Array, ai: number, b: Uint8Array, bi: number, n: number, stride = 1): { r: number; count: number } {
  let sa = 0, sb = 0, sab = 0, count = 0;
  for (let t = 0; t < n; t += stride) {
    const x = a[ai + t], y = b[bi + t];
    sa += x; sb += y; sab += x * y; count++;
  }
  const ma = sa / count, mb = sb / count; // 0/1 data: E[x^2] = E[x]
  return { r: (sab / count - ma * mb) / Math.sqrt(ma * (1 - ma) * mb * (1 - mb)), count };
}

describe.each(BUILDS)('mask generator, %s build', (build) => {
  let k: RawKernels;
  beforeAll(async () => { k = await loadRaw(build); });

  test('known-answer vectors', () => {
    for (const [[seed, stream, step], expected] of KNOWN) {
      const [k0, k1] = rngKeys(seed, stream, step);
      expect([0, 1, 2, 3, 1e6].map((j) => rngWord(j, k0, k1))).toEqual(expected);
      const w = words(k, seed, stream, step, 0, 4);
      expect(Array.from(w)).toEqual(expected.slice(0, 4));
      expect(words(k, seed, stream, step, 1e6, 1)[0]).toBe(expected[4]);
    }
  });

  test('raw words match the reference at many counters and keys', () => {
    for (const [seed, stream, step, first] of [[5, 0, 0, 0], [9, 2, 11, 123456], [0xdeadbeef, 7, 0xffffffff, 0xfffffff0]]) {
      const n = 4099;
      const w = words(k, seed, stream, step, first, n);
      const [k0, k1] = rngKeys(seed, stream, step);
      for (let j = 0; j < n; j++) if (w[j] !== rngWord((first + j) >>> 0, k0, k1)) throw new Error(`word ${j} differs`);
    }
  });

  test('SIMD and scalar forward draw the reference mask exactly, at every edge size and offset', () => {
    for (const n of EDGE_SIZES) {
      for (const first of [0, 32, 4096 * 32]) {
        for (const keep16 of [1, 6554, 32768, 52429, 65535, 65536]) {
          const ref = refMask(keep16, 3, 1, 17, first, n);
          expectSame(drawMask(k, keep16, 3, 1, 17, n, first), ref, `simd n=${n} first=${first} keep16=${keep16}`);
          expectSame(drawMask(k, keep16, 3, 1, 17, n, first, 'dropout_forward_f32_scalar'), ref, `scalar n=${n} first=${first}`);
        }
      }
    }
  });

  test('a tensor drawn in chunks at multiples of 32 gets the mask of one call', () => {
    const n = 10_000;
    const whole = drawMask(k, 40000, 8, 2, 5, n);
    const parts = new Uint8Array(n);
    for (const [start, count] of [[0, 3200], [3200, 32], [3232, 6768]]) {
      parts.set(drawMask(k, 40000, 8, 2, 5, count, start), start);
    }
    expectSame(parts, whole, 'chunked');
  });
});

describe('mask statistics (simd build)', () => {
  let k: RawKernels;
  const N = 1 << 22;
  beforeAll(async () => { k = await loadRaw('simd'); });

  test.each([0.1, 0.2, 0.5, 0.8, 0.95])('keep rate for p = %s is within 5 sigma of the binomial mean', (p) => {
    const keep16 = Math.round(p * 65536);
    const pq = keep16 / 65536;
    for (const [seed, step] of [[1, 0], [2, 1], [77, 123456]]) {
      const mask = drawMask(k, keep16, seed, 0, step, N);
      let kept = 0;
      for (let i = 0; i < N; i++) kept += mask[i];
      const sigma = Math.sqrt(N * pq * (1 - pq));
      expect(Math.abs(kept - N * pq), `p=${p} seed=${seed}: kept ${kept} of ${N}`).toBeLessThan(5 * sigma);
    }
  });

  test('no correlation between neighbouring elements, SIMD lanes and vectors', () => {
    const mask = drawMask(k, 32768, 11, 0, 0, N);
    const bound = (count: number) => 5 / Math.sqrt(count);
    // (2j, 2j+1) share one 32-bit word; (2j+1, 2j+2) straddle two words.
    for (const [offset, lag, what] of [[0, 1, 'two halves of one word'], [1, 1, 'neighbouring words'],
      [0, 2, 'neighbouring lanes'], [0, 8, 'same lane, next vector'], [0, 32, 'next mask word'], [0, 3, 'lag 3']] as const) {
      const c = corr(mask, offset, mask, offset + lag, N - 64, offset === 1 || lag === 1 ? 2 : 1);
      expect(Math.abs(c.r), `${what}: r = ${c.r}`).toBeLessThan(bound(c.count));
    }
  });

  test('no correlation between consecutive steps, streams or seeds', () => {
    const base = drawMask(k, 32768, 21, 4, 100, N);
    for (const [seed, stream, step, what] of [[21, 4, 101, 'next step'], [21, 5, 100, 'next stream'],
      [22, 4, 100, 'next seed'], [21, 4, 0x80000064, 'step + 2^31']] as const) {
      const other = drawMask(k, 32768, seed, stream, step, N);
      const c = corr(base, 0, other, 0, N);
      expect(Math.abs(c.r), `${what}: r = ${c.r}`).toBeLessThan(5 / Math.sqrt(c.count));
      let same = 0;
      for (let i = 0; i < N; i++) same += base[i] === other[i] ? 1 : 0;
      expect(Math.abs(same - N / 2), `${what}: ${same} equal bits`).toBeLessThan(5 * Math.sqrt(N / 4));
    }
  });

  test('16-bit uniforms are uniform (chi-square over high and low bytes)', () => {
    const n = 1 << 20;
    const out = k.alloc(n * 4);
    k.exports.rng_words_u32(out, 123, 0, 0, 0, n);
    const w = k.u32(out, n);
    const bins = [new Float64Array(256), new Float64Array(256)];
    for (let j = 0; j < n; j++) {
      for (const half of [w[j] & 0xffff, w[j] >>> 16]) { bins[0][half >>> 8]++; bins[1][half & 0xff]++; }
    }
    k.free(out);
    const expected = (2 * n) / 256;
    for (const b of bins) {
      let chi2 = 0;
      for (const c of b) chi2 += (c - expected) ** 2 / expected;
      expect(chi2).toBeLessThan(255 + 5 * Math.sqrt(2 * 255)); // df = 255
      expect(chi2).toBeGreaterThan(255 - 5 * Math.sqrt(2 * 255));
    }
  });

  test('p is quantized at 2^-16: one step of keep16 adds exactly the elements whose uniform equals it', () => {
    const n = 1 << 21;
    const lower = drawMask(k, 30000, 5, 0, 0, n);
    const upper = drawMask(k, 30001, 5, 0, 0, n);
    const [k0, k1] = rngKeys(5, 0, 0);
    let added = 0;
    const wrong: number[] = [];
    for (let i = 0; i < n; i++) {
      if (upper[i] < lower[i]) wrong.push(i);
      if (upper[i] !== lower[i]) {
        added++;
        const u = (i & 1 ? rngWord(i >>> 1, k0, k1) >>> 16 : rngWord(i >>> 1, k0, k1) & 0xffff) ^ 0x8000;
        if (u !== 30000) wrong.push(i);
      }
    }
    expect(wrong).toEqual([]);
    expect(added).toBeGreaterThan(0); // ~ n / 65536 = 32
    expect(Math.abs(added - n / 65536)).toBeLessThan(5 * Math.sqrt(n / 65536));
  });
});
