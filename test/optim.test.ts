// Optimizer kernels (assembly/optim.ts) against float64 references, in both builds; SIMD
// kernels vs scalar siblings bit for bit where the kernel is elementwise.
import { describe, it, expect, beforeAll } from 'vitest';
import { BUILDS, EDGE_SIZES, expectClose, loadRaw, testValues, type RawKernels } from './helpers/wasm';

// ---- float64 references ------------------------------------------------------------------
/** v ← μ·v − lr·(g + λ·w); w ← w + v (in place on w, v). */
function refSgd(w: Float64Array, v: Float64Array, g: ArrayLike<number>, lr: number, mu: number, wd: number) {
  for (let i = 0; i < w.length; i++) {
    v[i] = mu * v[i] - lr * (g[i] + wd * w[i]);
    w[i] += v[i];
  }
}
/** Bias-corrected Adam with coupled L2 decay, step t (1-based). */
function refAdam(w: Float64Array, m: Float64Array, v: Float64Array, g: ArrayLike<number>, lr: number,
                 b1: number, b2: number, eps: number, t: number, wd: number) {
  for (let i = 0; i < w.length; i++) {
    const gi = g[i] + wd * w[i];
    m[i] = b1 * m[i] + (1 - b1) * gi;
    v[i] = b2 * v[i] + (1 - b2) * gi * gi;
    const mh = m[i] / (1 - b1 ** t), vh = v[i] / (1 - b2 ** t);
    w[i] -= lr * mh / (Math.sqrt(vh) + eps);
  }
}
/** Rows with ‖w‖ > c are scaled to norm c. Returns the number of rows rescaled. */
function refMaxNorm(w: Float64Array, c: number, rows: number, cols: number): number {
  let count = 0;
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let j = 0; j < cols; j++) ss += w[r * cols + j] ** 2;
    const norm = Math.sqrt(ss);
    if (norm > c) {
      for (let j = 0; j < cols; j++) w[r * cols + j] *= c / norm;
      count++;
    }
  }
  return count;
}
const rowNorm = (w: ArrayLike<number>, r: number, cols: number) => {
  let ss = 0;
  for (let j = 0; j < cols; j++) ss += w[r * cols + j] ** 2;
  return Math.sqrt(ss);
};

function expectSameBits(got: Float32Array, ref: Float32Array, what: string) {
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(ref.buffer, ref.byteOffset, ref.length);
  expect(got.length, `${what} length`).toBe(ref.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) throw new Error(`${what}: bits differ at index ${i}: reference ${ref[i]}, got ${got[i]}`);
  }
}

describe.each(BUILDS)('%s build', (build) => {
  let K: RawKernels;
  beforeAll(async () => { K = await loadRaw(build); });

  /** Runs `steps` calls of kernel(ptrs..., scalars(step)..., n) on copies of the arrays; returns them. */
  function runSteps(name: string, arrays: Float32Array[], scalars: (t: number) => number[], steps: number): Float32Array[] {
    const n = arrays[0].length;
    const ptrs = arrays.map((a) => K.putF32(a));
    for (let t = 1; t <= steps; t++) K.exports[name](...ptrs, ...scalars(t), n);
    const out = ptrs.map((p) => K.f32(p, n).slice());
    ptrs.forEach((p) => K.free(p));
    return out;
  }

  describe('sgd_momentum_update_f32', () => {
    it('three steps match the float64 reference; SIMD == scalar bitwise', () => {
      const lr = Math.fround(0.05), mu = Math.fround(0.9), wd = Math.fround(1e-3);
      for (const n of EDGE_SIZES) {
        const w0 = testValues(n, n, -1, 1), v0 = testValues(n, n + 1, -0.1, 0.1);
        const grads = [0, 1, 2].map((s) => testValues(n, n + 10 + s, -2, 2));
        // the same gradient array is rewritten before each step, as a trainer would
        const ptrs = [K.putF32(w0), K.putF32(v0), K.alloc(n * 4)];
        const sptrs = [K.putF32(w0), K.putF32(v0), K.alloc(n * 4)];
        const w = Float64Array.from(w0), v = Float64Array.from(v0);
        for (const g of grads) {
          K.f32(ptrs[2], n).set(g); K.f32(sptrs[2], n).set(g);
          K.exports.sgd_momentum_update_f32(ptrs[0], ptrs[1], ptrs[2], lr, mu, wd, n);
          K.exports.sgd_momentum_update_f32_scalar(sptrs[0], sptrs[1], sptrs[2], lr, mu, wd, n);
          refSgd(w, v, g, lr, mu, wd);
        }
        expectClose(K.f32(ptrs[0], n), w, 1e-6, 1e-5, `sgd w n=${n}`);
        expectClose(K.f32(ptrs[1], n), v, 1e-6, 1e-5, `sgd v n=${n}`);
        expectSameBits(K.f32(ptrs[0], n).slice(), K.f32(sptrs[0], n).slice(), `sgd w scalar n=${n}`);
        expectSameBits(K.f32(ptrs[1], n).slice(), K.f32(sptrs[1], n).slice(), `sgd v scalar n=${n}`);
        [...ptrs, ...sptrs].forEach((p) => K.free(p));
      }
    });
    it('momentum 0 and no decay is plain SGD: w − lr·g, v = −lr·g', () => {
      const n = 33;
      const w0 = testValues(n, 1), g = testValues(n, 2);
      const [w, v] = runSteps('sgd_momentum_update_f32', [w0, new Float32Array(n), g], () => [0.1, 0, 0], 1);
      expectClose(w, Array.from(w0, (x, i) => x - Math.fround(0.1) * g[i]), 1e-7, 1e-6, 'plain sgd w');
      expectClose(v, Array.from(g, (x) => -Math.fround(0.1) * x), 1e-8, 1e-6, 'plain sgd v');
    });
  });

  describe('adam_update_f32', () => {
    it('five steps match the float64 reference (with and without decay); SIMD == scalar bitwise', () => {
      const lr = Math.fround(1e-3), b1 = Math.fround(0.9), b2 = Math.fround(0.999), eps = Math.fround(1e-8);
      for (const wd of [0, Math.fround(1e-2)]) {
        for (const n of EDGE_SIZES) {
          const w0 = testValues(n, n + 3, -1, 1);
          const grads = [0, 1, 2, 3, 4].map((s) => testValues(n, n + 20 + s, -1, 1));
          const names = ['adam_update_f32', 'adam_update_f32_scalar'];
          const ptrs = names.map(() => [K.putF32(w0), K.putF32(new Float32Array(n)), K.putF32(new Float32Array(n)), K.alloc(n * 4)]);
          const w = Float64Array.from(w0), m = new Float64Array(n), v = new Float64Array(n);
          grads.forEach((g, s) => {
            const t = s + 1;
            const b1p = Math.fround(b1 ** t), b2p = Math.fround(b2 ** t);
            names.forEach((name, i) => {
              K.f32(ptrs[i][3], n).set(g);
              K.exports[name](...ptrs[i], lr, b1, b2, eps, b1p, b2p, wd, n);
            });
            refAdam(w, m, v, g, lr, b1, b2, eps, t, wd);
          });
          // each step moves w by about lr, so compare the displacement relative to lr
          expectClose(K.f32(ptrs[0][0], n), w, 2e-8, 1e-6, `adam w n=${n} wd=${wd}`);
          expectClose(K.f32(ptrs[0][1], n), m, 1e-7, 1e-5, `adam m n=${n}`);
          expectClose(K.f32(ptrs[0][2], n), v, 1e-9, 1e-5, `adam v n=${n}`);
          for (let a = 0; a < 3; a++) {
            expectSameBits(K.f32(ptrs[0][a], n).slice(), K.f32(ptrs[1][a], n).slice(), `adam array ${a} scalar n=${n}`);
          }
          ptrs.flat().forEach((p) => K.free(p));
        }
      }
    });
    it('the first step moves every weight by lr·sign(g) (bias correction)', () => {
      const n = 17, lr = Math.fround(1e-2);
      const w0 = testValues(n, 5), g = testValues(n, 6);
      const [w] = runSteps('adam_update_f32', [w0, new Float32Array(n), new Float32Array(n), g],
        () => [lr, 0.9, 0.999, 1e-8, 0.9, 0.999, 0], 1);
      expectClose(Array.from(w, (x, i) => x - w0[i]), Array.from(g, (x) => -lr * Math.sign(x)), 1e-8, 1e-4, 'adam first step');
    });
  });

  describe('max_norm_f32', () => {
    function maxNorm(name: string, w0: Float32Array, c: number, rows: number, cols: number) {
      const p = K.putF32(w0);
      const count: number = K.exports[name](p, c, rows, cols);
      const w = K.f32(p, rows * cols).slice();
      K.free(p);
      return { w, count };
    }
    /** Rows: 0 below c, 1 exactly at c (3-4-5), 2 above, 3 zero, 4 far above, 5 just below c. */
    function matrix(cols: number, c: number): Float32Array {
      const rows = 6, w = new Float32Array(rows * cols);
      const setNorm = (r: number, norm: number, seed: number) => {
        const v = testValues(cols, seed, -1, 1);
        const n0 = rowNorm(v, 0, cols);
        for (let j = 0; j < cols; j++) w[r * cols + j] = v[j] * norm / n0;
      };
      setNorm(0, 0.5 * c, cols + 1);
      if (cols >= 2) { w[cols] = 0.6 * c; w[cols + 1] = 0.8 * c; } else w[cols] = c; // norm c exactly when c = 5
      setNorm(2, 1.5 * c, cols + 2);
      setNorm(4, 1e6 * c, cols + 4);
      setNorm(5, 0.999 * c, cols + 5);
      return w;
    }
    it('rescales exactly the rows above c to norm c; others (below, at c, zero) untouched bit for bit', () => {
      const c = 5, rows = 6;
      for (const cols of EDGE_SIZES) {
        const w0 = matrix(cols, c);
        for (const name of ['max_norm_f32', 'max_norm_f32_scalar']) {
          const { w, count } = maxNorm(name, w0, c, rows, cols);
          const ref = Float64Array.from(w0);
          const refCount = refMaxNorm(ref, c, rows, cols);
          expect(count, `${name} count cols=${cols}`).toBe(refCount);
          expect(refCount).toBe(2);
          expectClose(w, ref, 1e-12, 1e-6, `${name} cols=${cols}`);
          for (const r of [2, 4]) expect(Math.abs(rowNorm(w, r, cols) - c), `${name} row ${r} norm`).toBeLessThan(c * 4e-7 * Math.sqrt(cols) + c * 2e-7);
          for (const r of [0, 1, 3, 5]) {
            expectSameBits(w.subarray(r * cols, r * cols + cols), w0.subarray(r * cols, r * cols + cols), `${name} row ${r} cols=${cols} untouched`);
          }
        }
      }
    });
    it('random matrices: SIMD and scalar agree with the reference; a second pass changes nothing much', () => {
      for (const [rows, cols] of [[7, 9], [31, 33], [128, 127], [10, 1021], [2, 65537]]) {
        const w0 = testValues(rows * cols, rows + cols, -0.2, 0.2);
        const c = 3;
        const ref = Float64Array.from(w0);
        const refCount = refMaxNorm(ref, c, rows, cols);
        const a = maxNorm('max_norm_f32', w0, c, rows, cols);
        const b = maxNorm('max_norm_f32_scalar', w0, c, rows, cols);
        expect(a.count).toBe(refCount);
        expect(b.count).toBe(refCount);
        expectClose(a.w, ref, 1e-12, 1e-6, `max-norm ${rows}x${cols}`);
        expectClose(b.w, a.w, 1e-12, 1e-6, `max-norm scalar ${rows}x${cols}`);
        const again = maxNorm('max_norm_f32', a.w, c, rows, cols);
        expectClose(again.w, a.w, 0, 1e-6, `max-norm idempotent ${rows}x${cols}`);
      }
    });
  });
});
