// The int8 dense product over raw pointers (assembly/int8.ts), on the worker pool when there is
// one. The split runs over the layer's units (columns of y) at multiples of 8, two panels of the
// packed weights: every thread reads the quantized rows of x (small) and its own share of the
// weights. Each output is the same integer sum and the same float steps whichever thread
// computes it, so results are bit-identical for any thread count.
import type { Runtime } from '../wasm/runtime.js';
import { splitRange } from '../threads/split.js';
import { MIN_MACS_PER_THREAD } from './linalg.js';

/** A dense layer's int8 weights in wasm memory (owned by layers/int8-dense.ts). */
export interface Int8Weights {
  readonly units: number;
  readonly inputs: number;
  /** Row-major int8 [units, inputs] (what the model file stores). */
  readonly q: number;
  /** The packed panels (int8_pack_weights). */
  readonly packed: number;
  /** Σ_i q[o, i] per unit, i32, padded to a multiple of 4. */
  readonly wsum: number;
  /** Per-unit scales, f32, padded. */
  readonly scale: number;
  /** Biases, f32, padded (zeros for none). */
  readonly bias: number;
}

/** Widest layer input the int32 sums hold exactly: 64 · 127 · K < 2^31. */
export const INT8_MAX_INPUTS = 262144;

/**
 * y [batch, units] from quantized rows (xq [batch, roundUp(inputs, 4)] u8, xscale [batch] f32,
 * xzero [batch] i32) and the layer's int8 weights: the contract of int8_dense_forward.
 */
export function int8DenseForward(rt: Runtime, y: number, xq: number, xscale: number, xzero: number,
  w: Int8Weights, batch: number): void {
  const k = rt.kernels;
  const U = w.units, K = w.inputs;
  const t = !rt.pool ? 1 : Math.max(1, Math.min(rt.pool.threads, Math.floor(batch * U * K / (2 * MIN_MACS_PER_THREAD))));
  if (t === 1) {
    k.int8_dense_forward(y, xq, xscale, xzero, w.packed, w.wsum, w.scale, w.bias, batch, K, U, U);
    return;
  }
  const panelBytes = 4 * ((K + 7) & ~7);
  rt.run(splitRange(U, t, { align: 8 }).map(([s, n]) => ({
    kernel: 'int8_dense_forward',
    args: [y + 4 * s, xq, xscale, xzero, w.packed + (s / 4) * panelBytes, w.wsum + 4 * s, w.scale + 4 * s, w.bias + 4 * s, batch, K, n, U],
  })));
}
