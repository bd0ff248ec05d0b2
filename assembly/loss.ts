// Losses and output heads: softmax, softmax cross-entropy (integer labels or soft targets),
// mean squared error, and the row argmax used for accuracy. Each backward pass sits below its
// forward pass; every SIMD kernel has a scalar sibling (`*_scalar`) spelling out the math.
//
// Conventions shared by the kernels in this file:
// - Pointers are byte addresses (any 4-byte alignment; 16 is best). Matrices are row-major,
//   rows × classes (or rows × cols). Labels are i32, one per row, in [0, classes).
// - Outputs overwrite (nothing accumulates). In-place use is allowed where a kernel says so.
// - Softmax is computed stably: m = max_j x_j, e_j = exp(x_j − m) (vmath exp32), s = Σ e_j,
//   p_j = e_j / s, and log-sum-exp = m + log s, so −log p_label = log s − (x_label − m) is never
//   computed from a rounded probability (no log 0, no overflow for any finite logits).
// - Row sums (s, Σt, Σt·(x − m)) and losses are accumulated in f64 (f32 terms, f64 adds), so
//   probabilities stay within a few ulp for any number of classes; s is rounded to f32 once.
// - Elementwise steps (exp, divisions, gradients) are bit-identical between a SIMD kernel and
//   its scalar sibling. Sums are added in a different order (four lanes vs index order), so the
//   f64 sums may differ in their last bits, and rarely the f32 values rounded from them.

import { exp32, exp32x4, hmax32x4, high32x4, hsum64x2x2 } from "./vmath";

// ---------------------------------------------------------------------------------------------
// Row helpers (SIMD), c = number of columns of the row

// max_j x[j] (NaN if any is NaN, like f32.max).
// @ts-ignore: decorator
@inline function rowMax(x: usize, c: i32): f32 {
  let m = load<f32>(x);
  let j = 0;
  if (c >= 4) {
    let M = v128.load(x);
    for (j = 4; j + 4 <= c; j += 4) M = f32x4.max(M, v128.load(x + (<usize>j << 2)));
    m = hmax32x4(M);
  }
  for (; j < c; j++) m = max<f32>(m, load<f32>(x + (<usize>j << 2)));
  return m;
}

// p[j] = exp(x[j] − m); returns Σ p[j] (f64 sum). p == x allowed.
// @ts-ignore: decorator
@inline function rowExpShiftSum(p: usize, x: usize, m: f32, c: i32): f64 {
  const Mv = f32x4.splat(m);
  let S0 = f64x2.splat(0), S1 = f64x2.splat(0);
  let j = 0;
  for (; j + 4 <= c; j += 4) {
    const o = <usize>j << 2;
    const E = exp32x4(f32x4.sub(v128.load(x + o), Mv));
    v128.store(p + o, E);
    S0 = f64x2.add(S0, f64x2.promote_low_f32x4(E));
    S1 = f64x2.add(S1, f64x2.promote_low_f32x4(high32x4(E)));
  }
  let s = hsum64x2x2(S0, S1);
  for (; j < c; j++) {
    const o = <usize>j << 2;
    const e = exp32(load<f32>(x + o) - m);
    store<f32>(p + o, e);
    s += <f64>e;
  }
  return s;
}

// p[j] /= s.
// @ts-ignore: decorator
@inline function rowDivide(p: usize, s: f32, c: i32): void {
  const Sv = f32x4.splat(s);
  let j = 0;
  for (; j + 4 <= c; j += 4) {
    const o = <usize>j << 2;
    v128.store(p + o, f32x4.div(v128.load(p + o), Sv));
  }
  for (; j < c; j++) {
    const o = <usize>j << 2;
    store<f32>(p + o, load<f32>(p + o) / s);
  }
}

// Σ t[j] (f64 sum: SIMD lanes, then the tail).
// @ts-ignore: decorator
@inline function rowSum(t: usize, c: i32): f64 {
  let S0 = f64x2.splat(0), S1 = f64x2.splat(0);
  let j = 0;
  for (; j + 4 <= c; j += 4) {
    const V = v128.load(t + (<usize>j << 2));
    S0 = f64x2.add(S0, f64x2.promote_low_f32x4(V));
    S1 = f64x2.add(S1, f64x2.promote_low_f32x4(high32x4(V)));
  }
  let s = hsum64x2x2(S0, S1);
  for (; j < c; j++) s += <f64>load<f32>(t + (<usize>j << 2));
  return s;
}

// The label's logit x[label], or NaN for a label outside [0, c) (so its loss is NaN).
// @ts-ignore: decorator
@inline function labelLogit(x: usize, label: i32, c: i32): f32 {
  return <u32>label < <u32>c ? load<f32>(x + (<usize>label << 2)) : NaN;
}

// ---------------------------------------------------------------------------------------------
// Softmax (inference)

/** probs = softmax(logits) row by row (rows × classes). In-place (probs == logits) allowed. */
export function softmax_forward_f32(probs: usize, logits: usize, rows: i32, classes: i32): void {
  const rowBytes = <usize>classes << 2;
  for (let r = 0; r < rows; r++) {
    const x = logits + <usize>r * rowBytes;
    const p = probs + <usize>r * rowBytes;
    const m = rowMax(x, classes);
    const s = rowExpShiftSum(p, x, m, classes);
    rowDivide(p, <f32>s, classes);
  }
}

/** Scalar sibling of softmax_forward_f32: p_j = exp(x_j − m) / Σ_i exp(x_i − m). */
export function softmax_forward_f32_scalar(probs: usize, logits: usize, rows: i32, classes: i32): void {
  for (let r = 0; r < rows; r++) {
    const x = logits + (<usize>r * <usize>classes << 2);
    const p = probs + (<usize>r * <usize>classes << 2);
    let m = load<f32>(x);
    for (let j = 1; j < classes; j++) m = max<f32>(m, load<f32>(x + (<usize>j << 2)));
    let s: f64 = 0;
    for (let j = 0; j < classes; j++) {
      const e = exp32(load<f32>(x + (<usize>j << 2)) - m);
      store<f32>(p + (<usize>j << 2), e);
      s += <f64>e;
    }
    const sf = <f32>s;
    for (let j = 0; j < classes; j++) store<f32>(p + (<usize>j << 2), load<f32>(p + (<usize>j << 2)) / sf);
  }
}

// ---------------------------------------------------------------------------------------------
// Softmax cross-entropy, integer labels

/**
 * Softmax cross-entropy forward, integer labels (i32 per row). Writes probs = softmax(logits)
 * (rows × classes) and rowLoss[r] = −log p[r, label_r] = log s_r − (x[r, label_r] − m_r)
 * (rows floats; not written when rowLoss is 0). Returns Σ_r rowLoss[r] as f64 (divide by rows
 * for the mean loss). A label outside [0, classes) gives a NaN row loss (and NaN sum).
 * In-place (probs == logits) allowed.
 */
export function softmax_xent_forward_f32(probs: usize, rowLoss: usize, logits: usize, labels: usize,
                                         rows: i32, classes: i32): f64 {
  const rowBytes = <usize>classes << 2;
  let total: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const x = logits + <usize>r * rowBytes;
    const p = probs + <usize>r * rowBytes;
    const m = rowMax(x, classes);
    const xl = labelLogit(x, load<i32>(labels + (<usize>r << 2)), classes); // read before p == x is overwritten
    const s = rowExpShiftSum(p, x, m, classes);
    rowDivide(p, <f32>s, classes);
    const loss = Math.log(s) - <f64>(xl - m);
    if (rowLoss) store<f32>(rowLoss + (<usize>r << 2), <f32>loss);
    total += loss;
  }
  return total;
}

/** Scalar sibling of softmax_xent_forward_f32. */
export function softmax_xent_forward_f32_scalar(probs: usize, rowLoss: usize, logits: usize, labels: usize,
                                                rows: i32, classes: i32): f64 {
  let total: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const x = logits + (<usize>r * <usize>classes << 2);
    const p = probs + (<usize>r * <usize>classes << 2);
    const label = load<i32>(labels + (<usize>r << 2));
    let m = load<f32>(x);
    for (let j = 1; j < classes; j++) m = max<f32>(m, load<f32>(x + (<usize>j << 2)));
    const xl: f32 = label >= 0 && label < classes ? load<f32>(x + (<usize>label << 2)) : NaN;
    let s: f64 = 0;
    for (let j = 0; j < classes; j++) {
      const e = exp32(load<f32>(x + (<usize>j << 2)) - m);
      store<f32>(p + (<usize>j << 2), e);
      s += <f64>e;
    }
    const sf = <f32>s;
    for (let j = 0; j < classes; j++) store<f32>(p + (<usize>j << 2), load<f32>(p + (<usize>j << 2)) / sf);
    const loss = Math.log(s) - <f64>(xl - m);
    if (rowLoss) store<f32>(rowLoss + (<usize>r << 2), <f32>loss);
    total += loss;
  }
  return total;
}

/**
 * Softmax cross-entropy backward, integer labels: dlogits = (probs − onehot(label)) · scale
 * (rows × classes), scale = 1/rows for the gradient of the mean loss. A label out of range
 * contributes no one-hot term. Overwrites dlogits; in-place (dlogits == probs) allowed.
 */
export function softmax_xent_backward_f32(dlogits: usize, probs: usize, labels: usize, scale: f32,
                                          rows: i32, classes: i32): void {
  const rowBytes = <usize>classes << 2;
  const Sv = f32x4.splat(scale);
  for (let r = 0; r < rows; r++) {
    const p = probs + <usize>r * rowBytes;
    const d = dlogits + <usize>r * rowBytes;
    const label = load<i32>(labels + (<usize>r << 2));
    const inRange = <u32>label < <u32>classes;
    const pl = inRange ? load<f32>(p + (<usize>label << 2)) : 0; // read before d == p is overwritten
    let j = 0;
    for (; j + 4 <= classes; j += 4) {
      const o = <usize>j << 2;
      v128.store(d + o, f32x4.mul(v128.load(p + o), Sv));
    }
    for (; j < classes; j++) {
      const o = <usize>j << 2;
      store<f32>(d + o, load<f32>(p + o) * scale);
    }
    if (inRange) store<f32>(d + (<usize>label << 2), (pl - 1) * scale);
  }
}

/** Scalar sibling of softmax_xent_backward_f32: d_j = (p_j − [j == label]) · scale. */
export function softmax_xent_backward_f32_scalar(dlogits: usize, probs: usize, labels: usize, scale: f32,
                                                 rows: i32, classes: i32): void {
  for (let r = 0; r < rows; r++) {
    const label = load<i32>(labels + (<usize>r << 2));
    for (let j = 0; j < classes; j++) {
      const o = (<usize>r * <usize>classes + <usize>j) << 2;
      store<f32>(dlogits + o, (load<f32>(probs + o) - (j == label ? <f32>1 : 0)) * scale);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Softmax cross-entropy, soft (or one-hot) targets

/**
 * Softmax cross-entropy forward with target distributions t (f32, rows × classes; one-hot,
 * smoothed or soft). Writes probs = softmax(logits) and rowLoss[r] = −Σ_j t_j log p_j, computed
 * as T·log s − Σ_j t_j (x_j − m) with T = Σ_j t_j (two nonnegative terms for t ≥ 0: no
 * cancellation, no log of a rounded probability). rowLoss is skipped when 0. Returns
 * Σ_r rowLoss[r] as f64. In-place (probs == logits) allowed; targets must not alias probs.
 */
export function softmax_xent_soft_forward_f32(probs: usize, rowLoss: usize, logits: usize, targets: usize,
                                              rows: i32, classes: i32): f64 {
  const rowBytes = <usize>classes << 2;
  let total: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const x = logits + <usize>r * rowBytes;
    const p = probs + <usize>r * rowBytes;
    const t = targets + <usize>r * rowBytes;
    const m = rowMax(x, classes);
    const Mv = f32x4.splat(m);
    let S0 = f64x2.splat(0), S1 = f64x2.splat(0), T0 = f64x2.splat(0), T1 = f64x2.splat(0);
    let D0 = f64x2.splat(0), D1 = f64x2.splat(0);
    let j = 0;
    for (; j + 4 <= classes; j += 4) {
      const o = <usize>j << 2;
      const D = f32x4.sub(v128.load(x + o), Mv);
      const Tj = v128.load(t + o);
      const E = exp32x4(D);
      const TDj = f32x4.mul(Tj, D);
      v128.store(p + o, E);
      S0 = f64x2.add(S0, f64x2.promote_low_f32x4(E));
      S1 = f64x2.add(S1, f64x2.promote_low_f32x4(high32x4(E)));
      T0 = f64x2.add(T0, f64x2.promote_low_f32x4(Tj));
      T1 = f64x2.add(T1, f64x2.promote_low_f32x4(high32x4(Tj)));
      D0 = f64x2.add(D0, f64x2.promote_low_f32x4(TDj));
      D1 = f64x2.add(D1, f64x2.promote_low_f32x4(high32x4(TDj)));
    }
    let s = hsum64x2x2(S0, S1), tsum = hsum64x2x2(T0, T1), td = hsum64x2x2(D0, D1);
    for (; j < classes; j++) {
      const o = <usize>j << 2;
      const dj = load<f32>(x + o) - m;
      const tj = load<f32>(t + o);
      const e = exp32(dj);
      store<f32>(p + o, e);
      s += <f64>e;
      tsum += <f64>tj;
      td += <f64>(tj * dj);
    }
    rowDivide(p, <f32>s, classes);
    const loss = tsum * Math.log(s) - td;
    if (rowLoss) store<f32>(rowLoss + (<usize>r << 2), <f32>loss);
    total += loss;
  }
  return total;
}

/** Scalar sibling of softmax_xent_soft_forward_f32. */
export function softmax_xent_soft_forward_f32_scalar(probs: usize, rowLoss: usize, logits: usize, targets: usize,
                                                     rows: i32, classes: i32): f64 {
  let total: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const x = logits + (<usize>r * <usize>classes << 2);
    const p = probs + (<usize>r * <usize>classes << 2);
    const t = targets + (<usize>r * <usize>classes << 2);
    let m = load<f32>(x);
    for (let j = 1; j < classes; j++) m = max<f32>(m, load<f32>(x + (<usize>j << 2)));
    let s: f64 = 0, tsum: f64 = 0, td: f64 = 0;
    for (let j = 0; j < classes; j++) {
      const dj = load<f32>(x + (<usize>j << 2)) - m;
      const tj = load<f32>(t + (<usize>j << 2));
      const e = exp32(dj);
      store<f32>(p + (<usize>j << 2), e);
      s += <f64>e;
      tsum += <f64>tj;
      td += <f64>(tj * dj);
    }
    const sf = <f32>s;
    for (let j = 0; j < classes; j++) store<f32>(p + (<usize>j << 2), load<f32>(p + (<usize>j << 2)) / sf);
    const loss = tsum * Math.log(s) - td;
    if (rowLoss) store<f32>(rowLoss + (<usize>r << 2), <f32>loss);
    total += loss;
  }
  return total;
}

/**
 * Softmax cross-entropy backward, soft targets: dlogits = (probs · T − t) · scale with
 * T = Σ_j t_j per row (the exact gradient of the forward loss; probs − t when rows of t sum
 * to 1). Overwrites dlogits; in-place (dlogits == probs, or dlogits == targets) allowed.
 */
export function softmax_xent_soft_backward_f32(dlogits: usize, probs: usize, targets: usize, scale: f32,
                                               rows: i32, classes: i32): void {
  const rowBytes = <usize>classes << 2;
  const Sv = f32x4.splat(scale);
  for (let r = 0; r < rows; r++) {
    const p = probs + <usize>r * rowBytes;
    const t = targets + <usize>r * rowBytes;
    const d = dlogits + <usize>r * rowBytes;
    const tsum = <f32>rowSum(t, classes);
    const Tv = f32x4.splat(tsum);
    let j = 0;
    for (; j + 4 <= classes; j += 4) {
      const o = <usize>j << 2;
      v128.store(d + o, f32x4.mul(f32x4.sub(f32x4.mul(v128.load(p + o), Tv), v128.load(t + o)), Sv));
    }
    for (; j < classes; j++) {
      const o = <usize>j << 2;
      store<f32>(d + o, (load<f32>(p + o) * tsum - load<f32>(t + o)) * scale);
    }
  }
}

/** Scalar sibling of softmax_xent_soft_backward_f32. */
export function softmax_xent_soft_backward_f32_scalar(dlogits: usize, probs: usize, targets: usize, scale: f32,
                                                      rows: i32, classes: i32): void {
  for (let r = 0; r < rows; r++) {
    const row = <usize>r * <usize>classes << 2;
    let tsum64: f64 = 0;
    for (let j = 0; j < classes; j++) tsum64 += <f64>load<f32>(targets + row + (<usize>j << 2));
    const tsum = <f32>tsum64;
    for (let j = 0; j < classes; j++) {
      const o = row + (<usize>j << 2);
      store<f32>(dlogits + o, (load<f32>(probs + o) * tsum - load<f32>(targets + o)) * scale);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Mean squared error: L = scale · Σ_i (pred_i − target_i)²

/**
 * MSE forward: returns L = scale · Σ_i (pred_i − target_i)² over n elements, as f64 (the
 * differences are rounded to f32, their squares and the sum are f64). scale = 1/n gives the
 * mean over elements, 1/rows the per-example sum averaged over the batch. Writes nothing.
 */
export function mse_forward_f32(pred: usize, target: usize, scale: f32, n: i32): f64 {
  let A0 = f64x2.splat(0), A1 = f64x2.splat(0);
  const vecs = n >> 2;
  for (let v = 0; v < vecs; v++) {
    const o = <usize>v << 4;
    const D = f32x4.sub(v128.load(pred + o), v128.load(target + o));
    const lo = f64x2.promote_low_f32x4(D);
    const hi = f64x2.promote_low_f32x4(high32x4(D));
    A0 = f64x2.add(A0, f64x2.mul(lo, lo));
    A1 = f64x2.add(A1, f64x2.mul(hi, hi));
  }
  let sum = hsum64x2x2(A0, A1);
  for (let k = vecs << 2; k < n; k++) {
    const o = <usize>k << 2;
    const d = <f64>(load<f32>(pred + o) - load<f32>(target + o));
    sum += d * d;
  }
  return <f64>scale * sum;
}

/** Scalar sibling of mse_forward_f32 (sums in index order). */
export function mse_forward_f32_scalar(pred: usize, target: usize, scale: f32, n: i32): f64 {
  let sum: f64 = 0;
  for (let k = 0; k < n; k++) {
    const o = <usize>k << 2;
    const d = <f64>(load<f32>(pred + o) - load<f32>(target + o));
    sum += d * d;
  }
  return <f64>scale * sum;
}

/**
 * MSE backward: dpred = (pred − target) · (2·scale), the gradient of L above. Overwrites dpred;
 * in-place (dpred == pred or dpred == target) allowed.
 */
export function mse_backward_f32(dpred: usize, pred: usize, target: usize, scale: f32, n: i32): void {
  const s2 = scale * 2;
  const S2 = f32x4.splat(s2);
  const vecs = n >> 2;
  for (let v = 0; v < vecs; v++) {
    const o = <usize>v << 4;
    v128.store(dpred + o, f32x4.mul(f32x4.sub(v128.load(pred + o), v128.load(target + o)), S2));
  }
  for (let k = vecs << 2; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(dpred + o, (load<f32>(pred + o) - load<f32>(target + o)) * s2);
  }
}

/** Scalar sibling of mse_backward_f32. */
export function mse_backward_f32_scalar(dpred: usize, pred: usize, target: usize, scale: f32, n: i32): void {
  const s2 = scale * 2;
  for (let k = 0; k < n; k++) {
    const o = <usize>k << 2;
    store<f32>(dpred + o, (load<f32>(pred + o) - load<f32>(target + o)) * s2);
  }
}

// ---------------------------------------------------------------------------------------------
// Row argmax (accuracy)

/**
 * out[r] = index of the largest element of row r of x (rows × cols, cols ≥ 1), as i32; ties go
 * to the lowest index. Rows containing NaN give an unspecified index within the row.
 * Four running (max, index) lanes, strict > so each lane keeps its earliest maximum; then the
 * lanes are merged by (value, lowest index) and the tail is scanned in order.
 */
export function argmax_rows_f32(out: usize, x: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>r * <usize>cols << 2);
    let best = load<f32>(row);
    let arg = 0;
    let j = 1;
    if (cols >= 12) { // below 12 columns the plain scan is as fast (measured)
      let M = v128.load(row);
      let I = i32x4(0, 1, 2, 3);
      let J = I;
      const FOUR = i32x4.splat(4);
      for (j = 4; j + 4 <= cols; j += 4) {
        J = i32x4.add(J, FOUR);
        const V = v128.load(row + (<usize>j << 2));
        const gt = f32x4.gt(V, M);
        M = v128.bitselect(V, M, gt);
        I = v128.bitselect(J, I, gt);
      }
      best = f32x4.extract_lane(M, 0);
      arg = i32x4.extract_lane(I, 0);
      // Lane indices must be constants: merge lanes 1, 2, 3 one by one.
      let v = f32x4.extract_lane(M, 1), i = i32x4.extract_lane(I, 1);
      if (v > best || (v == best && i < arg)) { best = v; arg = i; }
      v = f32x4.extract_lane(M, 2); i = i32x4.extract_lane(I, 2);
      if (v > best || (v == best && i < arg)) { best = v; arg = i; }
      v = f32x4.extract_lane(M, 3); i = i32x4.extract_lane(I, 3);
      if (v > best || (v == best && i < arg)) { best = v; arg = i; }
    }
    for (; j < cols; j++) {
      const v = load<f32>(row + (<usize>j << 2));
      if (v > best) { best = v; arg = j; }
    }
    store<i32>(out + (<usize>r << 2), arg);
  }
}

/** Scalar sibling of argmax_rows_f32: first index of the row maximum. */
export function argmax_rows_f32_scalar(out: usize, x: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>r * <usize>cols << 2);
    let best = load<f32>(row);
    let arg = 0;
    for (let j = 1; j < cols; j++) {
      const v = load<f32>(row + (<usize>j << 2));
      if (v > best) { best = v; arg = j; }
    }
    store<i32>(out + (<usize>r << 2), arg);
  }
}
