// Activations: ReLU, logistic sigmoid, tanh, maxout; and elementwise exp. Each backward pass
// sits below its forward pass; every SIMD kernel has a scalar sibling (`*_scalar`) that spells
// out the math one element at a time, and the two agree bit for bit (vmath.ts has no fused ops).
//
// Conventions shared by the kernels in this file:
// - Pointers are byte addresses of f32 arrays (any 4-byte alignment; 16 is best); n counts
//   elements. Every kernel overwrites its output (none accumulates).
// - Elementwise kernels allow in-place use: y == x in forward passes, dx == dy (or dx == y) in
//   backward passes. Maxout does not (its input and output have different shapes).
// - Backward passes of sigmoid and tanh take the forward output y (not x), so x need not be kept.

import { exp32, exp32x4, expm1neg32, expm1neg32x4 } from "./vmath";

const SIGN: u32 = 0x80000000;

// ---------------------------------------------------------------------------------------------
// exp

/** y = e^x elementwise (vmath.ts exp32: ≤ 1.5 ulp, saturates to +inf / 0). In-place allowed. */
export function exp_f32(y: usize, x: usize, n: i32): void {
  const vecs = n >> 2;
  for (let v = 0; v < vecs; v++) {
    const o = <usize>v << 4;
    v128.store(y + o, exp32x4(v128.load(x + o)));
  }
  for (let k = vecs << 2; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(y + o, exp32(load<f32>(x + o)));
  }
}

/** Scalar sibling of exp_f32. */
export function exp_f32_scalar(y: usize, x: usize, n: i32): void {
  for (let k = 0; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(y + o, exp32(load<f32>(x + o)));
  }
}

// ---------------------------------------------------------------------------------------------
// ReLU: y = max(x, 0)

/** y = max(x, 0), n elements (NaN stays NaN). In-place allowed. */
export function relu_forward_f32(y: usize, x: usize, n: i32): void {
  const Z = f32x4.splat(0);
  const vecs = n >> 2;
  for (let v = 0; v < vecs; v++) {
    const o = <usize>v << 4;
    v128.store(y + o, f32x4.max(v128.load(x + o), Z));
  }
  for (let k = vecs << 2; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(y + o, max<f32>(load<f32>(x + o), 0));
  }
}

/** Scalar sibling of relu_forward_f32. */
export function relu_forward_f32_scalar(y: usize, x: usize, n: i32): void {
  for (let k = 0; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(y + o, max<f32>(load<f32>(x + o), 0));
  }
}

/**
 * dx = dy where y > 0, else 0 (the subgradient 0 at the kink). y may be the forward output or
 * its input x: they have the same sign pattern. In-place (dx == dy or dx == y) allowed.
 */
export function relu_backward_f32(dx: usize, dy: usize, y: usize, n: i32): void {
  const Z = f32x4.splat(0);
  const vecs = n >> 2;
  for (let v = 0; v < vecs; v++) {
    const o = <usize>v << 4;
    v128.store(dx + o, v128.and(v128.load(dy + o), f32x4.gt(v128.load(y + o), Z)));
  }
  for (let k = vecs << 2; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(dx + o, load<f32>(y + o) > 0 ? load<f32>(dy + o) : 0);
  }
}

/** Scalar sibling of relu_backward_f32. */
export function relu_backward_f32_scalar(dx: usize, dy: usize, y: usize, n: i32): void {
  for (let k = 0; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(dx + o, load<f32>(y + o) > 0 ? load<f32>(dy + o) : 0);
  }
}

// ---------------------------------------------------------------------------------------------
// Logistic sigmoid: y = 1 / (1 + e^-x)

// Computed as num / (1 + e) with e = e^-|x| ∈ (0, 1] and num = 1 for x ≥ 0, e for x < 0: no
// overflow anywhere, relative accuracy kept for very negative x (down to the subnormals).
// @ts-ignore: decorator
@inline function sigmoid32(x: f32): f32 {
  const e = exp32(-abs<f32>(x));
  return (x >= 0 ? <f32>1 : e) / (1 + e);
}

// @ts-ignore: decorator
@inline function sigmoid32x4(x: v128): v128 {
  const ONE = f32x4.splat(1);
  const e = exp32x4(f32x4.neg(f32x4.abs(x)));
  const num = v128.bitselect(ONE, e, f32x4.ge(x, f32x4.splat(0)));
  return f32x4.div(num, f32x4.add(ONE, e));
}

/** y = 1 / (1 + e^-x), n elements; finite for every finite x (σ(±100) = 1 / 0). In-place allowed. */
export function sigmoid_forward_f32(y: usize, x: usize, n: i32): void {
  const vecs = n >> 2;
  for (let v = 0; v < vecs; v++) {
    const o = <usize>v << 4;
    v128.store(y + o, sigmoid32x4(v128.load(x + o)));
  }
  for (let k = vecs << 2; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(y + o, sigmoid32(load<f32>(x + o)));
  }
}

/** Scalar sibling of sigmoid_forward_f32. */
export function sigmoid_forward_f32_scalar(y: usize, x: usize, n: i32): void {
  for (let k = 0; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(y + o, sigmoid32(load<f32>(x + o)));
  }
}

/** dx = dy · (y · (1 − y)), from the forward output y. In-place (dx == dy or dx == y) allowed. */
export function sigmoid_backward_f32(dx: usize, dy: usize, y: usize, n: i32): void {
  const ONE = f32x4.splat(1);
  const vecs = n >> 2;
  for (let v = 0; v < vecs; v++) {
    const o = <usize>v << 4;
    const Y = v128.load(y + o);
    v128.store(dx + o, f32x4.mul(v128.load(dy + o), f32x4.mul(Y, f32x4.sub(ONE, Y))));
  }
  for (let k = vecs << 2; k < n; k++) {
    const o = <usize>k << 2;
    const yk = load<f32>(y + o);
    store<f32>(dx + o, load<f32>(dy + o) * (yk * (1 - yk)));
  }
}

/** Scalar sibling of sigmoid_backward_f32. */
export function sigmoid_backward_f32_scalar(dx: usize, dy: usize, y: usize, n: i32): void {
  for (let k = 0; k < n; k++) {
    const o = <usize>k << 2;
    const yk = load<f32>(y + o);
    store<f32>(dx + o, load<f32>(dy + o) * (yk * (1 - yk)));
  }
}

// ---------------------------------------------------------------------------------------------
// tanh

// tanh x = sign(x) · (−E / (2 + E)) with E = e^(−2|x|) − 1 ∈ (−1, 0] (vmath expm1neg32): both
// −E and 2 + E are accurate, so small |x| keeps full relative precision and large |x| gives
// exactly ±1 (no overflow). The sign is copied from x, so tanh(−0) = −0.
// @ts-ignore: decorator
@inline function tanh32(x: f32): f32 {
  const E = expm1neg32(<f32>-2 * abs<f32>(x));
  return copysign<f32>(-E / (2 + E), x);
}

// @ts-ignore: decorator
@inline function tanh32x4(x: v128): v128 {
  const E = expm1neg32x4(f32x4.mul(f32x4.splat(-2), f32x4.abs(x)));
  const t = f32x4.div(f32x4.neg(E), f32x4.add(f32x4.splat(2), E));
  return v128.or(f32x4.abs(t), v128.and(x, i32x4.splat(SIGN)));
}

/** y = tanh(x), n elements; exactly ±1 for |x| ≥ 9.1. In-place allowed. */
export function tanh_forward_f32(y: usize, x: usize, n: i32): void {
  const vecs = n >> 2;
  for (let v = 0; v < vecs; v++) {
    const o = <usize>v << 4;
    v128.store(y + o, tanh32x4(v128.load(x + o)));
  }
  for (let k = vecs << 2; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(y + o, tanh32(load<f32>(x + o)));
  }
}

/** Scalar sibling of tanh_forward_f32. */
export function tanh_forward_f32_scalar(y: usize, x: usize, n: i32): void {
  for (let k = 0; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(y + o, tanh32(load<f32>(x + o)));
  }
}

/**
 * dx = dy · ((1 − y) · (1 + y)) = dy · (1 − y²), from the forward output y; the factored form
 * avoids the cancellation of 1 − y·y near |y| = 1. In-place (dx == dy or dx == y) allowed.
 */
export function tanh_backward_f32(dx: usize, dy: usize, y: usize, n: i32): void {
  const ONE = f32x4.splat(1);
  const vecs = n >> 2;
  for (let v = 0; v < vecs; v++) {
    const o = <usize>v << 4;
    const Y = v128.load(y + o);
    v128.store(dx + o, f32x4.mul(v128.load(dy + o), f32x4.mul(f32x4.sub(ONE, Y), f32x4.add(ONE, Y))));
  }
  for (let k = vecs << 2; k < n; k++) {
    const o = <usize>k << 2;
    const yk = load<f32>(y + o);
    store<f32>(dx + o, load<f32>(dy + o) * ((1 - yk) * (1 + yk)));
  }
}

/** Scalar sibling of tanh_backward_f32. */
export function tanh_backward_f32_scalar(dx: usize, dy: usize, y: usize, n: i32): void {
  for (let k = 0; k < n; k++) {
    const o = <usize>k << 2;
    const yk = load<f32>(y + o);
    store<f32>(dx + o, load<f32>(dy + o) * ((1 - yk) * (1 + yk)));
  }
}

// ---------------------------------------------------------------------------------------------
// Maxout with k pieces
//
// x is rows × (units·k) row-major with the k pieces of a unit contiguous: piece j of unit u in
// row r is x[(r·units + u)·k + j]. So the layout is simply G = rows·units groups of k
// consecutive floats, output g being the max of group g. y is rows × units (G floats).
// argmax is one u8 per output (G bytes): the index of the first maximal piece (ties go to the
// lowest index; a NaN piece is never chosen over an earlier piece, and a NaN in piece 0 wins).
// So 1 ≤ k ≤ 256. k = 1 copies x and writes zeros to argmax.

// Lanes 0..3 of a vector from four floats `stride` bytes apart.
// @ts-ignore: decorator
@inline function gather32x4(p: usize, stride: usize): v128 {
  let v = f32x4.splat(0);
  v = v128.load32_lane(p, v, 0);
  v = v128.load32_lane(p + stride, v, 1);
  v = v128.load32_lane(p + 2 * stride, v, 2);
  v = v128.load32_lane(p + 3 * stride, v, 3);
  return v;
}

// @ts-ignore: decorator
@inline function maxoutGroup(y: usize, argmax: usize, x: usize, g: i32, k: i32): void {
  const p = x + (<usize>g * <usize>k << 2);
  let best = load<f32>(p);
  let arg = 0;
  for (let j = 1; j < k; j++) {
    const v = load<f32>(p + (<usize>j << 2));
    if (v > best) { best = v; arg = j; }
  }
  store<f32>(y + (<usize>g << 2), best);
  store<u8>(argmax + <usize>g, <u8>arg);
}

/**
 * Maxout forward: y[g] = max_j x[g·k + j] over G = rows·units outputs, argmax[g] = its j (u8).
 * Shapes: x rows × units·k, y rows × units, argmax rows × units bytes. Overwrites y and argmax.
 * Not in-place. Four outputs at a time: piece j of four consecutive groups is one strided vector.
 */
export function maxout_forward_f32(y: usize, argmax: usize, x: usize, rows: i32, units: i32, k: i32): void {
  const G = rows * units;
  const stride = <usize>k << 2; // bytes between consecutive groups
  const quads = G >> 2;
  for (let q = 0; q < quads; q++) {
    const g = q << 2;
    const p = x + (<usize>g * stride);
    let M = gather32x4(p, stride);
    let A = i32x4.splat(0);
    for (let j = 1; j < k; j++) {
      const V = gather32x4(p + (<usize>j << 2), stride);
      const gt = f32x4.gt(V, M);
      M = v128.bitselect(V, M, gt);
      A = v128.bitselect(i32x4.splat(j), A, gt);
    }
    v128.store(y + (<usize>g << 2), M);
    const A16 = i16x8.narrow_i32x4_u(A, A);
    v128.store32_lane(argmax + <usize>g, i8x16.narrow_i16x8_u(A16, A16), 0);
  }
  for (let g = quads << 2; g < G; g++) maxoutGroup(y, argmax, x, g, k);
}

/** Scalar sibling of maxout_forward_f32: one group at a time. */
export function maxout_forward_f32_scalar(y: usize, argmax: usize, x: usize, rows: i32, units: i32, k: i32): void {
  const G = rows * units;
  for (let g = 0; g < G; g++) maxoutGroup(y, argmax, x, g, k);
}

/**
 * Maxout backward: dx[g·k + j] = dy[g] if j == argmax[g], else 0. Shapes as the forward pass
 * (dx like x, dy like y). Overwrites all of dx. Not in-place. Implemented as a bulk zero fill
 * and one scattered store per output.
 */
export function maxout_backward_f32(dx: usize, dy: usize, argmax: usize, rows: i32, units: i32, k: i32): void {
  const G = rows * units;
  const stride = <usize>k << 2;
  memory.fill(dx, 0, <usize>G * stride);
  for (let g = 0; g < G; g++) {
    const a = <usize>load<u8>(argmax + <usize>g);
    store<f32>(dx + <usize>g * stride + (a << 2), load<f32>(dy + (<usize>g << 2)));
  }
}

/** Scalar sibling of maxout_backward_f32: every piece written once, in order. */
export function maxout_backward_f32_scalar(dx: usize, dy: usize, argmax: usize, rows: i32, units: i32, k: i32): void {
  const G = rows * units;
  for (let g = 0; g < G; g++) {
    const a = <i32>load<u8>(argmax + <usize>g);
    const d = load<f32>(dy + (<usize>g << 2));
    for (let j = 0; j < k; j++) {
      store<f32>(dx + ((<usize>g * <usize>k + <usize>j) << 2), j == a ? d : 0);
    }
  }
}
