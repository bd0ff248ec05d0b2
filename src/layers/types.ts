// Layer specifications (plain JSON: what the user writes and what a saved model stores) and the
// internal layer interface the model runs. A user layer may expand into several internal layers
// (dense with an activation = dense + activation); internal layers keep the user layer's index,
// which is the dropout stream and part of the weight-init seed.
import type { Runtime } from '../wasm/runtime.js';

export type ActivationName = 'relu' | 'sigmoid' | 'tanh' | 'linear' | 'softmax' | 'maxout';
export const ACTIVATIONS: readonly ActivationName[] = ['relu', 'sigmoid', 'tanh', 'linear', 'softmax', 'maxout'];

export type KernelInitializer = 'glorotUniform' | 'glorotNormal' | 'heUniform' | 'heNormal' | { normal: number };

export interface DenseSpec {
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
}

export interface DropoutSpec {
  type: 'dropout';
  /** Retention probability p (as in the paper). */
  keep: number;
  /** 'paper' (default: train r∗x, predict p∗x) or 'inverted' (train r∗x/p, predict x). */
  convention?: 'paper' | 'inverted';
}

export interface GaussianDropoutSpec {
  type: 'gaussianDropout';
  keep: number;
}

export interface ActivationSpec {
  type: 'activation';
  activation: ActivationName;
  pieces?: number;
}

export type LayerSpec = DenseSpec | DropoutSpec | GaussianDropoutSpec | ActivationSpec;

/** How a forward pass runs. */
export interface Mode {
  /** 'train': stochastic, remember what backward needs; 'eval': deterministic (weight scaling); 'sample': stochastic (MC). */
  kind: 'train' | 'eval' | 'sample';
  seed: number;
  step: number;
}

/** What layers share during a pass: the runtime and the parameter and gradient blocks. */
export interface Exec {
  rt: Runtime;
  params: number;
  grads: number;
}

export interface Layer {
  readonly kind: string;
  /** Index of the user layer this belongs to (dropout stream; weight-init seed). */
  readonly index: number;
  readonly inF: number;
  readonly outF: number;
  /** Number of weights and biases this layer owns in the model's blocks. */
  readonly weightCount: number;
  readonly biasCount: number;
  /** Element offsets into the params/grads blocks (set by the model). */
  wOff: number;
  bOff: number;
  /** Allocates per-batch scratch (masks, argmax) for batches up to `cap` rows. */
  allocate(rt: Runtime, cap: number): void;
  release(rt: Runtime): void;
  forward(e: Exec, y: number, x: number, batch: number, mode: Mode): void;
  /**
   * Backward: writes the parameter gradients (overwriting) and, when dx != 0, dLoss/dx.
   * x and y are this layer's forward input and output of the same batch.
   */
  backward(e: Exec, dx: number, dy: number, x: number, y: number, batch: number, mode: Mode): void;
}
