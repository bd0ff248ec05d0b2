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
 * Monte-Carlo accumulation of one stochastic pass's probabilities p (rows × classes):
 *   sum += p,  sumSq += p²  (rows × classes),  entSum[r] += −Σ_j p_j log p_j  (rows).
 */
export function mc_accumulate_f32(sum: usize, sumSq: usize, entSum: usize, p: usize, rows: i32, classes: i32): void {
  for (let r = 0; r < rows; r++) {
    let h: f64 = 0;
    for (let j = 0; j < classes; j++) {
      const o = (<usize>r * <usize>classes + <usize>j) << 2;
      const pj = load<f32>(p + o);
      store<f32>(sum + o, load<f32>(sum + o) + pj);
      store<f32>(sumSq + o, load<f32>(sumSq + o) + pj * pj);
      if (pj > 0) h -= <f64>pj * Math.log(<f64>pj);
    }
    const e = entSum + (<usize>r << 2);
    store<f32>(e, load<f32>(e) + <f32>h);
  }
}

/**
 * Monte-Carlo summaries after k passes: mean = sum / k; variance = max(0, sumSq / k − mean²)
 * (rows × classes); entropy[r] = −Σ_j mean_j log mean_j (the predictive entropy) and
 * mi[r] = max(0, entropy[r] − entSum[r] / k) (mutual information between prediction and
 * weights, the "epistemic" part). mean may alias sum; variance may alias sumSq.
 */
export function mc_finalize_f32(mean: usize, variance: usize, entropy: usize, mi: usize,
                                sum: usize, sumSq: usize, entSum: usize, k: i32, rows: i32, classes: i32): void {
  const inv: f64 = 1.0 / <f64>k;
  for (let r = 0; r < rows; r++) {
    let h: f64 = 0;
    for (let j = 0; j < classes; j++) {
      const o = (<usize>r * <usize>classes + <usize>j) << 2;
      const m: f64 = <f64>load<f32>(sum + o) * inv;
      const v: f64 = <f64>load<f32>(sumSq + o) * inv - m * m;
      store<f32>(mean + o, <f32>m);
      store<f32>(variance + o, v > 0 ? <f32>v : 0);
      if (m > 0) h -= m * Math.log(m);
    }
    const o = <usize>r << 2;
    const d = h - <f64>load<f32>(entSum + o) * inv;
    store<f32>(entropy + o, <f32>h);
    store<f32>(mi + o, d > 0 ? <f32>d : 0);
  }
}
