// Gaussian dropout (Srivastava et al. 2014, §10): multiplicative noise r ~ N(1, sigma^2),
// sigma^2 = (1 - p) / p with p the retention probability in (0, 1]. Training: y = r * x;
// test time: the identity (no kernel). p = 1 gives sigma = 0 and the identity.
//
// The noise is generated inside the kernel from the counter-based words of rng.ts, so it is a
// pure function of (seed, stream, step, element counter) and backward recomputes it instead of
// storing it. Every SIMD kernel has a scalar sibling with the same operations in the same order
// (plain f32 mul/add/sub/div/sqrt, never a fused multiply-add), so the two are bit-identical, and
// a tensor split across calls or threads draws the same noise (each element's noise depends on
// its own counter only, so any split works; the family convention of multiples of 32 is fine).
//
// The standard normal z of element i (counter c = first + i), exactly:
//   k0           = rngKey0(seed, stream, step)                      (the Bernoulli key word)
//   g0 = mix32(k0 ^ GA), g1 = mix32(g0 ^ GB), g2 = mix32(g1 ^ GC), g3 = mix32(g2 ^ GD)
//                  (GA..GD: the hex digits of e; the Bernoulli mask never uses these keys)
//   word(c, a, b) = mix32(mix32(c ^ a) + b)                  (mix32 of rng.ts, two rounds)
//   w1 = word(c, g0, g1),  w2 = word(c, g2, g3)          (two independent 32-bit words)
//   u1 = f32((w1 >>> 8) + 1) * 2^-24       in [2^-24, 1]: never 0, so log is always finite
//   t  = f32(w2 >>> 8) * 2^-24             in [0, 1 - 2^-24]
//   s  = w2 & 1                            (sign bit)
//   z  = (-1)^s * sqrt(-2 ln u1) * cos(pi/2 * t)
// This is Box–Muller's R cos(2 pi u) with the angle's quadrant reduction done on the integer
// bits: |cos(2 pi u)| for u ~ U[0,1) has the law of cos(pi/2 t) for t ~ U[0,1), and its sign is
// an independent fair coin. Then r = 1 + sigma * z, y = x * r (backward: dx = dy * r).
//
// ln and cos are thinnet's own f32 routines (logf32 / cosHalfPi below, and their x4 twins):
//   ln u1: u1 = 2^e * f with f in [sqrt(1/2), sqrt(2)) by integer exponent arithmetic;
//          s = (f - 1) / (f + 1); ln f = s * (2 + s^2 (2/3 + s^2 (2/5 + s^2 (2/7 + s^2 2/9))))
//          (the atanh series, |s| <= 0.1716, truncation < 1e-9); ln u1 = e * ln2 + ln f.
//   cos(pi/2 t) = sum_{k=0..6} (-1)^k (pi/2)^(2k) / (2k)! * (t^2)^k, Horner in t^2 (Taylor,
//          truncation < 6.5e-9 on [0, 1]).
// Accuracy, measured over all 2^24 inputs of each routine by test/gaussian.test.ts against
// float64: ln u1 within 3.5 * 2^-24 relative; R = sqrt(-2 ln u1) within 4.6e-7 absolute;
// cos(pi/2 t) within 2.7 * 2^-24 absolute. Hence |z - z_exact| <= 1.6e-6 for every draw (5.0e-7
// was the largest seen over 10^6 draws), where z_exact is z computed in exact arithmetic from the
// same u1, t, s; in r = 1 + sigma * z that is below sigma * 14 ulps of 1. The error is absolute:
// near cos = 0 the relative error of a tiny z is large, which r cannot see.
// Range: |z| <= sqrt(48 ln 2) = 5.768 (u1 >= 2^-24), i.e. the normal is truncated where its
// two-sided tail mass is 8e-9; (u1, t, s) takes 2^49 values. Note r < 0 is possible and
// frequent for large sigma (P(r < 0) = Phi(-1/sigma): 37% at p = 0.1), as in the paper.

import { mix32, rngKey0 } from "./rng";

const GA: u32 = 0xb7e15162;
const GB: u32 = 0x8aed2a6a;
const GC: u32 = 0xbf715880;
const GD: u32 = 0x9cf4f3c7;

/** The Gaussian stream's 32-bit word of counter c under keys (ka, kb): two mix32 rounds. */
// @ts-ignore: decorator
@inline function gaussWord(c: u32, ka: u32, kb: u32): u32 {
  return mix32(mix32(c ^ ka) + kb);
}

/** mix32 of rng.ts in four lanes, multipliers loaded from VI. */
// @ts-ignore: decorator
@inline function mixx4(x: v128): v128 {
  x = v128.xor(x, i32x4.shr_u(x, 16));
  x = i32x4.mul(x, v128.load(VI, I_M1));
  x = v128.xor(x, i32x4.shr_u(x, 15));
  x = i32x4.mul(x, v128.load(VI, I_M2));
  x = v128.xor(x, i32x4.shr_u(x, 15));
  return x;
}

/** gaussWord for the four counters in the lanes of C. */
// @ts-ignore: decorator
@inline function gaussWordx4(C: v128, KA: v128, KB: v128): v128 {
  return mixx4(i32x4.add(mixx4(v128.xor(C, KA)), KB));
}

const TWO_M24: f32 = 5.9604644775390625e-8; // 2^-24, exact
const LN2: f32 = 0.693147182464599609375;   // f32(ln 2)
// f32(2/3), f32(2/5), f32(2/7), f32(2/9): the atanh series of ln((1 + s) / (1 - s)).
const L3: f32 = 0.666666686534881591796875;
const L5: f32 = 0.4000000059604644775390625;
const L7: f32 = 0.2857142984867095947265625;
const L9: f32 = 0.22222222387790679931640625;
// f32((-1)^k (pi/2)^(2k) / (2k)!), k = 1..6: cos(pi/2 t) as a polynomial in t^2.
const C1: f32 = -1.2337005138397216796875;
const C2: f32 = 0.2536695003509521484375;
const C3: f32 = -0.020863480865955352783203125;
const C4: f32 = 0.0009192602592520415782928466796875;
const C5: f32 = -0.0000252020417974563315510749816894531;
const C6: f32 = 0.00000047108747480706369969993829727172;
// mix32's multipliers (rng.ts MIX_M1, MIX_M2), for the vector mixer; the scalar path calls mix32.
const MIX_M1: u32 = 0x21f0aaad;
const MIX_M2: u32 = 0x735a2d97;
// f = bits(u) + (0x3f800000 - SQRTH) carries into the exponent exactly when mant(u) >= sqrt(2).
const SQRTH_BITS: u32 = 0x3f3504f3; // f32(sqrt(1/2))
const LOG_SHIFT: u32 = 0x3f800000 - SQRTH_BITS;

// The SIMD path's constants, four lanes each, kept in memory and loaded where they are used:
// V8 rematerializes a v128.const inside a loop with several instructions, a load from L1 is one
// (this alone made the kernel 1.4x faster). Byte offsets of the vectors in VF and VI:
const F_ONE = 0;
const F_TWO = 16;
const F_MINUS_TWO = 32;
const F_TWO_M24 = 48;
const F_LN2 = 64;
const F_L3 = 80;
const F_L5 = 96;
const F_L7 = 112;
const F_L9 = 128;
const F_C1 = 144;
const F_C2 = 160;
const F_C3 = 176;
const F_C4 = 192;
const F_C5 = 208;
const F_C6 = 224;
const I_LOG_SHIFT = 0;
const I_MANT = 16;
const I_SQRTH = 32;
const I_BIAS = 48;
const I_ONE = 64;
const I_LANES = 80; // four vectors: 0..3, 4..7, 8..11, 12..15
const I_M1 = 144;
const I_M2 = 160;
const VF = memory.data<f32>([
  1, 1, 1, 1,                                 //   0: 1
  2, 2, 2, 2,                                 //  16: 2
  -2, -2, -2, -2,                             //  32: -2
  TWO_M24, TWO_M24, TWO_M24, TWO_M24,         //  48
  LN2, LN2, LN2, LN2,                         //  64
  L3, L3, L3, L3, L5, L5, L5, L5,             //  80, 96
  L7, L7, L7, L7, L9, L9, L9, L9,             // 112, 128
  C1, C1, C1, C1, C2, C2, C2, C2,             // 144, 160
  C3, C3, C3, C3, C4, C4, C4, C4,             // 176, 192
  C5, C5, C5, C5, C6, C6, C6, C6,             // 208, 224
], 16);
const VI = memory.data<u32>([
  LOG_SHIFT, LOG_SHIFT, LOG_SHIFT, LOG_SHIFT, //   0
  0x007fffff, 0x007fffff, 0x007fffff, 0x007fffff, // 16: mantissa mask
  SQRTH_BITS, SQRTH_BITS, SQRTH_BITS, SQRTH_BITS, // 32
  127, 127, 127, 127,                         //  48: exponent bias
  1, 1, 1, 1,                                 //  64
  0, 1, 2, 3, 4, 5, 6, 7,                     //  80: counter offsets of the lanes
  8, 9, 10, 11, 12, 13, 14, 15,               //  96, 112
  MIX_M1, MIX_M1, MIX_M1, MIX_M1,             // 144: mix32's multipliers (rng.ts)
  MIX_M2, MIX_M2, MIX_M2, MIX_M2,             // 160
], 16);

/** Natural log of a positive normal f32 (u1 in [2^-24, 1] here). Twin of logf32x4. */
// @ts-ignore: decorator
@inline function logf32(u: f32): f32 {
  const ix = reinterpret<u32>(u) + LOG_SHIFT;
  const e = <f32>(<i32>(ix >>> 23) - 127);
  const f = reinterpret<f32>((ix & 0x007fffff) + SQRTH_BITS);
  const s = (f - 1) / (f + 1);
  const s2 = s * s;
  let q = L9;
  q = q * s2 + L7;
  q = q * s2 + L5;
  q = q * s2 + L3;
  q = q * s2 + 2;
  return e * LN2 + s * q;
}

/** logf32 in four lanes, same operations in the same order. */
// @ts-ignore: decorator
@inline function logf32x4(u: v128): v128 {
  const ix = i32x4.add(u, v128.load(VI, I_LOG_SHIFT));
  const e = f32x4.convert_i32x4_s(i32x4.sub(i32x4.shr_u(ix, 23), v128.load(VI, I_BIAS)));
  const f = i32x4.add(v128.and(ix, v128.load(VI, I_MANT)), v128.load(VI, I_SQRTH));
  const ONE = v128.load(VF, F_ONE);
  const s = f32x4.div(f32x4.sub(f, ONE), f32x4.add(f, ONE));
  const s2 = f32x4.mul(s, s);
  let q = v128.load(VF, F_L9);
  q = f32x4.add(f32x4.mul(q, s2), v128.load(VF, F_L7));
  q = f32x4.add(f32x4.mul(q, s2), v128.load(VF, F_L5));
  q = f32x4.add(f32x4.mul(q, s2), v128.load(VF, F_L3));
  q = f32x4.add(f32x4.mul(q, s2), v128.load(VF, F_TWO));
  return f32x4.add(f32x4.mul(e, v128.load(VF, F_LN2)), f32x4.mul(s, q));
}

/** cos(pi/2 * t) for t in [0, 1]. Twin of cosHalfPix4. */
// @ts-ignore: decorator
@inline function cosHalfPi(t: f32): f32 {
  const t2 = t * t;
  let c = C6;
  c = c * t2 + C5;
  c = c * t2 + C4;
  c = c * t2 + C3;
  c = c * t2 + C2;
  c = c * t2 + C1;
  return c * t2 + 1;
}

/** cosHalfPi in four lanes, same operations in the same order. */
// @ts-ignore: decorator
@inline function cosHalfPix4(t: v128): v128 {
  const t2 = f32x4.mul(t, t);
  let c = v128.load(VF, F_C6);
  c = f32x4.add(f32x4.mul(c, t2), v128.load(VF, F_C5));
  c = f32x4.add(f32x4.mul(c, t2), v128.load(VF, F_C4));
  c = f32x4.add(f32x4.mul(c, t2), v128.load(VF, F_C3));
  c = f32x4.add(f32x4.mul(c, t2), v128.load(VF, F_C2));
  c = f32x4.add(f32x4.mul(c, t2), v128.load(VF, F_C1));
  return f32x4.add(f32x4.mul(c, t2), v128.load(VF, F_ONE));
}

/** The standard normal of counter c under the Gaussian keys g0..g3 (see the file header). */
// @ts-ignore: decorator
@inline function gaussZ(c: u32, g0: u32, g1: u32, g2: u32, g3: u32): f32 {
  const w1 = gaussWord(c, g0, g1);
  const w2 = gaussWord(c, g2, g3);
  const u1 = <f32>((w1 >>> 8) + 1) * TWO_M24;
  const t = <f32>(w2 >>> 8) * TWO_M24;
  const R = Mathf.sqrt(logf32(u1) * -2);
  const z = R * cosHalfPi(t);
  return reinterpret<f32>(reinterpret<u32>(z) ^ (w2 << 31));
}

/** gaussZ for the four counters in the lanes of C. */
// @ts-ignore: decorator
@inline function gaussZx4(C: v128, G0: v128, G1: v128, G2: v128, G3: v128): v128 {
  const W1 = gaussWordx4(C, G0, G1);
  const W2 = gaussWordx4(C, G2, G3);
  const SCALE = v128.load(VF, F_TWO_M24);
  const U1 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.add(i32x4.shr_u(W1, 8), v128.load(VI, I_ONE))), SCALE);
  const T = f32x4.mul(f32x4.convert_i32x4_s(i32x4.shr_u(W2, 8)), SCALE);
  const R = f32x4.sqrt(f32x4.mul(logf32x4(U1), v128.load(VF, F_MINUS_TWO)));
  const Z = f32x4.mul(R, cosHalfPix4(T));
  return v128.xor(Z, i32x4.shl(W2, 31));
}

// r = 1 + sigma * z for the four counters in the lanes of C.
// @ts-ignore: decorator
@inline function noisex4(C: v128, SIG: v128, G0: v128, G1: v128, G2: v128, G3: v128): v128 {
  return f32x4.add(v128.load(VF, F_ONE), f32x4.mul(SIG, gaussZx4(C, G0, G1, G2, G3)));
}

// out[0] = inp[0] * r, r = 1 + sigma * z for counter c (noisex4 for one element).
// @ts-ignore: decorator
@inline function applyOne(out: usize, inp: usize, c: u32, sigma: f32, g0: u32, g1: u32, g2: u32, g3: u32): void {
  const r: f32 = 1 + sigma * gaussZ(c, g0, g1, g2, g3);
  store<f32>(out, load<f32>(inp) * r);
}

// Shared body of forward and backward: out = in * (1 + sigma * z). sigma == 0 is an exact copy.
// 16 elements (four independent vectors) per iteration: the chain from counter to r is long
// (four dependent mixer multiplies, a divide, a square root, two Horner chains) and V8 keeps the
// wasm order, so one vector per iteration left the core idle (1.8x slower, measured on Zen 4).
// All four noise vectors are computed before the first store (storing each as soon as it is
// ready was as slow as one vector per iteration).
// @ts-ignore: decorator
@inline function gaussianApply(out: usize, inp: usize, sigma: f32,
                               seed: u32, stream: u32, step: u32, first: u32, n: i32): void {
  if (sigma == 0) {
    if (out != inp) memory.copy(out, inp, <usize>n << 2);
    return;
  }
  const k0 = rngKey0(seed, stream, step);
  const g0 = mix32(k0 ^ GA);
  const g1 = mix32(g0 ^ GB);
  const g2 = mix32(g1 ^ GC);
  const g3 = mix32(g2 ^ GD);
  const G0 = i32x4.splat(g0);
  const G1 = i32x4.splat(g1);
  const G2 = i32x4.splat(g2);
  const G3 = i32x4.splat(g3);
  const SIG = f32x4.splat(sigma);
  const blocks = n >> 4;
  for (let b = 0; b < blocks; b++) {
    const c = i32x4.splat(first + (<u32>b << 4));
    const ra = noisex4(i32x4.add(c, v128.load(VI, I_LANES)), SIG, G0, G1, G2, G3);
    const rb = noisex4(i32x4.add(c, v128.load(VI, I_LANES + 16)), SIG, G0, G1, G2, G3);
    const rc = noisex4(i32x4.add(c, v128.load(VI, I_LANES + 32)), SIG, G0, G1, G2, G3);
    const rd = noisex4(i32x4.add(c, v128.load(VI, I_LANES + 48)), SIG, G0, G1, G2, G3);
    const o = <usize>b << 6;
    v128.store(out + o, f32x4.mul(v128.load(inp + o), ra));
    v128.store(out + o, f32x4.mul(v128.load(inp + o, 16), rb), 16);
    v128.store(out + o, f32x4.mul(v128.load(inp + o, 32), rc), 32);
    v128.store(out + o, f32x4.mul(v128.load(inp + o, 48), rd), 48);
  }
  const vecs = n >> 2;
  for (let v = blocks << 2; v < vecs; v++) {
    const r = noisex4(i32x4.add(i32x4.splat(first + (<u32>v << 2)), v128.load(VI, I_LANES)), SIG, G0, G1, G2, G3);
    const o = <usize>v << 4;
    v128.store(out + o, f32x4.mul(v128.load(inp + o), r));
  }
  for (let k = vecs << 2; k < n; k++) {
    const o = <usize>k << 2;
    applyOne(out + o, inp + o, first + <u32>k, sigma, g0, g1, g2, g3);
  }
}

// Scalar sibling of gaussianApply: one element at a time.
// @ts-ignore: decorator
@inline function gaussianApplyScalar(out: usize, inp: usize, sigma: f32,
                                     seed: u32, stream: u32, step: u32, first: u32, n: i32): void {
  if (sigma == 0) {
    if (out != inp) memory.copy(out, inp, <usize>n << 2);
    return;
  }
  const k0 = rngKey0(seed, stream, step);
  const g0 = mix32(k0 ^ GA);
  const g1 = mix32(g0 ^ GB);
  const g2 = mix32(g1 ^ GC);
  const g3 = mix32(g2 ^ GD);
  for (let k = 0; k < n; k++) {
    const o = <usize>k << 2;
    applyOne(out + o, inp + o, first + <u32>k, sigma, g0, g1, g2, g3);
  }
}

/**
 * Gaussian dropout forward, training mode: y_i = x_i * r_i, r_i = 1 + sigma * z_i, z_i the
 * standard normal of counter (seed, stream, step, first + i) defined in the file header.
 * sigma = sqrt((1 - p) / p) for retention probability p (sigma = 0: y = x exactly).
 * sigma must be finite and >= 0. x, y: n f32 (byte pointers, 4-byte aligned; 16 is best).
 * Overwrites y; in-place (y == x) allowed. first: counter of element 0 (the element's index in
 * the whole tensor); a split at any offset reproduces one call, so the family's multiples of 32
 * are fine. Test time needs no kernel (the identity).
 */
export function gaussian_dropout_forward_f32(y: usize, x: usize, sigma: f32,
                                             seed: u32, stream: u32, step: u32, first: u32, n: i32): void {
  gaussianApply(y, x, sigma, seed, stream, step, first, n);
}

/** Scalar sibling of gaussian_dropout_forward_f32 (bit-identical). */
export function gaussian_dropout_forward_f32_scalar(y: usize, x: usize, sigma: f32,
                                                    seed: u32, stream: u32, step: u32, first: u32, n: i32): void {
  gaussianApplyScalar(y, x, sigma, seed, stream, step, first, n);
}

/**
 * Gaussian dropout backward: dx_i = dy_i * r_i, with r_i recomputed from the same
 * (sigma, seed, stream, step, first) as the forward pass (no stored noise). Overwrites dx;
 * in-place (dx == dy) allowed.
 */
export function gaussian_dropout_backward_f32(dx: usize, dy: usize, sigma: f32,
                                              seed: u32, stream: u32, step: u32, first: u32, n: i32): void {
  gaussianApply(dx, dy, sigma, seed, stream, step, first, n);
}

/** Scalar sibling of gaussian_dropout_backward_f32 (bit-identical). */
export function gaussian_dropout_backward_f32_scalar(dx: usize, dy: usize, sigma: f32,
                                                     seed: u32, stream: u32, step: u32, first: u32, n: i32): void {
  gaussianApplyScalar(dx, dy, sigma, seed, stream, step, first, n);
}
