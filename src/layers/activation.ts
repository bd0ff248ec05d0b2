// Activation layers: relu, sigmoid, tanh (elementwise, backward from the output y), maxout
// (groups of k consecutive inputs, argmax kept for backward), linear (a copy) and softmax (only
// as the last layer, where the model fuses it with the cross-entropy loss).
import type { KernelName } from '../kernels/binding.js';
import type { Runtime } from '../wasm/runtime.js';
import type { ActivationName, Exec, Mode } from './types.js';
import { WeightlessLayer } from './weightless.js';

const ELEMENTWISE: Record<string, [KernelName, KernelName]> = {
  relu: ['relu_forward_f32', 'relu_backward_f32'],
  sigmoid: ['sigmoid_forward_f32', 'sigmoid_backward_f32'],
  tanh: ['tanh_forward_f32', 'tanh_backward_f32'],
};

export class Activation extends WeightlessLayer {
  readonly kind: string;
  private argmax = 0;

  constructor(index: number, inF: number, readonly activation: ActivationName, readonly pieces = 1) {
    super(index, inF, activation === 'maxout' ? inF / pieces : inF);
    this.kind = activation;
  }

  override allocate(rt: Runtime, cap: number): void {
    this.release(rt);
    if (this.activation === 'maxout') this.argmax = rt.heap.alloc(cap * this.outF);
  }

  override release(rt: Runtime): void {
    if (this.argmax) rt.heap.free(this.argmax);
    this.argmax = 0;
  }

  forward(e: Exec, y: number, x: number, batch: number, _mode: Mode): void {
    const n = batch * this.inF;
    const k = e.rt.kernels;
    switch (this.activation) {
      case 'maxout':
        k.maxout_forward_f32(y, this.argmax, x, batch, this.outF, this.pieces);
        return;
      case 'linear':
        e.rt.runSplit('scale_f32', n, (s, c) => [y + 4 * s, x + 4 * s, 1, c]);
        return;
      case 'softmax':
        k.softmax_forward_f32(y, x, batch, this.inF);
        return;
      default: {
        const f = ELEMENTWISE[this.activation][0];
        e.rt.runSplit(f, n, (s, c) => [y + 4 * s, x + 4 * s, c]);
      }
    }
  }

  backward(e: Exec, dx: number, dy: number, _x: number, y: number, batch: number): void {
    if (!dx) return;
    const n = batch * this.inF;
    switch (this.activation) {
      case 'maxout':
        e.rt.kernels.maxout_backward_f32(dx, dy, this.argmax, batch, this.outF, this.pieces);
        return;
      case 'linear':
        e.rt.runSplit('scale_f32', n, (s, c) => [dx + 4 * s, dy + 4 * s, 1, c]);
        return;
      case 'softmax':
        throw new Error('thinnet: softmax is only supported as the last layer (fused with the softmaxCrossEntropy loss)');
      default: {
        const b = ELEMENTWISE[this.activation][1];
        e.rt.runSplit(b, n, (s, c) => [dx + 4 * s, dy + 4 * s, y + 4 * s, c]);
      }
    }
  }
}
