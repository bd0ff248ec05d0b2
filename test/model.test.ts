// Models: gradients against finite differences, the two dropout conventions, folding the weight
// scaling, Monte-Carlo prediction and its uncertainty outputs, weights access, validation.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';
import { lossesAround } from './helpers/gradcheck';
import { blobs } from './helpers/data';

beforeAll(async () => { await tn.ready({ threads: 1 }); });
afterAll(async () => { await tn.close(); });

function argmaxRows(p: Float32Array, C: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < p.length / C; r++) {
    let b = 0;
    for (let j = 1; j < C; j++) if (p[r * C + j] > p[r * C + b]) b = j;
    out.push(b);
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('gradients against finite differences', () => {
  // Every backward path: dense (with and without bias), relu/sigmoid/tanh/maxout/linear, Bernoulli
  // dropout in both conventions, Gaussian dropout, softmax cross-entropy. The masks are a pure
  // function of the step, so the training-mode loss is a deterministic function of the weights.
  const cases: Array<[string, tn.LayerSpec[], number]> = [
    ['tanh + paper dropout + gaussian dropout', [
      tn.layers.dropout({ keep: 0.7 }), tn.layers.dense({ units: 6, activation: 'tanh' }),
      tn.layers.gaussianDropout({ keep: 0.8 }), tn.layers.dense({ units: 5, activation: 'sigmoid' }),
      tn.layers.dropout({ keep: 0.5, convention: 'inverted' }), tn.layers.dense({ units: 3 })], 1e-2],
    ['relu + dropout, no bias', [
      tn.layers.dense({ units: 7, activation: 'relu', useBias: false }), tn.layers.dropout({ keep: 0.6 }),
      tn.layers.dense({ units: 4, activation: 'relu' }), tn.layers.dense({ units: 3, activation: 'softmax' })], 1e-3],
    ['maxout (dense option and standalone layer) + linear', [
      tn.layers.dense({ units: 4, activation: 'maxout', pieces: 3 }), tn.layers.dropout({ keep: 0.8 }),
      tn.layers.dense({ units: 6 }), tn.layers.maxout({ pieces: 2 }), tn.layers.linear(), tn.layers.dense({ units: 3 })], 1e-3],
  ];
  for (const [name, layers, eps] of cases) {
    test(name, () => {
      const model = tn.sequential({ inputShape: [5], seed: 7, layers });
      const { x, y } = blobs(9, 5, 3);
      const step = 11;
      // move biases off exact zeros (a row of dropped inputs would sit exactly on a relu kink)
      model.setParameters(model.parameters().map((v, i) => v + 0.01 * Math.sin(7.3 * i + 1)));
      const { loss, gradients } = model.computeGradients(x, y, { step });
      expect(loss).toBeCloseTo(model.trainingLoss(x, y, { step }), 5);
      const p = model.parameters();
      expect(gradients.length).toBe(p.length);
      const ok = (num: number, an: number) => Math.abs(num - an) <= 2e-3 + 0.03 * Math.abs(num);
      let worst = 0, kinks = 0;
      for (let i = 0; i < p.length; i++) {
        const { num, left, right } = lossesAround(model, p, i, eps, x, y, step);
        if (ok(num, gradients[i])) {
          worst = Math.max(worst, Math.abs(num - gradients[i]) / (2e-3 + 0.03 * Math.abs(num)));
          continue;
        }
        // a relu / maxout kink inside [p − eps, p + eps]: the one-sided differences disagree and
        // the backward pass matches one of them
        if (!ok(right, left) && (ok(right, gradients[i]) || ok(left, gradients[i]))) { kinks++; continue; }
        throw new Error(`parameter ${i}: numerical ${num} (one-sided ${left}, ${right}), backward ${gradients[i]}`);
      }
      expect(kinks).toBeLessThanOrEqual(Math.ceil(0.03 * p.length));
      model.setParameters(p);
      expect(worst).toBeLessThan(1);
      model.dispose();
    });
  }

  test('computeGradients does not change the weights or the step', () => {
    const model = tn.sequential({ inputShape: [5], seed: 1, layers: [tn.layers.dense({ units: 3 })] });
    const { x, y } = blobs(6, 5);
    const before = model.parameters();
    model.computeGradients(x, y);
    expect(model.parameters()).toEqual(before);
    expect(model.step).toBe(0);
    model.dispose();
  });
});

describe('dropout conventions and weight scaling', () => {
  const p = 0.75;
  const specs = (convention: 'paper' | 'inverted') => [
    tn.layers.dense({ units: 8, activation: 'relu' }),
    tn.layers.dropout({ keep: p, convention }),
    tn.layers.dense({ units: 4 }),
  ];

  test('paper-mode predict (scale by p) equals inverted-mode predict with the next weights scaled by p', async () => {
    const paper = tn.sequential({ inputShape: [6], seed: 2, layers: specs('paper') });
    const { x, y } = blobs(60, 6);
    paper.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.1, momentum: 0.5 }) });
    await paper.fit(x, y, { epochs: 3, batchSize: 10 });
    const inverted = tn.sequential({ inputShape: [6], seed: 99, layers: specs('inverted') });
    const w = paper.getWeights();
    inverted.setWeights([w[0], { ...w[1], kernel: w[1].kernel.map((v) => Math.fround(v * p)) }]);
    expect(maxAbsDiff(paper.predict(x), inverted.predict(x))).toBeLessThan(1e-5);
    // and the training-mode functions agree too (same masks: same seed and step, r∗x·W = (r∗x/p)·pW)
    const inv2 = tn.sequential({ inputShape: [6], seed: 2, layers: specs('inverted') });
    inv2.setWeights([w[0], { ...w[1], kernel: w[1].kernel.map((v) => Math.fround(v * p)) }]);
    expect(inv2.trainingLoss(x, y, { step: 5 })).toBeCloseTo(paper.trainingLoss(x, y, { step: 5 }), 5);
    for (const m of [paper, inverted, inv2]) m.dispose();
  });

  test('foldDropout: no dropout layer left, same predictions', async () => {
    const model = tn.sequential({ inputShape: [6], seed: 4, layers: [
      tn.layers.dropout({ keep: 0.8 }),
      tn.layers.dense({ units: 10, activation: 'tanh', maxNorm: 2 }),
      tn.layers.dropout({ keep: 0.5 }),
      tn.layers.gaussianDropout({ keep: 0.9 }),
      tn.layers.dense({ units: 7, activation: 'relu' }),
      tn.layers.dropout({ keep: 0.6, convention: 'inverted' }),
      tn.layers.dense({ units: 3 }),
    ] });
    const { x, y } = blobs(90, 6);
    model.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }) });
    await model.fit(x, y, { epochs: 2, batchSize: 15 });
    const folded = model.foldDropout();
    expect(folded.config.layers.map((l) => l.type)).toEqual(['dense', 'dense', 'dense']);
    expect(maxAbsDiff(folded.predict(x), model.predict(x))).toBeLessThan(1e-5);
    // the scaling went into the weights: first dense ×0.8, second ×0.5
    const a = model.getWeights(), b = folded.getWeights();
    expect(b[0].kernel[3]).toBe(Math.fround(a[0].kernel[3] * Math.fround(tn.quantizeKeep(0.8).p)));
    expect(b[1].kernel[5]).toBe(Math.fround(a[1].kernel[5] * 0.5));
    expect(b[2].kernel).toEqual(a[2].kernel);
    model.dispose();
    folded.dispose();
  });

  test('foldDropout refuses what it cannot fold', () => {
    const m = tn.sequential({ inputShape: [4], layers: [tn.layers.dense({ units: 4 }), tn.layers.dropout({ keep: 0.5 }), tn.layers.sigmoid(), tn.layers.dense({ units: 2 })] });
    expect(() => m.foldDropout()).toThrow(/dropout layer 1 \('paper' convention\) is followed by layer 2 \(sigmoid\), through which its weight scaling cannot be moved/);
    m.dispose();
  });
});

describe('Monte-Carlo prediction', () => {
  test('MC predict is close to weight scaling; uncertainty outputs have the right shapes and properties', async () => {
    const model = tn.sequential({ inputShape: [6], seed: 5, layers: [
      tn.layers.dense({ units: 32, activation: 'relu' }), tn.layers.dropout({ keep: 0.5 }), tn.layers.dense({ units: 3 })] });
    const { x, y } = blobs(300, 6, 9);
    model.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }) });
    await model.fit(x, y, { epochs: 5, batchSize: 20 });
    const ws = model.predict(x);
    const mc = model.predict(x, { mc: 100 });
    let mad = 0;
    for (let i = 0; i < ws.length; i++) mad += Math.abs(ws[i] - mc[i]);
    expect(mad / ws.length).toBeLessThan(0.05);
    const a = argmaxRows(ws, 3), b = argmaxRows(mc, 3);
    expect(a.filter((v, i) => v === b[i]).length / a.length).toBeGreaterThan(0.95);
    // reproducible
    expect(model.predict(x, { mc: 100 })).toEqual(mc);

    const u = model.predictWithUncertainty(x, { samples: 100 });
    expect(u.mean.length).toBe(300 * 3);
    expect(u.variance.length).toBe(300 * 3);
    expect(u.entropy.length).toBe(300);
    expect(u.mutualInformation.length).toBe(300);
    expect(maxAbsDiff(u.mean, mc)).toBeLessThan(1e-6);
    for (let r = 0; r < 300; r++) {
      let s = 0;
      for (let j = 0; j < 3; j++) { s += u.mean[r * 3 + j]; expect(u.variance[r * 3 + j]).toBeGreaterThanOrEqual(0); }
      expect(s).toBeCloseTo(1, 5);
      expect(u.entropy[r]).toBeGreaterThanOrEqual(0);
      expect(u.entropy[r]).toBeLessThanOrEqual(Math.log(3) + 1e-6);
      expect(u.mutualInformation[r]).toBeGreaterThanOrEqual(0);
      expect(u.mutualInformation[r]).toBeLessThanOrEqual(u.entropy[r] + 1e-6);
    }
    // a model without dropout has no model uncertainty
    const det = model.foldDropout();
    const d = det.predictWithUncertainty(x.subarray(0, 60), { samples: 5 });
    expect(Math.max(...d.mutualInformation)).toBe(0); // identical samples: exactly no spread
    expect(Math.max(...d.variance)).toBe(0);
    model.dispose();
    det.dispose();
  });
});

describe('models', () => {
  test('a seeded small model trains and its loss falls', async () => {
    const model = tn.sequential({ inputShape: [10], seed: 1, layers: [
      tn.layers.dense({ units: 16, activation: 'relu', maxNorm: 3 }), tn.layers.dropout({ keep: 0.5 }), tn.layers.dense({ units: 3 })] });
    const { x, y } = blobs(300, 10);
    model.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }) });
    const before = model.evaluate(x, y);
    const h = await model.fit(x, y, { epochs: 6, batchSize: 20 });
    const after = model.evaluate(x, y);
    expect(h.loss[5]).toBeLessThan(h.loss[0]);
    expect(after.loss).toBeLessThan(before.loss * 0.5);
    expect(after.accuracy).toBeGreaterThan(0.85);
    expect(after.error).toBeCloseTo(1 - after.accuracy, 12);
    expect(model.step).toBe(6 * 15);
    model.dispose();
  });

  test('predict accepts uint8 pixels (scaled by 1/255) and float32; returns N×classes probabilities', () => {
    const model = tn.sequential({ inputShape: [2, 2], seed: 3, layers: [tn.layers.dense({ units: 3, activation: 'softmax' })] });
    const u8 = new Uint8Array([0, 255, 51, 102, 255, 0, 0, 0]);
    const f32 = Float32Array.from(u8, (v) => v / 255);
    const a = model.predict(u8), b = model.predict(f32);
    expect(a.length).toBe(6);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
    expect(a[0] + a[1] + a[2]).toBeCloseTo(1, 6);
    expect(model.predict(new Float32Array(0)).length).toBe(0);
    model.dispose();
  });

  test('one-hot Float32Array labels are accepted', () => {
    const model = tn.sequential({ inputShape: [5], seed: 3, layers: [tn.layers.dense({ units: 3 })] });
    const { x, y } = blobs(12, 5);
    const onehot = new Float32Array(12 * 3);
    y.forEach((c, i) => { onehot[i * 3 + c] = 1; });
    expect(model.evaluate(x, onehot)).toEqual(model.evaluate(x, y));
    model.dispose();
  });

  test('weights: seeded init, getWeights/setWeights, initializers', () => {
    const mk = (seed: number, init: tn.layers.KernelInitializer = 'glorotUniform') => tn.sequential({ inputShape: [50], seed,
      layers: [tn.layers.dense({ units: 40, kernelInitializer: init }), tn.layers.dense({ units: 10 })] });
    const a = mk(1), b = mk(1), c = mk(2);
    expect(a.parameters()).toEqual(b.parameters());
    expect(a.parameters()).not.toEqual(c.parameters());
    expect(a.paramCount).toBe(50 * 40 + 40 * 10 + 40 + 10);
    const w = a.getWeights();
    expect(w.map((e) => e.shape)).toEqual([[40, 50], [10, 40]]);
    expect(Math.max(...w[0].kernel.map(Math.abs))).toBeLessThanOrEqual(Math.sqrt(6 / 90));
    expect(w[0].bias.every((v) => v === 0)).toBe(true);
    const he = mk(1, 'heNormal').getWeights()[0].kernel;
    const sd = Math.sqrt(he.reduce((s, v) => s + v * v, 0) / he.length);
    expect(sd).toBeGreaterThan(0.9 * Math.sqrt(2 / 50));
    expect(sd).toBeLessThan(1.1 * Math.sqrt(2 / 50));
    const n = mk(1, { normal: 0.01 }).getWeights()[0].kernel;
    expect(Math.sqrt(n.reduce((s, v) => s + v * v, 0) / n.length)).toBeCloseTo(0.01, 3);
    c.setWeights(w);
    expect(c.parameters()).toEqual(a.parameters());
    expect(() => c.setWeights([{ layer: 5, kernel: new Float32Array(1) }])).toThrow(/layer 5 has no weights/);
    expect(a.summary()).toMatch(/dense units=40/);
    for (const m of [a, b, c]) m.dispose();
  });

  test('validation errors are clear', () => {
    expect(() => tn.sequential({ inputShape: [0], layers: [tn.layers.dense({ units: 2 })] })).toThrow(/inputShape/);
    expect(() => tn.sequential({ inputShape: [3], layers: [] })).toThrow(/non-empty/);
    expect(() => tn.sequential({ inputShape: [3], layers: [tn.layers.dropout({ keep: 0.5 })] })).toThrow(/at least one layer with parameters/);
    const one = tn.sequential({ inputShape: [3], layers: [tn.layers.dense({ units: 1 })] }); // fine for meanSquaredError
    expect(() => one.compile({ optimizer: tn.optimizers.sgd() })).toThrow(/at least 2 classes/);
    one.dispose();
    expect(() => tn.sequential({ inputShape: [3], seed: -1, layers: [tn.layers.dense({ units: 2 })] })).toThrow(/seed/);
    expect(() => tn.sequential({ inputShape: [3], layers: [tn.layers.dense({ units: 4, activation: 'softmax' }), tn.layers.dense({ units: 2 })] })).toThrow(/softmax is only supported as the last layer/);
    expect(() => tn.sequential({ inputShape: [3], layers: [tn.layers.maxout({ pieces: 2 }), tn.layers.dense({ units: 2 })] })).toThrow(/not a multiple of 2/);
    expect(() => tn.layers.dense({ units: 0 })).toThrow(/units must be a positive integer/);
    expect(() => tn.layers.dense({ units: 3, activation: 'gelu' as never })).toThrow(/activation must be one of/);
    expect(() => tn.layers.dense({ units: 3, maxNorm: -1 })).toThrow(/maxNorm/);
    expect(() => tn.layers.dense({ units: 3, kernelInitializer: 'zeros' as never })).toThrow(/kernelInitializer/);
    expect(() => tn.layers.dropout({ keep: 0 })).toThrow(/keep/);
    expect(() => tn.layers.dropout({ keep: 0.5, convention: 'keras' as never })).toThrow(/convention/);
    expect(() => tn.layers.dense({ units: 3, pieces: 2 })).toThrow(/pieces only applies/);

    const model = tn.sequential({ inputShape: [4], layers: [tn.layers.dense({ units: 3 })] });
    expect(() => model.predict(new Float32Array(7))).toThrow(/not a multiple of the model's 4 input features/);
    expect(() => model.predict([1, 2, 3, 4] as never)).toThrow(/Float32Array or a Uint8Array/);
    expect(() => model.predict(new Float32Array(4), { mc: -1 })).toThrow(/mc must be/);
    expect(() => model.predictWithUncertainty(new Float32Array(4), { samples: 0 })).toThrow(/samples must be/);
    expect(() => model.evaluate(new Float32Array(8), new Int32Array([0, 3]))).toThrow(/y\[1\] = 3 is out of range/);
    expect(() => model.evaluate(new Float32Array(8), new Int32Array([0]))).toThrow(/x has 2 rows but y has 1 labels/);
    expect(() => model.evaluate(new Float32Array(8), new Float32Array([0.5, 0.5, 0, 0, 1, 0]))).toThrow(/not one-hot/);
    expect(() => model.evaluate(new Float32Array(8), new Int32Array([0, 1]), { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
    expect(() => model.compile({ optimizer: {} as never })).toThrow(/optimizer must be/);
    expect(() => model.compile({ optimizer: tn.optimizers.sgd(), loss: 'hinge' as never })).toThrow(/loss must be/);
    model.dispose();
    expect(() => model.predict(new Float32Array(4))).toThrow(/disposed/);
  });
});
