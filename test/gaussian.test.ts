// Gaussian dropout kernels (assembly/gaussian.ts): exact agreement with a bit-exact TypeScript
// reference, SIMD vs scalar, splitting, backward, p = 1, accuracy of the f32 log/cos, and the
// statistics of the noise (moments, Kolmogorov–Smirnov, independence).
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILDS, EDGE_SIZES, expectClose, loadRaw, testValues, type RawKernels } from './helpers/wasm';
import { moments } from './helpers/stats';

// ---------------------------------------------------------------------------------------------
// Bit-exact reference. Every u32 op is >>> 0 / Math.imul, every f32 op is one Math.fround of the
// float64 result (double rounding is innocuous for + - * / sqrt of f32 operands), in the order
// of the AssemblyScript.
// ---------------------------------------------------------------------------------------------
const fr = Math.fround;
const F = new Float32Array(1);
const U = new Uint32Array(F.buffer);
const f32bits = (x: number): number => { F[0] = x; return U[0]; };
const bitsf32 = (b: number): number => { U[0] = b >>> 0; return F[0]; };

function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x21f0aaad) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x735a2d97) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  return x;
}
function rngKey0(seed: number, stream: number, step: number): number {
  return mix32((mix32((mix32((seed ^ 0x243f6a88) >>> 0) ^ stream ^ 0x85a308d3) >>> 0) ^ step ^ 0x13198a2e) >>> 0);
}
/** The four Gaussian keys g0..g3 of a (seed, stream, step). */
function gaussKeys(seed: number, stream: number, step: number): number[] {
  const k0 = rngKey0(seed, stream, step);
  const g0 = mix32((k0 ^ 0xb7e15162) >>> 0);
  const g1 = mix32((g0 ^ 0x8aed2a6a) >>> 0);
  const g2 = mix32((g1 ^ 0xbf715880) >>> 0);
  const g3 = mix32((g2 ^ 0x9cf4f3c7) >>> 0);
  return [g0, g1, g2, g3];
}
const word = (c: number, a: number, b: number): number => mix32((mix32((c ^ a) >>> 0) + b) >>> 0);

// The kernels' constants, given by their f32 bit patterns (so a mistyped literal in the
// AssemblyScript shows up as a mismatch here).
const LN2 = bitsf32(0x3f317218);
const L3 = bitsf32(0x3f2aaaab), L5 = bitsf32(0x3ecccccd), L7 = bitsf32(0x3e924925), L9 = bitsf32(0x3e638e39);
const C1 = bitsf32(0xbf9de9e6), C2 = bitsf32(0x3e81e0f8), C3 = bitsf32(0xbcaae9e4);
const C4 = bitsf32(0x3a70fa83), C5 = bitsf32(0xb7d368f9), C6 = bitsf32(0x34fce9c5);
const TWO_M24 = 2 ** -24;

function logf32(u: number): number {
  const ix = (f32bits(u) + 0x004afb0d) >>> 0;
  const e = fr((ix >>> 23) - 127);
  const f = bitsf32(((ix & 0x007fffff) + 0x3f3504f3) >>> 0);
  const s = fr(fr(f - 1) / fr(f + 1));
  const s2 = fr(s * s);
  let q = L9;
  q = fr(fr(q * s2) + L7);
  q = fr(fr(q * s2) + L5);
  q = fr(fr(q * s2) + L3);
  q = fr(fr(q * s2) + 2);
  return fr(fr(e * LN2) + fr(s * q));
}
function cosHalfPi(t: number): number {
  const t2 = fr(t * t);
  let c = C6;
  c = fr(fr(c * t2) + C5);
  c = fr(fr(c * t2) + C4);
  c = fr(fr(c * t2) + C3);
  c = fr(fr(c * t2) + C2);
  c = fr(fr(c * t2) + C1);
  return fr(fr(c * t2) + 1);
}
/** The inputs of element counter c: the two 24-bit integers and the sign bit. */
function draws(c: number, g: number[]): { m1: number; m2: number; sign: number } {
  const w1 = word(c, g[0], g[1]);
  const w2 = word(c, g[2], g[3]);
  return { m1: w1 >>> 8, m2: w2 >>> 8, sign: w2 & 1 };
}
/** z of element counter c, bit-exact with the kernels. */
function refZ(c: number, g: number[]): number {
  const { m1, m2, sign } = draws(c, g);
  const u1 = fr((m1 + 1) * TWO_M24);
  const t = fr(m2 * TWO_M24);
  const R = fr(Math.sqrt(fr(logf32(u1) * -2)));
  const z = fr(R * cosHalfPi(t));
  return sign ? -z : z;
}
/** z of element counter c in float64 from the same random bits (the ideal the kernel rounds). */
function exactZ(c: number, g: number[]): number {
  const { m1, m2, sign } = draws(c, g);
  const z = Math.sqrt(-2 * Math.log((m1 + 1) * TWO_M24)) * Math.cos((Math.PI / 2) * m2 * TWO_M24);
  return sign ? -z : z;
}
/** The float64 reference: out_i = in_i * (1 + sigma * z_i) with z_i = exactZ (no f32 rounding). */
function refApply64(inp: Float32Array, sigma: number, seed: number, stream: number, step: number, first: number): Float64Array {
  const g = gaussKeys(seed, stream, step);
  return Float64Array.from(inp, (x, i) => x * (1 + sigma * exactZ((first + i) >>> 0, g)));
}
/** Reference forward (and backward: same formula on dy): out_i = in_i * (1 + sigma * z_i). */
function refApply(inp: Float32Array, sigma: number, seed: number, stream: number, step: number, first: number): Float32Array {
  const out = new Float32Array(inp.length);
  if (fr(sigma) === 0) { out.set(inp); return out; }
  const g = gaussKeys(seed, stream, step);
  for (let i = 0; i < inp.length; i++) {
    const r = fr(1 + fr(fr(sigma) * refZ((first + i) >>> 0, g)));
    out[i] = fr(inp[i] * r);
  }
  return out;
}

const sigmaOf = (p: number): number => fr(Math.sqrt((1 - p) / p));

/** First index where two f32 arrays differ bitwise (NaN payloads and -0 included), or -1. */
function firstBitDiff(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  if (ua.length !== ub.length) return 0;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}
function expectBitEqual(got: Float32Array, ref: Float32Array, what: string): void {
  const i = firstBitDiff(got, ref);
  if (i >= 0) throw new Error(`${what}: differs at ${i}: reference ${ref[i]}, got ${got[i]}`);
}

// ---------------------------------------------------------------------------------------------
// Statistics helpers (float64).
// ---------------------------------------------------------------------------------------------
/** erf by its Maclaurin series for |x| < 2.5, by the erfc continued fraction beyond. */
function erf(x: number): number {
  const a = Math.abs(x);
  let v: number;
  if (a < 2.5) {
    let term = a, sum = a;
    for (let n = 1; n < 200; n++) {
      term *= -a * a / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    v = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc(a) = exp(-a^2)/sqrt(pi) / (a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + ...))))).
    let frac = a;
    for (let k = 120; k >= 1; k--) frac = a + (k / 2) / frac;
    v = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / frac;
  }
  return x < 0 ? -v : v;
}
const normalCdf = (x: number): number => 0.5 * (1 + erf(x / Math.SQRT2));

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  let sa = 0, sb = 0;
  for (let i = 0; i < n; i++) { sa += a[i]; sb += b[i]; }
  const ma = sa / n, mb = sb / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma, db = b[i] - mb;
    sab += da * db; saa += da * da; sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}
/** Kolmogorov–Smirnov statistic of a sample against N(0, 1). */
function ksNormal(sample: ArrayLike<number>): number {
  const s = Float64Array.from(sample).sort();
  const n = s.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const cdf = normalCdf(s[i]);
    d = Math.max(d, cdf - i / n, (i + 1) / n - cdf);
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
const KERNELS = {
  forward: 'gaussian_dropout_forward_f32',
  forward_scalar: 'gaussian_dropout_forward_f32_scalar',
  backward: 'gaussian_dropout_backward_f32',
  backward_scalar: 'gaussian_dropout_backward_f32_scalar',
} as const;
type KernelName = keyof typeof KERNELS;

/** Runs a kernel on a copy of `inp` in wasm memory; in place when inPlace. */
function run(k: RawKernels, name: KernelName, inp: Float32Array, sigma: number,
             seed: number, stream: number, step: number, first: number, inPlace = false): Float32Array {
  const n = inp.length;
  const pin = k.putF32(inp);
  const pout = inPlace ? pin : k.alloc(n * 4);
  k.exports[KERNELS[name]](pout, pin, sigma, seed, stream, step, first, n);
  const out = k.f32(pout, n).slice();
  if (!inPlace) k.free(pout);
  k.free(pin);
  return out;
}

const PARAMS = [
  { seed: 42, stream: 3, step: 7, first: 0, p: 0.5 },
  { seed: 0xdeadbeef, stream: 0xffffffff, step: 123456, first: 0x7fffffe0, p: 0.1 },
  { seed: 0, stream: 0, step: 0, first: 0xffffff00, p: 0.8 }, // counters wrap past 2^32
];

describe('reference sanity', () => {
  it('erf / normalCdf match known values', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 15);
    expect(Math.abs(normalCdf(1) - 0.8413447460685429)).toBeLessThan(1e-13);
    expect(Math.abs(normalCdf(-2) - 0.022750131948179195)).toBeLessThan(1e-13);
    expect(Math.abs(normalCdf(-3.6) - 1.591085901575e-4)).toBeLessThan(1e-13);
    expect(Math.abs(normalCdf(5) - (1 - 2.866515718791939e-7))).toBeLessThan(1e-13);
  });
});

for (const build of BUILDS) {
  describe(`gaussian dropout (${build} build)`, () => {
    let k: RawKernels;
    beforeAll(async () => { k = await loadRaw(build); });

    it.each(EDGE_SIZES)('all four kernels equal the bit-exact reference (and the float64 one within its bound), n = %i', (n) => {
      for (const [j, prm] of PARAMS.entries()) {
        const sigma = sigmaOf(prm.p);
        const x = testValues(n, 11 + j, -3, 3);
        const ref = refApply(x, sigma, prm.seed, prm.stream, prm.step, prm.first);
        for (const name of Object.keys(KERNELS) as KernelName[]) {
          const got = run(k, name, x, sigma, prm.seed, prm.stream, prm.step, prm.first);
          expectBitEqual(got, ref, `${name} n=${n} params#${j}`);
          const gotInPlace = run(k, name, x, sigma, prm.seed, prm.stream, prm.step, prm.first, true);
          expectBitEqual(gotInPlace, ref, `${name} in place n=${n} params#${j}`);
        }
        // And within the documented error of the float64 definition: |dz| <= 1.6e-6, so
        // |dy| <= |x| (sigma 1.6e-6 + a few ulps of r); |x| <= 3 here.
        const atol = 3 * (sigma * 1.6e-6 + 4 * 2 ** -23 * (1 + 6 * sigma));
        expectClose(ref, refApply64(x, sigma, prm.seed, prm.stream, prm.step, prm.first), atol, 0, `float64 n=${n} params#${j}`);
      }
    });

    it('splitting a tensor (at multiples of 32, or anywhere) gives the noise of one call', () => {
      const n = 4099, sigma = sigmaOf(0.3), seed = 9, stream = 2, step = 5, first = 320;
      const x = testValues(n, 5);
      for (const name of Object.keys(KERNELS) as KernelName[]) {
        const whole = run(k, name, x, sigma, seed, stream, step, first);
        // Multiples of 32 (the family convention), and arbitrary offsets, which this kernel also
        // supports because each element's noise depends only on its own counter.
        for (const cuts of [[32], [64, 96, 1024], [992, 2016, 4096], [32, 64, 96, 128, 160, 3200], [1, 6, 37, 1001, 4098]]) {
          const parts = new Float32Array(n);
          let lo = 0;
          for (const hi of [...cuts, n]) {
            parts.set(run(k, name, x.subarray(lo, hi), sigma, seed, stream, step, first + lo), lo);
            lo = hi;
          }
          expectBitEqual(parts, whole, `${name} split at ${cuts}`);
        }
      }
    });

    it('backward is dy * r with r = forward(ones), exactly', () => {
      for (const n of [1, 7, 33, 1021]) {
        const sigma = sigmaOf(0.5), seed = 77, stream = 1, step = 2, first = 64;
        const r = run(k, 'forward', new Float32Array(n).fill(1), sigma, seed, stream, step, first);
        const dy = testValues(n, 3, -2, 2);
        const expected = dy.map((v, i) => fr(v * r[i]));
        expectBitEqual(run(k, 'backward', dy, sigma, seed, stream, step, first), expected, `backward n=${n}`);
        expectBitEqual(run(k, 'backward_scalar', dy, sigma, seed, stream, step, first), expected, `backward_scalar n=${n}`);
      }
    });

    it('p = 1 (sigma = 0) is the identity, bit for bit', () => {
      const x = testValues(1021, 8, -5, 5);
      x[0] = -0; x[1] = Infinity; x[2] = -Infinity; x[3] = NaN; x[4] = 1e-40; x[5] = -3.4e38;
      for (const name of Object.keys(KERNELS) as KernelName[]) {
        expectBitEqual(run(k, name, x, sigmaOf(1), 1, 2, 3, 0), x, name);
        expectBitEqual(run(k, name, x, 0, 1, 2, 3, 0, true), x, `${name} in place`);
      }
    });

    it('n = 0 writes nothing', () => {
      const p = k.putF32([1, 2, 3, 4]);
      for (const name of Object.keys(KERNELS) as KernelName[]) k.exports[KERNELS[name]](p, p, 1, 1, 1, 1, 0, 0);
      expect(Array.from(k.f32(p, 4))).toEqual([1, 2, 3, 4]);
      k.free(p);
    });
  });
}

describe('f32 log and cos accuracy (over every 24-bit input)', () => {
  it('logf32 and R on all 2^24 values of u1, cosHalfPi on all 2^24 values of t', () => {
    // ln u1: error relative to |ln u1| (u1 = 1 gives exactly 0).
    let logRel = 0, logAbs = 0;
    for (let m = 0; m < 1 << 24; m++) {
      const u = (m + 1) * TWO_M24;
      const got = logf32(u), want = Math.log(u);
      if (want === 0) { expect(got).toBe(0); continue; }
      logAbs = Math.max(logAbs, Math.abs(got - want));
      logRel = Math.max(logRel, Math.abs(got - want) / Math.abs(want));
    }
    // R = sqrt(-2 ln u1) as the kernel rounds it, against float64.
    let rAbs = 0;
    for (let m = 0; m < 1 << 24; m++) {
      const u = (m + 1) * TWO_M24;
      rAbs = Math.max(rAbs, Math.abs(fr(Math.sqrt(fr(logf32(fr(u)) * -2))) - Math.sqrt(-2 * Math.log(u))));
    }
    let cosAbs = 0;
    for (let m = 0; m < 1 << 24; m++) {
      const t = m * TWO_M24;
      cosAbs = Math.max(cosAbs, Math.abs(cosHalfPi(t) - Math.cos((Math.PI / 2) * t)));
    }
    // z = R * c rounded: |z - z_exact| <= rAbs * 1 + R_max * cosAbs + half an ulp of R_max.
    const zBound = rAbs + Math.sqrt(48 * Math.LN2) * cosAbs + 2 ** -22;
    console.log(`logf32: max rel err ${logRel.toExponential(3)} (${(logRel / 2 ** -24).toFixed(2)} x 2^-24), max abs ${logAbs.toExponential(3)}; ` +
      `R: max abs err ${rAbs.toExponential(3)}; cosHalfPi: max abs err ${cosAbs.toExponential(3)} (${(cosAbs / 2 ** -24).toFixed(2)} x 2^-24); ` +
      `so |z - z_exact| <= ${zBound.toExponential(3)} for every draw`);
    expect(logRel).toBeLessThan(4 * 2 ** -24);
    expect(cosAbs).toBeLessThan(4 * 2 ** -24);
    expect(zBound).toBeLessThan(2e-6);
  }, 120_000);

  it('z agrees with its float64 value from the same bits', () => {
    const g = gaussKeys(1, 2, 3);
    let maxAbs = 0, maxRel = 0;
    for (let c = 0; c < 1_000_000; c++) {
      const got = refZ(c, g), want = exactZ(c, g);
      const err = Math.abs(got - want);
      maxAbs = Math.max(maxAbs, err);
      if (Math.abs(want) > 1e-3) maxRel = Math.max(maxRel, err / Math.abs(want));
    }
    console.log(`z: max abs err ${maxAbs.toExponential(3)}, max rel err (|z| > 1e-3) ${maxRel.toExponential(3)} (${(maxRel / 2 ** -24).toFixed(2)} x 2^-24)`);
    expect(maxAbs).toBeLessThan(1e-6);
  });
});

describe('statistics of the noise (n = 1e6, simd build)', () => {
  const N = 1_000_000;
  let k: RawKernels;
  const ones = new Float32Array(N).fill(1);
  /** z recovered from r = forward(ones) at sigma = 1 (p = 1/2): z = r - 1, to within an ulp of r. */
  const zOf = (seed: number, stream: number, step: number, first = 0): Float64Array => {
    const r = run(k, 'forward', ones, 1, seed, stream, step, first);
    return Float64Array.from(r, (v) => v - 1);
  };
  beforeAll(async () => { k = await loadRaw('simd'); });

  it.each([0.1, 0.5, 0.8])('r has mean 1, variance (1-p)/p, no skew or excess kurtosis; z passes KS (p = %f)', (p) => {
    const sigma = sigmaOf(p);
    const seed = Math.round(p * 1000);
    const r = run(k, 'forward', ones, sigma, seed, 4, 9, 0);
    const m = moments(r);
    const v = sigma * sigma; // the variance of the f32 sigma actually used
    expect(Math.abs(v - (1 - p) / p)).toBeLessThan(1e-6 * (1 - p) / p);
    const seMean = Math.sqrt(v / N);
    const seVar = v * Math.sqrt(2 / N);
    console.log(`p=${p}: mean ${m.mean.toFixed(5)} (${((m.mean - 1) / seMean).toFixed(2)} se), var ${m.variance.toFixed(5)} vs ${((1 - p) / p).toFixed(5)} ` +
      `(${((m.variance - v) / seVar).toFixed(2)} se), skew ${m.skew.toFixed(4)}, exkurt ${m.exkurt.toFixed(4)}`);
    expect(Math.abs(m.mean - 1)).toBeLessThan(5 * seMean);
    expect(Math.abs(m.variance - v)).toBeLessThan(5 * seVar); // 0.71% of the variance
    expect(Math.abs(m.skew)).toBeLessThan(5 * Math.sqrt(6 / N));
    expect(Math.abs(m.exkurt)).toBeLessThan(5 * Math.sqrt(24 / N));
    // KS of z = (r - 1) / sigma against N(0, 1). Critical value at alpha = 0.001 for large n is
    // 1.949 / sqrt(n) (asymptotic Kolmogorov distribution).
    const z = Float64Array.from(r, (x) => (x - 1) / sigma);
    const d = ksNormal(z);
    console.log(`p=${p}: KS D = ${d.toExponential(3)}, critical (alpha 0.001) ${(1.949 / Math.sqrt(N)).toExponential(3)}`);
    expect(d).toBeLessThan(1.949 / Math.sqrt(N));
  });

  it('tails: P(|z| > 2), P(|z| > 3), P(|z| > 4) within binomial bounds; |z| <= sqrt(48 ln 2)', () => {
    const z = zOf(2024, 0, 0);
    let maxAbs = 0;
    for (const v of z) maxAbs = Math.max(maxAbs, Math.abs(v));
    expect(maxAbs).toBeLessThanOrEqual(Math.sqrt(48 * Math.LN2) + 1e-5);
    for (const a of [2, 3, 4]) {
      const q = 2 * (1 - normalCdf(a));
      let count = 0;
      for (const v of z) if (Math.abs(v) > a) count++;
      const se = Math.sqrt(N * q * (1 - q));
      expect(Math.abs(count - N * q)).toBeLessThan(5 * se + 1);
    }
  });

  it('no correlation between neighbours, SIMD lanes, blocks, steps, streams, seeds', () => {
    const bound = 5 / Math.sqrt(N);
    const z = zOf(5, 6, 7);
    const z2 = z.map((v) => v * v);
    const corr: Record<string, number> = {};
    for (const lag of [1, 2, 3, 4, 8, 32]) {
      corr[`z_i, z_i+${lag}`] = correlation(z.subarray(0, N - lag), z.subarray(lag));
      corr[`z_i^2, z_i+${lag}^2`] = correlation(z2.subarray(0, N - lag), z2.subarray(lag));
    }
    const others: Record<string, Float64Array> = {
      'next step': zOf(5, 6, 8), 'previous step': zOf(5, 6, 6), 'next stream': zOf(5, 7, 7),
      'next seed': zOf(6, 6, 7), 'stream <-> step swapped': zOf(5, 7, 6),
    };
    for (const [what, o] of Object.entries(others)) {
      corr[`z, ${what}`] = correlation(z, o);
      corr[`z^2, ${what}`] = correlation(z2, o.map((v) => v * v));
    }
    for (const [what, c] of Object.entries(corr)) {
      if (!(Math.abs(c) < bound)) throw new Error(`correlation ${what} = ${c} (bound ${bound})`);
    }
  });

  it('independent of the Bernoulli mask stream of the same (seed, stream, step)', () => {
    const seed = 5, stream = 6, step = 7;
    const z = zOf(seed, stream, step);
    const words = k.alloc(N / 2 * 4);
    k.exports.rng_words_u32(words, seed, stream, step, 0, N / 2);
    const w = k.u32(words, N / 2).slice();
    k.free(words);
    const u16 = new Float64Array(N);
    for (let i = 0; i < N; i++) u16[i] = (i & 1) ? w[i >> 1] >>> 16 : w[i >> 1] & 0xffff;
    const bound = 5 / Math.sqrt(N);
    expect(Math.abs(correlation(z, u16))).toBeLessThan(bound);
    expect(Math.abs(correlation(z.map(Math.abs), u16))).toBeLessThan(bound);
    expect(Math.abs(correlation(z.map((v) => v * v), u16))).toBeLessThan(bound);
  });
});
