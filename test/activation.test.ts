// Activation kernels (assembly/activation.ts, vmath.ts) against float64 references, in both
// builds: SIMD kernel vs scalar sibling bit for bit; forward vs the reference; backward checked
// first against centered finite differences of the reference, then wasm vs reference.
import { describe, it, expect, beforeAll } from 'vitest';
import { BUILDS, EDGE_SIZES, expectClose, loadRaw, testValues, type RawKernels } from './helpers/wasm';

// ---- float64 references ------------------------------------------------------------------
const refSigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const refTanh = (x: number) => Math.tanh(x);
const refRelu = (x: number) => Math.max(x, 0);
const refSigmoidBackward = (dy: number, y: number) => dy * y * (1 - y);
const refTanhBackward = (dy: number, y: number) => dy * (1 - y * y);
const refReluBackward = (dy: number, y: number) => (y > 0 ? dy : 0);

/** Maxout over G groups of k: y[g] = max_j x[g*k+j] (first maximum), argmax[g] = j. */
function refMaxout(x: ArrayLike<number>, G: number, k: number) {
  const y = new Float64Array(G), arg = new Uint8Array(G);
  for (let g = 0; g < G; g++) {
    let best = x[g * k], a = 0;
    for (let j = 1; j < k; j++) if (x[g * k + j] > best) { best = x[g * k + j]; a = j; }
    y[g] = best; arg[g] = a;
  }
  return { y, arg };
}
function refMaxoutBackward(dy: ArrayLike<number>, arg: ArrayLike<number>, G: number, k: number) {
  const dx = new Float64Array(G * k);
  for (let g = 0; g < G; g++) dx[g * k + arg[g]] = dy[g];
  return dx;
}

/** Centered finite difference of scalar f at x. */
const fd = (f: (x: number) => number, x: number, h = 1e-5) => (f(x + h) - f(x - h)) / (2 * h);

// ---- helpers -----------------------------------------------------------------------------
/** Bitwise equality of two f32 arrays; names the first differing index. */
function expectSameBits(got: Float32Array, ref: Float32Array, what: string) {
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(ref.buffer, ref.byteOffset, ref.length);
  expect(got.length, `${what} length`).toBe(ref.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) throw new Error(`${what}: bits differ at index ${i}: reference ${ref[i]}, got ${got[i]}`);
  }
}

/** Runs kernel(out, in, n); in-place when asked. */
function unary(K: RawKernels, name: string, x: Float32Array, inPlace = false): Float32Array {
  const n = x.length;
  const px = K.putF32(x);
  const py = inPlace ? px : K.alloc(n * 4);
  K.exports[name](py, px, n);
  const out = K.f32(py, n).slice();
  K.free(px);
  if (!inPlace) K.free(py);
  return out;
}

/** Runs kernel(dx, dy, y, n); dx may alias dy ('dy') or y ('y'). */
function backward(K: RawKernels, name: string, dy: Float32Array, y: Float32Array, alias: '' | 'dy' | 'y' = ''): Float32Array {
  const n = dy.length;
  const pdy = K.putF32(dy), py = K.putF32(y);
  const pdx = alias === 'dy' ? pdy : alias === 'y' ? py : K.alloc(n * 4);
  K.exports[name](pdx, pdy, py, n);
  const out = K.f32(pdx, n).slice();
  K.free(pdy); K.free(py);
  if (!alias) K.free(pdx);
  return out;
}

/** Inputs for size n: mostly moderate values plus some large ones. */
function inputs(n: number, seed: number, lo = -6, hi = 6): Float32Array {
  const x = testValues(n, seed, lo, hi);
  for (let i = 5; i < n; i += 7) x[i] *= 12;
  return x;
}

const ulp32 = (v: number) => {
  const a = Math.abs(v);
  return a < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(a)) - 23);
};

// ---- finite-difference checks of the references (build independent) ---------------------
describe('float64 references: backward = centered finite differences', () => {
  const xs = Array.from(testValues(64, 99, -5, 5));
  it('sigmoid: dy·y(1−y) from y', () => {
    for (const x of xs) {
      const g = refSigmoidBackward(1, refSigmoid(x));
      expect(Math.abs(g - fd(refSigmoid, x))).toBeLessThan(1e-8);
    }
  });
  it('tanh: dy·(1−y²) from y', () => {
    for (const x of xs) {
      const g = refTanhBackward(1, refTanh(x));
      expect(Math.abs(g - fd(refTanh, x))).toBeLessThan(1e-8);
    }
  });
  it('relu: dy where y > 0 (away from the kink)', () => {
    for (const x of xs) {
      if (Math.abs(x) < 1e-3) continue;
      expect(Math.abs(refReluBackward(1, refRelu(x)) - fd(refRelu, x))).toBeLessThan(1e-8);
    }
  });
  it('maxout: dx = dy at the argmax piece, 0 elsewhere', () => {
    for (const k of [1, 2, 3, 5]) {
      const G = 7;
      const x = Array.from(testValues(G * k, 5 + k, -1, 1), Number);
      const dy = Array.from(testValues(G, 7 + k, -1, 1), Number);
      const loss = (xx: number[]) => { const { y } = refMaxout(xx, G, k); return y.reduce((s, v, g) => s + v * dy[g], 0); };
      const { arg } = refMaxout(x, G, k);
      const dx = refMaxoutBackward(dy, arg, G, k);
      for (let i = 0; i < G * k; i++) {
        const h = 1e-6;
        const xp = x.slice(); xp[i] += h;
        const xm = x.slice(); xm[i] -= h;
        const num = (loss(xp) - loss(xm)) / (2 * h);
        if (Math.abs(num - dx[i]) > 1e-7) throw new Error(`maxout k=${k} index ${i}: analytic ${dx[i]}, numeric ${num}`);
      }
    }
  });
});

// ---- the kernels -------------------------------------------------------------------------
describe.each(BUILDS)('%s build', (build) => {
  let K: RawKernels;
  beforeAll(async () => { K = await loadRaw(build); });

  describe('exp_f32 (vmath exp32)', () => {
    it('is within 1.5 ulp of e^x over the whole float range; SIMD == scalar bitwise', () => {
      const n = 200_003;
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = -103.9 + (88.72 + 103.9) * i / (n - 1);
      x.set(testValues(1000, 3, -1, 1), 0); // dense near 0
      const y = unary(K, 'exp_f32', x);
      expectSameBits(y, unary(K, 'exp_f32_scalar', x), 'exp_f32 vs scalar');
      let worst = 0, at = 0;
      for (let i = 0; i < n; i++) {
        const r = Math.exp(x[i]);
        const e = Math.abs(y[i] - r) / ulp32(Math.fround(r));
        if (e > worst) { worst = e; at = i; }
      }
      expect(worst, `worst at x = ${x[at]}: reference ${Math.exp(x[at])}, got ${y[at]}`).toBeLessThanOrEqual(1.5);
    });
    it('saturates: +inf above ln(FLT_MAX), 0 far below, NaN stays NaN', () => {
      const x = new Float32Array([0, 1, -1, 88.72, 88.73, 89, 1000, Infinity, -103, -104, -105, -1e30, -Infinity, NaN]);
      for (const name of ['exp_f32', 'exp_f32_scalar']) {
        const y = unary(K, name, x);
        expect(y[0]).toBe(1);
        expect(y[1]).toBe(Math.fround(Math.E));
        expect(Math.abs(y[2] - Math.exp(-1))).toBeLessThanOrEqual(ulp32(Math.exp(-1)));
        expect(Math.abs(y[3] - Math.exp(x[3]))).toBeLessThanOrEqual(ulp32(Math.exp(x[3])));
        expect(Array.from(y.slice(4, 8))).toEqual([Infinity, Infinity, Infinity, Infinity]);
        expect(Math.abs(y[8] - Math.exp(-103))).toBeLessThanOrEqual(2 ** -149); // subnormal
        expect(Array.from(y.slice(9, 13))).toEqual([0, 0, 0, 0]);
        expect(y[13]).toBeNaN();
      }
    });
  });

  const elementwise = [
    { op: 'relu', f: refRelu, b: refReluBackward, atol: 0, rtol: 0 },
    { op: 'sigmoid', f: refSigmoid, b: refSigmoidBackward, atol: 1e-30, rtol: 1e-6 },
    { op: 'tanh', f: refTanh, b: refTanhBackward, atol: 1e-30, rtol: 1e-6 },
  ];

  describe.each(elementwise)('$op', ({ op, f, b, atol, rtol }) => {
    it('forward: SIMD == scalar bitwise, close to the float64 reference, in-place', () => {
      for (const n of EDGE_SIZES) {
        const x = inputs(n, n);
        const y = unary(K, `${op}_forward_f32`, x);
        expectSameBits(y, unary(K, `${op}_forward_f32_scalar`, x), `${op} n=${n} vs scalar`);
        expectClose(y, Array.from(x, f), atol, rtol, `${op} n=${n}`);
        expectSameBits(unary(K, `${op}_forward_f32`, x, true), y, `${op} n=${n} in-place`);
      }
    });
    it('backward (from y): SIMD == scalar bitwise, close to the reference, in-place', () => {
      for (const n of EDGE_SIZES) {
        const x = inputs(n, n + 1000);
        const y = unary(K, `${op}_forward_f32`, x);
        const dy = testValues(n, n + 2000, -2, 2);
        const dx = backward(K, `${op}_backward_f32`, dy, y);
        expectSameBits(dx, backward(K, `${op}_backward_f32_scalar`, dy, y), `${op}' n=${n} vs scalar`);
        expectClose(dx, Array.from(dy, (d, i) => b(d, y[i])), 1e-30, 1e-6, `${op}' n=${n}`);
        expectSameBits(backward(K, `${op}_backward_f32`, dy, y, 'dy'), dx, `${op}' n=${n} dx == dy`);
        expectSameBits(backward(K, `${op}_backward_f32`, dy, y, 'y'), dx, `${op}' n=${n} dx == y`);
      }
    });
  });

  it('relu: backward from x equals backward from y; NaN and -0 handled like the scalar', () => {
    const x = inputs(33, 4);
    x[3] = 0; x[4] = -0;
    const dy = testValues(33, 5);
    const y = unary(K, 'relu_forward_f32', x);
    expectSameBits(backward(K, 'relu_backward_f32', dy, x), backward(K, 'relu_backward_f32', dy, y), 'relu from x');
    const z = unary(K, 'relu_forward_f32', new Float32Array([NaN, -0, 0, -1, NaN]));
    expect(z[0]).toBeNaN(); expect(z[4]).toBeNaN();
    expect(Object.is(z[1], 0) && Object.is(z[2], 0) && Object.is(z[3], 0)).toBe(true);
  });

  it('sigmoid and tanh stay finite and exact at the extremes', () => {
    const x = new Float32Array([100, -100, 50, -50, 88, -88, 89, -89, 1e30, -1e30, Infinity, -Infinity, 9.1, -9.1]);
    for (const s of ['', '_scalar']) {
      const sg = unary(K, `sigmoid_forward_f32${s}`, x);
      const th = unary(K, `tanh_forward_f32${s}`, x);
      for (let i = 0; i < x.length; i++) {
        expect(Number.isNaN(sg[i]), `sigmoid(${x[i]})`).toBe(false);
        expect(Number.isNaN(th[i]), `tanh(${x[i]})`).toBe(false);
        expect(th[i], `tanh(${x[i]})`).toBe(Math.sign(x[i]));
      }
      // σ(x) to 1e-6 relative, down to the subnormals for very negative x (σ(−100) ≈ 3.7e-44)
      expectClose(sg, Array.from(x, refSigmoid), 2 ** -149, 1e-6, 'sigmoid extremes');
      expect(sg[0]).toBe(1);
      expect(sg[1]).toBeGreaterThan(0);
      // tiny arguments keep full relative precision; tanh keeps the sign of zero
      const tiny = new Float32Array([1e-20, -1e-20, 1e-4, -3e-3, 0, -0, 2 ** -140]);
      const t = unary(K, `tanh_forward_f32${s}`, tiny);
      expectClose(t, Array.from(tiny, Math.tanh), 0, 2e-7, 'tanh tiny');
      expect(Object.is(t[4], 0) && Object.is(t[5], -0)).toBe(true);
      expect(unary(K, `sigmoid_forward_f32${s}`, new Float32Array([NaN]))[0]).toBeNaN();
      expect(unary(K, `tanh_forward_f32${s}`, new Float32Array([NaN]))[0]).toBeNaN();
    }
  });

  describe('maxout', () => {
    function forward(name: string, x: Float32Array, rows: number, units: number, k: number) {
      const G = rows * units;
      const px = K.putF32(x), py = K.alloc(G * 4), pa = K.alloc(G);
      K.exports[name](py, pa, px, rows, units, k);
      const y = K.f32(py, G).slice(), arg = K.u8(pa, G).slice();
      K.free(px); K.free(py); K.free(pa);
      return { y, arg };
    }
    function back(name: string, dy: Float32Array, arg: Uint8Array, rows: number, units: number, k: number) {
      const G = rows * units;
      const pdy = K.putF32(dy), pa = K.alloc(G), pdx = K.alloc(G * k * 4);
      K.u8(pa, G).set(arg);
      K.f32(pdx, G * k).fill(NaN); // must be overwritten everywhere
      K.exports[name](pdx, pdy, pa, rows, units, k);
      const dx = K.f32(pdx, G * k).slice();
      K.free(pdy); K.free(pa); K.free(pdx);
      return dx;
    }
    const shapes: [number, number][] = [...EDGE_SIZES.map((n) => [1, n] as [number, number]), [3, 7], [5, 33], [17, 9]];

    it('forward: y and argmax equal the reference (ties → first piece); SIMD == scalar', () => {
      for (const k of [1, 2, 3, 4, 5, 8]) {
        for (const [rows, units] of shapes) {
          const G = rows * units;
          if (G * k > 400_000) continue;
          // quantized values: ties are frequent
          const x = testValues(G * k, G + k, -4, 4).map((v) => Math.round(v * 2) / 2);
          const { y, arg } = forward('maxout_forward_f32', x, rows, units, k);
          const ref = refMaxout(x, G, k);
          expectClose(y, ref.y, 0, 0, `maxout y k=${k} ${rows}x${units}`);
          expectClose(arg, ref.arg, 0, 0, `maxout argmax k=${k} ${rows}x${units}`);
          const s = forward('maxout_forward_f32_scalar', x, rows, units, k);
          expectSameBits(s.y, y, `maxout scalar y k=${k}`);
          expectClose(s.arg, arg, 0, 0, `maxout scalar argmax k=${k}`);
        }
      }
    });

    it('forward: NaN pieces are skipped unless first, like the scalar', () => {
      const x = new Float32Array([NaN, 1, 2, 3, NaN, 0, 1, 2, NaN, 5, 4, 3, NaN, 0]); // k = 2, 7 groups
      const a = forward('maxout_forward_f32', x, 1, 7, 2);
      const b = forward('maxout_forward_f32_scalar', x, 1, 7, 2);
      expect(Array.from(a.arg)).toEqual(Array.from(b.arg));
      expect(Array.from(a.arg)).toEqual([0, 1, 0, 1, 0, 0, 0]);
      expect(a.y[0]).toBeNaN(); expect(a.y[1]).toBe(3); expect(a.y[2]).toBeNaN(); expect(a.y[3]).toBe(2);
    });

    it('backward: dx equals the reference (overwrites every piece); SIMD == scalar', () => {
      for (const k of [1, 2, 3, 5]) {
        for (const [rows, units] of shapes) {
          const G = rows * units;
          if (G * k > 400_000) continue;
          const x = testValues(G * k, 3 * G + k, -1, 1);
          const { arg } = forward('maxout_forward_f32', x, rows, units, k);
          const dy = testValues(G, G + 17, -1, 1);
          const dx = back('maxout_backward_f32', dy, arg, rows, units, k);
          expectClose(dx, refMaxoutBackward(dy, refMaxout(x, G, k).arg, G, k), 0, 0, `maxout dx k=${k} ${rows}x${units}`);
          expectSameBits(back('maxout_backward_f32_scalar', dy, arg, rows, units, k), dx, `maxout dx scalar k=${k}`);
        }
      }
    });
  });
});

// No kernel here uses a relaxed instruction, so both builds must give the same bits.
describe('simd and relaxed builds agree bit for bit', () => {
  it('exp, sigmoid, tanh, maxout', async () => {
    const [A, B] = await Promise.all(BUILDS.map(loadRaw));
    const x = inputs(1021, 77, -20, 20);
    for (const name of ['exp_f32', 'sigmoid_forward_f32', 'tanh_forward_f32']) {
      expectSameBits(unary(B, name, x), unary(A, name, x), `${name} ${B.name} vs ${A.name}`);
    }
    const run = (K: RawKernels) => {
      const px = K.putF32(x), py = K.alloc(1021 * 4);
      K.exports.maxout_forward_f32(py, py + 340 * 4, px, 1, 340, 3); // argmax bytes after y
      const y = K.f32(py, 340).slice();
      K.free(px); K.free(py);
      return y;
    };
    expectSameBits(run(B), run(A), 'maxout relaxed vs simd');
  });
});
