// Optimizer updates and the max-norm constraint, over flat f32 parameter blocks (a model's
// parameters, gradients and optimizer state each live in one contiguous block, so one call
// updates everything; call on slices to treat biases differently, e.g. weightDecay = 0).
// Every SIMD kernel has a scalar sibling (`*_scalar`) that spells out the math; elementwise
// updates agree bit for bit (same operations in the same order, no fused multiply-add).
//
// Conventions: pointers are byte addresses of f32 arrays (any 4-byte alignment; 16 is best);
// n counts elements. State arrays (w, v, m) are updated in place; w, v, m, g must not overlap.

import { high32x4, hsum64x2x2 } from "./vmath";

// ---------------------------------------------------------------------------------------------
// SGD with classic momentum

/**
 * SGD with classic momentum and L2 weight decay, elementwise over n parameters:
 *   v ← momentum·v − lr·(g + weightDecay·w)
 *   w ← w + v
 * (evaluated exactly in that order, in f32). The damped form of Hinton et al. 2012
 * (arXiv:1207.0580, App. A; the JMLR paper states no formula) Δw_t = p_t·Δw_{t−1} − (1 − p_t)·ε_t·∇L
 * is this update with momentum = p_t and lr = (1 − p_t)·ε_t. momentum = 0 and weightDecay = 0
 * give plain SGD (v then holds −lr·g).
 * Updates w and v in place; reads g.
 */
export function sgd_momentum_update_f32(w: usize, v: usize, g: usize, lr: f32, momentum: f32,
                                        weightDecay: f32, n: i32): void {
  const LR = f32x4.splat(lr), MU = f32x4.splat(momentum), WD = f32x4.splat(weightDecay);
  const vecs = n >> 2;
  for (let i = 0; i < vecs; i++) {
    const o = <usize>i << 4;
    const W = v128.load(w + o);
    const G = f32x4.add(v128.load(g + o), f32x4.mul(WD, W));
    const V = f32x4.sub(f32x4.mul(MU, v128.load(v + o)), f32x4.mul(LR, G));
    v128.store(v + o, V);
    v128.store(w + o, f32x4.add(W, V));
  }
  for (let k = vecs << 2; k < n; k++) {
    const o = <usize>k << 2;
    const wk = load<f32>(w + o);
    const gk = load<f32>(g + o) + weightDecay * wk;
    const vk = momentum * load<f32>(v + o) - lr * gk;
    store<f32>(v + o, vk);
    store<f32>(w + o, wk + vk);
  }
}

/** Scalar sibling of sgd_momentum_update_f32. */
export function sgd_momentum_update_f32_scalar(w: usize, v: usize, g: usize, lr: f32, momentum: f32,
                                               weightDecay: f32, n: i32): void {
  for (let k = 0; k < n; k++) {
    const o = <usize>k << 2;
    const wk = load<f32>(w + o);
    const gk = load<f32>(g + o) + weightDecay * wk;
    const vk = momentum * load<f32>(v + o) - lr * gk;
    store<f32>(v + o, vk);
    store<f32>(w + o, wk + vk);
  }
}

// ---------------------------------------------------------------------------------------------
// Adam

/**
 * Adam (Kingma & Ba 2015) with bias correction and coupled L2 weight decay, elementwise:
 *   g' = g + weightDecay·w
 *   m ← beta1·m + (1 − beta1)·g'
 *   v ← beta2·v + (1 − beta2)·(g'·g')
 *   w ← w − (lr · (m / (1 − beta1Pow))) / (sqrt(v / (1 − beta2Pow)) + eps)
 * where beta1Pow = beta1^t, beta2Pow = beta2^t and t ≥ 1 counts this step (the caller keeps
 * the powers). All in f32, in that order; (1 − beta), (1 − betaPow) are computed once.
 * Updates w, m, v in place; reads g.
 */
export function adam_update_f32(w: usize, m: usize, v: usize, g: usize, lr: f32, beta1: f32, beta2: f32,
                                eps: f32, beta1Pow: f32, beta2Pow: f32, weightDecay: f32, n: i32): void {
  const b1c: f32 = 1 - beta1, b2c: f32 = 1 - beta2;
  const c1: f32 = 1 - beta1Pow, c2: f32 = 1 - beta2Pow;
  const B1 = f32x4.splat(beta1), B2 = f32x4.splat(beta2), B1C = f32x4.splat(b1c), B2C = f32x4.splat(b2c);
  const C1 = f32x4.splat(c1), C2 = f32x4.splat(c2), LR = f32x4.splat(lr), EPS = f32x4.splat(eps);
  const WD = f32x4.splat(weightDecay);
  const vecs = n >> 2;
  for (let i = 0; i < vecs; i++) {
    const o = <usize>i << 4;
    const W = v128.load(w + o);
    const G = f32x4.add(v128.load(g + o), f32x4.mul(WD, W));
    const M = f32x4.add(f32x4.mul(B1, v128.load(m + o)), f32x4.mul(B1C, G));
    const V = f32x4.add(f32x4.mul(B2, v128.load(v + o)), f32x4.mul(B2C, f32x4.mul(G, G)));
    v128.store(m + o, M);
    v128.store(v + o, V);
    const step = f32x4.div(f32x4.mul(LR, f32x4.div(M, C1)), f32x4.add(f32x4.sqrt(f32x4.div(V, C2)), EPS));
    v128.store(w + o, f32x4.sub(W, step));
  }
  for (let k = vecs << 2; k < n; k++) {
    const o = <usize>k << 2;
    const wk = load<f32>(w + o);
    const gk = load<f32>(g + o) + weightDecay * wk;
    const mk = beta1 * load<f32>(m + o) + b1c * gk;
    const vk = beta2 * load<f32>(v + o) + b2c * (gk * gk);
    store<f32>(m + o, mk);
    store<f32>(v + o, vk);
    store<f32>(w + o, wk - (lr * (mk / c1)) / (sqrt<f32>(vk / c2) + eps));
  }
}

/** Scalar sibling of adam_update_f32. */
export function adam_update_f32_scalar(w: usize, m: usize, v: usize, g: usize, lr: f32, beta1: f32, beta2: f32,
                                       eps: f32, beta1Pow: f32, beta2Pow: f32, weightDecay: f32, n: i32): void {
  const b1c: f32 = 1 - beta1, b2c: f32 = 1 - beta2;
  const c1: f32 = 1 - beta1Pow, c2: f32 = 1 - beta2Pow;
  for (let k = 0; k < n; k++) {
    const o = <usize>k << 2;
    const wk = load<f32>(w + o);
    const gk = load<f32>(g + o) + weightDecay * wk;
    const mk = beta1 * load<f32>(m + o) + b1c * gk;
    const vk = beta2 * load<f32>(v + o) + b2c * (gk * gk);
    store<f32>(m + o, mk);
    store<f32>(v + o, vk);
    store<f32>(w + o, wk - (lr * (mk / c1)) / (sqrt<f32>(vk / c2) + eps));
  }
}

// ---------------------------------------------------------------------------------------------
// Max-norm constraint (paper §5.1)

/**
 * Max-norm: W is rows × cols row-major ([out, in]: row i is unit i's incoming weights). For
 * each row with L2 norm ‖w‖ > c, w ← w · f with f = (f32)(c / ‖w‖), so its norm becomes c (to
 * f32 rounding: within a few ulp); rows with ‖w‖ ≤ c (and zero rows) are left untouched, bit
 * for bit. ‖w‖² is accumulated in f64 from the exact f64 squares of the f32 weights. c > 0.
 * Returns the number of rows rescaled. In place.
 * (The SIMD kernel sums in four lanes, its scalar sibling in index order: a row whose norm is
 * within an ulp of c may be rescaled by one and not the other.)
 */
export function max_norm_f32(w: usize, c: f32, rows: i32, cols: i32): i32 {
  let rescaled = 0;
  for (let r = 0; r < rows; r++) {
    const row = w + (<usize>r * <usize>cols << 2);
    let A0 = f64x2.splat(0), A1 = f64x2.splat(0);
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const W = v128.load(row + (<usize>j << 2));
      const lo = f64x2.promote_low_f32x4(W);
      const hi = f64x2.promote_low_f32x4(high32x4(W));
      A0 = f64x2.add(A0, f64x2.mul(lo, lo));
      A1 = f64x2.add(A1, f64x2.mul(hi, hi));
    }
    let ss = hsum64x2x2(A0, A1);
    for (; j < cols; j++) {
      const x = <f64>load<f32>(row + (<usize>j << 2));
      ss += x * x;
    }
    const norm = Math.sqrt(ss);
    if (norm > <f64>c) {
      const f = <f32>(<f64>c / norm);
      const F = f32x4.splat(f);
      j = 0;
      for (; j + 4 <= cols; j += 4) {
        const o = <usize>j << 2;
        v128.store(row + o, f32x4.mul(v128.load(row + o), F));
      }
      for (; j < cols; j++) {
        const o = <usize>j << 2;
        store<f32>(row + o, load<f32>(row + o) * f);
      }
      rescaled++;
    }
  }
  return rescaled;
}

/** Scalar sibling of max_norm_f32. */
export function max_norm_f32_scalar(w: usize, c: f32, rows: i32, cols: i32): i32 {
  let rescaled = 0;
  for (let r = 0; r < rows; r++) {
    const row = w + (<usize>r * <usize>cols << 2);
    let ss: f64 = 0;
    for (let j = 0; j < cols; j++) {
      const x = <f64>load<f32>(row + (<usize>j << 2));
      ss += x * x;
    }
    const norm = Math.sqrt(ss);
    if (norm > <f64>c) {
      const f = <f32>(<f64>c / norm);
      for (let j = 0; j < cols; j++) {
        const o = <usize>j << 2;
        store<f32>(row + o, load<f32>(row + o) * f);
      }
      rescaled++;
    }
  }
  return rescaled;
}
