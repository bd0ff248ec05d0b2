// The dropout RBM (paper §8; src/model/rbm.ts) and its sampling kernel (assembly/rbm.ts):
// bernoulli_sample_f32 against its definition (the counter words of test/helpers/rng-ref.ts),
// SIMD = scalar bit for bit, any split of the elements, and frequencies; one CD-1 update through
// tn.rbm against a float64 reference that draws the same masks and samples; dropped hidden units
// are 0 in both phases; training lowers the reconstruction error with and without dropout, runs
// are reproducible; bad configurations and inputs are clear errors.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tn from '../src/index.node';
import { BUILDS, EDGE_SIZES, expectClose, expectSame, loadRaw, testValues, type RawKernels } from './helpers/wasm';
import { refMask, rngKeys, rngWord } from './helpers/rng-ref';

/** The definition: y_i = 1 iff (word(first + i) >>> 8) · 2^-24 < p_i (p in f32). */
function refSample(p: ArrayLike<number>, seed: number, stream: number, step: number, first: number): Float32Array {
  const [k0, k1] = rngKeys(seed, stream, step);
  return Float32Array.from(p, (pi, i) => ((rngWord((first + i) >>> 0, k0, k1) >>> 8) / 16777216 < pi ? 1 : 0));
}

for (const build of BUILDS) {
  describe(`bernoulli_sample_f32 (${build})`, () => {
    let k: RawKernels;
    beforeAll(async () => { k = await loadRaw(build); });

    it('equals its definition and its scalar sibling at every edge size, probabilities 0, 1 and NaN included', () => {
      for (const n of EDGE_SIZES) {
        const p = testValues(n, n + 3, -0.2, 1.2); // below 0 and above 1 too
        if (n > 3) { p[0] = 0; p[1] = 1; p[2] = NaN; }
        const pp = k.putF32(p), y1 = k.alloc(4 * n), y2 = k.alloc(4 * n);
        k.exports.bernoulli_sample_f32(y1, pp, 7, 1, 12, 40, n);
        k.exports.bernoulli_sample_f32_scalar(y2, pp, 7, 1, 12, 40, n);
        const want = refSample(k.f32(pp, n), 7, 1, 12, 40);
        expectSame(k.f32(y1, n), want, `simd n=${n}`);
        expectSame(k.f32(y2, n), want, `scalar n=${n}`);
        if (n > 3) expect([want[0], want[1], want[2]]).toEqual([0, 1, 0]);
        for (const q of [pp, y1, y2]) k.free(q);
      }
    });

    it('a split into two calls (first offset) draws the same samples; in place works', () => {
      const n = 1021, cut = 333;
      const p = testValues(n, 5, 0, 1), pp = k.putF32(p), one = k.alloc(4 * n), two = k.alloc(4 * n);
      k.exports.bernoulli_sample_f32(one, pp, 3, 1, 0, 0, n);
      k.exports.bernoulli_sample_f32(two, pp, 3, 1, 0, 0, cut);
      k.exports.bernoulli_sample_f32(two + 4 * cut, pp + 4 * cut, 3, 1, 0, cut, n - cut);
      expectSame(k.f32(two, n), k.f32(one, n).slice(), 'split');
      k.exports.bernoulli_sample_f32(pp, pp, 3, 1, 0, 0, n);
      expectSame(k.f32(pp, n), k.f32(one, n).slice(), 'in place');
      for (const q of [pp, one, two]) k.free(q);
    });

    it('fires with probability p (200,000 draws at p = 0.3 and 0.9: within 4 standard deviations)', () => {
      const n = 200_000;
      for (const prob of [0.3, 0.9]) {
        const pp = k.putF32(new Float32Array(n).fill(prob)), y = k.alloc(4 * n);
        k.exports.bernoulli_sample_f32(y, pp, 11, 1, 5, 0, n);
        const mean = k.f32(y, n).reduce((a, b) => a + b, 0) / n;
        expect(Math.abs(mean - prob)).toBeLessThan(4 * Math.sqrt(prob * (1 - prob) / n));
        k.free(pp); k.free(y);
      }
    });
  });
}

// ---- tn.rbm ---------------------------------------------------------------------------------------

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** One CD-1 update in float64, with the masks (stream 0) and samples (stream 1) of step `step`. */
function refUpdate(V: number, H: number, keep: number, seed: number, step: number, v0: number[][], W: Float32Array,
  a: Float32Array, b: Float32Array, lr: number, wd: number) {
  const n = v0.length;
  const keep16 = Math.round(keep * 65536);
  const r = keep16 < 65536 ? refMask(keep16, seed, 0, step, 0, n * H) : new Uint8Array(n * H).fill(1);
  const [k0, k1] = rngKeys(seed, 1, step);
  const hid = (v: number[], row: number) => Array.from({ length: H }, (_, j) => {
    let z = b[j];
    for (let i = 0; i < V; i++) z += W[j * V + i] * v[i];
    return r[row * H + j] * sigmoid(z);
  });
  const h0 = v0.map(hid);
  const s0 = h0.map((h, row) => h.map((p, j) => ((rngWord(row * H + j, k0, k1) >>> 8) / 16777216 < Math.fround(p) ? 1 : 0)));
  const v1 = s0.map((s) => Array.from({ length: V }, (_, i) => {
    let z = a[i];
    for (let j = 0; j < H; j++) z += s[j] * W[j * V + i];
    return sigmoid(z);
  }));
  const h1 = v1.map(hid);
  const W2 = new Float64Array(W.length), a2 = new Float64Array(V), b2 = new Float64Array(H);
  for (let j = 0; j < H; j++) for (let i = 0; i < V; i++) {
    let g = 0;
    for (let c = 0; c < n; c++) g += (h1[c][j] * v1[c][i] - h0[c][j] * v0[c][i]) / n;
    g += wd * W[j * V + i];
    W2[j * V + i] = W[j * V + i] - lr * g;  // momentum 0: v = −lr·g
  }
  for (let i = 0; i < V; i++) { let g = 0; for (let c = 0; c < n; c++) g += (v1[c][i] - v0[c][i]) / n; a2[i] = a[i] - lr * g; }
  for (let j = 0; j < H; j++) { let g = 0; for (let c = 0; c < n; c++) g += (h1[c][j] - h0[c][j]) / n; b2[j] = b[j] - lr * g; }
  return { W: W2, a: a2, b: b2, h0, r };
}

/** 4×4 images of one horizontal or vertical bar (the classic RBM toy data), 64 cases. */
function bars(): Float32Array {
  const x = new Float32Array(64 * 16);
  for (let c = 0; c < 64; c++) {
    const k = c % 8, horizontal = k < 4;
    for (let t = 0; t < 4; t++) x[c * 16 + (horizontal ? k * 4 + t : t * 4 + (k - 4))] = 1;
  }
  return x;
}

describe('tn.rbm (CD-1, dropout of hidden units)', () => {
  beforeAll(async () => { await tn.ready({ threads: 1 }); });

  for (const keep of [1, 0.6]) {
    it(`one update equals the float64 reference with the same masks and samples (keep ${keep})`, async () => {
      const V = 7, H = 5, seed = 9;
      const m = tn.rbm({ visible: V, hidden: H, keep, seed, initStd: 0.5 });
      const { weights: W, visibleBias: a, hiddenBias: b } = m.getWeights();
      const x = testValues(3 * V, 21, 0, 1);
      await m.fit(x, { epochs: 1, batchSize: 3, shuffle: false, learningRate: 0.5, momentum: 0, weightDecay: 0.01 });
      const v0 = [0, 1, 2].map((c) => Array.from(x.subarray(c * V, (c + 1) * V)));
      const ref = refUpdate(V, H, keep, seed, 0, v0, W, a, b, 0.5, 0.01);
      const got = m.getWeights();
      expectClose(got.weights, ref.W, 1e-6, 1e-5, 'W');
      expectClose(got.visibleBias, ref.a, 1e-6, 1e-5, 'a');
      expectClose(got.hiddenBias, ref.b, 1e-6, 1e-5, 'b');
      if (keep < 1) {
        // some units were dropped, and a dropped unit contributes nothing in the positive phase
        expect(ref.r.some((v) => v === 0)).toBe(true);
        ref.h0.forEach((h, c) => h.forEach((p, j) => { if (!ref.r[c * H + j]) expect(p).toBe(0); }));
      }
      m.dispose();
    });
  }

  it('training lowers the reconstruction error, with and without dropout; runs are reproducible', async () => {
    const x = bars();
    for (const keep of [1, 0.5]) {
      const fit = async () => {
        const m = tn.rbm({ visible: 16, hidden: 8, keep, seed: 3, initStd: 0.1 });
        const h = await m.fit(x, { epochs: 60, batchSize: 8, learningRate: 0.5 });
        const w = m.getWeights().weights;
        const probs = m.hiddenProbabilities(x);
        const rec = m.reconstruct(x);
        m.dispose();
        return { h, w, probs, rec };
      };
      const one = await fit(), two = await fit();
      const e = one.h.reconstructionError;
      expect(e[e.length - 1]).toBeLessThan(0.5 * e[0]);
      expectSame(two.w, one.w, `keep ${keep}: reproducible`);
      expect(one.probs.length).toBe(64 * 8);
      expect(one.probs.every((p) => p >= 0 && p <= 1)).toBe(true);
      expect(one.rec.length).toBe(64 * 16);
    }
  });

  it('bad configurations, inputs and use after dispose are clear errors', async () => {
    expect(() => tn.rbm({ visible: 0, hidden: 4 })).toThrow(/visible must be an integer/);
    expect(() => tn.rbm({ visible: 4, hidden: 2.5 })).toThrow(/hidden must be an integer/);
    expect(() => tn.rbm({ visible: 4, hidden: 4, keep: 0 })).toThrow(/keep/);
    expect(() => tn.rbm({ visible: 4, hidden: 4, keep: 1.5 })).toThrow(/keep/);
    expect(() => tn.rbm({ visible: 4, hidden: 4, units: 3 } as never)).toThrow(/unknown option 'units'/);
    const m = tn.rbm({ visible: 4, hidden: 3 });
    await expect(m.fit(new Float32Array(6), { epochs: 1 })).rejects.toThrow(/not a positive multiple of the 4 visible units/);
    await expect(m.fit(Float32Array.of(0, 0.5, 2, 1), { epochs: 1 })).rejects.toThrow(/x\[2\] = 2 is not in \[0, 1\]/);
    await expect(m.fit(Float32Array.of(0, NaN, 0, 1), { epochs: 1 })).rejects.toThrow(/x\[1\] = NaN/);
    await expect(m.fit(new Float32Array(4), { epochs: 1, batchSize: 0 })).rejects.toThrow(/batchSize/);
    await expect(m.fit(new Float32Array(4), { epochs: 1, learningRate: -1 })).rejects.toThrow(/learningRate/);
    expect(() => m.hiddenProbabilities([0, 1, 0, 1] as never)).toThrow(/Float32Array or a Uint8Array/);
    expect(m.hiddenProbabilities(Uint8Array.of(0, 255, 0, 255)).length).toBe(3);
    m.dispose();
    expect(() => m.getWeights()).toThrow(/disposed/);
  });
});
