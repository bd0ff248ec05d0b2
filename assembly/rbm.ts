// Sampling binary units from their probabilities, for restricted Boltzmann machines trained by
// contrastive divergence (src/model/rbm.ts): y[i] = 1 if u_i < p[i], else 0, with
//   u_i = (rngWord(first + i, k0, k1) >>> 8) * 2^-24     (k0, k1 = the key of (seed, stream, step))
// a 24-bit uniform in [0, 1), exact in f32, from the counter-based words of rng.ts (one word per
// element: a probability needs more than the 16 bits a dropout mask uses). So P(y = 1) = p
// rounded down to a multiple of 2^-24 (p <= 0 never fires, p >= 1 always does, NaN never does),
// and every draw is a pure function of (seed, stream, step, i): the SIMD kernel and its scalar
// sibling are bit-identical and any split of the elements across calls or threads draws the same
// samples.

import { rngKey0, rngKey1, rngWord, rngWordx4, mixM1x4, mixM2x4 } from "./rng";

const INV_2_24: f32 = 1.0 / 16777216.0;

/** y[i] = (u_i < p[i]) ? 1 : 0 for i < n (see the file comment). y may be p (in place). */
export function bernoulli_sample_f32(y: usize, p: usize, seed: u32, stream: u32, step: u32, first: u32, n: i32): void {
  const k0 = rngKey0(seed, stream, step);
  const k1 = rngKey1(k0);
  const K1 = i32x4.splat(k1), M1 = mixM1x4(), M2 = mixM2x4();
  const scale = f32x4.splat(INV_2_24), one = f32x4.splat(1);
  let jk = i32x4.add(i32x4.splat(first + k0), i32x4(0, 1, 2, 3));
  const four = i32x4.splat(4);
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const o = <usize>i << 2;
    const w = rngWordx4(jk, K1, M1, M2);
    const u = f32x4.mul(f32x4.convert_i32x4_u(i32x4.shr_u(w, 8)), scale);
    // lanes where u < p: all ones, then the bits of 1.0f
    v128.store(y + o, v128.and(f32x4.lt(u, v128.load(p + o)), one));
    jk = i32x4.add(jk, four);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const u = <f32>(rngWord(first + <u32>i, k0, k1) >>> 8) * INV_2_24;
    store<f32>(y + o, u < load<f32>(p + o) ? 1 : 0);
  }
}

/** Scalar sibling of bernoulli_sample_f32: the definition, one element at a time. */
export function bernoulli_sample_f32_scalar(y: usize, p: usize, seed: u32, stream: u32, step: u32, first: u32, n: i32): void {
  const k0 = rngKey0(seed, stream, step);
  const k1 = rngKey1(k0);
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const u = <f32>(rngWord(first + <u32>i, k0, k1) >>> 8) * INV_2_24;
    store<f32>(y + o, u < load<f32>(p + o) ? 1 : 0);
  }
}
