// Max-pooling and flatten, the shape layers of conv nets. maxPool2d: channels last, windows of
// poolSize with strides (default: the pool size; the paper's overlapping 3×3 stride 2 too),
// padding 'valid' (default) or 'same'; the winners' positions are kept for backward. flatten:
// [H, W, C] → [H·W·C] — in NHWC memory the same bytes, so it is a view (nothing runs).
import { splitRange } from '../threads/split.js';
import { checkOneOf, checkOptions } from '../tensor/validate.js';
import type { Runtime } from '../wasm/runtime.js';
import { LayerBase } from './base.js';
import { imageShape, outputSize, type Padding } from './conv.js';
import { checkSpecKeys, positiveInt } from './params.js';
import type { Exec, LayerFamily, LayerSpec, Mode, Shape } from './types.js';

export interface MaxPool2DSpec extends LayerSpec {
  type: 'maxPool2d';
  /** [PH, PW]. */
  poolSize: [number, number];
  /** [SH, SW], default poolSize. */
  strides: [number, number];
  /** Default 'valid'. */
  padding?: Padding;
}

export interface MaxPool2DOptions {
  /** One integer or [rows, columns]; default 2. */
  poolSize?: number | [number, number];
  /** One integer or [rows, columns]; default poolSize. */
  strides?: number | [number, number];
  padding?: Padding;
}

export interface FlattenSpec extends LayerSpec {
  type: 'flatten';
}

/** Below this many elements of output per thread, pooling runs on one thread. */
const MIN_POOL_OUTPUTS_PER_THREAD = 1 << 15;

export class MaxPool2D extends LayerBase {
  readonly kind = 'maxPool2d';
  override readonly fold = 'commute';
  private argmax = 0;
  /** H, W, C, PH, PW, SH, SW, PT, PL, OH, OW. */
  private readonly geom: number[];

  constructor(index: number, inShape: Shape, pool: [number, number], strides: [number, number], padding: Padding) {
    const [H, W, C] = imageShape('maxPool2d', index, inShape);
    const v = outputSize(H, pool[0], strides[0], padding), h = outputSize(W, pool[1], strides[1], padding);
    if (v.out < 1 || h.out < 1) {
      throw new RangeError(`thinnet.sequential: layer ${index} (maxPool2d): the ${pool[0]}×${pool[1]} window is larger than its ${H}×${W} input with padding 'valid'`);
    }
    super(index, inShape, [v.out, h.out, C]);
    this.geom = [H, W, C, pool[0], pool[1], strides[0], strides[1], v.pad, h.pad, v.out, h.out];
  }

  override allocate(rt: Runtime, cap: number): void {
    this.release(rt);
    this.argmax = rt.heap.alloc(4 * cap * this.outSize);
  }

  override release(rt: Runtime): void {
    if (this.argmax) rt.heap.free(this.argmax);
    this.argmax = 0;
  }

  private ranges(rt: Runtime, batch: number): Array<[number, number]> {
    const t = rt.pool ? Math.max(1, Math.min(rt.pool.threads, Math.floor((batch * this.outSize) / MIN_POOL_OUTPUTS_PER_THREAD))) : 1;
    return splitRange(batch, t, { align: 1 });
  }

  forward(e: Exec, y: number, x: number, batch: number, _mode: Mode): void {
    const xs = 4 * this.inSize, ys = 4 * this.outSize;
    e.rt.run(this.ranges(e.rt, batch).map(([s, n]) => ({
      kernel: 'maxpool2d_forward_f32', args: [y + s * ys, this.argmax + s * ys, x + s * xs, n, ...this.geom],
    })));
  }

  backward(e: Exec, dx: number, dy: number, _x: number, _y: number, batch: number): void {
    if (!dx) return;
    const [H, W, C, , , , , , , OH, OW] = this.geom;
    const xs = 4 * this.inSize, ys = 4 * this.outSize;
    e.rt.run(this.ranges(e.rt, batch).map(([s, n]) => ({
      kernel: 'maxpool2d_backward_f32', args: [dx + s * xs, dy + s * ys, this.argmax + s * ys, n, H, W, C, OH, OW],
    })));
  }
}

export class Flatten extends LayerBase {
  readonly kind = 'flatten';
  override readonly fold = 'commute';
  readonly isView = true;

  constructor(index: number, inShape: Shape) {
    super(index, inShape, [inShape.reduce((a, b) => a * b, 1)]);
  }

  forward(): void { throw new Error('thinnet: flatten is a view; it never runs'); }
  backward(): void { throw new Error('thinnet: flatten is a view; it never runs'); }
}

function pair(name: string, v: unknown): [number, number] {
  const two = Array.isArray(v) ? v : [v, v];
  if (two.length !== 2) throw new RangeError(`thinnet.layers.maxPool2d: ${name} must be a positive integer or a pair of them, got ${JSON.stringify(v)}`);
  return [positiveInt('maxPool2d', name, two[0], 1 << 12), positiveInt('maxPool2d', name, two[1], 1 << 12)];
}

function checkPool(spec: LayerSpec): MaxPool2DSpec {
  const o = checkSpecKeys('maxPool2d', spec, ['poolSize', 'strides', 'padding']);
  const poolSize = pair('poolSize', o.poolSize ?? 2);
  const strides = o.strides === undefined ? poolSize : pair('strides', o.strides);
  const padding = o.padding === undefined ? 'valid' : checkOneOf('layers.maxPool2d', 'padding', o.padding, ['valid', 'same'] as const);
  return { type: 'maxPool2d', poolSize, strides, padding };
}

function checkFlatten(spec: LayerSpec): FlattenSpec {
  checkSpecKeys('flatten', spec, []);
  return { type: 'flatten' };
}

const poolFamily: LayerFamily = {
  type: 'maxPool2d',
  check: checkPool,
  build: (spec, index, inShape) => {
    const s = spec as MaxPool2DSpec;
    return [new MaxPool2D(index, inShape, s.poolSize, s.strides, s.padding ?? 'valid')];
  },
  describe: (spec) => {
    const s = spec as MaxPool2DSpec;
    return `pool=${s.poolSize.join('×')} strides=${s.strides.join('×')} padding=${s.padding ?? 'valid'}`;
  },
};

const flattenFamily: LayerFamily = {
  type: 'flatten',
  check: checkFlatten,
  build: (_spec, index, inShape) => [new Flatten(index, inShape)],
  describe: () => '',
};

/** Max-pooling over [H, W, C] inputs (as tf.layers.maxPooling2d): poolSize default 2, strides default poolSize. */
export function maxPool2d(options: MaxPool2DOptions = {}): MaxPool2DSpec {
  return checkPool({ ...checkOptions('layers.maxPool2d', options), type: 'maxPool2d' });
}
maxPool2d.family = poolFamily;

/** [H, W, C] → [H·W·C] (row-major, channels last, as tf.layers.flatten). */
export function flatten(): FlattenSpec {
  return { type: 'flatten' };
}
flatten.family = flattenFamily;
