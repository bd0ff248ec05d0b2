// Matrix products: `matMul` on tensors (as tf.matMul), and the products of dense networks over
// raw pointers (`gemm`, `denseForward`, `denseBackward`) for the model layer, all on the worker
// pool when there is one.
//
// How a product C [M, N] is split across threads (each thread with its own workspace from
// Runtime.workspaces): the packed kernels pack op(A) in row panels and op(B) in column panels,
// and every thread packs the operand slices it uses. Splitting C's rows makes every thread pack
// all of op(B); splitting its columns makes every thread pack all of op(A). So the split runs
// along the larger operand: columns when M < N (a dense layer's forward y = x·Wᵀ and its
// dx = dy·W at batch < width: each thread packs its share of W), rows otherwise (dW = dyᵀ·x:
// each thread computes the dW rows, and db entries, of a block of units). Rows are cut at
// multiples of the register tile's height and columns at multiples of its width, so no thread
// computes a partial tile. Each element of C is the same sequence of float operations whichever
// thread computes it (the K blocking depends on K only), so results are bit-identical to one
// thread; the one exception, the GEMV path taken when a call has a single row, is avoided by
// never giving a thread a single row of a product that has more.
import { runtime, type Runtime } from '../runtime.js';
import { Tensor } from '../tensor.js';
import type { Job } from '../threads.js';
import type { KernelName } from '../kernels.js';
import { checkOptions, checkTensor } from '../validate.js';

export type GemmOp = 'nn' | 'nt' | 'tn';
const OPS: readonly GemmOp[] = ['nn', 'nt', 'tn'];

/**
 * A product is split only if every thread gets at least this many multiply-adds (~40 µs of the
 * packed kernel): a hand-off to the pool costs ~10–20 µs.
 */
export const MIN_MACS_PER_THREAD = 1 << 20;
/** A single-row product (GEMV) streams B from memory: it costs about this many packed MACs per MAC. */
const GEMV_COST = 8;

/** How many threads a product of M x N outputs over K should use. */
function threadsFor(rt: Runtime, M: number, N: number, K: number): number {
  if (!rt.pool || M <= 0 || N <= 0 || K <= 0) return 1;
  const cost = M * N * K * (M === 1 ? GEMV_COST : 1);
  return Math.max(1, Math.min(rt.pool.threads, Math.floor(cost / MIN_MACS_PER_THREAD)));
}

/**
 * Cuts [0, n) into at most `parts` ranges whose starts are multiples of `align`, as [start,
 * count] pairs. With `noSingle`, a last range of one element is merged into the one before (a
 * one-row call would take the GEMV path and sum in another order).
 */
export function cutRange(n: number, parts: number, align: number, noSingle: boolean): Array<[number, number]> {
  const chunk = Math.max(align, Math.ceil(n / parts / align) * align);
  const out: Array<[number, number]> = [];
  for (let s = 0; s < n; s += chunk) out.push([s, Math.min(chunk, n - s)]);
  if (noSingle && out.length > 1 && out[out.length - 1][1] === 1) {
    out.pop();
    out[out.length - 1][1] += 1;
  }
  return out;
}

function runJobs(rt: Runtime, jobs: Job[]): void {
  if (jobs.length === 1) (rt.kernels[jobs[0].kernel] as (...a: number[]) => void)(...jobs[0].args);
  else rt.pool!.run(jobs);
}

/**
 * C = op(A)·op(B) (accumulate false) or C += op(A)·op(B), on the pool when the product is large.
 * 'nn': A [M, K], B [K, N]; 'nt': A [M, K], B [N, K]; 'tn': A [K, M], B [K, N]; C [M, N].
 * Pointers are byte addresses in the runtime's memory; lda, ldb, ldc are the row strides (in
 * elements) of A, B and C as stored. C must not overlap A or B. Bit-identical for any thread
 * count. The contract of the gemm_*_f32 kernels (assembly/gemm.ts) otherwise.
 */
export function gemm(rt: Runtime, op: GemmOp, c: number, a: number, b: number, accumulate: boolean | number,
  M: number, N: number, K: number, lda: number, ldb: number, ldc: number): void {
  if (!OPS.includes(op)) throw new RangeError(`thinnet.gemm: op must be 'nn', 'nt' or 'tn', got ${String(op)}`);
  const k = rt.kernels;
  const kernel = `gemm_${op}_f32` as KernelName;
  const acc = accumulate ? 1 : 0;
  const ws = rt.workspaces(k.gemm_workspace_bytes(Math.max(M, 0), Math.max(N, 0), Math.max(K, 0)) >>> 0);
  const t = threadsFor(rt, M, N, K);
  if (t === 1) {
    (k[kernel] as (...a: number[]) => void)(c, a, b, ws[0], acc, M, N, K, lda, ldb, ldc);
    return;
  }
  let jobs: Job[];
  if (M > 1 && M >= N) {
    jobs = cutRange(M, t, k.gemm_tile_rows(), true).map(([s, m], i) => ({
      kernel, args: [c + 4 * s * ldc, op === 'tn' ? a + 4 * s : a + 4 * s * lda, b, ws[i], acc, m, N, K, lda, ldb, ldc],
    }));
  } else {
    jobs = cutRange(N, t, k.gemm_tile_cols(), false).map(([s, n], i) => ({
      kernel, args: [c + 4 * s, a, op === 'nt' ? b + 4 * s * ldb : b + 4 * s, ws[i], acc, M, n, K, lda, ldb, ldc],
    }));
  }
  runJobs(rt, jobs);
}

/**
 * Dense layer forward on the pool: y [batch, outF] = x [batch, inF] · Wᵀ + b, W [outF, inF],
 * b [outF] or 0 for none. The contract of dense_forward_f32 (assembly/dense.ts); bit-identical
 * to it for any thread count.
 */
export function denseForward(rt: Runtime, y: number, x: number, w: number, b: number,
  batch: number, inF: number, outF: number): void {
  const k = rt.kernels;
  const ws = rt.workspaces(k.dense_workspace_bytes(Math.max(batch, 0), Math.max(inF, 0), Math.max(outF, 0)) >>> 0);
  const t = threadsFor(rt, batch, outF, inF);
  if (t === 1) {
    k.dense_forward_f32(y, x, w, b, ws[0], batch, inF, outF);
    return;
  }
  let jobs: Job[];
  if (batch > 1 && batch >= outF) {
    jobs = cutRange(batch, t, k.gemm_tile_rows(), true).map(([s, n], i) => ({
      kernel: 'dense_forward_f32', args: [y + 4 * s * outF, x + 4 * s * inF, w, b, ws[i], n, inF, outF],
    }));
  } else {
    jobs = cutRange(outF, t, k.gemm_tile_cols(), false).map(([s, n], i) => ({
      kernel: 'dense_forward_units_f32', args: [y + 4 * s, x, w + 4 * s * inF, b ? b + 4 * s : 0, ws[i], batch, inF, n, outF],
    }));
  }
  runJobs(rt, jobs);
}

/**
 * Dense layer backward on the pool, given dy [batch, outF]:
 *   dx = dy·W (overwritten; dx = 0 skips it), dW (+)= dyᵀ·x, db (+)= column sums of dy
 * (dw = 0 or db = 0 skip them; accumulate adds into dW and db). dW and db are split by units
 * (rows of dW), dx like any product (see gemm). The contract of dense_backward_f32
 * (assembly/dense.ts); bit-identical to it for any thread count.
 */
export function denseBackward(rt: Runtime, dx: number, dw: number, db: number, dy: number, x: number, w: number,
  accumulate: boolean | number, batch: number, inF: number, outF: number): void {
  const k = rt.kernels;
  const acc = accumulate ? 1 : 0;
  const ws = rt.workspaces(k.dense_workspace_bytes(Math.max(batch, 0), Math.max(inF, 0), Math.max(outF, 0)) >>> 0);
  if (batch <= 0 || inF <= 0 || outF <= 0) {
    k.dense_backward_f32(dx, dw, db, dy, x, w, ws[0], acc, batch, inF, outF);
    return;
  }
  if (dw) {
    const t = threadsFor(rt, outF, inF, batch);
    if (t === 1) {
      k.dense_backward_weights_f32(dw, db, dy, x, ws[0], acc, batch, inF, outF, outF);
    } else {
      runJobs(rt, cutRange(outF, t, k.gemm_tile_rows(), true).map(([s, n], i) => ({
        kernel: 'dense_backward_weights_f32',
        args: [dw + 4 * s * inF, db ? db + 4 * s : 0, dy + 4 * s, x, ws[i], acc, batch, inF, n, outF],
      })));
    }
  } else if (db) {
    k.dense_backward_bias_f32(db, dy, acc, batch, outF, outF);
  }
  if (dx) gemm(rt, 'nn', dx, dy, w, 0, batch, inF, outF, outF, inF, inF);
}

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
