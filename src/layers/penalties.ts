// What the layers run for their regularizers (regularizers.ts defines them): the L1/L2 penalty
// of a kernel and the KL-sparsity penalty of a layer's output, each a value for the loss and a
// gradient added in the layer's backward pass, over the kernels of assembly/regularize.ts.
import { MIN_ELEMENTS_PER_THREAD, type Runtime } from '../wasm/runtime.js';
import type { KernelRegularizer, KlSparsity } from './regularizers.js';
import type { Exec, Param } from './types.js';

/** The L1/L2 penalty of one kernel: its value (for the loss) and its gradient (added to dW). */
export class KernelPenalty {
  private readonly l1: number;
  private readonly l2: number;

  constructor(private readonly kernel: Param, r: KernelRegularizer) {
    this.l1 = r.l1 ?? 0;
    this.l2 = r.l2 ?? 0;
  }

  value(e: Exec): number {
    return e.rt.kernels.l1l2_penalty_f32(e.params + 4 * this.kernel.offset, this.l1, this.l2, this.kernel.size);
  }

  /** dW += l1·sign(W) + 2·l2·W (after the layer's backward has written dW). Elementwise: split over the pool. */
  addGradient(e: Exec): void {
    const off = 4 * this.kernel.offset, g = e.grads, p = e.params;
    e.rt.runSplit('l1l2_backward_f32', this.kernel.size, (s, c) => [g + off + 4 * s, p + off + 4 * s, this.l1, this.l2, c]);
  }
}

/**
 * The KL-sparsity penalty of one layer's output, y viewed as [rows, channels] (channels = the
 * last axis; rows = batch × positions). Scratch: the means ρ̂ (f64) and the per-channel gradient.
 */
export class SparsityPenalty {
  private means = 0;
  private grad = 0;

  constructor(private readonly channels: number, private readonly perExample: number, private readonly kl: KlSparsity) {}

  allocate(rt: Runtime): void {
    this.release(rt);
    this.means = rt.heap.alloc(8 * this.channels);
    this.grad = rt.heap.alloc(4 * this.channels);
  }

  release(rt: Runtime): void {
    if (this.means) rt.heap.free(this.means);
    if (this.grad) rt.heap.free(this.grad);
    this.means = this.grad = 0;
  }

  private rows(batch: number): number {
    return batch * (this.perExample / this.channels);
  }

  /** β·Σ_j KL(ρ ‖ ρ̂_j) for the layer output y of a batch (0 for an empty batch). */
  value(e: Exec, y: number, batch: number): number {
    if (batch === 0) return 0;
    const k = e.rt.kernels;
    k.column_mean_f32(this.means, y, this.rows(batch), this.channels);
    return this.kl.weight * k.kl_sparsity_forward_f64(this.means, this.kl.target, this.channels);
  }

  /** dy += d(β·Σ KL)/dy, from the layer output y of the same forward pass. */
  addGradient(e: Exec, dy: number, y: number, batch: number): void {
    if (batch === 0) return;
    const k = e.rt.kernels, rows = this.rows(batch), C = this.channels;
    k.column_mean_f32(this.means, y, rows, C);
    k.kl_sparsity_backward_f64(this.grad, this.means, this.kl.target, this.kl.weight / rows, C);
    e.rt.runSplit('add_rows_f32', rows, (s, n) => [dy + 4 * s * C, this.grad, n, C], Math.ceil(MIN_ELEMENTS_PER_THREAD / C));
  }
}
