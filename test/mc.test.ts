// Monte-Carlo summary kernels (assembly/model_extra.ts: mc_accumulate_f32 / mc_finalize_f32)
// against a float64 reference, in both builds: predictive mean, population variance, predictive
// entropy and mutual information of k sampled probability vectors; identical samples give
// exactly zero variance and mutual information.
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILDS, loadRaw, type RawKernels } from './helpers/wasm';

/** k random probability vectors (rows × C each), from a fixed LCG; some rows near one-hot. */
function samples(k: number, rows: number, C: number, seed: number): Float32Array[] {
  let s = seed >>> 0;
  const rnd = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
  return Array.from({ length: k }, () => {
    const p = new Float32Array(rows * C);
    for (let r = 0; r < rows; r++) {
      const sharp = r % 3 === 0 ? 12 : 1; // some rows confident (p near 1), others spread
      let z = 0;
      for (let j = 0; j < C; j++) z += (p[r * C + j] = Math.exp(sharp * rnd()));
      for (let j = 0; j < C; j++) p[r * C + j] /= z;
    }
    return p;
  });
}

function reference(ps: Float32Array[], rows: number, C: number) {
  const k = ps.length;
  const mean = new Float64Array(rows * C), variance = new Float64Array(rows * C);
  const entropy = new Float64Array(rows), mi = new Float64Array(rows);
  for (let i = 0; i < rows * C; i++) {
    let m = 0;
    for (const p of ps) m += p[i];
    m /= k;
    let v = 0;
    for (const p of ps) v += (p[i] - m) ** 2;
    mean[i] = m;
    variance[i] = v / k;
  }
  for (let r = 0; r < rows; r++) {
    let h = 0, hs = 0;
    for (let j = 0; j < C; j++) { const m = mean[r * C + j]; if (m > 0) h -= m * Math.log(m); }
    for (const p of ps) for (let j = 0; j < C; j++) { const q = p[r * C + j]; if (q > 0) hs -= q * Math.log(q); }
    entropy[r] = h;
    mi[r] = Math.max(0, h - hs / k);
  }
  return { mean, variance, entropy, mi };
}

for (const build of BUILDS) {
  describe(`Monte-Carlo summaries (${build})`, () => {
    let w: RawKernels;
    beforeAll(async () => { w = await loadRaw(build); });

    function run(ps: Float32Array[], rows: number, C: number) {
      const mean = w.alloc(4 * rows * C), m2 = w.alloc(4 * rows * C), entMean = w.alloc(4 * rows);
      const entropy = w.alloc(4 * rows), mi = w.alloc(4 * rows), p = w.alloc(4 * rows * C);
      w.f32(mean, rows * C).fill(NaN); // pass 0 must overwrite whatever the buffers hold
      w.f32(m2, rows * C).fill(NaN);
      w.f32(entMean, rows).fill(NaN);
      ps.forEach((q, t) => {
        w.f32(p, rows * C).set(q);
        w.exports.mc_accumulate_f32(mean, m2, entMean, p, t, rows, C);
      });
      w.exports.mc_finalize_f32(m2, entropy, mi, mean, m2, entMean, ps.length, rows, C); // variance into m2
      const out = {
        mean: w.f32(mean, rows * C).slice(), variance: w.f32(m2, rows * C).slice(),
        entropy: w.f32(entropy, rows).slice(), mi: w.f32(mi, rows).slice(),
      };
      for (const b of [mean, m2, entMean, entropy, mi, p]) w.free(b);
      return out;
    }

    it.each([[1, 7, 10], [2, 5, 3], [50, 13, 10], [200, 4, 2]])('k = %i samples of %i rows × %i classes match float64', (k, rows, C) => {
      const ps = samples(k, rows, C, 7 + k);
      const got = run(ps, rows, C);
      const ref = reference(ps, rows, C);
      for (let i = 0; i < rows * C; i++) {
        expect(Math.abs(got.mean[i] - ref.mean[i])).toBeLessThan(1e-6);
        expect(Math.abs(got.variance[i] - ref.variance[i])).toBeLessThan(1e-6 * Math.max(1, ref.variance[i]) + 1e-8);
        expect(got.variance[i]).toBeGreaterThanOrEqual(0);
      }
      for (let r = 0; r < rows; r++) {
        expect(Math.abs(got.entropy[r] - ref.entropy[r])).toBeLessThan(2e-6);
        expect(Math.abs(got.mi[r] - ref.mi[r])).toBeLessThan(2e-6);
        expect(got.mi[r]).toBeGreaterThanOrEqual(0);
      }
      if (k === 1) { // one sample: no spread at all
        expect(Array.from(got.variance).every((v) => v === 0)).toBe(true);
        expect(Array.from(got.mi).every((v) => v === 0)).toBe(true);
      }
    });

    it('identical samples (a net without dropout) give exactly zero variance and mutual information', () => {
      const one = samples(1, 9, 10, 3)[0];
      one[0] = 1 - 1e-7; // a confident row, where E[p²] − E[p]² in float32 used to leave ~1e-6
      const got = run(Array.from({ length: 50 }, () => one), 9, 10);
      expect(Array.from(got.variance).every((v) => v === 0)).toBe(true);
      expect(Array.from(got.mi).every((v) => v === 0)).toBe(true);
      expect(Array.from(got.mean)).toEqual(Array.from(one));
    });
  });
}
