// 2-D convolution, channels last: x [batch, H, W, C] → y [batch, OH, OW, F] = conv(x, W) + b with
// the kernel stored [F, KH, KW, C] (row f = filter f's weights: a dense layer's [units, inputs]
// with inputs = KH·KW·C, so max-norm per filter (the paper's c = 4) is max-norm over its rows and
// dropout's weight scaling folds into it the same way). Padding 'valid' (none) or 'same'
// (TensorFlow's: OH = ⌈H / stride⌉, the extra row or column at the bottom/right). The kernels
// (assembly/conv.ts) run on the worker pool: forward and the input gradient split by examples,
// the filter gradient by filters (the Winograd one by fixed halves of the batch, added in order) —
// bit-identical for any thread count. A 5×5 stride-1 layer with
// channels and filters in multiples of 4 (C ≥ 8) runs Winograd's F(2×2, 5×5) kernels
// (assembly/winograd.ts) for each pass where they do at most 2/3 of the direct kernels'
// multiplies (`winogradPasses`); the choice depends on the geometry alone, so a model gets the
// same kernels, and the same bits, on every run, runtime and thread count.
import type { KernelName } from '../kernels/binding.js';
import { MIN_MACS_PER_THREAD } from '../kernels/linalg.js';
import { splitRange } from '../threads/split.js';
import { checkOneOf, checkOptions } from '../tensor/validate.js';
import type { Runtime } from '../wasm/runtime.js';
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

export type Padding = 'valid' | 'same';

export interface Conv2DSpec extends LayerSpec {
  type: 'conv2d';
  filters: number;
  /** [KH, KW] (the factory also takes one number for both). */
  kernelSize: [number, number];
  /** [SH, SW], default [1, 1]. */
  strides?: [number, number];
  /** Default 'valid' (as Keras). */
  padding?: Padding;
  /** Default 'linear'. */
  activation?: ActivationName;
  /** maxout pieces (over consecutive channels; the layer then computes filters·pieces maps). */
  pieces?: number;
  /** Default 'glorotUniform' (fanIn = KH·KW·C, fanOut = KH·KW·filters, as Keras). */
  kernelInitializer?: KernelInitializer;
  /** Max-norm c (paper §5.1) of each filter's weights [KH, KW, C], after every update. */
  maxNorm?: number;
  /** Default true. */
  useBias?: boolean;
  /** L1/L2 penalty l1·Σ|w| + l2·Σw² on the kernel, added to the training loss (regularizers.ts). */
  kernelRegularizer?: KernelRegularizer;
  /** KL sparsity of each channel's mean activation over the batch and positions (activation 'sigmoid' only). */
  activityRegularizer?: ActivityRegularizer;
}

export interface Conv2DOptions extends Omit<Conv2DSpec, 'type' | 'kernelSize' | 'strides'> {
  kernelSize: number | [number, number];
  strides?: number | [number, number];
}

/** Output size and leading padding of one axis (TensorFlow's rule for 'same'). */
export function outputSize(n: number, k: number, s: number, padding: Padding): { out: number; pad: number } {
  if (padding === 'valid') return { out: Math.floor((n - k) / s) + 1, pad: 0 };
  const out = Math.ceil(n / s);
  return { out, pad: Math.floor(Math.max((out - 1) * s + k - n, 0) / 2) };
}

/** The [H, W, C] input of an image layer, or the error naming the layer and the shape. */
export function imageShape(type: string, index: number, inShape: Shape): [number, number, number] {
  if (inShape.length !== 3) {
    throw new RangeError(`thinnet.sequential: layer ${index} (${type}) needs inputs of shape [H, W, C], got [${inShape.join(', ')}]` +
      (inShape.length < 3 ? ` (for images give inputShape [H, W, C], e.g. [28, 28, 1])` : ''));
  }
  return [inShape[0], inShape[1], inShape[2]];
}

/** The geometry every conv kernel takes after its pointers and batch: H, W, C, F, KH, KW, SH, SW, PT, PL, OH, OW. */
type Geometry = [number, number, number, number, number, number, number, number, number, number, number, number];

/** Which passes run the Winograd kernels: those whose multiplies (36 per 2×2 output tile and
 *  channel pair) are at most 2/3 of the direct kernels' (25 per output, or per input for the
 *  input gradient when conv.ts turns the filters around). Measured on the 14×14×32 → 64 'same'
 *  layer (relaxed build, one thread): forward 54 → 31 ms, input gradient 52–75 → 30 ms, filter
 *  gradient 54 → 27 ms; at 11×11 'valid' → 7×7 the input gradient (1296 vs 1225 multiplies)
 *  measured slower, and the rule keeps the direct kernel there. */
export function winogradPasses(g: Geometry): { forward: boolean; data: boolean; filter: boolean } {
  const [H, W, C, F, KH, KW, SH, SW, PT, PL, OH, OW] = g;
  const fits = KH === 5 && KW === 5 && SH === 1 && SW === 1 && C >= 8 && C % 4 === 0 && F % 4 === 0;
  if (!fits) return { forward: false, data: false, filter: false };
  const tiles = (h: number, w: number) => 36 * Math.ceil(h / 2) * Math.ceil(w / 2);
  const out = tiles(OH, OW) * 3 <= 25 * OH * OW * 2;
  const directData = 25 * (H * W * 4 <= OH * OW * 5 ? H * W : OH * OW); // conv.ts's transposedPays
  return { forward: out, filter: out, data: PT <= 4 && PL <= 4 && tiles(H, W) * 3 <= directData * 2 };
}

/** The Winograd filter gradient's example ranges (their partial sums are added in this order):
 *  fixed, not one per thread, so the bits do not depend on the thread count. Two: each thread of a
 *  2-thread pool transforms only its half of the tiles (split by filters, each thread transformed
 *  all of them). */
const FILTER_CHUNKS = 2;

export class Conv2D extends LayerBase {
  readonly kind = 'conv2d';
  override readonly fold = 'absorb';
  override readonly params: Param[];
  private readonly kernel: Param;
  private readonly bias: Param | undefined;
  private readonly geom: Geometry;
  /** Multiply-adds per example. */
  private readonly macs: number;
  private readonly regularizer: KernelPenalty | undefined;
  /** The kernel of each pass (conv.ts's direct ones or winograd.ts's). */
  private readonly kernels: { forward: KernelName; data: KernelName; filter: KernelName };

  constructor(index: number, inShape: Shape, readonly filters: number, kernel: [number, number], strides: [number, number],
    padding: Padding, useBias: boolean, readonly maxNorm: number | undefined, init: KernelInitializer, kernelRegularizer?: KernelRegularizer) {
    const [H, W, C] = imageShape('conv2d', index, inShape);
    const [KH, KW] = kernel, [SH, SW] = strides;
    const v = outputSize(H, KH, SH, padding), h = outputSize(W, KW, SW, padding);
    if (v.out < 1 || h.out < 1) {
      throw new RangeError(`thinnet.sequential: layer ${index} (conv2d): the ${KH}×${KW} kernel is larger than its ${H}×${W} input with padding 'valid' (use padding 'same' or a smaller kernel)`);
    }
    super(index, inShape, [v.out, h.out, filters]);
    this.geom = [H, W, C, filters, KH, KW, SH, SW, v.pad, h.pad, v.out, h.out];
    this.kernel = kernelParam([filters, KH, KW, C], KH * KW * C, KH * KW * filters, init);
    this.bias = useBias ? biasParam(filters) : undefined;
    this.params = this.bias ? [this.kernel, this.bias] : [this.kernel];
    this.macs = v.out * h.out * filters * KH * KW * C;
    this.regularizer = kernelRegularizer ? new KernelPenalty(this.kernel, kernelRegularizer) : undefined;
    const wino = winogradPasses(this.geom);
    this.kernels = {
      forward: wino.forward ? 'conv2d_winograd_forward_f32' : 'conv2d_forward_f32',
      data: wino.data ? 'conv2d_winograd_backward_data_f32' : 'conv2d_backward_data_f32',
      filter: wino.filter ? 'conv2d_winograd_backward_filter_f32' : 'conv2d_backward_filter_f32',
    };
  }

  penalty(e: Exec): number {
    return this.regularizer ? this.regularizer.value(e) : 0;
  }

  /** Bytes of one partial sum of the Winograd filter gradient (0: that pass is direct). */
  private partialBytes(rt: Runtime): number {
    const [, , C, F] = this.geom;
    return this.kernels.filter.includes('winograd') ? rt.kernels.conv2d_winograd_filter_partial_bytes(C, F) >>> 0 : 0;
  }

  /** Per-thread workspaces: the kernels' own, then room for FILTER_CHUNKS partial sums. */
  private workspaces(rt: Runtime): { ws: readonly number[]; partialsAt: number } {
    const [H, W, C, F, KH, KW, , , , , OH, OW] = this.geom;
    const direct = rt.kernels.conv2d_workspace_bytes(H, W, C, F, KH, KW, OH, OW) >>> 0;
    const wino = Object.values(this.kernels).some((k) => k.includes('winograd'))
      ? rt.kernels.conv2d_winograd_workspace_bytes(H, W, C, F, OH, OW) >>> 0 : 0;
    const partialsAt = Math.ceil(Math.max(direct, wino) / 64) * 64; // the partial sums' offset in each block
    return { ws: rt.workspaces(partialsAt + FILTER_CHUNKS * this.partialBytes(rt)), partialsAt };
  }

  /** Threads for `macs` multiply-adds (a hand-off costs ~10–20 µs). */
  private threads(rt: Runtime, macs: number): number {
    return rt.pool ? Math.max(1, Math.min(rt.pool.threads, Math.floor(macs / MIN_MACS_PER_THREAD))) : 1;
  }

  forward(e: Exec, y: number, x: number, batch: number, _mode: Mode): void {
    const rt = e.rt, { ws } = this.workspaces(rt);
    const w = e.params + 4 * this.kernel.offset, b = this.bias ? e.params + 4 * this.bias.offset : 0;
    const xs = 4 * this.inSize, ys = 4 * this.outSize;
    rt.run(splitRange(batch, this.threads(rt, batch * this.macs), { align: 1 }).map(([s, n], i) => ({
      kernel: this.kernels.forward, args: [y + s * ys, x + s * xs, w, b, ws[i], n, ...this.geom],
    })));
  }

  /** Writes (overwrites) dW and db in the gradient block, and dx when dx != 0. */
  backward(e: Exec, dx: number, dy: number, x: number, _y: number, batch: number): void {
    const rt = e.rt, { ws, partialsAt } = this.workspaces(rt);
    const F = this.filters, K = this.kernel.size / F;
    const dw = e.grads + 4 * this.kernel.offset, db = this.bias ? e.grads + 4 * this.bias.offset : 0;
    const [H, W, C, , KH, KW, SH, SW, PT, PL, OH, OW] = this.geom;
    const threads = this.threads(rt, batch * this.macs);
    const xs = 4 * this.inSize, ys = 4 * this.outSize;
    if (this.kernels.filter.includes('winograd')) {
      // chunk c's partial sum: in the workspace of the thread that computes it (c mod threads),
      // after the kernels' own space; one thread computes both, one after the other
      const chunks = splitRange(batch, FILTER_CHUNKS, { align: 1 });
      const T = Math.min(threads, chunks.length), bytes = this.partialBytes(rt);
      const slot = (c: number) => ws[c % T] + partialsAt + Math.floor(c / T) * bytes;
      const jobs = chunks.map(([s, n], c) => ({
        kernel: 'conv2d_winograd_filter_partial_f32' as const,
        args: [slot(c), dy + s * ys, x + s * xs, ws[c % T], n, ...this.geom],
      }));
      if (T === jobs.length) rt.run(jobs);
      else for (const job of jobs) rt.run([job]);
      const du1 = chunks.length > 1 ? slot(1) : 0;
      rt.run(splitRange(F, threads, { align: 1 }).map(([s, n], i) => ({
        kernel: 'conv2d_winograd_filter_reduce_f32',
        args: [dw, db, slot(0), du1, dy, ws[i], 0, batch * OH * OW, s, n, C, F],
      })));
    } else {
      rt.run(splitRange(F, threads, { align: 1 }).map(([s, n], i) => ({
        kernel: this.kernels.filter,
        args: [dw + 4 * s * K, db ? db + 4 * s : 0, dy + 4 * s, x, ws[i], 0, batch, H, W, C, n, KH, KW, SH, SW, PT, PL, OH, OW, F],
      })));
    }
    this.regularizer?.addGradient(e);
    if (!dx) return;
    const w = e.params + 4 * this.kernel.offset;
    rt.run(splitRange(batch, threads, { align: 1 }).map(([s, n], i) => ({
      kernel: this.kernels.data, args: [dx + s * xs, dy + s * ys, w, ws[i], n, ...this.geom],
    })));
  }

  constrain(e: Exec): void {
    if (this.maxNorm !== undefined) maxNormRows(e, this.kernel, this.maxNorm);
  }
}

const OPTIONS = ['filters', 'kernelSize', 'strides', 'padding', 'activation', 'pieces', 'kernelInitializer', 'maxNorm', 'useBias',
  'kernelRegularizer', 'activityRegularizer'] as const;

/** A size given as one integer or a pair, as [a, b]. */
function pair(type: string, name: string, v: unknown, max: number): [number, number] {
  const two = Array.isArray(v) ? v : [v, v];
  if (two.length !== 2) throw new RangeError(`thinnet.layers.${type}: ${name} must be a positive integer or a pair of them, got ${JSON.stringify(v)}`);
  return [positiveInt(type, name, two[0], max), positiveInt(type, name, two[1], max)];
}

function check(spec: LayerSpec): Conv2DSpec {
  const o = checkSpecKeys('conv2d', spec, OPTIONS);
  const filters = positiveInt('conv2d', 'filters', o.filters, 1 << 16);
  const kernelSize = pair('conv2d', 'kernelSize', o.kernelSize, 1 << 12);
  const strides = pair('conv2d', 'strides', o.strides ?? 1, 1 << 12);
  const padding = o.padding === undefined ? 'valid' : checkOneOf('layers.conv2d', 'padding', o.padding, ['valid', 'same'] as const);
  const activation = checkActivation('conv2d', o.activation);
  const pieces = checkPieces('conv2d', activation, o.pieces);
  const init = checkInitializer('conv2d', o.kernelInitializer ?? 'glorotUniform');
  const maxNorm = checkMaxNorm('conv2d', o.maxNorm);
  const useBias = checkBoolean('conv2d', 'useBias', o.useBias);
  const kernelRegularizer = checkKernelRegularizer('layers.conv2d', o.kernelRegularizer);
  const activityRegularizer = checkActivityRegularizer('layers.conv2d', o.activityRegularizer, activation);
  const out: Conv2DSpec = { type: 'conv2d', filters, kernelSize, strides, padding, activation, kernelInitializer: init };
  if (pieces !== undefined) out.pieces = pieces;
  if (maxNorm !== undefined) out.maxNorm = maxNorm;
  if (useBias === false) out.useBias = false;
  if (kernelRegularizer) out.kernelRegularizer = kernelRegularizer;
  if (activityRegularizer) out.activityRegularizer = activityRegularizer;
  return out;
}

const family: LayerFamily = {
  type: 'conv2d',
  check,
  build(spec, index, inShape) {
    const s = spec as Conv2DSpec;
    const c = new Conv2D(index, inShape, s.filters * (s.pieces ?? 1), s.kernelSize, s.strides ?? [1, 1], s.padding ?? 'valid',
      s.useBias !== false, s.maxNorm, s.kernelInitializer ?? 'glorotUniform', s.kernelRegularizer);
    return [c, ...activationFollowing(c, s.activation, s.pieces, s.activityRegularizer)];
  },
  describe: (spec) => {
    const s = spec as Conv2DSpec;
    return `filters=${s.filters} kernel=${s.kernelSize.join('×')} strides=${(s.strides ?? [1, 1]).join('×')} padding=${s.padding ?? 'valid'} ` +
      `activation=${s.activation ?? 'linear'}${s.pieces ? ` pieces=${s.pieces}` : ''}${s.maxNorm ? ` maxNorm=${s.maxNorm}` : ''}${s.useBias === false ? ' useBias=false' : ''}` +
      describeRegularizers(s.kernelRegularizer, s.activityRegularizer);
  },
};

/**
 * A 2-D convolution over [H, W, C] inputs (channels last, as tf.layers.conv2d): `filters`
 * output channels, `kernelSize` and `strides` one integer or [rows, columns], padding 'valid'
 * (default) or 'same', an activation, and max-norm per filter.
 */
export function conv2d(options: Conv2DOptions): Conv2DSpec {
  return check({ ...checkOptions('layers.conv2d', options), type: 'conv2d' });
}
conv2d.family = family;
