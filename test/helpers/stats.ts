// Sample moments for the statistical checks of the tests (RNG, Gaussian dropout, initializers).

export function moments(v: ArrayLike<number>): { mean: number; variance: number; skew: number; exkurt: number } {
  const n = v.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += v[i];
  const mean = s / n;
  let m2 = 0, m3 = 0, m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = v[i] - mean, d2 = d * d;
    m2 += d2; m3 += d2 * d; m4 += d2 * d2;
  }
  m2 /= n; m3 /= n; m4 /= n;
  return { mean, variance: m2 * n / (n - 1), skew: m3 / m2 ** 1.5, exkurt: m4 / (m2 * m2) - 3 };
}
