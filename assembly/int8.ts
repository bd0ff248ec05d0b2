// Int8 inference for dense layers: y = x·Wᵀ + b with W and x quantized to 8 and 7 bits, the
// products summed exactly in int32, and one float dequantization step per output.
//
// Quantization (model/quantize.ts decides when; these kernels do the arithmetic):
//   weights      per output unit o (row o of W [outF, inF]), symmetric:
//                  sw[o] = max_i |W[o,i]| / 64,  Wq[o,i] = round(W[o,i] / sw[o]) in [-64, 64]
//                (129 levels, not 255: see dot8 — what makes the relaxed product 1.3× faster)
//   activations  per row n of x [M, K] (dynamic) or per layer (calibrated), asymmetric, 7 bits:
//                  lo = min(0, min x), hi = max(0, max x), sx = (hi − lo) / 127, z = round(−lo / sx),
//                  xq[n,k] = clamp(round(x[n,k] / sx) + z, 0, 127)
//                (a row of ReLU outputs or pixels has lo = 0, so z = 0 and zero is exact)
//   product      acc[n,o] = Σ_k Wq[o,k]·xq[n,k]                       (int32, exact)
//   output       y[n,o] = f32(acc[n,o] − z[n]·wsum[o]) · (sw[o] · sx[n]) + b[o]
//                with wsum[o] = Σ_k Wq[o,k]; every float step is one IEEE f32 mul or add
//                (never a fused multiply-add), so y depends on the integers and scales only.
// round() is round-half-to-even (f32.nearest); divisions are IEEE f32 divisions.
//
// Why 7-bit activations: relaxed SIMD's dot products (i32x4.relaxed_dot_i8x16_i7x16_add_s and
// the i16x8 form dot8 uses) are deterministic only when the second operand's bytes have the high
// bit clear (x86 engines multiply that operand as unsigned bytes, ARM as signed ones). With xq in [0, 127] every engine computes the same
// exact products, so the relaxed build is bit-identical across engines, and the plain-SIMD
// build (i16x8 extension + i32x4.dot_i16x8_s, exact too) gives the same int32 sums: integer
// addition is associative, so the different lane groupings of the two builds cannot show. The
// float steps are the same ops in both builds, so the outputs are bit-identical across builds.
// |acc| ≤ 64·127·K < 2^31 for K ≤ 264,000 (the TypeScript side refuses wider layers).
//
// Packed weights (int8_pack_weights, once at quantize/load time): panels of 4 output units; a
// panel holds, for each quad of 4 consecutive k, 16 bytes [o0 k0..3, o1 k0..3, o2 k0..3, o3 k0..3]
// (zero-padded to whole panels and an even number of quads): one v128 is the relaxed dot's first operand for 4
// outputs, and a 4-byte splat of x[n, k..k+3] its second. Quantized x rows are Kp = roundUp(K, 8)
// bytes apart, padding bytes 0.
//
// Register tiles: relaxed build 4 rows × 8 outputs (two panels, 8 accumulators, two quads of k
// per step, see dot8); plain-SIMD build 4 rows × 4 outputs (one panel; each dot_i16x8 yields
// pair sums, so each output row keeps two accumulators, folded at the end). Single rows (the
// last M % 4, and batch 1) take a one-row tile over the same panels. The rows are cut into
// blocks of MC so the quantized rows a panel sweeps stay in L2.

/** Rows per M block (a block's quantized rows, MC·Kp bytes, stay in L2 while panels sweep them). */
const MC: i32 = 128;
/** Panels per register tile: 2 in the relaxed build (4 × 8 outputs), 1 in the plain-SIMD build. */
const PANELS: i32 = ASC_FEATURE_RELAXED_SIMD ? 2 : 1;

/** Largest |weight| level: ±64, so that 4 products with 7-bit inputs fit an i16 (4·64·127 = 32512). */
const W_MAX: f32 = 64;

// @ts-ignore: decorator
@inline function roundUp4(x: i32): i32 {
  return (x + 3) & ~3;
}

/** Inputs are padded to a multiple of 8: the relaxed tiles take two quads of k per step. */
// @ts-ignore: decorator
@inline function padK(x: i32): i32 {
  return (x + 7) & ~7;
}

// acc + Σ over two quads of k of w·a (a's bytes in [0, 127]; w0, a0 the first quad, w1, a1 the
// second): relaxed SIMD's i16x8.relaxed_dot_i8x16_i7x16_s (pair sums, one pmaddubsw on x86) for
// each quad, their i16 sum (4 products: |Σ| ≤ 4·64·127 = 32512 < 2^15, exact, hence W_MAX), then
// i32x4.dot_i16x8_s with ones (pairs of pairs into i32) — 3 multiply instructions per 32 products
// instead of 4 for two fused i32x4.relaxed_dot_i8x16_i7x16_add_s, 1.3× faster here. (The fused
// instruction is also wrong in Node 20's baseline compiler, V8 Liftoff: it returns twice the
// dot product and drops the accumulator — found by test/int8.test.ts, reproduced with
// --liftoff-only — so a function using it would change its results when it tiers up.)
// @ts-ignore: decorator
@inline function dot8(w0: v128, a0: v128, w1: v128, a1: v128, acc: v128): v128 {
  const p = i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(w0, a0), i16x8.relaxed_dot_i8x16_i7x16_s(w1, a1));
  return i32x4.add(acc, i32x4.dot_i16x8_s(p, i16x8.splat(1)));
}

// ---- weights --------------------------------------------------------------------------------

/** Bytes of int8_pack_weights' output for a layer [outF, inF]: roundUp(outF, 4)·roundUp(inF, 8). */
export function int8_packed_bytes(outF: i32, inF: i32): usize {
  return <usize>roundUp4(outF) * <usize>padK(inF);
}

/**
 * Per-unit symmetric quantization of W [outF, inF] (f32, row o = unit o's weights):
 * scale[o] = max_i |W[o,i]| / 64 (f32), q[o,i] = clamp(round(W[o,i] / scale[o]), −64, 64)
 * as int8 [outF, inF]; a row of zeros gets scale 0 and q = 0. W must be finite. q, scale must
 * not overlap W. Runs once per model (quantize), so it is plain scalar code.
 */
export function int8_quantize_weights(q: usize, scale: usize, w: usize, outF: i32, inF: i32): void {
  for (let o = 0; o < outF; o++) {
    const row = w + ((<usize>o * <usize>inF) << 2);
    const qrow = q + <usize>o * <usize>inF;
    let amax: f32 = 0;
    for (let i = 0; i < inF; i++) amax = max<f32>(amax, abs<f32>(load<f32>(row + (<usize>i << 2))));
    const s: f32 = amax / W_MAX;
    store<f32>(scale + (<usize>o << 2), s);
    for (let i = 0; i < inF; i++) {
      let v: f32 = s > 0 ? nearest<f32>(load<f32>(row + (<usize>i << 2)) / s) : 0;
      v = min<f32>(W_MAX, max<f32>(-W_MAX, v));
      store<i8>(qrow + i, <i8><i32>v);
    }
  }
}

/** w[o, i] = f32(q[o, i]) · scale[o]: the float weights an int8 layer computes with. */
export function int8_dequantize_weights(w: usize, q: usize, scale: usize, outF: i32, inF: i32): void {
  for (let o = 0; o < outF; o++) {
    const s = load<f32>(scale + (<usize>o << 2));
    for (let i = 0; i < inF; i++) {
      const j = <usize>o * <usize>inF + i;
      store<f32>(w + (j << 2), <f32>load<i8>(q + j) * s);
    }
  }
}

/**
 * Packs int8 W [outF, inF] (row-major) into the panel layout above (int8_packed_bytes(outF, inF)
 * bytes, zero-padded), and writes wsum[o] = Σ_i W[o,i] (i32) for o < roundUp(outF, 4) (0 for
 * the padding units). dst and wsum must not overlap q.
 */
export function int8_pack_weights(dst: usize, wsum: usize, q: usize, outF: i32, inF: i32): void {
  const Kq = padK(inF) >> 2;
  const panelBytes = <usize>Kq << 4;
  const P = roundUp4(outF) >> 2;
  memory.fill(dst, 0, <usize>P * panelBytes);
  for (let o = 0; o < P * 4; o++) {
    let s: i32 = 0;
    if (o < outF) {
      const src = q + <usize>o * <usize>inF;
      const base = dst + <usize>(o >> 2) * panelBytes + (<usize>(o & 3) << 2);
      for (let i = 0; i < inF; i++) {
        const v = load<i8>(src + i);
        store<i8>(base + (<usize>(i >> 2) << 4) + (i & 3), v);
        s += <i32>v;
      }
    }
    store<i32>(wsum + (<usize>o << 2), s);
  }
}

// ---- activations ----------------------------------------------------------------------------

// Row n of x (K floats) → Kp bytes at dst: clamp(round(x / s) + z, 0, 127), padding 0. s == 0:
// all zeros. 16 values per step: divide, round, add z (in f32: exact for the values that are not
// clamped anyway), convert with saturation, narrow with saturation to [0, 255], then min 127.
function quantizeRow(dst: usize, src: usize, s: f32, z: i32, K: i32, Kp: i32): void {
  if (!(s > 0)) { memory.fill(dst, <u8>0, <usize>Kp); return; }
  const sv = f32x4.splat(s), zv = f32x4.splat(<f32>z), top = i8x16.splat(127);
  let k = 0;
  for (; k + 16 <= K; k += 16) {
    const p = src + (<usize>k << 2);
    const q0 = i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.nearest(f32x4.div(v128.load(p), sv)), zv));
    const q1 = i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.nearest(f32x4.div(v128.load(p, 16), sv)), zv));
    const q2 = i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.nearest(f32x4.div(v128.load(p, 32), sv)), zv));
    const q3 = i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.nearest(f32x4.div(v128.load(p, 48), sv)), zv));
    const b = i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(q0, q1), i16x8.narrow_i32x4_s(q2, q3));
    v128.store(dst + k, i8x16.min_u(b, top));
  }
  for (; k < K; k++) store<u8>(dst + k, quantizeOne(load<f32>(src + (<usize>k << 2)), s, z));
  for (; k < Kp; k++) store<u8>(dst + k, 0);
}

// The scalar definition of one value (what the SIMD steps above compute lane by lane).
function quantizeOne(x: f32, s: f32, z: i32): u8 {
  const v: f32 = nearest<f32>(x / s) + <f32>z;
  // f32 → i32 with saturation (trunc_sat), then clamp to [0, 127]
  const i: i32 = v >= 2147483648.0 ? 2147483647 : (v <= -2147483648.0 ? -2147483648 : <i32>v);
  return <u8>(i < 0 ? 0 : (i > 127 ? 127 : i));
}

// min(0, min row) and max(0, max row) of K floats (finite).
function rowRange(src: usize, K: i32): v128 {
  let lo = f32x4.splat(0), hi = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const v = v128.load(src + (<usize>k << 2));
    lo = f32x4.min(lo, v); hi = f32x4.max(hi, v);
  }
  let l: f32 = min<f32>(min<f32>(f32x4.extract_lane(lo, 0), f32x4.extract_lane(lo, 1)), min<f32>(f32x4.extract_lane(lo, 2), f32x4.extract_lane(lo, 3)));
  let h: f32 = max<f32>(max<f32>(f32x4.extract_lane(hi, 0), f32x4.extract_lane(hi, 1)), max<f32>(f32x4.extract_lane(hi, 2), f32x4.extract_lane(hi, 3)));
  for (; k < K; k++) {
    const v = load<f32>(src + (<usize>k << 2));
    l = min<f32>(l, v); h = max<f32>(h, v);
  }
  return f32x4(l, h, 0, 0);
}

// Scale and zero point of the range [lo, hi] (lo ≤ 0 ≤ hi): s = (hi − lo) / 127, z = round(−lo / s).
// @ts-ignore: decorator
@inline function rangeScale(lo: f32, hi: f32): f32 {
  return hi > lo ? (hi - lo) / 127 : 0;
}

// @ts-ignore: decorator
@inline function rangeZero(lo: f32, s: f32): i32 {
  if (!(s > 0)) return 0;
  const z = nearest<f32>(-lo / s);
  return <i32>min<f32>(127, max<f32>(0, z));
}

/**
 * Dynamic quantization of x [M, K] (f32, finite), row by row (see the header): xq [M, Kp] u8
 * (Kp = roundUp(K, 8), padding 0), scale [M] f32, zero [M] i32. Outputs must not overlap x.
 */
export function int8_quantize_rows_f32(xq: usize, scale: usize, zero: usize, x: usize, M: i32, K: i32): void {
  const Kp = padK(K);
  for (let n = 0; n < M; n++) {
    const src = x + ((<usize>n * <usize>K) << 2);
    const r = rowRange(src, K);
    const lo = f32x4.extract_lane(r, 0), hi = f32x4.extract_lane(r, 1);
    const s = rangeScale(lo, hi);
    const z = rangeZero(lo, s);
    store<f32>(scale + (<usize>n << 2), s);
    store<i32>(zero + (<usize>n << 2), z);
    quantizeRow(xq + <usize>n * <usize>Kp, src, s, z, K, Kp);
  }
}

/**
 * Calibrated quantization of x [M, K] with one fixed range for the layer: s = (hi − lo) / 127,
 * z = round(−lo / s) for lo = min(0, lo), hi = max(0, hi); values outside clamp. Writes xq
 * [M, Kp], and scale[n] = s, zero[n] = z for every row (the GEMM's per-row contract).
 */
export function int8_quantize_rows_fixed_f32(xq: usize, scale: usize, zero: usize, x: usize, lo: f32, hi: f32, M: i32, K: i32): void {
  const Kp = padK(K);
  const l = min<f32>(lo, 0), h = max<f32>(hi, 0);
  const s = rangeScale(l, h);
  const z = rangeZero(l, s);
  for (let n = 0; n < M; n++) {
    store<f32>(scale + (<usize>n << 2), s);
    store<i32>(zero + (<usize>n << 2), z);
    quantizeRow(xq + <usize>n * <usize>Kp, x + ((<usize>n * <usize>K) << 2), s, z, K, Kp);
  }
}

/** range[0] = min(0, min x), range[1] = max(0, max x) over x [n] (f32, finite): calibration. */
export function int8_range_f32(range: usize, x: usize, n: i32): void {
  const r = rowRange(x, n);
  store<f32>(range, f32x4.extract_lane(r, 0));
  store<f32>(range, f32x4.extract_lane(r, 1), 4);
}

// ---- the product ----------------------------------------------------------------------------

// Stores `cnt` (1..4) outputs of one row from int32 sums acc (4 outputs from unit o):
// y = f32(acc − z·wsum) · (sw · sx) + b.
// Not inlined: it runs once per 4 outputs of a row, and a copy per call site would cost ~3 KB.
function storeOut(yp: usize, cnt: i32, acc: v128, o: usize, z: i32, sx: f32,
                          wsum: usize, sw: usize, bias: usize): void {
  const corr = i32x4.sub(acc, i32x4.mul(i32x4.splat(z), v128.load(wsum + (o << 2))));
  const s = f32x4.mul(v128.load(sw + (o << 2)), f32x4.splat(sx));
  const v = f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(corr), s), v128.load(bias + (o << 2)));
  if (cnt == 4) { v128.store(yp, v); return; }
  store<f32>(yp, f32x4.extract_lane(v, 0));
  if (cnt > 1) store<f32>(yp, f32x4.extract_lane(v, 1), 4);
  if (cnt > 2) store<f32>(yp, f32x4.extract_lane(v, 2), 8);
}

// The outputs of two panels of one row (the second only if cnt1 > 0).
function storeOut2(yp: usize, cnt0: i32, cnt1: i32, acc0: v128, acc1: v128, o: usize, z: i32, sx: f32,
                   wsum: usize, sw: usize, bias: usize): void {
  storeOut(yp, cnt0, acc0, o, z, sx, wsum, sw, bias);
  if (cnt1 > 0) storeOut(yp + 16, cnt1, acc1, o + 4, z, sx, wsum, sw, bias);
}

// Plain SIMD: the sums of a panel for one row from its pair accumulators: lo holds
// [o0 (k0+k1), o0 (k2+k3), o1 …, o1 …], hi the same for o2, o3.
// @ts-ignore: decorator
@inline function foldPairs(lo: v128, hi: v128): v128 {
  return i32x4.add(v128.shuffle<i32>(lo, hi, 0, 2, 4, 6), v128.shuffle<i32>(lo, hi, 1, 3, 5, 7));
}

// Plain SIMD: a 4-byte group of x as i16 [k0..3, k0..3].
// @ts-ignore: decorator
@inline function xPair(p: usize): v128 {
  return i16x8.extend_low_i8x16_u(v128.load32_splat(p));
}

// Relaxed: 4 rows × 2 panels (8 outputs). Plain: 4 rows × 1 panel.
// @ts-ignore: decorator
@inline function tile4(y: usize, ldyB: usize, xr: usize, Kp: usize, Kq: i32, pw: usize, panelBytes: usize,
                       o: usize, cnt0: i32, cnt1: i32, n: i32, xscale: usize, xzero: usize,
                       wsum: usize, sw: usize, bias: usize): void {
  const end = pw + (<usize>Kq << 4);
  let w0p = pw;
  let x = xr;
  const s0 = load<f32>(xscale + (<usize>n << 2)), s1 = load<f32>(xscale + (<usize>n << 2), 4);
  const s2 = load<f32>(xscale + (<usize>n << 2), 8), s3 = load<f32>(xscale + (<usize>n << 2), 12);
  const z0 = load<i32>(xzero + (<usize>n << 2)), z1 = load<i32>(xzero + (<usize>n << 2), 4);
  const z2 = load<i32>(xzero + (<usize>n << 2), 8), z3 = load<i32>(xzero + (<usize>n << 2), 12);
  const y0 = y + <usize>n * ldyB + (o << 2), y1 = y0 + ldyB, y2 = y1 + ldyB, y3 = y2 + ldyB;
  if (ASC_FEATURE_RELAXED_SIMD) {
    let c00 = i32x4.splat(0), c01 = i32x4.splat(0), c10 = i32x4.splat(0), c11 = i32x4.splat(0);
    let c20 = i32x4.splat(0), c21 = i32x4.splat(0), c30 = i32x4.splat(0), c31 = i32x4.splat(0);
    // a last odd panel runs as a pair with itself (its second half is not stored): one loop
    const second = cnt1 > 0 ? panelBytes : 0;
    while (w0p < end) { // two quads of k per step
      const w0 = v128.load(w0p), v0 = v128.load(w0p, 16);
      const w1 = v128.load(w0p + second), v1 = v128.load(w0p + second, 16);
      let a = v128.load32_splat(x), b = v128.load32_splat(x, 4);
      c00 = dot8(w0, a, v0, b, c00); c01 = dot8(w1, a, v1, b, c01);
      a = v128.load32_splat(x + Kp); b = v128.load32_splat(x + Kp, 4);
      c10 = dot8(w0, a, v0, b, c10); c11 = dot8(w1, a, v1, b, c11);
      a = v128.load32_splat(x + Kp * 2); b = v128.load32_splat(x + Kp * 2, 4);
      c20 = dot8(w0, a, v0, b, c20); c21 = dot8(w1, a, v1, b, c21);
      a = v128.load32_splat(x + Kp * 3); b = v128.load32_splat(x + Kp * 3, 4);
      c30 = dot8(w0, a, v0, b, c30); c31 = dot8(w1, a, v1, b, c31);
      w0p += 32; x += 8;
    }
    storeOut2(y0, cnt0, cnt1, c00, c01, o, z0, s0, wsum, sw, bias);
    storeOut2(y1, cnt0, cnt1, c10, c11, o, z1, s1, wsum, sw, bias);
    storeOut2(y2, cnt0, cnt1, c20, c21, o, z2, s2, wsum, sw, bias);
    storeOut2(y3, cnt0, cnt1, c30, c31, o, z3, s3, wsum, sw, bias);
  } else {
    let l0 = i32x4.splat(0), h0 = i32x4.splat(0), l1 = i32x4.splat(0), h1 = i32x4.splat(0);
    let l2 = i32x4.splat(0), h2 = i32x4.splat(0), l3 = i32x4.splat(0), h3 = i32x4.splat(0);
    while (w0p < end) {
      const w = v128.load(w0p);
      const wl = i16x8.extend_low_i8x16_s(w), wh = i16x8.extend_high_i8x16_s(w);
      let a = xPair(x);
      l0 = i32x4.add(l0, i32x4.dot_i16x8_s(wl, a)); h0 = i32x4.add(h0, i32x4.dot_i16x8_s(wh, a));
      a = xPair(x + Kp);
      l1 = i32x4.add(l1, i32x4.dot_i16x8_s(wl, a)); h1 = i32x4.add(h1, i32x4.dot_i16x8_s(wh, a));
      a = xPair(x + Kp * 2);
      l2 = i32x4.add(l2, i32x4.dot_i16x8_s(wl, a)); h2 = i32x4.add(h2, i32x4.dot_i16x8_s(wh, a));
      a = xPair(x + Kp * 3);
      l3 = i32x4.add(l3, i32x4.dot_i16x8_s(wl, a)); h3 = i32x4.add(h3, i32x4.dot_i16x8_s(wh, a));
      w0p += 16; x += 4;
    }
    storeOut(y0, cnt0, foldPairs(l0, h0), o, z0, s0, wsum, sw, bias);
    storeOut(y1, cnt0, foldPairs(l1, h1), o, z1, s1, wsum, sw, bias);
    storeOut(y2, cnt0, foldPairs(l2, h2), o, z2, s2, wsum, sw, bias);
    storeOut(y3, cnt0, foldPairs(l3, h3), o, z3, s3, wsum, sw, bias);
  }
}

// One row × the panels of a tile (2 relaxed, 1 plain), for the last M % 4 rows and batch 1.
// Only the adds carry a dependence from one quad to the next, so two chains keep up.
// @ts-ignore: decorator
@inline function tile1(y: usize, ldyB: usize, xr: usize, Kq: i32, pw: usize, panelBytes: usize,
                       o: usize, cnt0: i32, cnt1: i32, n: i32, xscale: usize, xzero: usize,
                       wsum: usize, sw: usize, bias: usize): void {
  const end = pw + (<usize>Kq << 4);
  let w0p = pw;
  let x = xr;
  const s0 = load<f32>(xscale + (<usize>n << 2));
  const z0 = load<i32>(xzero + (<usize>n << 2));
  const y0 = y + <usize>n * ldyB + (o << 2);
  if (ASC_FEATURE_RELAXED_SIMD) {
    let c0 = i32x4.splat(0), c1 = i32x4.splat(0);
    const second = cnt1 > 0 ? panelBytes : 0;
    while (w0p < end) {
      const a = v128.load32_splat(x), b = v128.load32_splat(x, 4);
      c0 = dot8(v128.load(w0p), a, v128.load(w0p, 16), b, c0);
      c1 = dot8(v128.load(w0p + second), a, v128.load(w0p + second, 16), b, c1);
      w0p += 32; x += 8;
    }
    storeOut2(y0, cnt0, cnt1, c0, c1, o, z0, s0, wsum, sw, bias);
  } else {
    let l = i32x4.splat(0), h = i32x4.splat(0);
    while (w0p < end) {
      const w = v128.load(w0p);
      const a = xPair(x);
      l = i32x4.add(l, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w), a));
      h = i32x4.add(h, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w), a));
      w0p += 16; x += 4;
    }
    storeOut(y0, cnt0, foldPairs(l, h), o, z0, s0, wsum, sw, bias);
  }
}

/**
 * The int8 dense product of a block of units (see the header):
 *   y[n*ldy + o] = f32(Σ_k Wq[o,k]·xq[n,k] − xzero[n]·wsum[o]) · (wscale[o] · xscale[n]) + bias[o]
 * for n < M, o < outF. xq [M, Kp] u8 in [0, 127] (Kp = roundUp(K, 8)), xscale [M] f32, xzero [M]
 * i32 (int8_quantize_rows_*); wp: the packed panels of the block's units (int8_pack_weights;
 * a block of a wider layer starts at a whole panel: wp + (u0 / 4)·Kp·4, with wsum, wscale and
 * bias offset by u0, u0 a multiple of 8); wsum [roundUp(outF, 4)] i32, wscale and bias
 * [roundUp(outF, 4)] f32 (padded, bias zeros for none). ldy ≥ outF is y's row stride (the
 * layer's full width). Columns of y outside the block are not touched. Each output is computed
 * the same way whichever block or tile computes it, so a split gives the same bits as one call.
 */
export function int8_dense_forward(y: usize, xq: usize, xscale: usize, xzero: usize, wp: usize,
                                   wsum: usize, wscale: usize, bias: usize,
                                   M: i32, K: i32, outF: i32, ldy: i32): void {
  if (M <= 0 || outF <= 0) return;
  const Kq = padK(K) >> 2;
  const Kp = <usize>Kq << 2;
  const panelBytes = <usize>Kq << 4;
  const P = (outF + 3) >> 2;
  const ldyB = <usize>ldy << 2;
  for (let ic = 0; ic < M; ic += MC) {
    const mEnd = min<i32>(M, ic + MC);
    for (let p = 0; p < P; p += PANELS) {
      const o = <usize>p << 2;
      const cnt0 = min<i32>(4, outF - (p << 2));
      const cnt1 = PANELS == 2 && p + 1 < P ? min<i32>(4, outF - ((p + 1) << 2)) : 0;
      const pw = wp + <usize>p * panelBytes;
      let n = ic;
      for (; n + 4 <= mEnd; n += 4) {
        tile4(y, ldyB, xq + <usize>n * Kp, Kp, Kq, pw, panelBytes, o, cnt0, cnt1, n, xscale, xzero, wsum, wscale, bias);
      }
      for (; n < mEnd; n++) {
        tile1(y, ldyB, xq + <usize>n * Kp, Kq, pw, panelBytes, o, cnt0, cnt1, n, xscale, xzero, wsum, wscale, bias);
      }
    }
  }
}

/**
 * Naive sibling of int8_dense_forward, the definition, from the row-major int8 W [outF, inF]
 * (q, not the packed panels) and unpadded wscale, bias (bias 0: none):
 *   y[n*ldy + o] = f32(Σ_k q[o,k]·xq[n,k] − xzero[n]·Σ_k q[o,k]) · (wscale[o]·xscale[n]) + bias[o]
 */
export function int8_dense_forward_naive(y: usize, xq: usize, xscale: usize, xzero: usize, q: usize,
                                         wscale: usize, bias: usize, M: i32, K: i32, outF: i32, ldy: i32): void {
  const Kp = padK(K);
  for (let n = 0; n < M; n++) {
    const sx = load<f32>(xscale + (<usize>n << 2));
    const z = load<i32>(xzero + (<usize>n << 2));
    for (let o = 0; o < outF; o++) {
      let acc: i32 = 0, ws: i32 = 0;
      for (let k = 0; k < K; k++) {
        const w = <i32>load<i8>(q + <usize>o * <usize>K + k);
        acc += w * <i32>load<u8>(xq + <usize>n * <usize>Kp + k);
        ws += w;
      }
      const s: f32 = load<f32>(wscale + (<usize>o << 2)) * sx;
      const b: f32 = bias ? load<f32>(bias + (<usize>o << 2)) : 0;
      store<f32>(y + ((<usize>n * <usize>ldy + <usize>o) << 2), <f32>(acc - z * ws) * s + b);
    }
  }
}

/** Naive sibling of int8_quantize_rows_f32 (same contract): scalar, one value at a time. */
export function int8_quantize_rows_f32_naive(xq: usize, scale: usize, zero: usize, x: usize, M: i32, K: i32): void {
  const Kp = padK(K);
  for (let n = 0; n < M; n++) {
    const src = x + ((<usize>n * <usize>K) << 2);
    let lo: f32 = 0, hi: f32 = 0;
    for (let k = 0; k < K; k++) { const v = load<f32>(src + (<usize>k << 2)); lo = min<f32>(lo, v); hi = max<f32>(hi, v); }
    const s = rangeScale(lo, hi);
    const z = rangeZero(lo, s);
    store<f32>(scale + (<usize>n << 2), s);
    store<i32>(zero + (<usize>n << 2), z);
    const dst = xq + <usize>n * <usize>Kp;
    for (let k = 0; k < Kp; k++) {
      store<u8>(dst + k, k < K && s > 0 ? quantizeOne(load<f32>(src + (<usize>k << 2)), s, z) : 0);
    }
  }
}
