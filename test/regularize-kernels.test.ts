// Penalty kernels (assembly/regularize.ts) against float64 references, in both builds: the L1/L2
// penalty and its gradient, column means, the KL-sparsity penalty and its per-column gradient,
// and the row broadcast add. The references' gradients are first checked against centered
// finite differences of the references' values; SIMD kernels vs their scalar siblings bit for
// bit where the file says so.
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILDS, EDGE_SIZES, expectClose, expectSame, loadRaw, testValues, type RawKernels } from './helpers/wasm';

// ---- float64 references ---------------------------------------------------------------------

const refL1L2 = (w: ArrayLike<number>, l1: number, l2: number) =>
  Array.from(w).reduce((s, x) => s + l1 * Math.abs(x) + l2 * x * x, 0);
const refL1L2Grad = (w: ArrayLike<number>, l1: number, l2: number) =>
  Float64Array.from(w, (x) => l1 * Math.sign(x) + 2 * l2 * x);

function refColumnMean(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const m = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) m[j] += x[r * cols + j];
  return m.map((v) => v / rows);
}

const clamp = (q: number) => Math.min(Math.max(q, 1e-6), 1 - 1e-6);
const kl = (rho: number, q: number) => rho * Math.log(rho / q) + (1 - rho) * Math.log((1 - rho) / (1 - q));
/** β·Σ_j KL(ρ ‖ mean_j(y)) of activations y (rows × cols). */
const refSparsity = (y: ArrayLike<number>, rows: number, cols: number, rho: number, beta: number) =>
  beta * Array.from(refColumnMean(y, rows, cols)).reduce((s, q) => s + kl(rho, clamp(q)), 0);
/** Its gradient with respect to y[r, j]: β/rows · (−ρ/ρ̂_j + (1−ρ)/(1−ρ̂_j)), the same for every row. */
const refSparsityGrad = (y: ArrayLike<number>, rows: number, cols: number, rho: number, beta: number) =>
  Float64Array.from(refColumnMean(y, rows, cols), (q) => (beta / rows) * (-rho / clamp(q) + (1 - rho) / (1 - clamp(q))));

describe('float64 references', () => {
  it('the L1/L2 gradient is the derivative of the penalty (away from w = 0)', () => {
    const w = Array.from(testValues(9, 3)), h = 1e-6;
    const g = refL1L2Grad(w, 0.3, 0.7);
    w.forEach((x, i) => {
      const up = [...w], down = [...w];
      up[i] = x + h; down[i] = x - h;
      expect(Math.abs((refL1L2(up, 0.3, 0.7) - refL1L2(down, 0.3, 0.7)) / (2 * h) - g[i])).toBeLessThan(1e-7);
    });
  });

  it('the KL-sparsity gradient is the derivative of β·Σ KL with respect to every activation', () => {
    for (const [rows, cols, rho] of [[1, 1, 0.05], [3, 4, 0.2], [5, 3, 0.7]] as const) {
      const y = Array.from(testValues(rows * cols, rows + 7, 0.05, 0.95));
      const beta = 0.3, h = 1e-6;
      const g = refSparsityGrad(y, rows, cols, rho, beta);
      y.forEach((v, k) => {
        const up = [...y], down = [...y];
        up[k] = v + h; down[k] = v - h;
        const num = (refSparsity(up, rows, cols, rho, beta) - refSparsity(down, rows, cols, rho, beta)) / (2 * h);
        expect(Math.abs(num - g[k % cols])).toBeLessThan(1e-6 * (1 + Math.abs(num)));
      });
    }
  });

  it('KL(ρ ‖ ρ) = 0 and KL > 0 elsewhere (the penalty is minimal at the target)', () => {
    expect(kl(0.05, 0.05)).toBe(0);
    for (const q of [0.01, 0.04, 0.06, 0.5, 0.99]) expect(kl(0.05, q)).toBeGreaterThan(0);
  });
});

// ---- wasm kernels -----------------------------------------------------------------------------

const SHAPES: [number, number][] = [[1, 1], [1, 4], [2, 3], [3, 5], [4, 8], [5, 7], [7, 9], [8, 16], [9, 17], [16, 31], [17, 33], [33, 127], [100, 1024]];

for (const build of BUILDS) {
  describe(`regularize kernels (${build})`, () => {
    let raw: RawKernels;
    beforeAll(async () => { raw = await loadRaw(build); });

    const putF64 = (v: ArrayLike<number>) => {
      const p = raw.alloc(8 * v.length);
      new Float64Array(raw.memory.buffer, p, v.length).set(v);
      return p;
    };
    const f64 = (p: number, n: number) => new Float64Array(raw.memory.buffer, p, n);

    for (const s of ['', '_scalar']) {
      it(`l1l2_penalty_f32${s} = l1·Σ|w| + l2·Σw² (f64 sums)`, () => {
        for (const n of [0, ...EDGE_SIZES]) {
          const w = testValues(n, n + 1);
          if (n) w[0] = 0;
          const pw = raw.putF32(w.length ? w : [0]);
          for (const [l1, l2] of [[1, 0], [0, 1], [1e-5, 1e-4], [0.3, 2]]) {
            const got = raw.exports[`l1l2_penalty_f32${s}`](pw, l1, l2, n);
            const ref = refL1L2(w, l1, l2);
            expect(Math.abs(got - ref), `${build} ${s} n=${n} l1=${l1} l2=${l2}: ${got} vs ${ref}`).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(ref)));
          }
          raw.free(pw);
        }
      });

      it(`l1l2_backward_f32${s}: dw += l1·sign(w) + 2·l2·w, sign(0) = 0`, () => {
        for (const n of EDGE_SIZES) {
          const w = testValues(n, n + 2);
          for (let i = 0; i < n; i += 5) w[i] = 0; // the kink
          if (n > 3) w[3] = -0;
          const dw0 = testValues(n, n + 3);
          for (const [l1, l2] of [[1, 0], [0, 1], [1e-3, 5e-4]]) {
            const pw = raw.putF32(w), pdw = raw.putF32(dw0);
            raw.exports[`l1l2_backward_f32${s}`](pdw, pw, l1, l2, n);
            const ref = refL1L2Grad(w, l1, l2).map((g, i) => g + dw0[i]);
            expectClose(raw.f32(pdw, n), ref, 1e-7, 1e-6, `${build} l1l2_backward${s} n=${n} l1=${l1} l2=${l2}`);
            // at w = 0 the penalty adds nothing: dw stays dw0 exactly
            const got = raw.f32(pdw, n);
            for (let i = 0; i < n; i += 5) if (got[i] !== dw0[i]) throw new Error(`${build} n=${n}: dw[${i}] changed at w = 0`);
            raw.free(pw); raw.free(pdw);
          }
        }
      });

      it(`column_mean_f32${s}: f64 mean of every column`, () => {
        for (const [rows, cols] of SHAPES) {
          const x = testValues(rows * cols, rows * 31 + cols, 0, 1);
          const px = raw.putF32(x), pm = putF64(new Float64Array(cols).fill(NaN));
          raw.exports[`column_mean_f32${s}`](pm, px, rows, cols);
          expectClose(f64(pm, cols), refColumnMean(x, rows, cols), 1e-15, 1e-13, `${build} column_mean${s} ${rows}x${cols}`);
          raw.free(px); raw.free(pm);
        }
      });

      it(`add_rows_f32${s}: y[r, :] += g`, () => {
        for (const [rows, cols] of SHAPES) {
          const y = testValues(rows * cols, rows + cols), g = testValues(cols, 5 * cols);
          const py = raw.putF32(y), pg = raw.putF32(g);
          raw.exports[`add_rows_f32${s}`](py, pg, rows, cols);
          // one f32 addition per element: exactly the rounded sum
          expectSame(raw.f32(py, rows * cols), Float32Array.from(y, (v, k) => v + g[k % cols]), `${build} add_rows${s} ${rows}x${cols}`);
          raw.free(py); raw.free(pg);
        }
      });
    }

    it('SIMD and scalar siblings agree bit for bit (l1l2_backward, column_mean, add_rows)', () => {
      const rows = 37, cols = 129, n = rows * cols;
      const x = testValues(n, 11), g = testValues(cols, 12);
      const a = raw.putF32(x), b = raw.putF32(x), pg = raw.putF32(g), w = raw.putF32(testValues(n, 13));
      raw.exports.l1l2_backward_f32(a, w, 1e-3, 2e-4, n);
      raw.exports.l1l2_backward_f32_scalar(b, w, 1e-3, 2e-4, n);
      expectSame(raw.f32(a, n), raw.f32(b, n), `${build} l1l2_backward`);
      const m1 = putF64(new Float64Array(cols)), m2 = putF64(new Float64Array(cols));
      raw.exports.column_mean_f32(m1, a, rows, cols);
      raw.exports.column_mean_f32_scalar(m2, a, rows, cols);
      expectSame(f64(m1, cols), f64(m2, cols), `${build} column_mean`);
      raw.exports.add_rows_f32(a, pg, rows, cols);
      raw.exports.add_rows_f32_scalar(b, pg, rows, cols);
      expectSame(raw.f32(a, n), raw.f32(b, n), `${build} add_rows`);
      for (const p of [a, b, pg, w, m1, m2]) raw.free(p);
    });

    it('kl_sparsity_forward_f64 and kl_sparsity_backward_f64 = the reference, clamped means included', () => {
      for (const [rows, cols] of SHAPES) {
        for (const rho of [0.05, 0.5, 0.9]) {
          const y = testValues(rows * cols, rows + 3 * cols, 0.001, 0.999);
          if (cols > 2) { // saturated units: a mean of exactly 0 or 1 (clamped)
            for (let r = 0; r < rows; r++) { y[r * cols] = 0; y[r * cols + 1] = 1; }
          }
          const beta = 0.7;
          const means = refColumnMean(y, rows, cols);
          const pm = putF64(means), pg = raw.putF32(new Float32Array(cols).fill(NaN));
          const got = beta * raw.exports.kl_sparsity_forward_f64(pm, rho, cols);
          const ref = refSparsity(y, rows, cols, rho, beta);
          expect(Math.abs(got - ref), `${build} KL ${rows}x${cols} ρ=${rho}: ${got} vs ${ref}`).toBeLessThanOrEqual(1e-12 * (1 + ref));
          raw.exports.kl_sparsity_backward_f64(pg, pm, rho, beta / rows, cols);
          expectClose(raw.f32(pg, cols), refSparsityGrad(y, rows, cols, rho, beta), 1e-30, 1e-7, `${build} KL grad ${rows}x${cols} ρ=${rho}`);
          raw.free(pm); raw.free(pg);
        }
      }
    });
  });
}
