// The typed binding of the wasm exports. Names are exactly those of assembly/ so one search
// finds both sides. Pointers are byte addresses, sizes count elements.

export interface Kernels {
  memory: WebAssembly.Memory;
  alloc(bytes: number): number;
  free(ptr: number): void;
  memory_copy(dst: number, src: number, bytes: number): void;

  rng_words_u32(out: number, seed: number, stream: number, step: number, first: number, n: number): void;

  dropout_forward_f32(y: number, mask: number, x: number, keep16: number, scale: number,
    seed: number, stream: number, step: number, first: number, n: number): void;
  dropout_forward_f32_scalar(y: number, mask: number, x: number, keep16: number, scale: number,
    seed: number, stream: number, step: number, first: number, n: number): void;
  dropout_backward_f32(dx: number, dy: number, mask: number, scale: number, n: number): void;
  dropout_backward_f32_scalar(dx: number, dy: number, mask: number, scale: number, n: number): void;
  dropout_backward_recompute_f32(dx: number, dy: number, keep16: number, scale: number,
    seed: number, stream: number, step: number, first: number, n: number): void;
  dropout_backward_recompute_f32_scalar(dx: number, dy: number, keep16: number, scale: number,
    seed: number, stream: number, step: number, first: number, n: number): void;
  dropout_apply_mask_f32(y: number, x: number, r: number, scale: number, n: number): void;
  dropout_apply_mask_f32_scalar(y: number, x: number, r: number, scale: number, n: number): void;

  gaussian_dropout_forward_f32(y: number, x: number, sigma: number,
    seed: number, stream: number, step: number, first: number, n: number): void;
  gaussian_dropout_forward_f32_scalar(y: number, x: number, sigma: number,
    seed: number, stream: number, step: number, first: number, n: number): void;
  gaussian_dropout_backward_f32(dx: number, dy: number, sigma: number,
    seed: number, stream: number, step: number, first: number, n: number): void;
  gaussian_dropout_backward_f32_scalar(dx: number, dy: number, sigma: number,
    seed: number, stream: number, step: number, first: number, n: number): void;
  // Used by layers, models and training (src/layers, src/model.ts, src/train.ts).
  relu_forward_f32(y: number, x: number, n: number): void;
  relu_backward_f32(dx: number, dy: number, y: number, n: number): void;
  sigmoid_forward_f32(y: number, x: number, n: number): void;
  sigmoid_backward_f32(dx: number, dy: number, y: number, n: number): void;
  tanh_forward_f32(y: number, x: number, n: number): void;
  tanh_backward_f32(dx: number, dy: number, y: number, n: number): void;
  maxout_forward_f32(y: number, argmax: number, x: number, rows: number, units: number, k: number): void;
  maxout_backward_f32(dx: number, dy: number, argmax: number, rows: number, units: number, k: number): void;
  softmax_forward_f32(probs: number, logits: number, rows: number, classes: number): void;
  softmax_xent_forward_f32(probs: number, rowLoss: number, logits: number, labels: number, rows: number, classes: number): number;
  softmax_xent_backward_f32(dlogits: number, probs: number, labels: number, scale: number, rows: number, classes: number): void;
  mse_forward_f32(pred: number, target: number, scale: number, n: number): number;
  mse_backward_f32(dpred: number, pred: number, target: number, scale: number, n: number): void;
  argmax_rows_f32(out: number, x: number, rows: number, cols: number): void;
  sgd_momentum_update_f32(w: number, v: number, g: number, lr: number, momentum: number, weightDecay: number, n: number): void;
  adam_update_f32(w: number, m: number, v: number, g: number, lr: number, beta1: number, beta2: number,
    eps: number, beta1Pow: number, beta2Pow: number, weightDecay: number, n: number): void;
  max_norm_f32(w: number, c: number, rows: number, cols: number): number;
  scale_f32(y: number, x: number, a: number, n: number): void;
  axpy_f32(y: number, x: number, a: number, n: number): void;
  gemm_workspace_bytes(M: number, N: number, K: number): number;
  gemm_tn_f32(c: number, a: number, b: number, workspace: number, accumulate: number,
    M: number, N: number, K: number, lda: number, ldb: number, ldc: number): void;
  dense_workspace_bytes(batch: number, inF: number, outF: number): number;
  dense_forward_f32(y: number, x: number, w: number, b: number, workspace: number,
    batch: number, inF: number, outF: number): void;
  dense_backward_f32(dx: number, dw: number, db: number, dy: number, x: number, w: number,
    workspace: number, accumulate: number, batch: number, inF: number, outF: number): void;
  u8_to_f32_scaled(y: number, x: number, scale: number, n: number): void;
  gather_rows_u8_f32(y: number, x: number, idx: number, scale: number, rows: number, cols: number): void;
  gather_rows_f32(y: number, x: number, idx: number, rows: number, cols: number): void;
  gather_i32(y: number, x: number, idx: number, n: number): void;
  count_equal_i32(a: number, b: number, n: number): number;
  mc_accumulate_f32(mean: number, m2: number, entMean: number, p: number, t: number, rows: number, classes: number): void;
  mc_finalize_f32(variance: number, entropy: number, mi: number,
    mean: number, m2: number, entMean: number, k: number, rows: number, classes: number): void;

  // Dense-network products on the worker pool (src/kernels/linalg.ts): the GEMM family in
  // full, the per-unit-block dense kernels a thread runs, and the transpose for Aᵀ·Bᵀ.
  gemm_nn_f32(c: number, a: number, b: number, workspace: number, accumulate: number,
    M: number, N: number, K: number, lda: number, ldb: number, ldc: number): void;
  gemm_nt_f32(c: number, a: number, b: number, workspace: number, accumulate: number,
    M: number, N: number, K: number, lda: number, ldb: number, ldc: number): void;
  gemm_tile_rows(): number;
  gemm_tile_cols(): number;
  transpose_f32(y: number, x: number, rows: number, cols: number, ldx: number, ldy: number): void;
  dense_forward_units_f32(y: number, x: number, w: number, b: number, workspace: number,
    batch: number, inF: number, outF: number, ldy: number): void;
  dense_backward_weights_f32(dw: number, db: number, dy: number, x: number, workspace: number,
    accumulate: number, batch: number, inF: number, outF: number, ldy: number): void;
  dense_backward_bias_f32(db: number, dy: number, accumulate: number, batch: number, outF: number, ldy: number): void;

  // The model file's checksum (src/io).
  crc32_update(crc: number, ptr: number, n: number): number;
  crc32_update_bytewise(crc: number, ptr: number, n: number): number;
}

export type KernelName = Exclude<keyof Kernels, 'memory'>;
