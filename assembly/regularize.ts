// Penalties added to the training loss (the paper's Table 9 compares them with dropout):
// - an L1/L2 penalty on a kernel, l1·Σ|w| + l2·Σw², and its gradient l1·sign(w) + 2·l2·w;
// - the KL-sparsity penalty of sparse autoencoders on a layer's mean activations,
//   Σ_j KL(ρ ‖ ρ̂_j) with ρ̂_j the mean of column j (unit or channel j) over the rows of a batch,
//   and its gradient with respect to every activation.
// Every SIMD kernel has a scalar sibling (`*_scalar`) with the same operations in the same
// order, so the two agree bit for bit. The per-column kernels (O(cols)) are scalar only.
//
// Conventions: pointers are byte addresses (any 4-byte alignment for f32 arrays, 8 for f64;
// 16 is best); n, rows and cols count elements. Activations are rows × cols row-major f32 (a
// dense layer's [batch, units], a conv layer's [batch·positions, channels]).

import { high32x4, hsum64x2x2 } from "./vmath";

// ---------------------------------------------------------------------------------------------
// L1 / L2 penalty on weights

/**
 * Returns l1·Σ|w_i| + l2·Σw_i² over n weights, as f64 (|w| and w² of each f32 weight are exact
 * in f64, the sums are f64: the SIMD kernel in 4 lanes, its scalar sibling in index order, so
 * the two agree to f64 rounding, not bit for bit). Writes nothing.
 */
export function l1l2_penalty_f32(w: usize, l1: f64, l2: f64, n: i32): f64 {
  let A0 = f64x2.splat(0), A1 = f64x2.splat(0), Q0 = f64x2.splat(0), Q1 = f64x2.splat(0);
  const vecs = n >> 2;
  for (let v = 0; v < vecs; v++) {
    const W = v128.load(w + (<usize>v << 4));
    const lo = f64x2.promote_low_f32x4(W), hi = f64x2.promote_low_f32x4(high32x4(W));
    A0 = f64x2.add(A0, f64x2.abs(lo));
    A1 = f64x2.add(A1, f64x2.abs(hi));
    Q0 = f64x2.add(Q0, f64x2.mul(lo, lo));
    Q1 = f64x2.add(Q1, f64x2.mul(hi, hi));
  }
  let abs = hsum64x2x2(A0, A1), sq = hsum64x2x2(Q0, Q1);
  for (let k = vecs << 2; k < n; k++) {
    const x = <f64>load<f32>(w + (<usize>k << 2));
    abs += Math.abs(x);
    sq += x * x;
  }
  return l1 * abs + l2 * sq;
}

/** Scalar sibling of l1l2_penalty_f32 (sums in index order). */
export function l1l2_penalty_f32_scalar(w: usize, l1: f64, l2: f64, n: i32): f64 {
  let abs: f64 = 0, sq: f64 = 0;
  for (let k = 0; k < n; k++) {
    const x = <f64>load<f32>(w + (<usize>k << 2));
    abs += Math.abs(x);
    sq += x * x;
  }
  return l1 * abs + l2 * sq;
}

/**
 * The gradient of l1l2_penalty_f32, accumulated: dw += l1·sign(w) + (2·l2)·w over n elements,
 * with sign(0) = 0 (the subgradient at the kink; NaN gives 0 too), in f32 in that order.
 * Accumulates into dw; reads w (dw and w must not overlap).
 */
export function l1l2_backward_f32(dw: usize, w: usize, l1: f32, l2: f32, n: i32): void {
  const twoL2: f32 = l2 * 2;
  const L1 = f32x4.splat(l1), L2 = f32x4.splat(twoL2), ONE = f32x4.splat(1), Z = f32x4.splat(0);
  const vecs = n >> 2;
  for (let v = 0; v < vecs; v++) {
    const o = <usize>v << 4;
    const W = v128.load(w + o);
    const S = f32x4.sub(v128.and(f32x4.gt(W, Z), ONE), v128.and(f32x4.lt(W, Z), ONE));
    v128.store(dw + o, f32x4.add(v128.load(dw + o), f32x4.add(f32x4.mul(L1, S), f32x4.mul(L2, W))));
  }
  for (let k = vecs << 2; k < n; k++) {
    const o = <usize>k << 2;
    const x = load<f32>(w + o);
    const s: f32 = x > 0 ? 1 : x < 0 ? -1 : 0;
    store<f32>(dw + o, load<f32>(dw + o) + (l1 * s + twoL2 * x));
  }
}

/** Scalar sibling of l1l2_backward_f32. */
export function l1l2_backward_f32_scalar(dw: usize, w: usize, l1: f32, l2: f32, n: i32): void {
  const twoL2: f32 = l2 * 2;
  for (let k = 0; k < n; k++) {
    const o = <usize>k << 2;
    const x = load<f32>(w + o);
    const s: f32 = x > 0 ? 1 : x < 0 ? -1 : 0;
    store<f32>(dw + o, load<f32>(dw + o) + (l1 * s + twoL2 * x));
  }
}

// ---------------------------------------------------------------------------------------------
// KL sparsity on mean activations

/** ρ̂ is clamped to [KL_CLAMP, 1 − KL_CLAMP] in the penalty and its gradient (see below). */
const KL_CLAMP: f64 = 1e-6;

/**
 * Column means of x (rows × cols f32): mean[j] = (Σ_r x[r, j]) / rows, summed in f64 in row
 * order for every column (so the SIMD kernel and its scalar sibling agree bit for bit).
 * Overwrites mean (cols f64). rows ≥ 1.
 */
export function column_mean_f32(mean: usize, x: usize, rows: i32, cols: i32): void {
  memory.fill(mean, 0, <usize>cols << 3);
  const quads = cols >> 2;
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>r * <usize>cols << 2);
    for (let q = 0; q < quads; q++) {
      const X = v128.load(row + (<usize>q << 4));
      const m = mean + (<usize>q << 5);
      v128.store(m, f64x2.add(v128.load(m), f64x2.promote_low_f32x4(X)));
      v128.store(m + 16, f64x2.add(v128.load(m + 16), f64x2.promote_low_f32x4(high32x4(X))));
    }
    for (let j = quads << 2; j < cols; j++) {
      const m = mean + (<usize>j << 3);
      store<f64>(m, load<f64>(m) + <f64>load<f32>(row + (<usize>j << 2)));
    }
  }
  const inv = <f64>rows;
  for (let j = 0; j < cols; j++) {
    const m = mean + (<usize>j << 3);
    store<f64>(m, load<f64>(m) / inv);
  }
}

/** Scalar sibling of column_mean_f32. */
export function column_mean_f32_scalar(mean: usize, x: usize, rows: i32, cols: i32): void {
  for (let j = 0; j < cols; j++) {
    let s: f64 = 0;
    for (let r = 0; r < rows; r++) s += <f64>load<f32>(x + ((<usize>r * <usize>cols + <usize>j) << 2));
    store<f64>(mean + (<usize>j << 3), s / <f64>rows);
  }
}

// @ts-ignore: decorator
@inline function clampRate(q: f64): f64 {
  return min<f64>(max<f64>(q, KL_CLAMP), 1 - KL_CLAMP);
}

/**
 * Σ_j KL(ρ ‖ ρ̂_j) = Σ_j [ρ·log(ρ/ρ̂_j) + (1−ρ)·log((1−ρ)/(1−ρ̂_j))] over cols means ρ̂ (f64),
 * each clamped to [1e-6, 1 − 1e-6] first (a mean of sigmoid outputs lies in (0, 1), but f32
 * sigmoids saturate to exactly 0 or 1). ρ in (0, 1). Writes nothing.
 */
export function kl_sparsity_forward_f64(rhohat: usize, rho: f64, cols: i32): f64 {
  let s: f64 = 0;
  for (let j = 0; j < cols; j++) {
    const q = clampRate(load<f64>(rhohat + (<usize>j << 3)));
    s += rho * Math.log(rho / q) + (1 - rho) * Math.log((1 - rho) / (1 - q));
  }
  return s;
}

/**
 * The per-column gradient: g[j] = (f32)(scale · (−ρ/ρ̂_j + (1−ρ)/(1−ρ̂_j))), with ρ̂_j clamped as
 * in the forward (where it is clamped this is the derivative at the clamp, so it still pushes
 * ρ̂_j toward ρ). With scale = β/rows, g[j] is d(β·Σ KL)/d x[r, j] for every row r, since
 * dρ̂_j/dx[r, j] = 1/rows. Overwrites g (cols f32).
 */
export function kl_sparsity_backward_f64(g: usize, rhohat: usize, rho: f64, scale: f64, cols: i32): void {
  for (let j = 0; j < cols; j++) {
    const q = clampRate(load<f64>(rhohat + (<usize>j << 3)));
    store<f32>(g + (<usize>j << 2), <f32>(scale * (-rho / q + (1 - rho) / (1 - q))));
  }
}

/** y[r, j] += g[j] for every row r of y (rows × cols f32): a row vector added to every row. Accumulates into y. */
export function add_rows_f32(y: usize, g: usize, rows: i32, cols: i32): void {
  const quads = cols >> 2;
  for (let r = 0; r < rows; r++) {
    const row = y + (<usize>r * <usize>cols << 2);
    for (let q = 0; q < quads; q++) {
      const o = <usize>q << 4;
      v128.store(row + o, f32x4.add(v128.load(row + o), v128.load(g + o)));
    }
    for (let j = quads << 2; j < cols; j++) {
      const o = <usize>j << 2;
      store<f32>(row + o, load<f32>(row + o) + load<f32>(g + o));
    }
  }
}

/** Scalar sibling of add_rows_f32. */
export function add_rows_f32_scalar(y: usize, g: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      const o = (<usize>r * <usize>cols + <usize>j) << 2;
      store<f32>(y + o, load<f32>(y + o) + load<f32>(g + (<usize>j << 2)));
    }
  }
}
