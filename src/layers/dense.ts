// Fully connected layer: y = x·Wᵀ + b with W [units, inputs] (row o = unit o's incoming weights,
// the rows max-norm constrains). An input of any shape is taken as its flat vector (row-major,
// channels last): inputShape [28, 28] or a conv net's [7, 7, 64] feeds a dense layer directly
// (tn.layers.flatten() says so explicitly). The products run through kernels/linalg on the worker
// pool when there is one, each thread with its own workspace, bit-identical for any thread count.
import { denseBackward, denseForward } from '../kernels/linalg.js';
import { checkOptions } from '../tensor/validate.js';
import { activationFollowing, checkActivation, checkPieces, type ActivationName } from './activation.js';
import { LayerBase } from './base.js';
import {
  biasParam, checkBoolean, checkInitializer, checkMaxNorm, checkSpecKeys, kernelParam, maxNormRows, positiveInt,
  type KernelInitializer,
} from './params.js';
import { KernelPenalty } from './penalties.js';
import {
  checkActivityRegularizer, checkKernelRegularizer, describeRegularizers, type ActivityRegularizer, type KernelRegularizer,
} from './regularizers.js';
import type { Exec, LayerFamily, LayerSpec, Mode, Param, Shape } from './types.js';

export interface DenseSpec extends LayerSpec {
  type: 'dense';
  units: number;
  /** Default 'linear'. */
  activation?: ActivationName;
  /** Pieces per unit when activation is 'maxout' (default 2; the layer then computes units·pieces linear outputs). */
  pieces?: number;
  /** Default 'glorotUniform'. */
  kernelInitializer?: KernelInitializer;
  /** Max-norm constraint c (paper §5.1) on each unit's incoming weight vector, applied after every update. */
  maxNorm?: number;
  /** Default true. */
  useBias?: boolean;
  /** L1/L2 penalty l1·Σ|w| + l2·Σw² on the kernel, added to the training loss (regularizers.ts). */
  kernelRegularizer?: KernelRegularizer;
  /** KL sparsity of the units' mean activations over a batch (activation 'sigmoid' only; regularizers.ts). */
  activityRegularizer?: ActivityRegularizer;
}

/** The options of layers.dense(): a DenseSpec without its `type`. */
export type DenseOptions = Omit<DenseSpec, 'type'>;

const OPTIONS = ['units', 'activation', 'pieces', 'kernelInitializer', 'maxNorm', 'useBias', 'kernelRegularizer', 'activityRegularizer'] as const;

export class Dense extends LayerBase {
  readonly kind = 'dense';
  override readonly fold = 'absorb';
  override readonly params: Param[];
  private readonly kernel: Param;
  private readonly bias: Param | undefined;
  private readonly regularizer: KernelPenalty | undefined;
  override readonly quantizable: { readonly kernel: Param; readonly bias: Param | undefined };

  constructor(index: number, inShape: Shape, readonly units: number, useBias: boolean, readonly maxNorm: number | undefined,
    init: KernelInitializer, kernelRegularizer?: KernelRegularizer) {
    super(index, inShape, [units]);
    this.kernel = kernelParam([units, this.inSize], this.inSize, units, init);
    this.bias = useBias ? biasParam(units) : undefined;
    this.params = this.bias ? [this.kernel, this.bias] : [this.kernel];
    this.regularizer = kernelRegularizer ? new KernelPenalty(this.kernel, kernelRegularizer) : undefined;
    this.quantizable = { kernel: this.kernel, bias: this.bias };
  }

  penalty(e: Exec): number {
    return this.regularizer ? this.regularizer.value(e) : 0;
  }

  forward(e: Exec, y: number, x: number, batch: number, _mode: Mode): void {
    const b = this.bias ? e.params + 4 * this.bias.offset : 0;
    denseForward(e.rt, y, x, e.params + 4 * this.kernel.offset, b, batch, this.inSize, this.units);
  }

  /** Writes (overwrites) dW and db in the gradient block, and dx when dx != 0. */
  backward(e: Exec, dx: number, dy: number, x: number, _y: number, batch: number): void {
    const db = this.bias ? e.grads + 4 * this.bias.offset : 0;
    denseBackward(e.rt, dx, e.grads + 4 * this.kernel.offset, db, dy, x, e.params + 4 * this.kernel.offset, 0, batch, this.inSize, this.units);
    this.regularizer?.addGradient(e);
  }

  constrain(e: Exec): void {
    if (this.maxNorm !== undefined) maxNormRows(e, this.kernel, this.maxNorm);
  }
}

function check(spec: LayerSpec): DenseSpec {
  const o = checkSpecKeys('dense', spec, OPTIONS);
  const units = positiveInt('dense', 'units', o.units);
  const activation = checkActivation('dense', o.activation);
  const pieces = checkPieces('dense', activation, o.pieces);
  const init = checkInitializer('dense', o.kernelInitializer ?? 'glorotUniform');
  const maxNorm = checkMaxNorm('dense', o.maxNorm);
  const useBias = checkBoolean('dense', 'useBias', o.useBias);
  const kernelRegularizer = checkKernelRegularizer('layers.dense', o.kernelRegularizer);
  const activityRegularizer = checkActivityRegularizer('layers.dense', o.activityRegularizer, activation);
  const out: DenseSpec = { type: 'dense', units, activation, kernelInitializer: init };
  if (pieces !== undefined) out.pieces = pieces;
  if (maxNorm !== undefined) out.maxNorm = maxNorm;
  if (useBias === false) out.useBias = false;
  if (kernelRegularizer) out.kernelRegularizer = kernelRegularizer;
  if (activityRegularizer) out.activityRegularizer = activityRegularizer;
  return out;
}

const family: LayerFamily = {
  type: 'dense',
  check,
  build(spec, index, inShape) {
    const s = spec as DenseSpec;
    const d = new Dense(index, inShape, s.units * (s.pieces ?? 1), s.useBias !== false, s.maxNorm, s.kernelInitializer ?? 'glorotUniform',
      s.kernelRegularizer);
    return [d, ...activationFollowing(d, s.activation, s.pieces, s.activityRegularizer)];
  },
  describe: (spec) => {
    const s = spec as DenseSpec;
    return `units=${s.units} activation=${s.activation ?? 'linear'}${s.pieces ? ` pieces=${s.pieces}` : ''}${s.maxNorm ? ` maxNorm=${s.maxNorm}` : ''}${s.useBias === false ? ' useBias=false' : ''}` +
      describeRegularizers(s.kernelRegularizer, s.activityRegularizer);
  },
};

/** A fully connected layer y = f(x·Wᵀ + b), W stored [units, inputs]. */
export function dense(options: DenseOptions): DenseSpec {
  return check({ ...checkOptions('layers.dense', options), type: 'dense' });
}
dense.family = family;
