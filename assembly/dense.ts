// Fully connected layer: y = x·Wᵀ + b, and its backward pass.
//
// Layouts (row-major f32, pointers are byte addresses, 4-byte aligned, 16 is best):
//   x  [batch, inF]   inputs, one example per row
//   W  [outF, inF]    weights: row o is unit o's incoming weight vector (as PyTorch's Linear;
//                     max-norm constrains these rows)
//   b  [outF]         biases
//   y  [batch, outF]  outputs
// and for the gradients dy, dx, dW, db the shapes of y, x, W, b.
//
// The products run on the packed GEMM kernels (gemm.ts):
//   forward   y  = x·Wᵀ   gemm_nt (M = batch, N = outF, K = inF); batch == 1 is a GEMV, with
//                                  the bits of the same row in a larger batch (gemm.ts)
//   backward  dx = dy·W   gemm_nn (M = batch, N = inF,  K = outF)
//             dW = dyᵀ·x  gemm_tn (M = outF,  N = inF,  K = batch)
// `workspace` must hold dense_workspace_bytes(batch, inF, outF) bytes of scratch (per thread).
// Outputs must not overlap inputs or the workspace.

import { gemm_nn_f32, gemm_nt_f32, gemm_tn_f32, gemm_workspace_bytes } from "./gemm";

// @ts-ignore: decorator
@inline function umax(a: usize, b: usize): usize {
  return a > b ? a : b;
}

/** Scratch bytes needed by dense_forward_f32 and dense_backward_f32 for these sizes. */
export function dense_workspace_bytes(batch: i32, inF: i32, outF: i32): usize {
  return umax(gemm_workspace_bytes(batch, outF, inF),
              umax(gemm_workspace_bytes(batch, inF, outF), gemm_workspace_bytes(outF, inF, batch)));
}

/**
 * Forward: y[n, o] = sum_i x[n, i] * W[o, i] + b[o]. Overwrites y [batch, outF].
 * b == 0 means no bias. y must not overlap x, W, b or the workspace.
 */
export function dense_forward_f32(y: usize, x: usize, w: usize, b: usize, workspace: usize,
                                  batch: i32, inF: i32, outF: i32): void {
  dense_forward_units_f32(y, x, w, b, workspace, batch, inF, outF, outF);
}

/**
 * Forward of a block of units (what one thread computes for units [u0, u1) of a layer, with y,
 * w and b offset to the block's first unit): y[n*ldy + o] = sum_i x[n, i] * W[o, i] + b[o] for
 * o in [0, outF), where outF counts the block's units and ldy >= outF is the row stride of y
 * (the layer's full width). Columns of y outside the block are not touched. Each output is
 * computed exactly as dense_forward_f32 computes it, so a split of the units gives the same
 * bits as one call. workspace: gemm_workspace_bytes(batch, outF, inF) bytes.
 */
export function dense_forward_units_f32(y: usize, x: usize, w: usize, b: usize, workspace: usize,
                                        batch: i32, inF: i32, outF: i32, ldy: i32): void {
  if (batch <= 0 || outF <= 0) return;
  const rowBytes = <usize>outF << 2;
  const ldyB = <usize>ldy << 2;
  if (inF <= 0) { // empty sum: y = b
    for (let n = 0; n < batch; n++) {
      const yr = y + <usize>n * ldyB;
      if (b) memory.copy(yr, b, rowBytes); else memory.fill(yr, 0, rowBytes);
    }
    return;
  }
  if (b) {
    for (let n = 0; n < batch; n++) memory.copy(y + <usize>n * ldyB, b, rowBytes);
  }
  gemm_nt_f32(y, x, w, workspace, b ? 1 : 0, batch, outF, inF, inF, inF, ldy);
}

// db[o] (+)= sum_n dy[n*ldy + o]: 16 columns at a time down the batch, then 4, then one. Each
// column is summed in batch order whatever path it takes, so any split of the columns (threads)
// gives the same bits.
function biasGrad(db: usize, dy: usize, accumulate: i32, batch: i32, outF: i32, ldy: i32): void {
  const row = <usize>ldy << 2;
  let o = 0;
  for (; o + 16 <= outF; o += 16) {
    const d = db + (<usize>o << 2);
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    if (accumulate) { s0 = v128.load(d); s1 = v128.load(d, 16); s2 = v128.load(d, 32); s3 = v128.load(d, 48); }
    let p = dy + (<usize>o << 2);
    for (let n = 0; n < batch; n++) {
      s0 = f32x4.add(s0, v128.load(p)); s1 = f32x4.add(s1, v128.load(p, 16));
      s2 = f32x4.add(s2, v128.load(p, 32)); s3 = f32x4.add(s3, v128.load(p, 48));
      p += row;
    }
    v128.store(d, s0); v128.store(d, s1, 16); v128.store(d, s2, 32); v128.store(d, s3, 48);
  }
  for (; o + 4 <= outF; o += 4) {
    const d = db + (<usize>o << 2);
    let s = accumulate ? v128.load(d) : f32x4.splat(0);
    let p = dy + (<usize>o << 2);
    for (let n = 0; n < batch; n++) { s = f32x4.add(s, v128.load(p)); p += row; }
    v128.store(d, s);
  }
  for (; o < outF; o++) {
    const d = db + (<usize>o << 2);
    let s: f32 = accumulate ? load<f32>(d) : 0;
    let p = dy + (<usize>o << 2);
    for (let n = 0; n < batch; n++) { s += load<f32>(p); p += row; }
    store<f32>(d, s);
  }
}

/**
 * Bias gradient of a block of units: db[o] (+)= sum_n dy[n*ldy + o] for o in [0, outF), the
 * column sums of dy [batch, outF] stored with row stride ldy >= outF (offset dy and db to take
 * units [u0, u1) of a wider layer). accumulate != 0 adds into db, 0 overwrites it. batch <= 0
 * gives zeros (or leaves db alone when accumulating). Sums run in batch order: splitting the
 * units across calls gives the same bits as one call. db must not overlap dy.
 */
export function dense_backward_bias_f32(db: usize, dy: usize, accumulate: i32, batch: i32, outF: i32, ldy: i32): void {
  if (outF <= 0) return;
  biasGrad(db, dy, accumulate, batch < 0 ? 0 : batch, outF, ldy);
}

/** Naive sibling of dense_backward_bias_f32 (same contract). */
export function dense_backward_bias_f32_naive(db: usize, dy: usize, accumulate: i32, batch: i32, outF: i32, ldy: i32): void {
  for (let o = 0; o < outF; o++) {
    const d = db + (<usize>o << 2);
    let s: f32 = accumulate ? load<f32>(d) : 0;
    for (let n = 0; n < batch; n++) s += load<f32>(dy + ((<usize>n * <usize>ldy + <usize>o) << 2));
    store<f32>(d, s);
  }
}

/**
 * The parameter gradients of a block of units (what one thread computes for units [u0, u1) of a
 * layer, with dw, db and dy offset to the block's first unit):
 *   dW[o, i] (+)= sum_n dy[n*ldy + o] * x[n, i]   dW [outF, inF] (rows of the block), x [batch, inF]
 *   db[o]    (+)= sum_n dy[n*ldy + o]             (db == 0 skips it)
 * outF counts the block's units, ldy >= outF is the row stride of dy (the layer's full width).
 * accumulate != 0 adds, 0 overwrites. workspace: gemm_workspace_bytes(outF, inF, batch) bytes
 * (dense_workspace_bytes of the whole layer is enough). dw, db must not overlap the inputs.
 * dW rows come out with the bits dense_backward_f32 gives them, for any block (a block of a
 * single unit is a one-row product, the GEMV path, which keeps the order of the GEMM).
 */
export function dense_backward_weights_f32(dw: usize, db: usize, dy: usize, x: usize, workspace: usize,
                                           accumulate: i32, batch: i32, inF: i32, outF: i32, ldy: i32): void {
  if (inF <= 0 || outF <= 0) return;
  if (batch <= 0) {
    if (!accumulate) {
      memory.fill(dw, 0, (<usize>outF * <usize>inF) << 2);
      if (db) memory.fill(db, 0, <usize>outF << 2);
    }
    return;
  }
  gemm_tn_f32(dw, dy, x, workspace, accumulate, outF, inF, batch, ldy, inF, inF);
  if (db) biasGrad(db, dy, accumulate, batch, outF, ldy);
}

/**
 * Backward of dense_forward_f32, given dy [batch, outF] = dLoss/dy:
 *   dx[n, i]  = sum_o dy[n, o] * W[o, i]      (overwritten; dx == 0 skips it, e.g. first layer)
 *   dW[o, i] (+)= sum_n dy[n, o] * x[n, i]    (dw == 0 skips it)
 *   db[o]    (+)= sum_n dy[n, o]              (db == 0 skips it)
 * accumulate != 0 adds into dW and db (gradient accumulation over micro-batches); 0 overwrites.
 * dx, dW, db must not overlap each other, the inputs or the workspace.
 */
export function dense_backward_f32(dx: usize, dw: usize, db: usize, dy: usize, x: usize, w: usize,
                                   workspace: usize, accumulate: i32,
                                   batch: i32, inF: i32, outF: i32): void {
  if (inF <= 0 || outF <= 0) return;
  if (batch <= 0) { // empty batch: zero gradients
    if (!accumulate) {
      if (dw) memory.fill(dw, 0, (<usize>outF * <usize>inF) << 2);
      if (db) memory.fill(db, 0, <usize>outF << 2);
    }
    return;
  }
  if (dx) gemm_nn_f32(dx, dy, w, workspace, 0, batch, inF, outF, outF, inF, inF);
  if (dw) gemm_tn_f32(dw, dy, x, workspace, accumulate, outF, inF, batch, outF, inF, inF);
  if (db) biasGrad(db, dy, accumulate, batch, outF, outF);
}

/** Naive sibling of dense_forward_f32 (same contract; workspace unused). */
export function dense_forward_f32_naive(y: usize, x: usize, w: usize, b: usize, workspace: usize,
                                        batch: i32, inF: i32, outF: i32): void {
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < outF; o++) {
      let s: f32 = b ? load<f32>(b + (<usize>o << 2)) : 0;
      for (let i = 0; i < inF; i++) {
        s += load<f32>(x + ((<usize>n * inF + i) << 2)) * load<f32>(w + ((<usize>o * inF + i) << 2));
      }
      store<f32>(y + ((<usize>n * outF + o) << 2), s);
    }
  }
}

/** Naive sibling of dense_backward_f32 (same contract; workspace unused). */
export function dense_backward_f32_naive(dx: usize, dw: usize, db: usize, dy: usize, x: usize, w: usize,
                                         workspace: usize, accumulate: i32,
                                         batch: i32, inF: i32, outF: i32): void {
  if (dx) {
    for (let n = 0; n < batch; n++) {
      for (let i = 0; i < inF; i++) {
        let s: f32 = 0;
        for (let o = 0; o < outF; o++) {
          s += load<f32>(dy + ((<usize>n * outF + o) << 2)) * load<f32>(w + ((<usize>o * inF + i) << 2));
        }
        store<f32>(dx + ((<usize>n * inF + i) << 2), s);
      }
    }
  }
  if (dw) {
    for (let o = 0; o < outF; o++) {
      for (let i = 0; i < inF; i++) {
        let s: f32 = 0;
        for (let n = 0; n < batch; n++) {
          s += load<f32>(dy + ((<usize>n * outF + o) << 2)) * load<f32>(x + ((<usize>n * inF + i) << 2));
        }
        const d = dw + ((<usize>o * inF + i) << 2);
        store<f32>(d, accumulate ? load<f32>(d) + s : s);
      }
    }
  }
  if (db) {
    for (let o = 0; o < outF; o++) {
      let s: f32 = 0;
      for (let n = 0; n < batch; n++) s += load<f32>(dy + ((<usize>n * outF + o) << 2));
      const d = db + (<usize>o << 2);
      store<f32>(d, accumulate ? load<f32>(d) + s : s);
    }
  }
}
