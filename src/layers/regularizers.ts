// Penalties a dense or conv2d layer adds to the training loss (the regularizers the paper's
// Table 9 compares with dropout), as layer options in the style of Keras and TensorFlow.js:
//
//   tn.layers.dense({ units: 1024, activation: 'sigmoid',
//     kernelRegularizer: { l1: 1e-5, l2: 1e-4 },                       // λ₁‖W‖₁ + λ₂‖W‖²
//     activityRegularizer: { klSparsity: { target: 0.05, weight: 0.1 } } }) // β Σ_j KL(ρ ‖ ρ̂_j)
//
// Why layer options (not fit or optimizer options): the penalties differ per layer (Keras's
// kernel_regularizer / activity_regularizer, tf.layers' kernelRegularizer / activityRegularizer
// take the same plain {l1, l2} config), they are part of the architecture's spec, so they are
// saved and loaded with the model through the family's check() with no change to the file
// format, and the model iterates layers without asking which has a penalty. They are plain JSON
// (tn.regularizers.l1l2(...) etc. only validate and return such objects; penalties.ts runs them).
//
// Definitions (the training objective of a batch of m examples is the mean data loss plus every
// layer's penalty; fit's logged loss and computeGradients' loss include the penalties, evaluate()
// reports the data loss alone, as the paper's test errors):
// - kernelRegularizer {l1, l2}: l1·Σ|w| + l2·Σw² over the kernel (not the bias), as Keras's L1L2;
//   gradient l1·sign(w) + 2·l2·w, sign(0) = 0. (The optimizers' weightDecay λ instead adds λ·w to
//   the gradient and nothing to the loss; kernelRegularizer l2 = λ/2 gives the same gradient.)
// - activityRegularizer {klSparsity: {target ρ, weight β}}: β·Σ_j KL(ρ ‖ ρ̂_j), ρ̂_j the mean of
//   unit j's output (after the activation, before any dropout) over the batch — over the batch and
//   the positions for a conv layer's channel j — as in sparse autoencoders. Only for activation
//   'sigmoid': KL(ρ ‖ ρ̂) needs mean activations in (0, 1) (ReLU units have no upper bound, tanh
//   goes negative), so any other activation is an error rather than a silent redefinition.
import { checkOptions, describeValue } from '../tensor/validate.js';

export interface KernelRegularizer {
  /** λ₁ of λ₁·Σ|w|. Default 0. */
  l1?: number;
  /** λ₂ of λ₂·Σw². Default 0. */
  l2?: number;
}

export interface KlSparsity {
  /** The target mean activation ρ, in (0, 1) (sparse autoencoders: e.g. 0.05). */
  target: number;
  /** β ≥ 0, the penalty's weight. */
  weight: number;
}

export interface ActivityRegularizer {
  klSparsity: KlSparsity;
}

function rate(type: string, name: string, v: unknown, dflt?: number): number {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new RangeError(`thinnet.${type}: ${name} must be a finite number ≥ 0, got ${describeValue(v)}`);
  }
  return v;
}

function plainObject(type: string, name: string, v: unknown, keys: readonly string[]): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new TypeError(`thinnet.${type}: ${name} must be an object like ${name === 'kernelRegularizer' ? '{ l1: 1e-5, l2: 1e-4 }' : '{ klSparsity: { target: 0.05, weight: 0.1 } }'}, got ${describeValue(v)}`);
  }
  for (const k of Object.keys(v)) {
    if (!keys.includes(k)) throw new RangeError(`thinnet.${type}: unknown ${name} option '${k}' (options: ${keys.join(', ')})`);
  }
  return v as Record<string, unknown>;
}

/** A checked kernelRegularizer (only the keys given), or undefined. `type` names the factory in messages ('layers.dense'). */
export function checkKernelRegularizer(type: string, v: unknown): KernelRegularizer | undefined {
  if (v === undefined) return undefined;
  const o = plainObject(type, 'kernelRegularizer', v, ['l1', 'l2']);
  if (o.l1 === undefined && o.l2 === undefined) throw new RangeError(`thinnet.${type}: kernelRegularizer needs l1, l2 or both, e.g. { l1: 1e-5 }`);
  const out: KernelRegularizer = {};
  if (o.l1 !== undefined) out.l1 = rate(type, 'kernelRegularizer.l1', o.l1);
  if (o.l2 !== undefined) out.l2 = rate(type, 'kernelRegularizer.l2', o.l2);
  return out;
}

/** A checked activityRegularizer for a layer with `activation`, or undefined. */
export function checkActivityRegularizer(type: string, v: unknown, activation: string): ActivityRegularizer | undefined {
  if (v === undefined) return undefined;
  const o = plainObject(type, 'activityRegularizer', v, ['klSparsity']);
  if (o.klSparsity === undefined) throw new RangeError(`thinnet.${type}: activityRegularizer needs klSparsity: { target, weight }`);
  const kl = plainObject(type, 'activityRegularizer.klSparsity', o.klSparsity, ['target', 'weight']);
  const target = kl.target;
  if (typeof target !== 'number' || !(target > 0 && target < 1)) {
    throw new RangeError(`thinnet.${type}: activityRegularizer.klSparsity.target is the target mean activation ρ and must lie in (0, 1), got ${describeValue(target)}`);
  }
  const weight = rate(type, 'activityRegularizer.klSparsity.weight', kl.weight);
  if (activation !== 'sigmoid') {
    throw new RangeError(`thinnet.${type}: activityRegularizer.klSparsity needs activation 'sigmoid' (KL(ρ ‖ ρ̂) compares mean activations in (0, 1) with ρ), got activation '${activation}'`);
  }
  return { klSparsity: { target, weight } };
}

/** summary()'s words for a layer's regularizers ('' without any). */
export function describeRegularizers(kernel: KernelRegularizer | undefined, activity: ActivityRegularizer | undefined): string {
  const parts: string[] = [];
  if (kernel) parts.push(` kernelRegularizer=${Object.entries(kernel).map(([k, v]) => `${k}:${v}`).join(',')}`);
  if (activity) parts.push(` klSparsity=target:${activity.klSparsity.target},weight:${activity.klSparsity.weight}`);
  return parts.join('');
}

// ---- factories, as tf.regularizers (plain JSON for layer specs) ----------------------------------

/** { l1 }: λ₁·Σ|w| on a layer's kernel. */
export function l1(options: { l1: number }): KernelRegularizer {
  return checkKernelRegularizer('regularizers.l1', { l1: checkOptions('regularizers.l1', options).l1 })!;
}

/** { l2 }: λ₂·Σw² on a layer's kernel (gradient 2·λ₂·w). */
export function l2(options: { l2: number }): KernelRegularizer {
  return checkKernelRegularizer('regularizers.l2', { l2: checkOptions('regularizers.l2', options).l2 })!;
}

/** { l1, l2 }: λ₁·Σ|w| + λ₂·Σw² on a layer's kernel. */
export function l1l2(options: KernelRegularizer = {}): KernelRegularizer {
  const o = checkOptions('regularizers.l1l2', options);
  return checkKernelRegularizer('regularizers.l1l2', { l1: o.l1 ?? 0, l2: o.l2 ?? 0 })!;
}

/** { klSparsity: { target, weight } }: β·Σ_j KL(ρ ‖ ρ̂_j) on a sigmoid layer's mean activations. */
export function klSparsity(options: KlSparsity): ActivityRegularizer {
  return checkActivityRegularizer('regularizers.klSparsity', { klSparsity: checkOptions('regularizers.klSparsity', options) }, 'sigmoid')!;
}
