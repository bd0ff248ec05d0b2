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
