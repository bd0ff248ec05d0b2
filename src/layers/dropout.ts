// Dropout layers on the counter-based mask generator: the mask of element i (row·features + j)
// of a batch is a pure function of (seed, stream = user layer index, step, i), so training is
// reproducible and the backward pass reads the 1-bit mask the forward pass stored.
import { quantizeKeep } from '../ops/dropout.js';
import type { Runtime } from '../wasm/runtime.js';
import type { Exec, Mode } from './types.js';
import { WeightlessLayer } from './weightless.js';

export class Dropout extends WeightlessLayer {
  readonly kind = 'dropout';
  readonly keep16: number;
  /** The quantized retention probability the kernels use. */
  readonly p: number;
  private mask = 0;

  constructor(index: number, inF: number, keep: number, readonly convention: 'paper' | 'inverted') {
    super(index, inF);
    const q = quantizeKeep(keep);
    this.keep16 = q.keep16;
    this.p = q.p;
  }

  private get trainScale(): number {
    return this.convention === 'inverted' ? Math.fround(1 / this.p) : 1;
  }

  override allocate(rt: Runtime, cap: number): void {
    this.release(rt);
    this.mask = rt.heap.alloc(Math.ceil((cap * this.inF) / 32) * 4);
  }

  override release(rt: Runtime): void {
    if (this.mask) rt.heap.free(this.mask);
    this.mask = 0;
  }

  forward(e: Exec, y: number, x: number, batch: number, mode: Mode): void {
    const n = batch * this.inF;
    if (mode.kind === 'eval') {
      const s = this.convention === 'paper' ? this.p : 1;
      e.rt.runSplit('scale_f32', n, (start, count) => [y + 4 * start, x + 4 * start, s, count]);
      return;
    }
    const { keep16, trainScale, mask, index } = this;
    e.rt.runSplit('dropout_forward_f32', n, (start, count) => [
      y + 4 * start, mask + start / 8, x + 4 * start, keep16, trainScale, mode.seed, index, mode.step, start, count]);
  }

  backward(e: Exec, dx: number, dy: number, _x: number, _y: number, batch: number): void {
    if (!dx) return;
    const { mask, trainScale } = this;
    e.rt.runSplit('dropout_backward_f32', batch * this.inF, (start, count) => [
      dx + 4 * start, dy + 4 * start, mask + start / 8, trainScale, count]);
  }
}

/** Gaussian dropout (paper §10): y = r∗x, r ~ N(1, (1 − p)/p); evaluation is the identity. */
export class GaussianDropout extends WeightlessLayer {
  readonly kind = 'gaussianDropout';
  readonly sigma: number;

  constructor(index: number, inF: number, readonly keep: number) {
    super(index, inF);
    this.sigma = Math.fround(Math.sqrt((1 - keep) / keep));
  }

  forward(e: Exec, y: number, x: number, batch: number, mode: Mode): void {
    const n = batch * this.inF;
    if (mode.kind === 'eval') {
      e.rt.runSplit('scale_f32', n, (start, count) => [y + 4 * start, x + 4 * start, 1, count]);
      return;
    }
    const { sigma, index } = this;
    e.rt.runSplit('gaussian_dropout_forward_f32', n, (start, count) => [
      y + 4 * start, x + 4 * start, sigma, mode.seed, index, mode.step, start, count]);
  }

  backward(e: Exec, dx: number, dy: number, _x: number, _y: number, batch: number, mode: Mode): void {
    if (!dx) return;
    const { sigma, index } = this;
    e.rt.runSplit('gaussian_dropout_backward_f32', batch * this.inF, (start, count) => [
      dx + 4 * start, dy + 4 * start, sigma, mode.seed, index, mode.step, start, count]);
  }
}
