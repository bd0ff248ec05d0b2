// The int8 version of a dense layer (model.quantize(); the arithmetic is assembly/int8.ts): the
// layer's float kernel quantized per unit (symmetric, scale = max |w| / 127), its input
// quantized per example row to 7 bits (dynamic: each row's own range) or with one range per layer
// measured on calibration data (calibrated), the product summed exactly in int32 and dequantized
// with one f32 multiply and add per output. It keeps the dense layer's parameters (the model's
// parameter block holds the dequantized weights, what the layer computes with), and owns in wasm
// memory: the row-major int8 kernel (what the model file stores), its packed panels, the per-unit
// sums and scales, a padded copy of the biases, and per-batch scratch for the quantized input.
// Inference only: backward is an error.
import { INT8_MAX_INPUTS, int8DenseForward, type Int8Weights } from '../kernels/int8.js';
import type { Runtime } from '../wasm/runtime.js';
import type { Exec, Layer, Mode, Param, Shape } from './types.js';

/** The input range of a calibrated layer: [lo, hi] with lo ≤ 0 ≤ hi. */
export type InputRange = readonly [number, number];

const pad4 = (n: number) => (n + 3) & ~3;

export class Int8Dense implements Layer {
  readonly kind = 'dense-int8';
  readonly index: number;
  readonly inShape: Shape;
  readonly outShape: Shape;
  readonly inSize: number;
  readonly outSize: number;
  readonly params: readonly Param[];
  readonly weights: Int8Weights;
  /** The float layer's kernel parameter (its place in the parameter block holds the dequantized weights). */
  readonly kernel: Param;
  private cap = 0;
  private xq = 0;
  private xscale = 0;
  private xzero = 0;

  /**
   * From the float layer `of` in the network whose parameter block is at `params`: quantizes its
   * kernel (or, when `stored` is given, takes the int8 kernel and scales of a model file as they
   * are), then writes the dequantized weights into the kernel's place in the parameter block.
   */
  constructor(rt: Runtime, of: Layer, params: number, readonly range: InputRange | undefined,
    stored?: { q: Uint8Array; scale: Float32Array }) {
    const spec = of.quantizable;
    if (!spec) throw new Error(`thinnet.quantize: layer ${of.index} (${of.kind}) has no int8 version`);
    this.index = of.index;
    this.inShape = of.inShape;
    this.outShape = of.outShape;
    this.inSize = of.inSize;
    this.outSize = of.outSize;
    this.params = of.params;
    this.kernel = spec.kernel;
    const U = spec.kernel.shape[0], K = spec.kernel.shape[1];
    if (K > INT8_MAX_INPUTS) {
      throw new RangeError(`thinnet.quantize: layer ${of.index} has ${K} inputs; int8 layers take at most ${INT8_MAX_INPUTS} (the exact int32 sums would overflow)`);
    }
    const k = rt.kernels, h = rt.heap;
    const made: number[] = [];
    const alloc = (bytes: number) => { const p = h.alloc(Math.max(bytes, 16)); made.push(p); return p; };
    try {
      const q = alloc(U * K), scale = alloc(4 * pad4(U)), wsum = alloc(4 * pad4(U)), bias = alloc(4 * pad4(U));
      const packed = alloc(k.int8_packed_bytes(U, K) >>> 0);
      const kernel = params + 4 * spec.kernel.offset;
      h.f32(scale, pad4(U)).fill(0);
      if (stored) {
        h.u8(q, U * K).set(stored.q);
        h.f32(scale, U).set(stored.scale);
      } else {
        k.int8_quantize_weights(q, scale, kernel, U, K);
      }
      k.int8_dequantize_weights(kernel, q, scale, U, K);
      k.int8_pack_weights(packed, wsum, q, U, K);
      h.f32(bias, pad4(U)).fill(0);
      if (spec.bias) h.f32(bias, U).set(h.f32(params + 4 * spec.bias.offset, U));
      this.weights = { units: U, inputs: K, q, packed, wsum, scale, bias };
    } catch (e) {
      for (const p of made) h.free(p);
      throw e;
    }
  }

  allocate(rt: Runtime, cap: number): void {
    if (this.cap >= cap) return;
    this.release(rt);
    const h = rt.heap;
    this.xq = h.alloc(Math.max(16, cap * ((this.weights.inputs + 7) & ~7)));
    this.xscale = h.alloc(4 * cap);
    this.xzero = h.alloc(4 * cap);
    this.cap = cap;
  }

  release(rt: Runtime): void {
    if (!this.cap) return;
    for (const p of [this.xq, this.xscale, this.xzero]) rt.heap.free(p);
    this.cap = 0;
  }

  forward(e: Exec, y: number, x: number, batch: number, _mode: Mode): void {
    if (batch <= 0) return;
    const k = e.rt.kernels, K = this.weights.inputs;
    if (this.range) k.int8_quantize_rows_fixed_f32(this.xq, this.xscale, this.xzero, x, this.range[0], this.range[1], batch, K);
    else k.int8_quantize_rows_f32(this.xq, this.xscale, this.xzero, x, batch, K);
    int8DenseForward(e.rt, y, this.xq, this.xscale, this.xzero, this.weights, batch);
  }

  backward(): void {
    throw new Error('thinnet: an int8 (quantized) model cannot be trained; train the float model, then quantize() it again');
  }

  dispose(rt: Runtime): void {
    this.release(rt);
    const w = this.weights;
    for (const p of [w.q, w.packed, w.wsum, w.scale, w.bias]) rt.heap.free(p);
  }
}
