// Bernoulli dropout: forward, backward (from the stored bit mask, or recomputed from the
// counter), and a caller-supplied mask. Every kernel has a plain scalar sibling (`*_scalar`)
// that spells out the math; the SIMD kernel must match it bit for bit.
// Evaluation mode (y = p·x) is the level-1 scale_f32 in vector.ts.
//
// Conventions shared by the kernels in this file:
// - Pointers are byte addresses of f32 arrays (any 4-byte alignment; 16 is best). n counts
//   elements. Outputs overwrite; y == x (in-place) is allowed everywhere.
// - keep16 = round(p * 65536) is the quantized retention probability, in [1, 65536]; element i
//   is kept when (rngU16(i) ^ 0x8000) < keep16 (65536 keeps everything).
// - scale multiplies kept elements: 1 for the paper's convention (y = r*x), 1/p for inverted
//   dropout (y = r*x/p). The TS layer computes it from the quantized p.
// - first is the counter of element 0 (the element's index in the whole tensor), a multiple of
//   32, so that a tensor split across calls or threads draws exactly the mask of one call.
// - The mask holds one bit per element: bit (k & 31) of little-endian u32 word k >> 5 of `mask`
//   is element k of this call; ceil(n / 32) words are written, padding bits are 0.

import { rngKey0, rngKey1, rngWordx4, rngU16, mixM1x4, mixM2x4 } from "./rng";
import { scale_f32 } from "./vector";

// Element i is kept when (rngU16(i) ^ 0x8000) < keep16. The sign flip lets the vector path
// use a signed 16-bit compare (one instruction on x86; unsigned needs three) and changes nothing
// statistically: u16 ^ 0x8000 is as uniform as u16.
// @ts-ignore: decorator
@inline function keptScalar(i: u32, k0: u32, k1: u32, keep16: u32): bool {
  return (rngU16(i, k0, k1) ^ 0x8000) < keep16;
}

// Shared body of the forward pass and of the recomputing backward pass: out = r * in * scale,
// writing the bit mask when mask != 0.
// @ts-ignore: decorator
@inline function bernoulliApplyCounter(out: usize, mask: usize, inp: usize, keep16: u32, scale: f32,
                                        seed: u32, stream: u32, step: u32, first: u32, n: i32): void {
  if (keep16 >= 65536) { // p = 1: everything kept
    keepAll(out, mask, inp, scale, n);
    return;
  }
  const k0 = rngKey0(seed, stream, step);
  const k1 = rngKey1(k0);
  const K1 = i32x4.splat(k1);
  const M1 = mixM1x4();
  const M2 = mixM2x4();
  const S = f32x4.splat(scale);
  const T = i16x8.splat(<i16>(keep16 - 32768)); // signed threshold, see keptScalar
  const FOUR = i32x4.splat(4);
  // Counter words j = (first >> 1) + lane, with the key k0 already added (word(j) mixes j + k0).
  let JK = i32x4.add(i32x4(0, 1, 2, 3), i32x4.splat((first >>> 1) + k0));
  const blocks = n >> 5;
  for (let b = 0; b < blocks; b++) {
    const o = <usize>b << 7; // 32 floats = 128 bytes
    // 8 elements per vector of 4 words; lanes of `keep` are elements in order.
    const keepA = i16x8.lt_s(rngWordx4(JK, K1, M1, M2), T); JK = i32x4.add(JK, FOUR);
    const keepB = i16x8.lt_s(rngWordx4(JK, K1, M1, M2), T); JK = i32x4.add(JK, FOUR);
    const keepC = i16x8.lt_s(rngWordx4(JK, K1, M1, M2), T); JK = i32x4.add(JK, FOUR);
    const keepD = i16x8.lt_s(rngWordx4(JK, K1, M1, M2), T); JK = i32x4.add(JK, FOUR);
    if (mask) {
      store<u32>(mask + (<usize>b << 2),
        <u32>i8x16.bitmask(i8x16.narrow_i16x8_s(keepA, keepB)) |
        (<u32>i8x16.bitmask(i8x16.narrow_i16x8_s(keepC, keepD)) << 16));
    }
    const src = inp + o;
    const dst = out + o;
    v128.store(dst, v128.and(f32x4.mul(v128.load(src), S), i32x4.extend_low_i16x8_s(keepA)));
    v128.store(dst, v128.and(f32x4.mul(v128.load(src, 16), S), i32x4.extend_high_i16x8_s(keepA)), 16);
    v128.store(dst, v128.and(f32x4.mul(v128.load(src, 32), S), i32x4.extend_low_i16x8_s(keepB)), 32);
    v128.store(dst, v128.and(f32x4.mul(v128.load(src, 48), S), i32x4.extend_high_i16x8_s(keepB)), 48);
    v128.store(dst, v128.and(f32x4.mul(v128.load(src, 64), S), i32x4.extend_low_i16x8_s(keepC)), 64);
    v128.store(dst, v128.and(f32x4.mul(v128.load(src, 80), S), i32x4.extend_high_i16x8_s(keepC)), 80);
    v128.store(dst, v128.and(f32x4.mul(v128.load(src, 96), S), i32x4.extend_low_i16x8_s(keepD)), 96);
    v128.store(dst, v128.and(f32x4.mul(v128.load(src, 112), S), i32x4.extend_high_i16x8_s(keepD)), 112);
  }
  // Tail: fewer than 32 elements, one at a time (the same bits as the vector path).
  const done = blocks << 5;
  if (done < n) {
    let word: u32 = 0;
    for (let k = done; k < n; k++) {
      const kept = keptScalar(first + <u32>k, k0, k1, keep16);
      const o = <usize>k << 2;
      store<f32>(out + o, kept ? load<f32>(inp + o) * scale : 0);
      if (kept) word |= (<u32>1) << (<u32>(k - done));
    }
    if (mask) store<u32>(mask + (<usize>blocks << 2), word);
  }
}

// p = 1: out = in * scale, and (when mask != 0) a mask of ones with zero padding bits.
function keepAll(out: usize, mask: usize, inp: usize, scale: f32, n: i32): void {
  scale_f32(out, inp, scale, n);
  if (mask) {
    const words = (n + 31) >> 5;
    for (let w = 0; w < words; w++) {
      const left = n - (w << 5);
      store<u32>(mask + (<usize>w << 2), left >= 32 ? 0xffffffff : ((<u32>1 << <u32>left) - 1));
    }
  }
}

/**
 * Dropout forward, training mode: y = r * x * scale, r_i ~ Bernoulli(keep16 / 65536) drawn from
 * the counter (seed, stream, step, first + i). Writes y (n floats) and the bit mask
 * (ceil(n / 32) u32 words). In-place (y == x) allowed.
 */
export function dropout_forward_f32(y: usize, mask: usize, x: usize, keep16: u32, scale: f32,
                                    seed: u32, stream: u32, step: u32, first: u32, n: i32): void {
  bernoulliApplyCounter(y, mask, x, keep16, scale, seed, stream, step, first, n);
}

/** Scalar sibling of dropout_forward_f32: the definition, one element at a time. */
export function dropout_forward_f32_scalar(y: usize, mask: usize, x: usize, keep16: u32, scale: f32,
                                           seed: u32, stream: u32, step: u32, first: u32, n: i32): void {
  const k0 = rngKey0(seed, stream, step);
  const k1 = rngKey1(k0);
  const words = (n + 31) >> 5;
  for (let w = 0; w < words; w++) store<u32>(mask + (<usize>w << 2), 0);
  for (let k = 0; k < n; k++) {
    const kept = keep16 >= 65536 || keptScalar(first + <u32>k, k0, k1, keep16);
    const o = <usize>k << 2;
    store<f32>(y + o, kept ? load<f32>(x + o) * scale : 0);
    if (kept) {
      const wp = mask + (<usize>(k >> 5) << 2);
      store<u32>(wp, load<u32>(wp) | ((<u32>1) << (<u32>(k & 31))));
    }
  }
}

/**
 * Dropout backward from the stored bit mask: dx = r * dy * scale. In-place (dx == dy) allowed.
 */
export function dropout_backward_f32(dx: usize, dy: usize, mask: usize, scale: f32, n: i32): void {
  const S = f32x4.splat(scale);
  const BITS_LO = i32x4(1, 2, 4, 8);
  const BITS_HI = i32x4(16, 32, 64, 128);
  const groups = n >> 3;
  for (let g = 0; g < groups; g++) {
    const byte = i32x4.splat(<i32>load<u8>(mask + <usize>g));
    const mLo = i32x4.eq(v128.and(byte, BITS_LO), BITS_LO);
    const mHi = i32x4.eq(v128.and(byte, BITS_HI), BITS_HI);
    const o = <usize>g << 5;
    v128.store(dx + o, v128.and(f32x4.mul(v128.load(dy + o), S), mLo));
    v128.store(dx + o, v128.and(f32x4.mul(v128.load(dy + o, 16), S), mHi), 16);
  }
  for (let k = groups << 3; k < n; k++) {
    const kept = (load<u8>(mask + <usize>(k >> 3)) >> <u8>(k & 7)) & 1;
    const o = <usize>k << 2;
    store<f32>(dx + o, kept ? load<f32>(dy + o) * scale : 0);
  }
}

/** Scalar sibling of dropout_backward_f32. */
export function dropout_backward_f32_scalar(dx: usize, dy: usize, mask: usize, scale: f32, n: i32): void {
  for (let k = 0; k < n; k++) {
    const kept = (load<u32>(mask + (<usize>(k >> 5) << 2)) >>> <u32>(k & 31)) & 1;
    const o = <usize>k << 2;
    store<f32>(dx + o, kept ? load<f32>(dy + o) * scale : 0);
  }
}

/**
 * Dropout backward without a stored mask: recomputes r from the same counter as the forward
 * pass (same keep16, seed, stream, step, first) and writes dx = r * dy * scale.
 */
export function dropout_backward_recompute_f32(dx: usize, dy: usize, keep16: u32, scale: f32,
                                               seed: u32, stream: u32, step: u32, first: u32, n: i32): void {
  bernoulliApplyCounter(dx, 0, dy, keep16, scale, seed, stream, step, first, n);
}

/** Scalar sibling of dropout_backward_recompute_f32. */
export function dropout_backward_recompute_f32_scalar(dx: usize, dy: usize, keep16: u32, scale: f32,
                                                      seed: u32, stream: u32, step: u32, first: u32, n: i32): void {
  const k0 = rngKey0(seed, stream, step);
  const k1 = rngKey1(k0);
  for (let k = 0; k < n; k++) {
    const kept = keep16 >= 65536 || keptScalar(first + <u32>k, k0, k1, keep16);
    const o = <usize>k << 2;
    store<f32>(dx + o, kept ? load<f32>(dy + o) * scale : 0);
  }
}

/**
 * Applies a caller-supplied mask: y = x * r * scale, r an f32 array of n values (usually 0/1,
 * any real allowed). In-place (y == x) allowed.
 */
export function dropout_apply_mask_f32(y: usize, x: usize, r: usize, scale: f32, n: i32): void {
  const S = f32x4.splat(scale);
  const vecs = n >> 2;
  for (let v = 0; v < vecs; v++) {
    const o = <usize>v << 4;
    v128.store(y + o, f32x4.mul(f32x4.mul(v128.load(x + o), v128.load(r + o)), S));
  }
  for (let k = vecs << 2; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(y + o, load<f32>(x + o) * load<f32>(r + o) * scale);
  }
}

/** Scalar sibling of dropout_apply_mask_f32. */
export function dropout_apply_mask_f32_scalar(y: usize, x: usize, r: usize, scale: f32, n: i32): void {
  for (let k = 0; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(y + o, load<f32>(x + o) * load<f32>(r + o) * scale);
  }
}
