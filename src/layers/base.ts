// What every layer class shares: its index and shapes, no parameters and no scratch unless it
// declares some. Subclasses add forward and backward (and params, allocate/release, constrain).
import type { Runtime } from '../wasm/runtime.js';
import { sizeOfShape, type Exec, type FoldRule, type Layer, type Mode, type Param, type Shape } from './types.js';

export abstract class LayerBase implements Layer {
  abstract readonly kind: string;
  readonly inSize: number;
  readonly outSize: number;
  readonly params: readonly Param[] = [];
  readonly fold?: FoldRule;
  readonly quantizable?: { readonly kernel: Param; readonly bias: Param | undefined };

  /** outShape defaults to inShape (elementwise layers). */
  constructor(readonly index: number, readonly inShape: Shape, readonly outShape: Shape = inShape) {
    this.inSize = sizeOfShape(inShape);
    this.outSize = sizeOfShape(outShape);
  }

  allocate(_rt: Runtime, _cap: number): void {}
  release(_rt: Runtime): void {}
  abstract forward(e: Exec, y: number, x: number, batch: number, mode: Mode): void;
  abstract backward(e: Exec, dx: number, dy: number, x: number, y: number, batch: number, mode: Mode): void;
}
