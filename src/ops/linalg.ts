// `matMul` on tensors (as tf.matMul), on the products of kernels/linalg.ts.
import { runtime, type Runtime } from '../wasm/runtime.js';
import { Tensor } from '../tensor/tensor.js';
import { gemm } from '../kernels/linalg.js';
import { checkOptions, checkTensor } from '../tensor/validate.js';

// ---- tensors ------------------------------------------------------------------------------------

export interface MatMulOptions {
  /** Use aᵀ (a stored [K, M]). Default false. */
  transposeA?: boolean;
  /** Use bᵀ (b stored [N, K]). Default false. */
  transposeB?: boolean;
  /**
   * Add the product into this [M, N] tensor (C += op(a)·op(b)) and return it, instead of
   * returning a new tensor. It must not be a or b.
   */
  accumulateInto?: Tensor;
}

function shapeStr(t: Tensor): string {
  return `[${t.shape.join(', ')}]`;
}

/**
 * The matrix product op(a)·op(b) of two 2-D tensors, as tf.matMul: a [M, K] (or [K, M] with
 * transposeA), b [K, N] (or [N, K] with transposeB) give a new [M, N] tensor. Also callable as
 * matMul(a, b, transposeA, transposeB). With accumulateInto, adds into that tensor and returns it.
 * Runs on the worker pool for large products; the result does not depend on the thread count.
 */
export function matMul(a: Tensor, b: Tensor, options: MatMulOptions | boolean = {}, transposeB?: boolean): Tensor {
  const op = 'matMul';
  checkTensor(op, 'a', a);
  checkTensor(op, 'b', b);
  const o: MatMulOptions = typeof options === 'boolean' ? { transposeA: options, transposeB }
    : checkOptions(op, options) as MatMulOptions;
  for (const key of ['transposeA', 'transposeB'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') {
      throw new TypeError(`thinnet.matMul: ${key} must be a boolean, got ${String(o[key])}`);
    }
  }
  const tA = o.transposeA ?? false, tB = o.transposeB ?? false;
  if (a.shape.length !== 2) throw new RangeError(`thinnet.matMul: a must be a 2-D tensor (a matrix), got shape ${shapeStr(a)}`);
  if (b.shape.length !== 2) throw new RangeError(`thinnet.matMul: b must be a 2-D tensor (a matrix), got shape ${shapeStr(b)}`);
  const [M, Ka] = tA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [Kb, N] = tB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (Ka !== Kb) {
    throw new RangeError(`thinnet.matMul: inner dimensions do not match: a has shape ${shapeStr(a)}` +
      `${tA ? ' (transposed)' : ''}, so K = ${Ka}, but b has shape ${shapeStr(b)}${tB ? ' (transposed)' : ''}, so K = ${Kb}`);
  }
  const K = Ka;
  const rt = runtime();
  let c: Tensor;
  if (o.accumulateInto !== undefined) {
    c = checkTensor(op, 'accumulateInto', o.accumulateInto);
    if (c.shape.length !== 2 || c.shape[0] !== M || c.shape[1] !== N) {
      throw new RangeError(`thinnet.matMul: accumulateInto has shape ${shapeStr(c)} but the product of a ${shapeStr(a)}` +
        ` and b ${shapeStr(b)} has shape [${M}, ${N}]`);
    }
    if (c === a || c === b) throw new Error('thinnet.matMul: accumulateInto must not be a or b (the product cannot overwrite its operands)');
  } else {
    c = new Tensor([M, N], rt);
  }
  if (M === 0 || N === 0) return c;
  const acc = o.accumulateInto !== undefined;
  try {
    product(rt, c, a, b, tA, tB, acc, M, N, K);
  } catch (e) {
    if (!acc) c.dispose();
    throw e;
  }
  return c;
}

function product(rt: Runtime, c: Tensor, a: Tensor, b: Tensor, tA: boolean, tB: boolean, acc: boolean,
  M: number, N: number, K: number): void {
  if (!tA && !tB) gemm(rt, 'nn', c.ptr, a.ptr, b.ptr, acc, M, N, K, K, N, N);
  else if (!tA && tB) gemm(rt, 'nt', c.ptr, a.ptr, b.ptr, acc, M, N, K, K, K, N);
  else if (tA && !tB) gemm(rt, 'tn', c.ptr, a.ptr, b.ptr, acc, M, N, K, M, N, N);
  else {
    // aᵀ·bᵀ: bᵀ materialized ([K, N]), then the 'tn' product.
    const bt = rt.heap.alloc(4 * K * N);
    try {
      rt.kernels.transpose_f32(bt, b.ptr, N, K, K, N);
      gemm(rt, 'tn', c.ptr, a.ptr, bt, acc, M, N, K, M, N, N);
    } finally {
      rt.heap.free(bt);
    }
  }
}
