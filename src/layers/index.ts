// The `layers` namespace: factories returning plain layer specifications (JSON, stored in saved
// models), validated here so a bad option fails where it is written.
import { checkKeep, checkOneOf, checkOptions } from '../tensor/validate.js';
import {
  ACTIVATIONS, type ActivationName, type ActivationSpec, type DenseSpec, type DropoutSpec,
  type GaussianDropoutSpec, type KernelInitializer, type LayerSpec,
} from './types.js';

export type { ActivationName, ActivationSpec, DenseSpec, DropoutSpec, GaussianDropoutSpec, KernelInitializer, LayerSpec };

const INITIALIZERS = ['glorotUniform', 'glorotNormal', 'heUniform', 'heNormal'] as const;

function positiveInt(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1 << 24) {
    throw new RangeError(`thinnet.layers.${op}: ${name} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

function checkPieces(op: string, activation: ActivationName, pieces: unknown): number | undefined {
  if (activation !== 'maxout') {
    if (pieces !== undefined) throw new RangeError(`thinnet.layers.${op}: pieces only applies to activation 'maxout'`);
    return undefined;
  }
  const k = positiveInt(op, 'pieces', pieces ?? 2);
  if (k > 255) throw new RangeError(`thinnet.layers.${op}: maxout pieces must be at most 255, got ${k}`);
  return k;
}

/** The options of layers.dense(): a DenseSpec without its `type`. */
export type DenseOptions = Omit<DenseSpec, 'type'>;

/** A fully connected layer y = f(x·Wᵀ + b), W stored [units, inputs]. */
export function dense(options: DenseOptions): DenseSpec {
  const o = checkOptions('layers.dense', options);
  const units = positiveInt('dense', 'units', o.units);
  const activation = o.activation === undefined ? 'linear' : checkOneOf('layers.dense', 'activation', o.activation, ACTIVATIONS);
  const pieces = checkPieces('dense', activation, o.pieces);
  const init = o.kernelInitializer ?? 'glorotUniform';
  if (typeof init === 'object' && init !== null) {
    const s = (init as { normal?: unknown }).normal;
    if (typeof s !== 'number' || !(s >= 0) || !Number.isFinite(s)) {
      throw new RangeError(`thinnet.layers.dense: kernelInitializer {normal: σ} needs a finite σ ≥ 0, got ${String(s)}`);
    }
  } else {
    checkOneOf('layers.dense', 'kernelInitializer', init, INITIALIZERS);
  }
  if (o.maxNorm !== undefined && (typeof o.maxNorm !== 'number' || !(o.maxNorm > 0) || !Number.isFinite(o.maxNorm))) {
    throw new RangeError(`thinnet.layers.dense: maxNorm must be a finite number > 0, got ${String(o.maxNorm)}`);
  }
  if (o.useBias !== undefined && typeof o.useBias !== 'boolean') throw new TypeError('thinnet.layers.dense: useBias must be a boolean');
  const spec: DenseSpec = { type: 'dense', units, activation, kernelInitializer: init as KernelInitializer };
  if (pieces !== undefined) spec.pieces = pieces;
  if (o.maxNorm !== undefined) spec.maxNorm = o.maxNorm as number;
  if (o.useBias === false) spec.useBias = false;
  return spec;
}

/**
 * Dropout with retention probability `keep` (the paper's p). convention 'paper' (default):
 * train y = r∗x, predict y = p∗x (weight scaling); 'inverted': train y = r∗x/p, predict y = x.
 */
export function dropout(options: { keep: number; convention?: 'paper' | 'inverted' }): DropoutSpec {
  const o = checkOptions('layers.dropout', options);
  const keep = checkKeep('layers.dropout', o.keep);
  const convention = o.convention === undefined ? 'paper' : checkOneOf('layers.dropout', 'convention', o.convention, ['paper', 'inverted'] as const);
  return { type: 'dropout', keep, convention };
}

/** Gaussian dropout: multiplicative N(1, (1 − p)/p) noise in training, identity in prediction. */
export function gaussianDropout(options: { keep: number }): GaussianDropoutSpec {
  const o = checkOptions('layers.gaussianDropout', options);
  return { type: 'gaussianDropout', keep: checkKeep('layers.gaussianDropout', o.keep) };
}

/** A standalone activation layer. */
export function activation(name: ActivationName, options: { pieces?: number } = {}): ActivationSpec {
  const a = checkOneOf('layers.activation', 'activation', name, ACTIVATIONS);
  const pieces = checkPieces('activation', a, options.pieces);
  return pieces === undefined ? { type: 'activation', activation: a } : { type: 'activation', activation: a, pieces };
}

export const relu = (): ActivationSpec => activation('relu');
export const sigmoid = (): ActivationSpec => activation('sigmoid');
export const tanh = (): ActivationSpec => activation('tanh');
export const linear = (): ActivationSpec => activation('linear');
export const softmax = (): ActivationSpec => activation('softmax');
/** Maxout over groups of `pieces` consecutive inputs: out = inputs / pieces. */
export const maxout = (options: { pieces: number }): ActivationSpec => activation('maxout', options);
