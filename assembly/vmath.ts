// Elementary functions for the kernels, each as an f32 function and an f32x4 function.
//
// Both versions run the same IEEE operations in the same order (plain mul/add/sub/div, min/max,
// integer exponent arithmetic; never a fused or relaxed multiply-add), so lane i of the
// vector result is bit-identical to the scalar result for the same input, in every build.
//
// exp(x), by Cody–Waite range reduction and a polynomial:
//   n = nearest(x·log2 e),  r = (x − n·LN2_HI) − n·LN2_LO,  |r| ≤ ln2/2 (+ tiny),
//   e^r − 1 ≈ r + r²·q(r),  q = Taylor series of (e^r − 1 − r)/r² to degree 5 (truncation < 6e-9),
//   e^x = (1 + (e^r − 1)) · 2^(n>>1) · 2^(n − (n>>1)).
// n is rounded by adding SHIFTER = 1.5·2^23 (round-to-nearest-even, as f32.nearest, valid
// for |x·log2 e| < 2^22): the sum holds n in its low mantissa bits, so the integer n is its
// bit pattern minus SHIFTER's and no float-to-int conversion is needed.
// LN2_HI has 15 significant bits, so n·LN2_HI is exact for |n| < 512 and the first subtraction
// is exact. Splitting 2^n into two normal powers keeps every step normal until the final
// multiply, which rounds once, into the subnormal range when the result is that small.
// Measured error against the exact e^x: ≤ 1.01 ulp over the whole float range (the test,
// test/activation.test.ts exp_f32, asserts ≤ 1.5 ulp).
// expm1neg32 (e^t − 1 for t ≤ 0, used by tanh) shares the reduction; see its comment.
// Saturation of exp: x ≥ 88.7228 gives +inf (true overflow), x ≤ −104 gives 0 (true underflow:
// below half the smallest subnormal); ±inf give +inf / 0; NaN gives NaN.

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693145751953125; // 0x3f317200, 15 significant bits
const LN2_LO: f32 = 1.42860682030941723212e-6; // 0x35bfbe8e, ln 2 − LN2_HI
const EXP_MAX: f32 = 89.0; // clamps: e^89 overflows to +inf on its own
const EXP_MIN: f32 = -104.0; // e^-104 rounds to 0 on its own
const EXPM1_MIN: f32 = -30.0; // e^-30 − 1 is −1 in f32
const SHIFTER: f32 = 12582912.0; // 1.5·2^23
// q(r) = 1/2 + r/6 + r²/24 + r³/120 + r⁴/720 + r⁵/5040
const Q0: f32 = 0.5;
const Q1: f32 = 0.166666666666666667;
const Q2: f32 = 0.0416666666666666667;
const Q3: f32 = 0.00833333333333333333;
const Q4: f32 = 0.00138888888888888889;
const Q5: f32 = 0.000198412698412698413;

/** 2^k as f32 for integer k in [-126, 127] (k = 128 gives +inf). */
// @ts-ignore: decorator
@inline export function pow2i32(k: i32): f32 {
  return reinterpret<f32>((k + 127) << 23);
}

/** Lanes of pow2i32. */
// @ts-ignore: decorator
@inline export function pow2i32x4(k: v128): v128 {
  return i32x4.shl(i32x4.add(k, i32x4.splat(127)), 23);
}

/** e^r − 1 for |r| ≤ ~0.35 (the reduced argument), as r + r²·q(r). */
// @ts-ignore: decorator
@inline function expm1Reduced(r: f32): f32 {
  let q = Q5 * r + Q4;
  q = q * r + Q3;
  q = q * r + Q2;
  q = q * r + Q1;
  q = q * r + Q0;
  return r + (r * r) * q;
}

// @ts-ignore: decorator
@inline function expm1Reducedx4(r: v128): v128 {
  let q = f32x4.add(f32x4.mul(f32x4.splat(Q5), r), f32x4.splat(Q4));
  q = f32x4.add(f32x4.mul(q, r), f32x4.splat(Q3));
  q = f32x4.add(f32x4.mul(q, r), f32x4.splat(Q2));
  q = f32x4.add(f32x4.mul(q, r), f32x4.splat(Q1));
  q = f32x4.add(f32x4.mul(q, r), f32x4.splat(Q0));
  return f32x4.add(r, f32x4.mul(f32x4.mul(r, r), q));
}

/** e^x in f32 (see the header for method, accuracy and saturation). */
// @ts-ignore: decorator
@inline export function exp32(x: f32): f32 {
  x = min<f32>(max<f32>(x, EXP_MIN), EXP_MAX);
  const t = x * LOG2E + SHIFTER;
  const n = t - SHIFTER;
  const r = (x - n * LN2_HI) - n * LN2_LO;
  const p: f32 = 1.0 + expm1Reduced(r);
  const k = reinterpret<i32>(t) - reinterpret<i32>(SHIFTER);
  const k1 = k >> 1;
  return p * pow2i32(k1) * pow2i32(k - k1);
}

/** Lanes of exp32, bit-identical to it. */
// @ts-ignore: decorator
@inline export function exp32x4(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, f32x4.splat(EXP_MIN)), f32x4.splat(EXP_MAX));
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(SHIFTER));
  const n = f32x4.sub(t, f32x4.splat(SHIFTER));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI))), f32x4.mul(n, f32x4.splat(LN2_LO)));
  const p = f32x4.add(f32x4.splat(1.0), expm1Reducedx4(r));
  const k = i32x4.sub(t, i32x4.splat(reinterpret<i32>(SHIFTER)));
  const k1 = i32x4.shr_s(k, 1);
  return f32x4.mul(f32x4.mul(p, pow2i32x4(k1)), pow2i32x4(i32x4.sub(k, k1)));
}

/**
 * e^t − 1 for t ≤ 0, accurate in relative terms near 0 (no cancellation): with n and r as for
 * exp32, e^t − 1 = 2^n·(e^r − 1) + (2^n − 1). t is clamped to [-30, 0] (e^-30 − 1 is −1 in f32);
 * positive t is outside the domain. NaN gives NaN.
 */
// @ts-ignore: decorator
@inline export function expm1neg32(t: f32): f32 {
  t = min<f32>(max<f32>(t, EXPM1_MIN), 0);
  const u = t * LOG2E + SHIFTER;
  const n = u - SHIFTER;
  const r = (t - n * LN2_HI) - n * LN2_LO;
  const s = pow2i32(reinterpret<i32>(u) - reinterpret<i32>(SHIFTER));
  return s * expm1Reduced(r) + (s - 1.0);
}

/** Lanes of expm1neg32, bit-identical to it. */
// @ts-ignore: decorator
@inline export function expm1neg32x4(t: v128): v128 {
  t = f32x4.min(f32x4.max(t, f32x4.splat(EXPM1_MIN)), f32x4.splat(0));
  const u = f32x4.add(f32x4.mul(t, f32x4.splat(LOG2E)), f32x4.splat(SHIFTER));
  const n = f32x4.sub(u, f32x4.splat(SHIFTER));
  const r = f32x4.sub(f32x4.sub(t, f32x4.mul(n, f32x4.splat(LN2_HI))), f32x4.mul(n, f32x4.splat(LN2_LO)));
  const s = pow2i32x4(i32x4.sub(u, i32x4.splat(reinterpret<i32>(SHIFTER))));
  return f32x4.add(f32x4.mul(s, expm1Reducedx4(r)), f32x4.sub(s, f32x4.splat(1.0)));
}

/** Largest of the four lanes (NaN if any lane is NaN, as f32.max). */
// @ts-ignore: decorator
@inline export function hmax32x4(v: v128): f32 {
  return max<f32>(max<f32>(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)),
                  max<f32>(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

/** Lanes 2, 3 of v moved to lanes 0, 1 (to promote the high half to f64x2). */
// @ts-ignore: decorator
@inline export function high32x4(v: v128): v128 {
  return i32x4.shuffle(v, v, 2, 3, 0, 1);
}

/** Sum of the lanes of two f64x2 accumulators, as (a0 + a1) + (b0 + b1). */
// @ts-ignore: decorator
@inline export function hsum64x2x2(a: v128, b: v128): f64 {
  return (f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1)) +
         (f64x2.extract_lane(b, 0) + f64x2.extract_lane(b, 1));
}
