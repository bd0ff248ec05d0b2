// Activation layers: relu, sigmoid, tanh (elementwise, backward from the output y), maxout
// (groups of k consecutive values along the last axis — a dense layer's units, a conv layer's
// channels — argmax kept for backward), linear (a copy) and softmax (only as the last layer,
// where the model fuses it with the cross-entropy loss). Dense and conv specs with an
// `activation` build one of these after their linear part (activationFollowing), carrying the
// spec's activityRegularizer (KL sparsity of this layer's output, regularizers.ts) if any.
import type { KernelName } from '../kernels/binding.js';
import { checkOneOf } from '../tensor/validate.js';
import type { Runtime } from '../wasm/runtime.js';
import { LayerBase } from './base.js';
import { checkSpecKeys, positiveInt } from './params.js';
import { SparsityPenalty } from './penalties.js';
import type { ActivityRegularizer } from './regularizers.js';
import type { Exec, FoldRule, Layer, LayerFamily, LayerSpec, Mode, Shape } from './types.js';

export type ActivationName = 'relu' | 'sigmoid' | 'tanh' | 'linear' | 'softmax' | 'maxout';
export const ACTIVATIONS: readonly ActivationName[] = ['relu', 'sigmoid', 'tanh', 'linear', 'softmax', 'maxout'];

export interface ActivationSpec extends LayerSpec {
  type: 'activation';
  activation: ActivationName;
  pieces?: number;
}

const ELEMENTWISE: Record<string, [KernelName, KernelName]> = {
  relu: ['relu_forward_f32', 'relu_backward_f32'],
  sigmoid: ['sigmoid_forward_f32', 'sigmoid_backward_f32'],
  tanh: ['tanh_forward_f32', 'tanh_backward_f32'],
};

/** f(s·x) = s·f(x) for s > 0: a dropout scale passes through these when folding. */
const POSITIVELY_HOMOGENEOUS: ReadonlySet<string> = new Set(['relu', 'linear', 'maxout']);

export class Activation extends LayerBase {
  readonly kind: ActivationName;
  override readonly fold: FoldRule | undefined;
  private argmax = 0;
  /** Values along the last axis of the input (maxout groups run along it). */
  private readonly channels: number;
  /** KL sparsity of the output (sigmoid only; checked with the spec). */
  private readonly sparsity: SparsityPenalty | undefined;

  constructor(index: number, inShape: Shape, readonly activation: ActivationName, readonly pieces = 1,
    activity?: ActivityRegularizer) {
    const last = inShape[inShape.length - 1];
    super(index, inShape, activation === 'maxout' ? [...inShape.slice(0, -1), last / pieces] : inShape);
    this.kind = activation;
    this.channels = last;
    this.fold = POSITIVELY_HOMOGENEOUS.has(activation) ? 'commute' : undefined;
    if (activity && activation !== 'sigmoid') throw new Error(`thinnet: KL sparsity on a '${activation}' layer (only sigmoid)`); // the spec check says so first
    this.sparsity = activity ? new SparsityPenalty(last, this.outSize, activity.klSparsity) : undefined;
  }

  override allocate(rt: Runtime, cap: number): void {
    this.release(rt);
    if (this.activation === 'maxout') this.argmax = rt.heap.alloc(cap * this.outSize);
    this.sparsity?.allocate(rt);
  }

  override release(rt: Runtime): void {
    if (this.argmax) rt.heap.free(this.argmax);
    this.argmax = 0;
    this.sparsity?.release(rt);
  }

  penalty(e: Exec, y: number, batch: number): number {
    return this.sparsity ? this.sparsity.value(e, y, batch) : 0;
  }

  forward(e: Exec, y: number, x: number, batch: number, _mode: Mode): void {
    const n = batch * this.inSize;
    const k = e.rt.kernels;
    switch (this.activation) {
      case 'maxout':
        k.maxout_forward_f32(y, this.argmax, x, n / this.channels, this.channels / this.pieces, this.pieces);
        return;
      case 'linear':
        e.rt.runSplit('scale_f32', n, (s, c) => [y + 4 * s, x + 4 * s, 1, c]);
        return;
      case 'softmax':
        k.softmax_forward_f32(y, x, batch, this.inSize);
        return;
      default: {
        const f = ELEMENTWISE[this.activation][0];
        e.rt.runSplit(f, n, (s, c) => [y + 4 * s, x + 4 * s, c]);
      }
    }
  }

  backward(e: Exec, dx: number, dy: number, _x: number, y: number, batch: number): void {
    if (!dx) return;
    const n = batch * this.inSize;
    this.sparsity?.addGradient(e, dy, y, batch); // dy += the penalty's gradient with respect to y
    switch (this.activation) {
      case 'maxout':
        e.rt.kernels.maxout_backward_f32(dx, dy, this.argmax, n / this.channels, this.channels / this.pieces, this.pieces);
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

export function checkActivation(type: string, v: unknown): ActivationName {
  return v === undefined ? 'linear' : checkOneOf(`layers.${type}`, 'activation', v, ACTIVATIONS);
}

export function checkPieces(type: string, activation: ActivationName, pieces: unknown): number | undefined {
  if (activation !== 'maxout') {
    if (pieces !== undefined) throw new RangeError(`thinnet.layers.${type}: pieces only applies to activation 'maxout'`);
    return undefined;
  }
  return positiveInt(type, 'maxout pieces', pieces ?? 2, 255);
}

/** The activation layer after a linear layer (none for 'linear'), with the spec's activity penalty. */
export function activationFollowing(linear: Layer, activation: ActivationName | undefined, pieces: number | undefined,
  activity?: ActivityRegularizer): Layer[] {
  if (!activation || activation === 'linear') return [];
  return [new Activation(linear.index, linear.outShape, activation, pieces ?? 1, activity)];
}

function check(spec: LayerSpec): ActivationSpec {
  const o = checkSpecKeys('activation', spec, ['activation', 'pieces']);
  const activation = checkOneOf('layers.activation', 'activation', o.activation, ACTIVATIONS);
  const pieces = checkPieces('activation', activation, o.pieces);
  return pieces === undefined ? { type: 'activation', activation } : { type: 'activation', activation, pieces };
}

const family: LayerFamily = {
  type: 'activation',
  check,
  build(spec, index, inShape) {
    const s = spec as ActivationSpec;
    const pieces = s.pieces ?? 1;
    const last = inShape[inShape.length - 1];
    if (s.activation === 'maxout' && last % pieces !== 0) {
      throw new RangeError(`thinnet.sequential: layer ${index} (maxout, ${pieces} pieces) gets ${last} values along its last axis (input shape [${inShape.join(', ')}]), not a multiple of ${pieces}`);
    }
    return [new Activation(index, inShape, s.activation, pieces)];
  },
  describe: (spec) => `${(spec as ActivationSpec).activation}${(spec as ActivationSpec).pieces ? ` pieces=${(spec as ActivationSpec).pieces}` : ''}`,
};

/** A standalone activation layer. */
export function activation(name: ActivationName, options: { pieces?: number } = {}): ActivationSpec {
  return check({ type: 'activation', activation: name, ...(options.pieces !== undefined ? { pieces: options.pieces } : {}) });
}
activation.family = family;

export const relu = (): ActivationSpec => activation('relu');
export const sigmoid = (): ActivationSpec => activation('sigmoid');
export const tanh = (): ActivationSpec => activation('tanh');
export const linear = (): ActivationSpec => activation('linear');
export const softmax = (): ActivationSpec => activation('softmax');
/** Maxout over groups of `pieces` consecutive values of the last axis: out = in / pieces. */
export const maxout = (options: { pieces: number }): ActivationSpec => activation('maxout', options);
