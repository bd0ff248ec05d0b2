// Dropout layers on the counter-based mask generator, for inputs of any shape (a dense layer's
// units, a conv layer's feature maps: per element, as the paper). The mask of element i
// (example·size + j) of a batch is a pure function of (seed, stream = spec index, step, i), so
// training is reproducible and the backward pass reads the 1-bit mask the forward pass stored.
import { quantizeKeep } from '../ops/dropout.js';
import { checkKeep, checkOneOf, checkOptions } from '../tensor/validate.js';
import type { Runtime } from '../wasm/runtime.js';
import { LayerBase } from './base.js';
import { checkSpecKeys } from './params.js';
import type { Exec, LayerFamily, LayerSpec, Mode, Shape } from './types.js';

export interface DropoutSpec extends LayerSpec {
  type: 'dropout';
  /** Retention probability p (as in the paper). */
  keep: number;
  /** 'paper' (default: train r∗x, predict p∗x) or 'inverted' (train r∗x/p, predict x). */
  convention?: 'paper' | 'inverted';
}

export interface GaussianDropoutSpec extends LayerSpec {
  type: 'gaussianDropout';
  keep: number;
}

export class Dropout extends LayerBase {
  readonly kind = 'dropout';
  readonly keep16: number;
  /** The quantized retention probability the kernels use. */
  readonly p: number;
  /** Evaluation mode multiplies by this: p ('paper') or 1 ('inverted'). */
  readonly dropoutScale: number;
  private mask = 0;

  constructor(index: number, shape: Shape, keep: number, readonly convention: 'paper' | 'inverted') {
    super(index, shape);
    const q = quantizeKeep(keep);
    this.keep16 = q.keep16;
    this.p = q.p;
    this.dropoutScale = convention === 'paper' ? this.p : 1;
  }

  private get trainScale(): number {
    return this.convention === 'inverted' ? Math.fround(1 / this.p) : 1;
  }

  override allocate(rt: Runtime, cap: number): void {
    this.release(rt);
    this.mask = rt.heap.alloc(Math.ceil((cap * this.inSize) / 32) * 4);
  }

  override release(rt: Runtime): void {
    if (this.mask) rt.heap.free(this.mask);
    this.mask = 0;
  }

  forward(e: Exec, y: number, x: number, batch: number, mode: Mode): void {
    const n = batch * this.inSize;
    if (mode.kind === 'eval') {
      const s = this.dropoutScale;
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
    e.rt.runSplit('dropout_backward_f32', batch * this.inSize, (start, count) => [
      dx + 4 * start, dy + 4 * start, mask + start / 8, trainScale, count]);
  }
}

/** Gaussian dropout (paper §10): y = r∗x, r ~ N(1, (1 − p)/p); evaluation is the identity. */
export class GaussianDropout extends LayerBase {
  readonly kind = 'gaussianDropout';
  readonly sigma: number;
  readonly dropoutScale = 1;

  constructor(index: number, shape: Shape, readonly keep: number) {
    super(index, shape);
    this.sigma = Math.fround(Math.sqrt((1 - keep) / keep));
  }

  forward(e: Exec, y: number, x: number, batch: number, mode: Mode): void {
    const n = batch * this.inSize;
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
    e.rt.runSplit('gaussian_dropout_backward_f32', batch * this.inSize, (start, count) => [
      dx + 4 * start, dy + 4 * start, sigma, mode.seed, index, mode.step, start, count]);
  }
}

function checkDropout(spec: LayerSpec): DropoutSpec {
  const o = checkSpecKeys('dropout', spec, ['keep', 'convention']);
  const keep = checkKeep('layers.dropout', o.keep);
  const convention = o.convention === undefined ? 'paper' : checkOneOf('layers.dropout', 'convention', o.convention, ['paper', 'inverted'] as const);
  return { type: 'dropout', keep, convention };
}

function checkGaussian(spec: LayerSpec): GaussianDropoutSpec {
  const o = checkSpecKeys('gaussianDropout', spec, ['keep']);
  return { type: 'gaussianDropout', keep: checkKeep('layers.gaussianDropout', o.keep) };
}

const dropoutFamily: LayerFamily = {
  type: 'dropout',
  check: checkDropout,
  build: (spec, index, inShape) => [new Dropout(index, inShape, (spec as DropoutSpec).keep, (spec as DropoutSpec).convention ?? 'paper')],
  describe: (spec) => `keep=${(spec as DropoutSpec).keep} convention=${(spec as DropoutSpec).convention ?? 'paper'}`,
};

const gaussianFamily: LayerFamily = {
  type: 'gaussianDropout',
  check: checkGaussian,
  build: (spec, index, inShape) => [new GaussianDropout(index, inShape, (spec as GaussianDropoutSpec).keep)],
  describe: (spec) => `keep=${(spec as GaussianDropoutSpec).keep}`,
};

/**
 * Dropout with retention probability `keep` (the paper's p). convention 'paper' (default):
 * train y = r∗x, predict y = p∗x (weight scaling); 'inverted': train y = r∗x/p, predict y = x.
 */
export function dropout(options: { keep: number; convention?: 'paper' | 'inverted' }): DropoutSpec {
  return checkDropout({ ...checkOptions('layers.dropout', options), type: 'dropout' });
}
dropout.family = dropoutFamily;

/** Gaussian dropout: multiplicative N(1, (1 − p)/p) noise in training, identity in prediction. */
export function gaussianDropout(options: { keep: number }): GaussianDropoutSpec {
  return checkGaussian({ ...checkOptions('layers.gaussianDropout', options), type: 'gaussianDropout' });
}
gaussianDropout.family = gaussianFamily;
