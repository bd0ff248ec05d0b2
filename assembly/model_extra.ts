// Kernels the model and training code needs beyond the op families: input conversion, mini-batch
// gathering (shuffled rows of a dataset held in wasm memory), accuracy counting and Monte-Carlo
// dropout averaging with its uncertainty summaries.

/** y = scale · x for u8 inputs (pixels → [0, 1] with scale = 1/255). n elements. */
export function u8_to_f32_scaled(y: usize, x: usize, scale: f32, n: i32): void {
  for (let k = 0; k < n; k++) {
    store<f32>(y + (<usize>k << 2), <f32>load<u8>(x + <usize>k) * scale);
  }
}

/**
 * Mini-batch gather from u8 rows: y[r, :] = scale · x[idx[r], :] for r < rows (idx: i32 row
 * numbers; x: N × cols bytes; y: rows × cols f32). Overwrites y.
 */
export function gather_rows_u8_f32(y: usize, x: usize, idx: usize, scale: f32, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const src = x + <usize>load<i32>(idx + (<usize>r << 2)) * <usize>cols;
    u8_to_f32_scaled(y + ((<usize>r * <usize>cols) << 2), src, scale, cols);
  }
}

/** Mini-batch gather from f32 rows: y[r, :] = x[idx[r], :]. Overwrites y. */
export function gather_rows_f32(y: usize, x: usize, idx: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    memory.copy(y + <usize>r * rowBytes, x + <usize>load<i32>(idx + (<usize>r << 2)) * rowBytes, rowBytes);
  }
}

/** y[r] = x[idx[r]] for i32 values (labels). Overwrites y. */
export function gather_i32(y: usize, x: usize, idx: usize, n: i32): void {
  for (let r = 0; r < n; r++) {
    store<i32>(y + (<usize>r << 2), load<i32>(x + (<usize>load<i32>(idx + (<usize>r << 2)) << 2)));
  }
}

/** Number of positions where the i32 arrays a and b agree (correct predictions). */
export function count_equal_i32(a: usize, b: usize, n: i32): i32 {
  let c = 0;
  for (let k = 0; k < n; k++) {
    const o = <usize>k << 2;
    if (load<i32>(a + o) == load<i32>(b + o)) c++;
  }
  return c;
}

/**
 * Monte-Carlo accumulation of stochastic pass t (0-based) with probabilities p (rows × classes),
 * as running means (Welford), so that identical passes leave exactly zero spread (a sum of
 * squares minus a squared sum in float32 leaves ~1e-6):
 *   d = p − mean;  mean += d / (t + 1);  m2 += d · (p − mean)      (rows × classes)
 *   entMean[r] += (H(p_r) − entMean[r]) / (t + 1),  H(p) = −Σ_j p_j log p_j   (rows)
 * Before pass 0 the three buffers hold anything (pass 0 overwrites them).
 */
export function mc_accumulate_f32(mean: usize, m2: usize, entMean: usize, p: usize, t: i32, rows: i32, classes: i32): void {
  const inv: f32 = <f32>(1.0 / <f64>(t + 1));
  for (let r = 0; r < rows; r++) {
    let h: f64 = 0;
    for (let j = 0; j < classes; j++) {
      const o = (<usize>r * <usize>classes + <usize>j) << 2;
      const pj = load<f32>(p + o);
      const m0: f32 = t == 0 ? 0 : load<f32>(mean + o);
      const d = pj - m0;
      const m1 = m0 + d * inv;
      store<f32>(mean + o, m1);
      store<f32>(m2 + o, (t == 0 ? <f32>0 : load<f32>(m2 + o)) + d * (pj - m1));
      if (pj > 0) h -= <f64>pj * Math.log(<f64>pj);
    }
    const e = entMean + (<usize>r << 2);
    const e0: f32 = t == 0 ? 0 : load<f32>(e);
    store<f32>(e, e0 + (<f32>h - e0) * inv);
  }
}

/**
 * Monte-Carlo summaries after k passes of mc_accumulate_f32: variance = m2 / k (the population
 * variance of the k probabilities, rows × classes); entropy[r] = −Σ_j mean_j log mean_j (the
 * predictive entropy) and mi[r] = max(0, entropy[r] − entMean[r]) (mutual information between
 * prediction and weights, the "epistemic" part; computed in float32 so identical passes give 0).
 * variance may alias m2.
 */
export function mc_finalize_f32(variance: usize, entropy: usize, mi: usize,
                                mean: usize, m2: usize, entMean: usize, k: i32, rows: i32, classes: i32): void {
  const inv: f64 = 1.0 / <f64>k;
  for (let r = 0; r < rows; r++) {
    let h: f64 = 0;
    for (let j = 0; j < classes; j++) {
      const o = (<usize>r * <usize>classes + <usize>j) << 2;
      const m: f64 = <f64>load<f32>(mean + o);
      const v: f64 = <f64>load<f32>(m2 + o) * inv;
      store<f32>(variance + o, v > 0 ? <f32>v : 0);
      if (m > 0) h -= m * Math.log(m);
    }
    const o = <usize>r << 2;
    const hf = <f32>h;
    const d: f32 = hf - load<f32>(entMean + o);
    store<f32>(entropy + o, hf);
    store<f32>(mi + o, d > 0 ? d : 0);
  }
}
