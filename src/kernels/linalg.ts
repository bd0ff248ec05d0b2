// The products of dense networks over raw pointers (`gemm`, `denseForward`, `denseBackward`), on
// the worker pool when there is one; ops/linalg.ts (matMul) and the layers call them.
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
// thread computes it (the order contract of assembly/gemm.ts: it depends on K only, and the
// single-row GEMV paths keep it too), so results are bit-identical to one thread. Row splits
// still never give a thread a single row of a larger product (`noSingle`), a rule from when the
// GEMV summed in another order; it is no longer needed for the bits, and harmless.
import type { Runtime } from '../wasm/runtime.js';
import type { Job } from '../threads/pool.js';
import { splitRange } from '../threads/split.js';
import type { KernelName } from './binding.js';

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

/** Row (or column) ranges of a product for t threads, at multiples of the register tile. */
function cut(n: number, t: number, align: number, noSingle: boolean): Array<[number, number]> {
  return splitRange(n, t, { align, noSingle });
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
    jobs = cut(M, t, k.gemm_tile_rows(), true).map(([s, m], i) => ({
      kernel, args: [c + 4 * s * ldc, op === 'tn' ? a + 4 * s : a + 4 * s * lda, b, ws[i], acc, m, N, K, lda, ldb, ldc],
    }));
  } else {
    jobs = cut(N, t, k.gemm_tile_cols(), false).map(([s, n], i) => ({
      kernel, args: [c + 4 * s, a, op === 'nt' ? b + 4 * s * ldb : b + 4 * s, ws[i], acc, M, n, K, lda, ldb, ldc],
    }));
  }
  rt.run(jobs);
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
    jobs = cut(batch, t, k.gemm_tile_rows(), true).map(([s, n], i) => ({
      kernel: 'dense_forward_f32', args: [y + 4 * s * outF, x + 4 * s * inF, w, b, ws[i], n, inF, outF],
    }));
  } else {
    jobs = cut(outF, t, k.gemm_tile_cols(), false).map(([s, n], i) => ({
      kernel: 'dense_forward_units_f32', args: [y + 4 * s, x, w + 4 * s * inF, b ? b + 4 * s : 0, ws[i], batch, inF, n, outF],
    }));
  }
  rt.run(jobs);
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
      rt.run(cut(outF, t, k.gemm_tile_rows(), true).map(([s, n], i) => ({
        kernel: 'dense_backward_weights_f32',
        args: [dw + 4 * s * inF, db ? db + 4 * s : 0, dy + 4 * s, x, ws[i], acc, batch, inF, n, outF],
      })));
    }
  } else if (db) {
    k.dense_backward_bias_f32(db, dy, acc, batch, outF, outF);
  }
  if (dx) gemm(rt, 'nn', dx, dy, w, 0, batch, inF, outF, outF, inF, inF);
}

