// Centered finite differences of a model's training loss (fixed dropout step), for the gradient
// checks of test/model.test.ts and test/experiments-api.test.ts.

interface CheckedModel {
  parameters(): Float32Array;
  setParameters(p: Float32Array): void;
  trainingLoss(x: any, y: any, options: { step: number }): number;
}

/**
 * The losses at p[i] ± eps and at p (parameters restored afterwards), with the perturbations
 * float32 can actually represent: num = (lp − lm) / (hp + hm) is the centered difference, and
 * (lp − l0) / hp, (l0 − lm) / hm the one-sided ones (for kinks of relu / maxout).
 */
export function lossesAround(model: CheckedModel, p: Float32Array, i: number, eps: number, x: unknown, y: unknown, step: number) {
  const q = Float32Array.from(p);
  q[i] = p[i] + eps; const hp = q[i] - p[i];
  model.setParameters(q);
  const lp = model.trainingLoss(x, y, { step });
  q[i] = p[i] - eps; const hm = p[i] - q[i];
  model.setParameters(q);
  const lm = model.trainingLoss(x, y, { step });
  model.setParameters(p);
  const l0 = model.trainingLoss(x, y, { step });
  return { num: (lp - lm) / (hp + hm), right: (lp - l0) / hp, left: (l0 - lm) / hm };
}

/**
 * Every parameter's backward gradient against the centered difference, |num − g| ≤ abs + rel·|num|.
 * A parameter whose one-sided differences disagree (a kink of relu / maxout / L1 inside ±eps) passes
 * if either side matches; returns how many did (the caller bounds it). Throws at the first mismatch.
 */
export function checkEveryParameter(model: CheckedModel, gradients: Float32Array, x: unknown, y: unknown, step: number,
  { eps, abs, rel }: { eps: number; abs: number; rel: number }): number {
  const p = model.parameters();
  const ok = (a: number, b: number) => Math.abs(a - b) <= abs + rel * Math.abs(a);
  let kinks = 0;
  for (let i = 0; i < p.length; i++) {
    const { num, left, right } = lossesAround(model, p, i, eps, x, y, step);
    if (ok(num, gradients[i])) continue;
    if (!ok(right, left) && (ok(right, gradients[i]) || ok(left, gradients[i]))) { kinks++; continue; }
    throw new Error(`parameter ${i} of ${p.length}: numerical ${num} (one-sided ${left}, ${right}), backward ${gradients[i]}`);
  }
  return kinks;
}
