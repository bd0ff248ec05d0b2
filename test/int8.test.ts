// Int8 kernels (assembly/int8.ts) against a plain-TypeScript reference that does the same
// integer and f32 arithmetic (exact: the int32 sums are exact integers, every f32 step is
// Math.fround of a float64 op, which equals the f32 op for +, −, ×, ÷): weight and activation
// quantization, packing, and the product, fast and naive, in both builds; the two builds give
// the same bits; the product is within the quantization error of the float64 product.
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILDS, expectSame, loadRaw, testValues, type RawKernels } from './helpers/wasm';

const f = Math.fround;
const pad4 = (n: number) => (n + 3) & ~3;
const padK = (n: number) => (n + 7) & ~7;

/** Round half to even (f32.nearest on an f32 value). */
function nearest(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 ? 2 * Math.round(v / 2) : r;
}

function refQuantizeWeights(w: Float32Array, U: number, K: number) {
  const q = new Int8Array(U * K), scale = new Float32Array(U);
  for (let o = 0; o < U; o++) {
    let amax = 0;
    for (let i = 0; i < K; i++) amax = Math.max(amax, Math.abs(w[o * K + i]));
    const s = f(amax / 64);
    scale[o] = s;
    for (let i = 0; i < K; i++) q[o * K + i] = s > 0 ? Math.min(64, Math.max(-64, nearest(f(w[o * K + i] / s)))) : 0;
  }
  return { q, scale };
}

function quantizeOne(x: number, s: number, z: number): number {
  const v = f(nearest(f(x / s)) + z);
  return Math.min(127, Math.max(0, v));
}

function rangeParams(lo: number, hi: number) {
  const s = hi > lo ? f(f(hi - lo) / 127) : 0;
  const z = s > 0 ? Math.min(127, Math.max(0, nearest(f(-lo / s)))) : 0;
  return { s, z };
}

/** Per-row (dynamic) or fixed-range (lo, hi) quantization of x [M, K]. */
function refQuantizeRows(x: Float32Array, M: number, K: number, fixed?: [number, number]) {
  const Kp = padK(K);
  const xq = new Uint8Array(M * Kp), scale = new Float32Array(M), zero = new Int32Array(M);
  for (let n = 0; n < M; n++) {
    let lo = 0, hi = 0;
    if (fixed) { lo = Math.min(fixed[0], 0); hi = Math.max(fixed[1], 0); } else {
      for (let k = 0; k < K; k++) { lo = Math.min(lo, x[n * K + k]); hi = Math.max(hi, x[n * K + k]); }
    }
    const { s, z } = rangeParams(lo, hi);
    scale[n] = s; zero[n] = z;
    for (let k = 0; k < K; k++) xq[n * Kp + k] = s > 0 ? quantizeOne(x[n * K + k], s, z) : 0;
  }
  return { xq, scale, zero };
}

/** y = f32(Σ q·xq − z·Σq) · (sw·sx) + b, exactly as the kernels compute it. */
function refForward(xq: Uint8Array, xs: Float32Array, xz: Int32Array, q: Int8Array, sw: Float32Array,
  b: Float32Array | null, M: number, K: number, U: number): Float32Array {
  const Kp = padK(K);
  const y = new Float32Array(M * U);
  for (let n = 0; n < M; n++) for (let o = 0; o < U; o++) {
    let acc = 0, ws = 0;
    for (let k = 0; k < K; k++) { acc += q[o * K + k] * xq[n * Kp + k]; ws += q[o * K + k]; }
    y[n * U + o] = f(f(f(acc - xz[n] * ws) * f(sw[o] * xs[n])) + (b ? b[o] : 0));
  }
  return y;
}

const SHAPES: [number, number, number][] = [ // [M, K, U]
  [1, 1, 1], [1, 7, 3], [2, 3, 5], [3, 4, 8], [4, 5, 9], [5, 16, 17], [7, 9, 4], [8, 17, 15],
  [9, 31, 33], [15, 33, 16], [16, 8, 31], [17, 2, 127], [31, 127, 7], [1, 127, 33], [130, 33, 12], [6, 300, 10],
];

/** Everything a product needs in one build's memory, from float W, x and b. */
function setup(raw: RawKernels, M: number, K: number, U: number, seed: number, signed: boolean) {
  const e = raw.exports;
  const w = testValues(U * K, seed, -0.5, 0.5);
  const x = testValues(M * K, seed + 1, signed ? -2 : 0, 2);
  const b = testValues(U, seed + 2, -1, 1);
  const wp = raw.putF32(w), xp = raw.putF32(x);
  const q = raw.alloc(U * K), sw = raw.alloc(4 * pad4(U)), wsum = raw.alloc(4 * pad4(U)), bias = raw.alloc(4 * pad4(U));
  const packed = raw.alloc(e.int8_packed_bytes(U, K));
  raw.f32(sw, pad4(U)).fill(0);
  raw.f32(bias, pad4(U)).fill(0);
  raw.f32(bias, U).set(b);
  e.int8_quantize_weights(q, sw, wp, U, K);
  e.int8_pack_weights(packed, wsum, q, U, K);
  const xq = raw.alloc(M * padK(K)), xs = raw.alloc(4 * M), xz = raw.alloc(4 * M);
  e.int8_quantize_rows_f32(xq, xs, xz, xp, M, K);
  const y = raw.alloc(4 * M * U);
  return { w, x, b, wp, xp, q, sw, wsum, bias, packed, xq, xs, xz, y };
}

describe.each(BUILDS)('int8 kernels, %s build', (build) => {
  let raw: RawKernels;
  beforeAll(async () => { raw = await loadRaw(build); });

  it('quantizes weights per unit exactly as the reference (scale = max|w|/64, round half to even)', () => {
    for (const [U, K] of [[1, 1], [3, 5], [17, 33], [8, 127]]) {
      const w = testValues(U * K, U + K, -3, 3);
      w[0] = 0; // a zero, and a row of zeros below
      if (U > 2) w.fill(0, K, 2 * K);
      const wp = raw.putF32(w), q = raw.alloc(U * K), s = raw.alloc(4 * U);
      raw.exports.int8_quantize_weights(q, s, wp, U, K);
      const ref = refQuantizeWeights(w, U, K);
      expectSame(new Int8Array(raw.memory.buffer, q, U * K), ref.q, `q ${U}x${K}`);
      expectSame(raw.f32(s, U), ref.scale, `scale ${U}x${K}`);
      if (U > 2) expect(raw.f32(s, U)[1]).toBe(0);
    }
  });

  it('dequantizes weights to f32(q)·scale', () => {
    const U = 5, K = 9;
    const w = testValues(U * K, 3, -1, 1);
    const wp = raw.putF32(w), q = raw.alloc(U * K), s = raw.alloc(4 * U), d = raw.alloc(4 * U * K);
    raw.exports.int8_quantize_weights(q, s, wp, U, K);
    raw.exports.int8_dequantize_weights(d, q, s, U, K);
    const ref = refQuantizeWeights(w, U, K);
    expectSame(raw.f32(d, U * K), Float32Array.from(ref.q, (v, i) => f(v * ref.scale[Math.floor(i / K)])), 'dequantized');
  });

  it('quantizes rows (dynamic) exactly as the reference, fast and naive, signed and non-negative rows', () => {
    for (const K of [1, 2, 3, 4, 5, 15, 16, 17, 31, 33, 127]) {
      for (const signed of [false, true]) {
        const M = 5;
        const x = testValues(M * K, K, signed ? -3 : 0, 3);
        x.fill(0, 0, K); // an all-zero row: scale 0, everything 0
        if (K > 1) { x[K] = -0.5; x[K + 1] = 0.5; } // exact halves of the step
        const xp = raw.putF32(x);
        const ref = refQuantizeRows(x, M, K);
        for (const kernel of ['int8_quantize_rows_f32', 'int8_quantize_rows_f32_naive']) {
          const xq = raw.alloc(M * padK(K)), xs = raw.alloc(4 * M), xz = raw.alloc(4 * M);
          raw.u8(xq, M * padK(K)).fill(0xff); // padding must be written (0)
          raw.exports[kernel](xq, xs, xz, xp, M, K);
          expectSame(raw.u8(xq, M * padK(K)), ref.xq, `${kernel} xq K=${K} signed=${signed}`);
          expectSame(raw.f32(xs, M), ref.scale, `${kernel} scale K=${K}`);
          expectSame(new Int32Array(raw.memory.buffer, xz, M), ref.zero, `${kernel} zero K=${K}`);
          expect(Math.max(...raw.u8(xq, M * padK(K)))).toBeLessThanOrEqual(127);
        }
      }
    }
  });

  it('quantizes rows with a fixed (calibrated) range, clamping what lies outside', () => {
    const M = 3, K = 37;
    const x = testValues(M * K, 9, -4, 4);
    x[5] = 1e30; x[6] = -1e30; // far outside: clamped, no overflow
    const xp = raw.putF32(x);
    for (const range of [[-1, 2], [0, 3], [0.5, 1], [-2, -1], [0, 0]] as [number, number][]) {
      const xq = raw.alloc(M * padK(K)), xs = raw.alloc(4 * M), xz = raw.alloc(4 * M);
      raw.exports.int8_quantize_rows_fixed_f32(xq, xs, xz, xp, range[0], range[1], M, K);
      const ref = refQuantizeRows(x, M, K, range);
      expectSame(raw.u8(xq, M * padK(K)), ref.xq, `fixed xq ${range}`);
      expectSame(raw.f32(xs, M), ref.scale, `fixed scale ${range}`);
      expectSame(new Int32Array(raw.memory.buffer, xz, M), ref.zero, `fixed zero ${range}`);
    }
  });

  it('measures the range [min(0, min), max(0, max)] for calibration', () => {
    const x = raw.putF32([0.5, 3, -2, 1, 7]);
    const r = raw.alloc(8);
    raw.exports.int8_range_f32(r, x, 5);
    expect([...raw.f32(r, 2)]).toEqual([-2, 7]);
    raw.exports.int8_range_f32(r, x, 2); // all positive: lo = 0
    expect([...raw.f32(r, 2)]).toEqual([0, 3]);
  });

  it('packs the weights in panels of 4 units × quads of 4 inputs, zero-padded, with the unit sums', () => {
    const U = 6, K = 7;
    const q8 = Int8Array.from({ length: U * K }, (_, i) => ((i * 37) % 129) - 64);
    const q = raw.alloc(U * K);
    new Int8Array(raw.memory.buffer, q, U * K).set(q8);
    const bytes = raw.exports.int8_packed_bytes(U, K);
    expect(bytes).toBe(8 * 8);
    const p = raw.alloc(bytes), ws = raw.alloc(4 * 8);
    raw.u8(p, bytes).fill(0x55);
    raw.exports.int8_pack_weights(p, ws, q, U, K);
    const packed = new Int8Array(raw.memory.buffer, p, bytes);
    for (let o = 0; o < 8; o++) for (let k = 0; k < 8; k++) {
      const want = o < U && k < K ? q8[o * K + k] : 0;
      expect(packed[(o >> 2) * 32 + (k >> 2) * 16 + (o & 3) * 4 + (k & 3)]).toBe(want);
    }
    const sums = [...new Int32Array(raw.memory.buffer, ws, 8)];
    expect(sums).toEqual(Array.from({ length: 8 }, (_, o) => o < U ? q8.slice(o * K, o * K + K).reduce((a, b) => a + b, 0) : 0));
  });

  it.each(SHAPES)('the product M=%i K=%i U=%i: fast and naive give the reference bits exactly', (M, K, U) => {
    for (const signed of [false, true]) {
      const s = setup(raw, M, K, U, M * 7 + K + U, signed);
      const e = raw.exports;
      const q8 = new Int8Array(raw.memory.buffer, s.q, U * K).slice();
      const xq = raw.u8(s.xq, M * padK(K)).slice(), xs = raw.f32(s.xs, M).slice();
      const xz = new Int32Array(raw.memory.buffer, s.xz, M).slice();
      const ref = refForward(xq, xs, xz, q8, raw.f32(s.sw, U).slice(), s.b, M, K, U);
      e.int8_dense_forward(s.y, s.xq, s.xs, s.xz, s.packed, s.wsum, s.sw, s.bias, M, K, U, U);
      expectSame(raw.f32(s.y, M * U), ref, `fast ${M}x${K}x${U} signed=${signed}`);
      raw.f32(s.y, M * U).fill(NaN);
      e.int8_dense_forward_naive(s.y, s.xq, s.xs, s.xz, s.q, s.sw, s.bias, M, K, U, U);
      expectSame(raw.f32(s.y, M * U), ref, `naive ${M}x${K}x${U}`);
      // no bias (0): the naive kernel's definition; the fast one takes zero-padded biases
      e.int8_dense_forward_naive(s.y, s.xq, s.xs, s.xz, s.q, s.sw, 0, M, K, U, U);
      expectSame(raw.f32(s.y, M * U), refForward(xq, xs, xz, q8, raw.f32(s.sw, U).slice(), null, M, K, U), 'naive, no bias');
    }
  });

  it('a split of the units (blocks at multiples of 8, row stride ldy) gives the bits of one call', () => {
    const M = 9, K = 45, U = 29;
    const s = setup(raw, M, K, U, 5, true);
    const e = raw.exports;
    e.int8_dense_forward(s.y, s.xq, s.xs, s.xz, s.packed, s.wsum, s.sw, s.bias, M, K, U, U);
    const whole = raw.f32(s.y, M * U).slice();
    raw.f32(s.y, M * U).fill(NaN);
    const panelBytes = 4 * padK(K);
    for (const [u0, n] of [[0, 8], [8, 16], [24, 5]]) {
      e.int8_dense_forward(s.y + 4 * u0, s.xq, s.xs, s.xz, s.packed + (u0 / 4) * panelBytes, s.wsum + 4 * u0, s.sw + 4 * u0, s.bias + 4 * u0, M, K, n, U);
    }
    expectSame(raw.f32(s.y, M * U), whole, 'split');
  });

  it('is within the quantization error of the float64 product', () => {
    const M = 20, K = 200, U = 30;
    for (const signed of [false, true]) {
      const s = setup(raw, M, K, U, 11, signed);
      raw.exports.int8_dense_forward(s.y, s.xq, s.xs, s.xz, s.packed, s.wsum, s.sw, s.bias, M, K, U, U);
      const y = raw.f32(s.y, M * U);
      const sw = raw.f32(s.sw, U), xs = raw.f32(s.xs, M);
      for (let n = 0; n < M; n++) for (let o = 0; o < U; o++) {
        let exact = s.b[o], bound = 0;
        for (let k = 0; k < K; k++) {
          const w = s.w[o * K + k], x = s.x[n * K + k];
          exact += w * x;
          bound += (Math.abs(w) * xs[n] + Math.abs(x) * sw[o]) / 2 + sw[o] * xs[n] / 4; // |Δw| ≤ sw/2, |Δx| ≤ sx/2
        }
        expect(Math.abs(y[n * U + o] - exact)).toBeLessThanOrEqual(bound * 1.001 + 1e-5);
      }
    }
  });
});

describe('int8 kernels across builds', () => {
  it('the simd and relaxed builds give bit-identical quantized rows and products', async () => {
    const [a, b] = await Promise.all(BUILDS.map((n) => loadRaw(n)));
    for (const [M, K, U] of [[1, 784, 1024], [100, 1024, 10], [13, 77, 35]] as [number, number, number][]) {
      for (const signed of [false, true]) {
        const out = [a, b].map((raw) => {
          const s = setup(raw, M, K, U, 3, signed);
          raw.exports.int8_dense_forward(s.y, s.xq, s.xs, s.xz, s.packed, s.wsum, s.sw, s.bias, M, K, U, U);
          return { y: raw.f32(s.y, M * U).slice(), xq: raw.u8(s.xq, M * padK(K)).slice() };
        });
        expectSame(out[1].xq, out[0].xq, `xq ${M}x${K}x${U}`);
        expectSame(out[1].y, out[0].y, `y ${M}x${K}x${U} signed=${signed}`);
      }
    }
  });
});
