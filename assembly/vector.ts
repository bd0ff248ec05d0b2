// Level-1 vector helpers over f32 arrays: y = a·x and y += a·x. Used by dropout's evaluation
// mode (y = p·x, or a copy), linear activations, weight folding and the optimizers' callers.
// Every SIMD kernel has a scalar sibling (`*_scalar`) with the same operations in the same order,
// so the two agree bit for bit.
//
// Conventions: pointers are byte addresses of f32 arrays (any 4-byte alignment; 16 is best);
// n counts elements.

/** y = a · x over n elements. Overwrites y; in-place (y == x) allowed. */
export function scale_f32(y: usize, x: usize, a: f32, n: i32): void {
  const Av = f32x4.splat(a);
  const vecs = n >> 2;
  for (let i = 0; i < vecs; i++) {
    const o = <usize>i << 4;
    v128.store(y + o, f32x4.mul(v128.load(x + o), Av));
  }
  for (let k = vecs << 2; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(y + o, load<f32>(x + o) * a);
  }
}

/** Scalar sibling of scale_f32. */
export function scale_f32_scalar(y: usize, x: usize, a: f32, n: i32): void {
  for (let k = 0; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(y + o, load<f32>(x + o) * a);
  }
}

/**
 * y += a · x over n elements (BLAS axpy, with thinnet's argument order: output first).
 * Accumulates into y; y == x allowed (gives y·(1 + a)).
 */
export function axpy_f32(y: usize, x: usize, a: f32, n: i32): void {
  const Av = f32x4.splat(a);
  const vecs = n >> 2;
  for (let i = 0; i < vecs; i++) {
    const o = <usize>i << 4;
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(Av, v128.load(x + o))));
  }
  for (let k = vecs << 2; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(y + o, load<f32>(y + o) + a * load<f32>(x + o));
  }
}

/** Scalar sibling of axpy_f32. */
export function axpy_f32_scalar(y: usize, x: usize, a: f32, n: i32): void {
  for (let k = 0; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(y + o, load<f32>(y + o) + a * load<f32>(x + o));
  }
}

/**
 * The number of NaN and ±Infinity values among n f32 (exponent bits all ones). For checks of
 * inputs and loaded weights: a model never computes on values it could not have produced.
 */
export function count_nonfinite_f32(x: usize, n: i32): i32 {
  const E = i32x4.splat(0x7f800000);
  let acc = i32x4.splat(0);
  const vecs = n >> 2;
  for (let i = 0; i < vecs; i++) {
    const e = v128.and(v128.load(x + (<usize>i << 4)), E);
    acc = i32x4.sub(acc, i32x4.eq(e, E)); // a lane that matches is −1
  }
  let count = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
  for (let k = vecs << 2; k < n; k++) {
    if ((load<u32>(x + (<usize>k << 2)) & 0x7f800000) == 0x7f800000) count++;
  }
  return count;
}

/** Scalar sibling of count_nonfinite_f32. */
export function count_nonfinite_f32_scalar(x: usize, n: i32): i32 {
  let count = 0;
  for (let k = 0; k < n; k++) {
    if ((load<u32>(x + (<usize>k << 2)) & 0x7f800000) == 0x7f800000) count++;
  }
  return count;
}
