// Loss kernels (assembly/loss.ts) against float64 references, in both builds. Backward passes:
// the reference gradient is checked against centered finite differences of the reference loss,
// then the wasm gradient against the reference gradient. SIMD kernels vs scalar siblings:
// bitwise where the kernel is elementwise, to tolerance where a sum's order differs.
import { describe, it, expect, beforeAll } from 'vitest';
import { BUILDS, EDGE_SIZES, expectClose, loadRaw, testValues, type RawKernels } from './helpers/wasm';

// ---- float64 references ------------------------------------------------------------------
function refSoftmax(x: ArrayLike<number>, rows: number, C: number): Float64Array {
  const p = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < C; j++) m = Math.max(m, x[r * C + j]);
    let s = 0;
    for (let j = 0; j < C; j++) s += (p[r * C + j] = Math.exp(x[r * C + j] - m));
    for (let j = 0; j < C; j++) p[r * C + j] /= s;
  }
  return p;
}
/** log Σ_j e^x_j per row (stable). */
function refLogSumExp(x: ArrayLike<number>, rows: number, C: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < C; j++) m = Math.max(m, x[r * C + j]);
    let s = 0;
    for (let j = 0; j < C; j++) s += Math.exp(x[r * C + j] - m);
    out[r] = m + Math.log(s);
  }
  return out;
}
/** rowLoss_r = logsumexp_r − x[r, label_r]. */
function refXent(x: ArrayLike<number>, labels: ArrayLike<number>, rows: number, C: number): Float64Array {
  const lse = refLogSumExp(x, rows, C);
  return lse.map((l, r) => l - x[r * C + labels[r]]);
}
/** rowLoss_r = Σ_j t_rj (logsumexp_r − x_rj) = −Σ_j t_rj log p_rj. */
function refXentSoft(x: ArrayLike<number>, t: ArrayLike<number>, rows: number, C: number): Float64Array {
  const lse = refLogSumExp(x, rows, C);
  return lse.map((l, r) => { let s = 0; for (let j = 0; j < C; j++) s += t[r * C + j] * (l - x[r * C + j]); return s; });
}
function refXentBackward(p: ArrayLike<number>, labels: ArrayLike<number>, scale: number, rows: number, C: number) {
  const d = Float64Array.from(p, (v) => v * scale);
  for (let r = 0; r < rows; r++) d[r * C + labels[r]] = (p[r * C + labels[r]] - 1) * scale;
  return d;
}
function refXentSoftBackward(p: ArrayLike<number>, t: ArrayLike<number>, scale: number, rows: number, C: number) {
  const d = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    let T = 0;
    for (let j = 0; j < C; j++) T += t[r * C + j];
    for (let j = 0; j < C; j++) d[r * C + j] = (p[r * C + j] * T - t[r * C + j]) * scale;
  }
  return d;
}
const refMse = (p: ArrayLike<number>, t: ArrayLike<number>, scale: number) => {
  let s = 0;
  for (let i = 0; i < p.length; i++) s += (p[i] - t[i]) ** 2;
  return scale * s;
};
const refMseBackward = (p: ArrayLike<number>, t: ArrayLike<number>, scale: number) =>
  Float64Array.from(p, (v, i) => 2 * scale * (v - t[i]));
function refArgmaxRows(x: ArrayLike<number>, rows: number, C: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let a = 0;
    for (let j = 1; j < C; j++) if (x[r * C + j] > x[r * C + a]) a = j;
    out.push(a);
  }
  return out;
}

/** Gradient of the scalar loss(x) at x by centered differences, every coordinate. */
function numericGrad(loss: (x: Float64Array) => number, x: Float64Array, h = 1e-5): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const xp = x.slice(); xp[i] += h;
    const xm = x.slice(); xm[i] -= h;
    g[i] = (loss(xp) - loss(xm)) / (2 * h);
  }
  return g;
}
const sum = (a: ArrayLike<number>) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i]; return s; };

function labelsFor(rows: number, C: number, seed: number): Int32Array {
  return Int32Array.from(testValues(rows, seed, 0, C), (v) => Math.min(C - 1, Math.floor(v)));
}
function softTargets(rows: number, C: number, seed: number, normalize: boolean): Float32Array {
  const t = testValues(rows * C, seed, 0, 1);
  if (normalize) {
    for (let r = 0; r < rows; r++) {
      const s = sum(t.subarray(r * C, r * C + C));
      for (let j = 0; j < C; j++) t[r * C + j] /= s;
    }
  }
  return t;
}

function expectSameBits(got: Float32Array, ref: Float32Array, what: string) {
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(ref.buffer, ref.byteOffset, ref.length);
  expect(got.length, `${what} length`).toBe(ref.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) throw new Error(`${what}: bits differ at index ${i}: reference ${ref[i]}, got ${got[i]}`);
  }
}

// ---- finite-difference checks of the reference gradients (build independent) -------------
describe('float64 references: gradients = centered finite differences', () => {
  for (const C of [1, 2, 3, 4, 5, 7, 9]) {
    const rows = 3, scale = 1 / rows;
    const x = Float64Array.from(testValues(rows * C, C, -3, 3));
    it(`softmax cross-entropy, integer labels, classes=${C}`, () => {
      const labels = labelsFor(rows, C, C + 1);
      const L = (xx: Float64Array) => scale * sum(refXent(xx, labels, rows, C));
      const g = refXentBackward(refSoftmax(x, rows, C), labels, scale, rows, C);
      expectClose(g, numericGrad(L, x), 1e-8, 1e-6, `xent FD C=${C}`);
    });
    it(`softmax cross-entropy, soft targets (normalized and not), classes=${C}`, () => {
      for (const normalize of [true, false]) {
        const t = softTargets(rows, C, C + 2, normalize);
        const L = (xx: Float64Array) => scale * sum(refXentSoft(xx, t, rows, C));
        const g = refXentSoftBackward(refSoftmax(x, rows, C), t, scale, rows, C);
        expectClose(g, numericGrad(L, x), 1e-8, 1e-6, `soft xent FD C=${C}`);
      }
    });
    it(`mean squared error, n=${C}`, () => {
      const t = Float64Array.from(testValues(C, C + 3));
      const p = Float64Array.from(testValues(C, C + 4));
      const g = refMseBackward(p, t, 1 / C);
      expectClose(g, numericGrad((pp) => refMse(pp, t, 1 / C), p), 1e-8, 1e-6, `mse FD n=${C}`);
    });
  }
});

// ---- the kernels -------------------------------------------------------------------------
describe.each(BUILDS)('%s build', (build) => {
  let K: RawKernels;
  beforeAll(async () => { K = await loadRaw(build); });

  const putI32 = (v: Int32Array) => { const p = K.alloc(v.length * 4); new Int32Array(K.memory.buffer, p, v.length).set(v); return p; };

  function softmax(name: string, x: Float32Array, rows: number, C: number, inPlace = false) {
    const px = K.putF32(x);
    const pp = inPlace ? px : K.alloc(rows * C * 4);
    K.exports[name](pp, px, rows, C);
    const p = K.f32(pp, rows * C).slice();
    K.free(px); if (!inPlace) K.free(pp);
    return p;
  }
  /** Runs an xent forward (labels: Int32Array, or soft targets: Float32Array). */
  function xentForward(name: string, x: Float32Array, target: Int32Array | Float32Array, rows: number, C: number,
                       opts: { inPlace?: boolean; noRowLoss?: boolean } = {}) {
    const px = K.putF32(x);
    const pt = target instanceof Int32Array ? putI32(target) : K.putF32(target);
    const pp = opts.inPlace ? px : K.alloc(rows * C * 4);
    const pl = opts.noRowLoss ? 0 : K.alloc(rows * 4);
    const total: number = K.exports[name](pp, pl, px, pt, rows, C);
    const probs = K.f32(pp, rows * C).slice();
    const rowLoss = pl ? K.f32(pl, rows).slice() : new Float32Array(0);
    K.free(px); K.free(pt);
    if (!opts.inPlace) K.free(pp);
    if (pl) K.free(pl);
    return { probs, rowLoss, total };
  }
  function xentBackward(name: string, probs: Float32Array, target: Int32Array | Float32Array, scale: number,
                        rows: number, C: number, alias: '' | 'probs' | 'targets' = '') {
    const pp = K.putF32(probs);
    const pt = target instanceof Int32Array ? putI32(target) : K.putF32(target);
    const pd = alias === 'probs' ? pp : alias === 'targets' ? pt : K.alloc(rows * C * 4);
    K.exports[name](pd, pp, pt, scale, rows, C);
    const d = K.f32(pd, rows * C).slice();
    K.free(pp); K.free(pt);
    if (!alias) K.free(pd);
    return d;
  }

  const shapes: [number, number][] = [...EDGE_SIZES.map((c) => [3, c] as [number, number]), [1, 10], [64, 10]];

  describe('softmax_forward_f32', () => {
    it('matches the reference; rows sum to 1; in-place; close to the scalar sibling', () => {
      for (const [rows, C] of shapes) {
        const x = testValues(rows * C, C, -10, 10);
        const p = softmax('softmax_forward_f32', x, rows, C);
        expectClose(p, refSoftmax(x, rows, C), 1e-9, 1e-5, `softmax ${rows}x${C}`);
        for (let r = 0; r < rows; r++) expect(Math.abs(sum(p.subarray(r * C, r * C + C)) - 1)).toBeLessThan(1e-5);
        expectSameBits(softmax('softmax_forward_f32', x, rows, C, true), p, `softmax in-place ${rows}x${C}`);
        expectClose(softmax('softmax_forward_f32_scalar', x, rows, C), p, 1e-12, 1e-6, `softmax scalar ${rows}x${C}`);
      }
    });
    it('is stable for huge logits (no NaN, no overflow)', () => {
      const x = new Float32Array([1e4, -1e4, 3e38, -3e38, 88, 89, 1000, 999, -1e30, -1e30]); // 5 rows x 2
      for (const name of ['softmax_forward_f32', 'softmax_forward_f32_scalar']) {
        const p = softmax(name, x, 5, 2);
        expectClose(p, refSoftmax(x, 5, 2), 1e-9, 1e-5, `${name} huge`);
      }
    });
  });

  describe('softmax_xent_forward_f32 / backward (integer labels)', () => {
    it('forward: probs, row losses and total match the reference; in-place; rowLoss optional', () => {
      for (const [rows, C] of shapes) {
        const x = testValues(rows * C, C + 7, -10, 10);
        const labels = labelsFor(rows, C, C + 8);
        const f = xentForward('softmax_xent_forward_f32', x, labels, rows, C);
        const refLoss = refXent(x, labels, rows, C);
        expectClose(f.probs, refSoftmax(x, rows, C), 1e-9, 1e-5, `xent probs ${rows}x${C}`);
        expectClose(f.rowLoss, refLoss, 1e-6, 1e-5, `xent rowLoss ${rows}x${C}`);
        expectClose([f.total], [sum(refLoss)], 1e-5, 1e-5, `xent total ${rows}x${C}`);
        const ip = xentForward('softmax_xent_forward_f32', x, labels, rows, C, { inPlace: true });
        expectSameBits(ip.probs, f.probs, `xent in-place probs ${rows}x${C}`);
        expectSameBits(ip.rowLoss, f.rowLoss, `xent in-place rowLoss ${rows}x${C}`);
        const nl = xentForward('softmax_xent_forward_f32', x, labels, rows, C, { noRowLoss: true });
        expect(nl.total).toBe(f.total);
        const s = xentForward('softmax_xent_forward_f32_scalar', x, labels, rows, C);
        expectClose(s.probs, f.probs, 1e-12, 1e-6, `xent scalar probs ${rows}x${C}`);
        expectClose(s.rowLoss, f.rowLoss, 1e-6, 1e-6, `xent scalar rowLoss ${rows}x${C}`);
      }
    });
    it('forward: stable at extreme logits; −log p of a vanishing probability is exact, not inf', () => {
      // row 0: label's logit 200 below the max → loss 200 (p underflows to 0 but the loss does not)
      const x = new Float32Array([100, -100, 0, 3e38, -3e38, 0, 5, 5, 5]);
      const labels = new Int32Array([1, 1, 2]);
      for (const name of ['softmax_xent_forward_f32', 'softmax_xent_forward_f32_scalar']) {
        const f = xentForward(name, x, labels, 3, 3);
        expectClose(f.rowLoss.slice(0, 1), [200], 0, 1e-6, `${name} loss row 0`);
        expect(f.rowLoss[1]).toBe(Infinity); // 6e38 in f32 overflows: the true loss is not representable
        expectClose(f.rowLoss.slice(2), [Math.log(3)], 1e-7, 1e-6, `${name} loss row 2`);
        expect(f.probs.some(Number.isNaN)).toBe(false);
      }
    });
    it('forward: a label out of range gives a NaN row loss, not a crash', () => {
      const x = testValues(12, 1);
      const f = xentForward('softmax_xent_forward_f32', x, new Int32Array([0, -1, 4]), 3, 4);
      expect(f.rowLoss[0]).not.toBeNaN(); expect(f.rowLoss[1]).toBeNaN(); expect(f.rowLoss[2]).toBeNaN();
      expect(f.total).toBeNaN();
    });
    it('backward: (probs − onehot)·scale matches the reference; SIMD == scalar; in-place', () => {
      for (const [rows, C] of shapes) {
        const x = testValues(rows * C, C + 9, -5, 5);
        const labels = labelsFor(rows, C, C + 10);
        const { probs } = xentForward('softmax_xent_forward_f32', x, labels, rows, C);
        const scale = 1 / rows;
        const d = xentBackward('softmax_xent_backward_f32', probs, labels, scale, rows, C);
        expectClose(d, refXentBackward(probs, labels, scale, rows, C), 1e-12, 1e-6, `xent grad ${rows}x${C}`);
        expectSameBits(xentBackward('softmax_xent_backward_f32_scalar', probs, labels, scale, rows, C), d, `xent grad scalar ${rows}x${C}`);
        expectSameBits(xentBackward('softmax_xent_backward_f32', probs, labels, scale, rows, C, 'probs'), d, `xent grad in-place ${rows}x${C}`);
        // and end to end against the analytic gradient of the float64 loss at the same logits
        expectClose(d, refXentBackward(refSoftmax(x, rows, C), labels, scale, rows, C), 1e-8, 1e-5, `xent grad vs f64 ${rows}x${C}`);
      }
    });
  });

  describe('softmax_xent_soft_forward_f32 / backward (soft targets)', () => {
    it('forward matches the reference; one-hot targets give the integer-label loss', () => {
      for (const [rows, C] of shapes) {
        const x = testValues(rows * C, C + 11, -10, 10);
        for (const normalize of [true, false]) {
          const t = softTargets(rows, C, C + 12, normalize);
          const f = xentForward('softmax_xent_soft_forward_f32', x, t, rows, C);
          const refLoss = refXentSoft(x, t, rows, C);
          expectClose(f.probs, refSoftmax(x, rows, C), 1e-9, 1e-5, `soft probs ${rows}x${C}`);
          expectClose(f.rowLoss, refLoss, 1e-5, 2e-5, `soft rowLoss ${rows}x${C} normalize=${normalize}`);
          expectClose([f.total], [sum(refLoss)], 1e-4, 2e-5, `soft total ${rows}x${C}`);
          const ip = xentForward('softmax_xent_soft_forward_f32', x, t, rows, C, { inPlace: true });
          expectSameBits(ip.rowLoss, f.rowLoss, `soft in-place ${rows}x${C}`);
          const s = xentForward('softmax_xent_soft_forward_f32_scalar', x, t, rows, C);
          expectClose(s.rowLoss, f.rowLoss, 1e-5, 1e-5, `soft scalar rowLoss ${rows}x${C}`);
          expectClose(s.probs, f.probs, 1e-12, 1e-6, `soft scalar probs ${rows}x${C}`);
        }
        const labels = labelsFor(rows, C, C + 13);
        const onehot = new Float32Array(rows * C);
        labels.forEach((l, r) => { onehot[r * C + l] = 1; });
        const a = xentForward('softmax_xent_soft_forward_f32', x, onehot, rows, C);
        const b = xentForward('softmax_xent_forward_f32', x, labels, rows, C);
        expectClose(a.rowLoss, b.rowLoss, 1e-6, 1e-6, `one-hot vs labels ${rows}x${C}`);
      }
    });
    it('backward: (probs·Σt − t)·scale matches the reference; in-place on probs or targets', () => {
      for (const [rows, C] of shapes) {
        const x = testValues(rows * C, C + 14, -5, 5);
        for (const normalize of [true, false]) {
          const t = softTargets(rows, C, C + 15, normalize);
          const { probs } = xentForward('softmax_xent_soft_forward_f32', x, t, rows, C);
          const scale = 1 / rows;
          const d = xentBackward('softmax_xent_soft_backward_f32', probs, t, scale, rows, C);
          // tolerance relative to the row's scale: p·T − t cancels when p ≈ t
          const ref = refXentSoftBackward(probs, t, scale, rows, C);
          expectClose(d, ref, 1e-6 * scale * (normalize ? 1 : C), 1e-5, `soft grad ${rows}x${C}`);
          expectClose(xentBackward('softmax_xent_soft_backward_f32_scalar', probs, t, scale, rows, C), d,
                      1e-6 * scale * (normalize ? 1 : C), 1e-5, `soft grad scalar ${rows}x${C}`);
          expectSameBits(xentBackward('softmax_xent_soft_backward_f32', probs, t, scale, rows, C, 'probs'), d, `soft grad dl == probs`);
          expectSameBits(xentBackward('softmax_xent_soft_backward_f32', probs, t, scale, rows, C, 'targets'), d, `soft grad dl == targets`);
        }
      }
    });
  });

  describe('mse_forward_f32 / mse_backward_f32', () => {
    function mseBackward(name: string, p: Float32Array, t: Float32Array, scale: number, alias: '' | 'pred' | 'target' = '') {
      const n = p.length;
      const pp = K.putF32(p), pt = K.putF32(t);
      const pd = alias === 'pred' ? pp : alias === 'target' ? pt : K.alloc(n * 4);
      K.exports[name](pd, pp, pt, scale, n);
      const d = K.f32(pd, n).slice();
      K.free(pp); K.free(pt); if (!alias) K.free(pd);
      return d;
    }
    it('forward returns scale·Σ(pred − target)²; backward 2·scale·(pred − target); SIMD == scalar', () => {
      for (const n of EDGE_SIZES) {
        const p = testValues(n, n + 20, -3, 3), t = testValues(n, n + 21, -3, 3);
        const scale = Math.fround(1 / n);
        const pp = K.putF32(p), pt = K.putF32(t);
        const L: number = K.exports.mse_forward_f32(pp, pt, scale, n);
        const Ls: number = K.exports.mse_forward_f32_scalar(pp, pt, scale, n);
        K.free(pp); K.free(pt);
        expectClose([L], [refMse(p, t, scale)], 0, 1e-6, `mse n=${n}`);
        expectClose([Ls], [L], 0, 1e-12, `mse scalar n=${n}`);
        const d = mseBackward('mse_backward_f32', p, t, scale);
        expectClose(d, refMseBackward(p, t, scale), 1e-12, 1e-6, `mse grad n=${n}`);
        expectSameBits(mseBackward('mse_backward_f32_scalar', p, t, scale), d, `mse grad scalar n=${n}`);
        expectSameBits(mseBackward('mse_backward_f32', p, t, scale, 'pred'), d, `mse grad dpred == pred n=${n}`);
        expectSameBits(mseBackward('mse_backward_f32', p, t, scale, 'target'), d, `mse grad dpred == target n=${n}`);
      }
    });
  });

  describe('argmax_rows_f32', () => {
    it('first index of each row maximum, ties included; SIMD == scalar', () => {
      for (const [rows, C] of [...shapes, [5, 1] as [number, number]]) {
        for (const quantize of [false, true]) {
          let x = testValues(rows * C, C + 30, -4, 4);
          if (quantize) x = x.map((v) => Math.round(v)); // many ties
          const px = K.putF32(x), po = K.alloc(rows * 4), ps = K.alloc(rows * 4);
          K.exports.argmax_rows_f32(po, px, rows, C);
          K.exports.argmax_rows_f32_scalar(ps, px, rows, C);
          const got = Array.from(new Int32Array(K.memory.buffer, po, rows));
          const gs = Array.from(new Int32Array(K.memory.buffer, ps, rows));
          K.free(px); K.free(po); K.free(ps);
          const ref = refArgmaxRows(x, rows, C);
          expectClose(got, ref, 0, 0, `argmax ${rows}x${C} quantize=${quantize}`);
          expectClose(gs, ref, 0, 0, `argmax scalar ${rows}x${C}`);
        }
      }
    });
    it('ties across lanes and the tail resolve to the lowest index', () => {
      const C = 13;
      const x = new Float32Array(4 * C).fill(-1);
      x[0 * C + 7] = 2; x[0 * C + 3] = 2;   // lanes 3 and 3 (second vector): 3 wins
      x[1 * C + 6] = 2; x[1 * C + 5] = 2;   // different lanes, 5 wins
      x[2 * C + 12] = 2; x[2 * C + 9] = 2;  // vector vs tail: 9 wins
      x[3 * C + 12] = 3; x[3 * C + 1] = 2;  // tail larger: 12 wins
      const px = K.putF32(x), po = K.alloc(16);
      K.exports.argmax_rows_f32(po, px, 4, C);
      expect(Array.from(new Int32Array(K.memory.buffer, po, 4))).toEqual([3, 5, 9, 12]);
      K.free(px); K.free(po);
    });
  });
});
