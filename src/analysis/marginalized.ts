// Marginalized dropout for linear regression (Srivastava et al., JMLR 2014, §9.1).
//
// Dropout on the inputs of a linear regression, R ∗ X with R_ij ~ Bernoulli(p) independently,
// minimizes the expected loss, which has a closed form (§9.1):
//
//   E_R ‖y − (R∗X)w‖² = ‖y − pXw‖² + p(1−p)‖Γw‖²,   Γ = diag(XᵀX)^½.
//
// (Per row n: E[(y_n − Σ_j r_nj x_nj w_j)²] = (y_n − p x_n·w)² + Σ_j Var(r_nj) x_nj² w_j², and
// Σ_n x_nj² = (XᵀX)_jj.) Its minimizer solves p²XᵀX w + p(1−p)Γ²w = pXᵀy, i.e.
//
//   (p·XᵀX + (1−p)·Γ²) w = Xᵀy.
//
// With w̃ = p·w the loss is ‖y − Xw̃‖² + ((1−p)/p)‖Γw̃‖²: "dropout with linear regression is
// equivalent, in expectation, to ridge regression with a particular form for Γ" — a penalty
// λ = (1−p)/p scaled per feature by that feature's (XᵀX)_jj, so w̃ = (XᵀX + λΓ²)⁻¹Xᵀy.
//
// These are analysis functions for small dense problems in float64 (the arithmetic is O(N·D² +
// D³) in plain TypeScript, on purpose: the wasm kernels are float32, and the point here is to
// check the paper's identity to many digits, not to train anything).
import { describeValue } from '../tensor/validate.js';

/** A design matrix: N rows of D features, as an array of rows or one row-major array of N·D values. */
export type DesignMatrix = ArrayLike<number> | ReadonlyArray<ArrayLike<number>>;

/** X as a row-major Float64Array of n·d finite values (d from the rows, or from `d` for a flat X). */
function checkDesign(op: string, X: unknown, n: number, d?: number): { x: Float64Array; d: number } {
  if (X === null || typeof X !== 'object' || typeof (X as ArrayLike<unknown>).length !== 'number') {
    throw new TypeError(`thinnet.analysis.${op}: X must be an array of rows or a flat row-major array of numbers, got ${describeValue(X)}`);
  }
  const rows = X as ArrayLike<unknown>;
  const nested = rows.length > 0 && typeof rows[0] === 'object' && rows[0] !== null;
  let cols: number;
  let x: Float64Array;
  if (nested) {
    if (rows.length !== n) throw new RangeError(`thinnet.analysis.${op}: X has ${rows.length} rows but y has ${n} values`);
    cols = (rows[0] as ArrayLike<number>).length;
    x = new Float64Array(n * cols);
    for (let i = 0; i < n; i++) {
      const r = rows[i] as ArrayLike<number> | null;
      if (!r || typeof r !== 'object' || r.length !== cols) {
        throw new RangeError(`thinnet.analysis.${op}: row ${i} of X has ${r && typeof r === 'object' ? r.length : describeValue(r)} values, row 0 has ${cols}`);
      }
      for (let j = 0; j < cols; j++) x[i * cols + j] = r[j];
    }
  } else {
    if (d === undefined) {
      if (n === 0 || rows.length % n !== 0) throw new RangeError(`thinnet.analysis.${op}: a flat X must hold N·D values for the N = ${n} values of y, got ${rows.length}`);
      cols = rows.length / n;
    } else {
      cols = d;
      if (rows.length !== n * d) throw new RangeError(`thinnet.analysis.${op}: a flat X must hold N·D = ${n}·${d} = ${n * d} values (N from y, D from w), got ${rows.length}`);
    }
    x = Float64Array.from(rows as ArrayLike<number>);
  }
  if (d !== undefined && cols !== d) throw new RangeError(`thinnet.analysis.${op}: X has ${cols} columns but w has ${d} values`);
  if (cols < 1) throw new RangeError(`thinnet.analysis.${op}: X has no columns`);
  for (let k = 0; k < x.length; k++) {
    if (!Number.isFinite(x[k])) throw new RangeError(`thinnet.analysis.${op}: X[${Math.floor(k / cols)}][${k % cols}] is ${describeValue(x[k])}; X must hold finite numbers`);
  }
  return { x, d: cols };
}

function checkVector(op: string, name: string, v: unknown): Float64Array {
  if (v === null || typeof v !== 'object' || typeof (v as ArrayLike<unknown>).length !== 'number') {
    throw new TypeError(`thinnet.analysis.${op}: ${name} must be an array of numbers, got ${describeValue(v)}`);
  }
  const out = Float64Array.from(v as ArrayLike<number>);
  if (out.length === 0) throw new RangeError(`thinnet.analysis.${op}: ${name} is empty`);
  for (let k = 0; k < out.length; k++) {
    if (!Number.isFinite(out[k])) throw new RangeError(`thinnet.analysis.${op}: ${name}[${k}] is ${describeValue((v as ArrayLike<unknown>)[k])}; ${name} must hold finite numbers`);
  }
  return out;
}

function checkRetention(op: string, p: unknown): number {
  if (typeof p !== 'number' || !(p > 0 && p <= 1)) {
    throw new RangeError(`thinnet.analysis.${op}: p is the retention probability and must lie in (0, 1], got ${describeValue(p)}`);
  }
  return p;
}

/** Γ² = diag(XᵀX): Σ_n x_nj² per column j. */
function gammaSquared(x: Float64Array, n: number, d: number): Float64Array {
  const g = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) g[j] += x[i * d + j] * x[i * d + j];
  return g;
}

/**
 * The marginalized dropout loss of linear regression (paper §9.1): ‖y − pXw‖² + p(1−p)‖Γw‖² with
 * Γ = diag(XᵀX)^½ — the expectation over R ~ Bernoulli(p) (per element) of ‖y − (R∗X)w‖².
 * X is N×D (rows, or row-major flat), y has N values, w has D, p is the retention probability.
 */
export function marginalizedDropoutLoss(X: DesignMatrix, y: ArrayLike<number>, w: ArrayLike<number>, p: number): number {
  const op = 'marginalizedDropoutLoss';
  const yy = checkVector(op, 'y', y), ww = checkVector(op, 'w', w);
  const P = checkRetention(op, p);
  const n = yy.length, d = ww.length;
  const { x } = checkDesign(op, X, n, d);
  let fit = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[i * d + j] * ww[j];
    const r = yy[i] - P * s;
    fit += r * r;
  }
  const g2 = gammaSquared(x, n, d);
  let penalty = 0;
  for (let j = 0; j < d; j++) penalty += g2[j] * ww[j] * ww[j];
  return fit + P * (1 - P) * penalty;
}

/**
 * The minimizer w of marginalizedDropoutLoss(X, y, w, p) (paper §9.1), from the normal equations
 * (p·XᵀX + (1−p)·Γ²) w = Xᵀy, solved in float64 by Cholesky. Equivalently w = w̃ / p with w̃ the
 * ridge solution (XᵀX + λΓ²)⁻¹Xᵀy, λ = (1−p)/p: dropout's data-dependent ridge penalty. p = 1 is
 * ordinary least squares. Throws if the minimizer is not unique (an all-zero column of X, or at
 * p = 1 linearly dependent columns).
 */
export function marginalizedDropoutRidge(X: DesignMatrix, y: ArrayLike<number>, p: number): Float64Array {
  const op = 'marginalizedDropoutRidge';
  const yy = checkVector(op, 'y', y);
  const P = checkRetention(op, p);
  const n = yy.length;
  const { x, d } = checkDesign(op, X, n);
  const g2 = gammaSquared(x, n, d);
  for (let j = 0; j < d; j++) {
    if (g2[j] === 0) throw new RangeError(`thinnet.analysis.${op}: column ${j} of X is all zero, so w[${j}] does not change the loss and the minimizer is not unique`);
  }
  // A = p·XᵀX + (1−p)·diag(XᵀX) (lower triangle), b = Xᵀy
  const A = new Float64Array(d * d), b = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const xij = x[i * d + j];
      b[j] += xij * yy[i];
      for (let k = 0; k <= j; k++) A[j * d + k] += xij * x[i * d + k];
    }
  }
  for (let j = 0; j < d; j++) {
    for (let k = 0; k < j; k++) A[j * d + k] *= P;
    A[j * d + j] = g2[j]; // p·(XᵀX)_jj + (1−p)·(XᵀX)_jj
  }
  return choleskySolve(op, A, b, d, P);
}

/** Solves A w = b for symmetric positive definite A (lower triangle given; overwritten by L). */
function choleskySolve(op: string, A: Float64Array, b: Float64Array, d: number, p: number): Float64Array {
  for (let j = 0; j < d; j++) {
    let s = A[j * d + j];
    for (let k = 0; k < j; k++) s -= A[j * d + k] * A[j * d + k];
    // relative to the diagonal it started from: a pivot this small means (near) dependent columns
    if (!(s > 1e-13 * A[j * d + j])) {
      throw new RangeError(`thinnet.analysis.${op}: the normal equations are singular at column ${j}` +
        (p === 1 ? ' (at p = 1 there is no penalty, and the columns of X are linearly dependent)' : ''));
    }
    const l = Math.sqrt(s);
    A[j * d + j] = l;
    for (let i = j + 1; i < d; i++) {
      let t = A[i * d + j];
      for (let k = 0; k < j; k++) t -= A[i * d + k] * A[j * d + k];
      A[i * d + j] = t / l;
    }
  }
  const w = Float64Array.from(b);
  for (let i = 0; i < d; i++) { // L z = b
    for (let k = 0; k < i; k++) w[i] -= A[i * d + k] * w[k];
    w[i] /= A[i * d + i];
  }
  for (let i = d - 1; i >= 0; i--) { // Lᵀ w = z
    for (let k = i + 1; k < d; k++) w[i] -= A[k * d + i] * w[k];
    w[i] /= A[i * d + i];
  }
  return w;
}
