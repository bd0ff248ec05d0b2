// Activation layers: relu, sigmoid, tanh (elementwise, backward from the output y), maxout
// (groups of k consecutive inputs, argmax kept for backward), linear (a copy) and softmax (only
// as the last layer, where the model fuses it with the cross-entropy loss).
import type { KernelName } from '../kernels.js';
import type { Runtime } from '../runtime.js';
import type { ActivationName, Exec, Layer, Mode } from './types.js';

const ELEMENTWISE: Record<string, [KernelName, KernelName]> = {
  relu: ['relu_forward_f32', 'relu_backward_f32'],
  sigmoid: ['sigmoid_forward_f32', 'sigmoid_backward_f32'],
  tanh: ['tanh_forward_f32', 'tanh_backward_f32'],
};

export class Activation implements Layer {
  readonly kind: string;
  wOff = 0;
  bOff = 0;
  readonly weightCount = 0;
  readonly biasCount = 0;
  readonly outF: number;
  private argmax = 0;

  constructor(readonly index: number, readonly inF: number, readonly activation: ActivationName, readonly pieces = 1) {
    this.kind = activation;
    this.outF = activation === 'maxout' ? inF / pieces : inF;
  }

  allocate(rt: Runtime, cap: number): void {
    this.release(rt);
    if (this.activation === 'maxout') this.argmax = rt.heap.alloc(cap * this.outF);
  }

  release(rt: Runtime): void {
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
        e.rt.runSplit('dropout_eval_f32', n, (s, c) => [y + 4 * s, x + 4 * s, 1, c]);
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
        e.rt.runSplit('dropout_eval_f32', n, (s, c) => [dx + 4 * s, dy + 4 * s, 1, c]);
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
