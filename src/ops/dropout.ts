// Dropout as ops on tensors: Bernoulli (training, evaluation, backward from the stored mask or
// recomputed from the counter), caller-supplied masks, and Gaussian dropout (paper §10).
// p is always the retention probability (`keep`), as in the paper.
import { runtime, type Runtime } from '../wasm/runtime.js';
import { Tensor } from '../tensor/tensor.js';
import { checkKeep, checkOneOf, checkOptions, checkSameShape, checkTensor, checkU32 } from '../tensor/validate.js';

export type DropoutConvention = 'paper' | 'inverted';
const CONVENTIONS: readonly DropoutConvention[] = ['paper', 'inverted'];

export interface DropoutOptions {
  /** Retention probability p in (0, 1]; quantized to a multiple of 2^-16. */
  keep: number;
  /** Seed of the mask generator, an integer in [0, 2^32). */
  seed: number;
  /** Training step (default 0): a new mask per step. */
  step?: number;
  /** Stream, usually the layer's index (default 0): independent masks per layer. */
  stream?: number;
  /**
   * 'paper' (default, as Srivastava et al. and thinnet's layers): train y = r∗x, evaluate
   * y = p∗x (weight scaling).
   * 'inverted' (TensorFlow.js, Keras, PyTorch): train y = r∗x/p, evaluate y = x.
   */
  convention?: DropoutConvention;
  /** false: evaluation mode (no mask). Default true. */
  training?: boolean;
}

export interface GaussianDropoutOptions {
  /** Retention probability p in (0, 1]: noise r ~ N(1, (1 − p)/p). */
  keep: number;
  seed: number;
  step?: number;
  stream?: number;
  training?: boolean;
}

interface BernoulliRecord {
  kind: 'bernoulli';
  mask: MaskBuffer;
  scale: number;
}

interface GaussianRecord {
  kind: 'gaussian';
  sigma: number;
  seed: number;
  stream: number;
  step: number;
}

const records = new WeakMap<Tensor, BernoulliRecord | GaussianRecord>();

/** One bit per element, in wasm memory (u32 words, little-endian bit order). */
class MaskBuffer {
  readonly ptr: number;
  constructor(readonly rt: Runtime, readonly elements: number) {
    this.ptr = rt.heap.alloc(Math.ceil(elements / 32) * 4);
  }
  dispose(): void {
    this.rt.heap.free(this.ptr);
  }
}

/** Evaluation mode (and its backward): out = inp * scale (scale 1: a copy). */
function evalInto(rt: Runtime, out: Tensor, inp: Tensor, scale: number): void {
  rt.runSplit('scale_f32', inp.size, (start, count) => [out.ptr + 4 * start, inp.ptr + 4 * start, scale, count]);
}

/** The quantized retention probability: keep16 / 65536 is the p the kernels use. */
export function quantizeKeep(keep: number): { keep16: number; p: number } {
  const keep16 = Math.round(keep * 65536);
  return { keep16, p: keep16 / 65536 };
}

interface ParsedBernoulli {
  keep16: number; p: number; seed: number; step: number; stream: number;
  convention: DropoutConvention; training: boolean; trainScale: number;
}

function parseBernoulli(op: string, options: unknown): ParsedBernoulli {
  const o = checkOptions(op, options);
  const { keep16, p } = quantizeKeep(checkKeep(op, o.keep));
  const convention = o.convention === undefined ? 'paper' : checkOneOf(op, 'convention', o.convention, CONVENTIONS);
  if (o.training !== undefined && typeof o.training !== 'boolean') throw new TypeError(`thinnet.${op}: training must be a boolean`);
  return {
    keep16, p, convention,
    seed: checkU32(op, 'seed', o.seed),
    step: o.step === undefined ? 0 : checkU32(op, 'step', o.step),
    stream: o.stream === undefined ? 0 : checkU32(op, 'stream', o.stream),
    training: o.training ?? true,
    trainScale: convention === 'inverted' ? Math.fround(1 / p) : 1,
  };
}

/**
 * Dropout. Training mode draws r ~ Bernoulli(p) per element from the counter
 * (seed, stream, step, element index) and returns y = r∗x (paper) or r∗x/p (inverted); the
 * mask is kept with y (1 bit per element) for dropoutBackward and dropoutMask. Evaluation mode
 * (training: false) returns p∗x (paper) or a copy of x (inverted).
 */
export function dropout(x: Tensor, options: DropoutOptions): Tensor {
  checkTensor('dropout', 'x', x);
  const o = parseBernoulli('dropout', options);
  const rt = runtime();
  const y = new Tensor(x.shape, rt);
  const n = x.size;
  if (!o.training) {
    evalInto(rt, y, x, o.convention === 'paper' ? o.p : 1);
    return y;
  }
  const mask = new MaskBuffer(rt, n);
  y.attach(mask);
  rt.runSplit('dropout_forward_f32', n, (start, count) => [
    y.ptr + 4 * start, mask.ptr + start / 8, x.ptr + 4 * start, o.keep16, o.trainScale,
    o.seed, o.stream, o.step, start, count]);
  records.set(y, { kind: 'bernoulli', mask, scale: o.trainScale });
  return y;
}

/**
 * Backward pass of dropout: dx = r∗dy (paper) or r∗dy/p (inverted). `from` is the output of the
 * forward call (its stored mask is used) or the forward's options (the mask is recomputed from
 * the counter; no mask needs to be kept).
 */
export function dropoutBackward(dy: Tensor, from: Tensor | DropoutOptions): Tensor {
  checkTensor('dropoutBackward', 'dy', dy);
  const rt = runtime();
  if (from instanceof Tensor) {
    checkTensor('dropoutBackward', 'the forward output', from);
    checkSameShape('dropoutBackward', dy, 'dy', from, 'the forward output');
    const rec = records.get(from);
    if (!rec || rec.kind !== 'bernoulli') {
      throw new Error('thinnet.dropoutBackward: that tensor is not the output of a training-mode thinnet.dropout');
    }
    const dx = new Tensor(dy.shape, rt);
    rt.runSplit('dropout_backward_f32', dy.size, (start, count) => [
      dx.ptr + 4 * start, dy.ptr + 4 * start, rec.mask.ptr + start / 8, rec.scale, count]);
    return dx;
  }
  const o = parseBernoulli('dropoutBackward', from);
  const dx = new Tensor(dy.shape, rt);
  if (!o.training) {
    evalInto(rt, dx, dy, o.convention === 'paper' ? o.p : 1);
    return dx;
  }
  rt.runSplit('dropout_backward_recompute_f32', dy.size, (start, count) => [
    dx.ptr + 4 * start, dy.ptr + 4 * start, o.keep16, o.trainScale, o.seed, o.stream, o.step, start, count]);
  return dx;
}

/** The mask a training-mode dropout drew for y: 1 where the element was kept, else 0. */
export function dropoutMask(y: Tensor): Uint8Array {
  checkTensor('dropoutMask', 'y', y);
  const rec = records.get(y);
  if (!rec || rec.kind !== 'bernoulli') throw new Error('thinnet.dropoutMask: that tensor is not the output of a training-mode thinnet.dropout');
  const words = y.rt.heap.u32(rec.mask.ptr, Math.ceil(y.size / 32));
  const out = new Uint8Array(y.size);
  for (let i = 0; i < y.size; i++) out[i] = (words[i >>> 5] >>> (i & 31)) & 1;
  return out;
}

/** y = x ∗ r ∗ scale for a caller-supplied mask r (0/1 or any real values, same shape as x). */
export function applyMask(x: Tensor, mask: Tensor | ArrayLike<number>, options: { scale?: number } = {}): Tensor {
  checkTensor('applyMask', 'x', x);
  const scale = options.scale ?? 1;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new RangeError(`thinnet.applyMask: scale must be a finite number, got ${scale}`);
  const rt = runtime();
  let r: Tensor;
  let owned = false;
  if (mask instanceof Tensor) {
    r = checkTensor('applyMask', 'mask', mask);
    checkSameShape('applyMask', x, 'x', r, 'mask');
  } else {
    if (!mask || typeof mask.length !== 'number') throw new TypeError('thinnet.applyMask: mask must be a Tensor or an array of numbers');
    if (mask.length !== x.size) throw new RangeError(`thinnet.applyMask: mask has ${mask.length} values but x has ${x.size}`);
    r = new Tensor(x.shape, rt);
    owned = true;
    r.view().set(mask);
  }
  const y = new Tensor(x.shape, rt);
  rt.runSplit('dropout_apply_mask_f32', x.size, (start, count) => [y.ptr + 4 * start, x.ptr + 4 * start, r.ptr + 4 * start, scale, count]);
  if (owned) r.dispose();
  return y;
}

function parseGaussian(op: string, options: unknown) {
  const o = checkOptions(op, options);
  const keep = checkKeep(op, o.keep);
  if (o.training !== undefined && typeof o.training !== 'boolean') throw new TypeError(`thinnet.${op}: training must be a boolean`);
  return {
    sigma: Math.fround(Math.sqrt((1 - keep) / keep)),
    seed: checkU32(op, 'seed', o.seed),
    step: o.step === undefined ? 0 : checkU32(op, 'step', o.step),
    stream: o.stream === undefined ? 0 : checkU32(op, 'stream', o.stream),
    training: (o.training as boolean | undefined) ?? true,
  };
}

/**
 * Gaussian dropout (paper §10): y = r∗x with r ~ N(1, (1 − p)/p) per element, drawn from the
 * counter (seed, stream, step, element index). Evaluation mode is the identity (a copy).
 */
export function gaussianDropout(x: Tensor, options: GaussianDropoutOptions): Tensor {
  checkTensor('gaussianDropout', 'x', x);
  const o = parseGaussian('gaussianDropout', options);
  const rt = runtime();
  const y = new Tensor(x.shape, rt);
  if (!o.training) {
    evalInto(rt, y, x, 1);
    return y;
  }
  rt.runSplit('gaussian_dropout_forward_f32', x.size, (start, count) => [
    y.ptr + 4 * start, x.ptr + 4 * start, o.sigma, o.seed, o.stream, o.step, start, count]);
  records.set(y, { kind: 'gaussian', sigma: o.sigma, seed: o.seed, stream: o.stream, step: o.step });
  return y;
}

/** Backward of gaussianDropout: dx = r∗dy, r recomputed from the counter (from: y or the options). */
export function gaussianDropoutBackward(dy: Tensor, from: Tensor | GaussianDropoutOptions): Tensor {
  checkTensor('gaussianDropoutBackward', 'dy', dy);
  const rt = runtime();
  let g: { sigma: number; seed: number; stream: number; step: number; training: boolean };
  if (from instanceof Tensor) {
    checkTensor('gaussianDropoutBackward', 'the forward output', from);
    checkSameShape('gaussianDropoutBackward', dy, 'dy', from, 'the forward output');
    const rec = records.get(from);
    if (!rec || rec.kind !== 'gaussian') {
      throw new Error('thinnet.gaussianDropoutBackward: that tensor is not the output of a training-mode thinnet.gaussianDropout');
    }
    g = { ...rec, training: true };
  } else {
    g = parseGaussian('gaussianDropoutBackward', from);
  }
  const dx = new Tensor(dy.shape, rt);
  if (!g.training) {
    evalInto(rt, dx, dy, 1);
    return dx;
  }
  rt.runSplit('gaussian_dropout_backward_f32', dy.size, (start, count) => [
    dx.ptr + 4 * start, dy.ptr + 4 * start, g.sigma, g.seed, g.stream, g.step, start, count]);
  return dx;
}
