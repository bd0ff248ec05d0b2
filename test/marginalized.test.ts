// Marginalized dropout for linear regression (paper §9.1), in float64:
// (1) the closed form ‖y − pXw‖² + p(1−p)‖Γw‖², Γ = diag(XᵀX)^½, equals the Monte-Carlo mean of
//     ‖y − (R∗X)w‖² over seeded Bernoulli(p) masks R (per element) to 1e-3 relative;
// (2) its minimizer (tn.analysis.marginalizedDropoutRidge, the normal equations) is where the
//     closed form's gradient vanishes, is what gradient descent on the closed form and
//     dropout-SGD on the Monte-Carlo objective converge to, and is the ridge solution with the
//     data-dependent penalty: w̃ = p·w = (XᵀX + ((1−p)/p)Γ²)⁻¹Xᵀy (solved here independently).
import { describe, expect, test } from 'vitest';
import seedrandom from 'seedrandom';
import * as tn from '../src/index.node';

const { marginalizedDropoutLoss, marginalizedDropoutRidge } = tn.analysis;

/** A seeded regression problem: N×D design (columns of different scales), y = X·w0 + noise. */
function problem(N: number, D: number, seed: string) {
  const rng = seedrandom.alea(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const X: number[][] = [];
  const y: number[] = [];
  const w0 = Array.from({ length: D }, () => gauss());
  for (let i = 0; i < N; i++) {
    const row = Array.from({ length: D }, (_, j) => (1 + j) * gauss() + 0.3);
    X.push(row);
    y.push(row.reduce((s, v, j) => s + v * w0[j], 0) + 0.5 * gauss());
  }
  return { X, y, rng, gauss };
}

/** ‖y − (R∗X)w‖² for one mask R drawn from rng (r = 1 with probability p). */
function droppedLoss(X: number[][], y: number[], w: ArrayLike<number>, p: number, rng: () => number): number {
  let s = 0;
  for (let i = 0; i < X.length; i++) {
    let z = 0;
    for (let j = 0; j < w.length; j++) if (rng() < p) z += X[i][j] * w[j];
    s += (y[i] - z) ** 2;
  }
  return s;
}

/** The closed form written out directly from the paper's formula (independent of the library). */
function closedForm(X: number[][], y: number[], w: ArrayLike<number>, p: number): number {
  let fit = 0, pen = 0;
  for (let i = 0; i < X.length; i++) fit += (y[i] - p * X[i].reduce((s, v, j) => s + v * w[j], 0)) ** 2;
  for (let j = 0; j < w.length; j++) pen += X.reduce((s, r) => s + r[j] * r[j], 0) * w[j] ** 2;
  return fit + p * (1 - p) * pen;
}

/** The gradient of the closed form: −2p·Xᵀ(y − pXw) + 2p(1−p)Γ²w. */
function closedFormGradient(X: number[][], y: number[], w: ArrayLike<number>, p: number): Float64Array {
  const D = w.length, g = new Float64Array(D);
  for (const [i, r] of X.entries()) {
    const res = y[i] - p * r.reduce((s, v, j) => s + v * w[j], 0);
    for (let j = 0; j < D; j++) g[j] += -2 * p * r[j] * res + 2 * p * (1 - p) * r[j] * r[j] * w[j];
  }
  return g;
}

/** Solves A x = b by Gaussian elimination with partial pivoting (A: rows, copied). */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length, M = A.map((r, i) => [...r, b[i]]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[piv][c])) piv = r;
    [M[c], M[piv]] = [M[piv], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

/** Ridge regression with a per-feature penalty: (XᵀX + diag(penalty))⁻¹ Xᵀy. */
function ridge(X: number[][], y: number[], penalty: number[]): number[] {
  const D = penalty.length;
  const A = Array.from({ length: D }, (_, j) => Array.from({ length: D }, (_, k) => X.reduce((s, r) => s + r[j] * r[k], 0) + (j === k ? penalty[j] : 0)));
  const b = Array.from({ length: D }, (_, j) => X.reduce((s, r, i) => s + r[j] * y[i], 0));
  return solve(A, b);
}

const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
const relDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => norm(Array.from(a).map((x, i) => x - b[i])) / norm(b);

describe('§9.1: the marginalized loss is the expectation of the dropout loss', () => {
  test.each([0.5, 0.8, 0.2])('p = %s: closed form = Monte-Carlo mean of ‖y − (R∗X)w‖² to 1e-3 relative', (p) => {
    const { X, y, gauss } = problem(40, 3, `mc:${p}`);
    const w = [0.7, -0.4, 0.25].map((v) => v + 0.1 * gauss());
    const exact = marginalizedDropoutLoss(X, y, w, p);
    expect(exact).toBeCloseTo(closedForm(X, y, w, p), 9);
    const rng = seedrandom.alea(`masks:${p}`);
    const S = 250_000;
    let mean = 0, m2 = 0; // Welford
    for (let s = 1; s <= S; s++) {
      const l = droppedLoss(X, y, w, p, rng);
      const d = l - mean;
      mean += d / s;
      m2 += d * (l - mean);
    }
    const se = Math.sqrt(m2 / (S - 1) / S);
    // the comparison is informative: the Monte-Carlo error is well below the tolerance
    expect(se / exact).toBeLessThan(3e-4);
    expect(Math.abs(mean - exact) / exact).toBeLessThan(1e-3);
    // and the penalty is not negligible: without it the mean would be far off
    const noPenalty = closedForm(X, y, w, p) - p * (1 - p) * w.reduce((s, wj, j) => s + X.reduce((t, r) => t + r[j] * r[j], 0) * wj * wj, 0);
    expect(Math.abs(mean - noPenalty) / exact).toBeGreaterThan(20 * se / exact);
  });

  test('flat row-major X and typed arrays give the same value as rows', () => {
    const { X, y } = problem(7, 4, 'flat');
    const w = [0.1, -0.2, 0.3, 0.4];
    const flat = Float64Array.from(X.flat());
    expect(marginalizedDropoutLoss(flat, Float32Array.from(y), w, 0.6)).toBeCloseTo(marginalizedDropoutLoss(X, y, w, 0.6), 4);
    expect(marginalizedDropoutLoss(flat, y, w, 0.6)).toBe(marginalizedDropoutLoss(X, y, w, 0.6));
  });
});

describe('§9.1: the minimizer is ridge regression with the data-dependent penalty', () => {
  for (const p of [0.5, 0.8, 0.2]) {
    test(`p = ${p}: normal equations = zero gradient = ridge (XᵀX + ((1−p)/p)Γ²)⁻¹Xᵀy / p = gradient descent`, () => {
      const { X, y } = problem(30, 4, `min:${p}`);
      const w = marginalizedDropoutRidge(X, y, p);
      // the gradient of the closed form vanishes there (relative to the gradient's scale at 0)
      expect(norm(closedFormGradient(X, y, w, p)) / norm(closedFormGradient(X, y, [0, 0, 0, 0], p))).toBeLessThan(1e-12);
      // ridge with penalty λ·Γ², λ = (1−p)/p, in the reparametrization w̃ = p·w
      const lambda = (1 - p) / p;
      const gamma2 = [0, 1, 2, 3].map((j) => X.reduce((s, r) => s + r[j] * r[j], 0));
      const wTilde = ridge(X, y, gamma2.map((g) => lambda * g));
      expect(relDiff(Array.from(w, (v) => p * v), wTilde)).toBeLessThan(1e-12);
      // the reparametrized objective is the same function: ‖y − Xw̃‖² + λ‖Γw̃‖² = marginalized loss at w̃/p
      const probe = [0.3, -0.1, 0.2, 0.05];
      const ridgeObjective = X.reduce((s, r, i) => s + (y[i] - r.reduce((t, v, j) => t + v * probe[j], 0)) ** 2, 0)
        + lambda * probe.reduce((s, v, j) => s + gamma2[j] * v * v, 0);
      expect(marginalizedDropoutLoss(X, y, probe.map((v) => v / p), p)).toBeCloseTo(ridgeObjective, 9);
      // not plain least squares: the penalty moves the solution
      expect(relDiff(wTilde, ridge(X, y, [0, 0, 0, 0]))).toBeGreaterThan(1e-3);
      // gradient descent on the closed form converges to it (step 1/L, L ≥ the largest curvature)
      const L = 2 * (p * p * gamma2.reduce((a, b) => a + b, 0) + p * (1 - p) * Math.max(...gamma2));
      let v = [0, 0, 0, 0];
      for (let t = 0; t < 20_000; t++) {
        const g = closedFormGradient(X, y, v, p);
        v = v.map((vj, j) => vj - g[j] / L);
      }
      expect(relDiff(v, w)).toBeLessThan(1e-9);
      // and it minimizes: any perturbation raises the loss
      const best = marginalizedDropoutLoss(X, y, w, p);
      for (let j = 0; j < 4; j++) {
        for (const h of [1e-3, -1e-3]) expect(marginalizedDropoutLoss(X, y, Array.from(w, (wj, k) => wj + (k === j ? h : 0)), p)).toBeGreaterThan(best);
      }
    });
  }

  test('dropout-SGD on the Monte-Carlo objective (a new mask R every step) converges to the same minimizer', () => {
    const p = 0.5;
    const { X, y } = problem(30, 4, 'sgd');
    const w = marginalizedDropoutRidge(X, y, p);
    const rng = seedrandom.alea('sgd-masks');
    const gamma2 = [0, 1, 2, 3].map((j) => X.reduce((s, r) => s + r[j] * r[j], 0));
    const eta0 = 0.5 / (2 * gamma2.reduce((a, b) => a + b, 0));
    let v = [0, 0, 0, 0];
    const avg = [0, 0, 0, 0];
    const T = 60_000, burn = 10_000;
    for (let t = 0; t < T; t++) {
      // gradient of ‖y − (R∗X)v‖² for one mask: −2 Σ_i (y_i − Σ_j r_ij x_ij v_j) r_ij x_ij
      const g = [0, 0, 0, 0];
      for (let i = 0; i < X.length; i++) {
        const rx = X[i].map((x) => (rng() < p ? x : 0));
        const res = y[i] - rx.reduce((s, x, j) => s + x * v[j], 0);
        for (let j = 0; j < 4; j++) g[j] -= 2 * res * rx[j];
      }
      const eta = eta0 / (1 + t / 5000);
      v = v.map((vj, j) => vj - eta * g[j]);
      if (t >= burn) for (let j = 0; j < 4; j++) avg[j] += v[j] / (T - burn);
    }
    expect(relDiff(avg, w)).toBeLessThan(5e-3);
    // and not to the least-squares fit of the un-dropped data (scaled by 1/p), which differs more
    const ls = ridge(X, y, [0, 0, 0, 0]).map((v) => v / p);
    expect(relDiff(ls, w)).toBeGreaterThan(5 * relDiff(avg, w));
  });

  test('p = 1 is ordinary least squares', () => {
    const { X, y } = problem(12, 3, 'ls');
    expect(relDiff(marginalizedDropoutRidge(X, y, 1), ridge(X, y, [0, 0, 0]))).toBeLessThan(1e-12);
    expect(marginalizedDropoutLoss(X, y, [1, 2, 3], 1)).toBeCloseTo(closedForm(X, y, [1, 2, 3], 1), 8);
  });
});

describe('bad input names the problem', () => {
  const X = [[1, 2], [3, 4], [5, 6]], y = [1, 2, 3];
  test.each([
    ['p = 0', () => marginalizedDropoutLoss(X, y, [1, 2], 0), /p is the retention probability and must lie in \(0, 1\], got 0/],
    ['p > 1', () => marginalizedDropoutLoss(X, y, [1, 2], 1.5), /must lie in \(0, 1\], got 1.5/],
    ['p NaN', () => marginalizedDropoutRidge(X, y, Number.NaN), /must lie in \(0, 1\], got NaN/],
    ['w too long', () => marginalizedDropoutLoss(X, y, [1, 2, 3], 0.5), /X has 2 columns but w has 3 values/],
    ['y too short', () => marginalizedDropoutLoss(X, [1, 2], [1, 2], 0.5), /X has 3 rows but y has 2 values/],
    ['ragged rows', () => marginalizedDropoutLoss([[1, 2], [3]], [1, 2], [1, 2], 0.5), /row 1 of X has 1 values, row 0 has 2/],
    ['flat X of the wrong size', () => marginalizedDropoutLoss([1, 2, 3, 4, 5], [1, 2], [1, 2], 0.5), /flat X must hold N·D = 2·2 = 4 values/],
    ['flat X not a multiple of N', () => marginalizedDropoutRidge([1, 2, 3, 4, 5], [1, 2], 0.5), /flat X must hold N·D values for the N = 2 values of y, got 5/],
    ['NaN in X', () => marginalizedDropoutLoss([[1, NaN], [3, 4], [5, 6]], y, [1, 2], 0.5), /X\[0\]\[1\] is NaN; X must hold finite numbers/],
    ['Infinity in y', () => marginalizedDropoutLoss(X, [1, Infinity, 3], [1, 2], 0.5), /y\[1\] is Infinity/],
    ['X not an array', () => marginalizedDropoutLoss('X' as never, y, [1, 2], 0.5), /X must be an array of rows or a flat row-major array/],
    ['an all-zero column', () => marginalizedDropoutRidge([[1, 0], [2, 0], [3, 0]], y, 0.5), /column 1 of X is all zero, so w\[1\] does not change the loss/],
    ['p = 1 with dependent columns', () => marginalizedDropoutRidge([[1, 2], [2, 4], [3, 6]], y, 1), /singular at column 1 \(at p = 1 there is no penalty, and the columns of X are linearly dependent\)/],
  ] as [string, () => unknown, RegExp][])('%s', (_, f, msg) => {
    expect(f).toThrow(msg);
  });

  test('collinear columns are fine with p < 1 (the penalty makes the system definite)', () => {
    const w = marginalizedDropoutRidge([[1, 2], [2, 4], [3, 6]], y, 0.5);
    expect(norm(closedFormGradient([[1, 2], [2, 4], [3, 6]], y, w, 0.5))).toBeLessThan(1e-10);
  });
});
