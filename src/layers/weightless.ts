// The part every layer without parameters shares (dropout, Gaussian dropout, activations): it owns
// no weights or biases, so its offsets into the model's parameter blocks stay 0.
import type { Runtime } from '../wasm/runtime.js';
import type { Exec, Layer, Mode } from './types.js';

export abstract class WeightlessLayer implements Layer {
  abstract readonly kind: string;
  readonly weightCount = 0;
  readonly biasCount = 0;
  wOff = 0;
  bOff = 0;

  /** outF defaults to inF: only maxout changes the width. */
  constructor(readonly index: number, readonly inF: number, readonly outF = inF) {}

  allocate(_rt: Runtime, _cap: number): void {}
  release(_rt: Runtime): void {}
  abstract forward(e: Exec, y: number, x: number, batch: number, mode: Mode): void;
  abstract backward(e: Exec, dx: number, dy: number, x: number, y: number, batch: number, mode: Mode): void;
}
