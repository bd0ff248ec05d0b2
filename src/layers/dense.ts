// Fully connected layer: y = x·Wᵀ + b with W [out, in] (row o = unit o's incoming weights, the
// rows max-norm constrains). Parameters live in the model's one parameter block; this layer knows
// its offsets. The products run through ops/linalg (denseForward / denseBackward): on the worker
// pool when there is one, each thread with its own workspace, bit-identical for any thread count.
import { denseBackward, denseForward } from '../kernels/linalg.js';
import type { Exec, Layer, Mode } from './types.js';

export class Dense implements Layer {
  readonly kind = 'dense';
  wOff = 0;
  bOff = 0;
  readonly weightCount: number;
  readonly biasCount: number;

  constructor(readonly index: number, readonly inF: number, readonly outF: number, readonly useBias: boolean,
    readonly maxNorm: number | undefined) {
    this.weightCount = inF * outF;
    this.biasCount = useBias ? outF : 0;
  }

  allocate(): void {}
  release(): void {}

  forward(e: Exec, y: number, x: number, batch: number, _mode: Mode): void {
    const b = this.useBias ? e.params + 4 * this.bOff : 0;
    denseForward(e.rt, y, x, e.params + 4 * this.wOff, b, batch, this.inF, this.outF);
  }

  /** Writes (overwrites) dW and db in the gradient block, and dx when dx != 0. */
  backward(e: Exec, dx: number, dy: number, x: number, _y: number, batch: number): void {
    const db = this.useBias ? e.grads + 4 * this.bOff : 0;
    denseBackward(e.rt, dx, e.grads + 4 * this.wOff, db, dy, x, e.params + 4 * this.wOff, 0, batch, this.inF, this.outF);
  }
}
