// Kernel (L1/L2) and activity (KL-sparsity) regularizers through the public API: every
// parameter's gradient of the total training loss against centered finite differences (dense and
// conv, with dropout, at a fixed dropout step); the penalty's value against a float64 reference
// from getWeights()/activations(); the penalty in fit's reported loss (and not in evaluate's);
// what the penalties do in training (L1 shrinks weights to zero, KL pulls mean activations to ρ);
// save/load and summary; 1 vs 2 threads bit-identical; and clear errors for bad options.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';
import { checkEveryParameter } from './helpers/gradcheck';
import { blobs } from './helpers/data';
import { testValues } from './helpers/wasm';

beforeAll(async () => { await tn.ready({ threads: 1 }); });
afterAll(async () => { await tn.close(); });

const L = tn.layers;
const sgd = (learningRate = 0.1) => tn.optimizers.sgd({ learningRate });

/** Every parameter's backward gradient against centered finite differences of the training loss (penalties included). */
function gradCheck(model: tn.Sequential, x: Float32Array, y: Float32Array | Int32Array, step: number, eps = 1e-2) {
  const { loss, gradients } = model.computeGradients(x, y, { step });
  expect(loss).toBeCloseTo(model.trainingLoss(x, y, { step }), 6);
  // |w| < eps: the L1 kink (or a relu one) lies inside the difference; one side must match
  const kinks = checkEveryParameter(model, gradients, x, y, step, { eps, abs: 1e-3, rel: 0.02 });
  expect(kinks).toBeLessThanOrEqual(Math.ceil(0.05 * model.parameters().length));
  return gradients;
}

/** The same architecture without any regularizer (the same seed gives the same initial weights). */
function withoutRegularizers(layers: tn.LayerSpec[]): tn.LayerSpec[] {
  return layers.map(({ kernelRegularizer: _k, activityRegularizer: _a, ...rest }) => rest as tn.LayerSpec);
}

describe('gradients of the total loss against finite differences (public API, fixed dropout step)', () => {
  test('dense: L1 + L2 on two kernels, dropout, softmax cross-entropy; the penalty gradient is l1·sign(w) + 2·l2·w', () => {
    const layers = [
      L.dropout({ keep: 0.8 }),
      L.dense({ units: 6, activation: 'tanh', kernelRegularizer: { l1: 0.05, l2: 0.02 } }),
      L.dropout({ keep: 0.6 }),
      L.dense({ units: 3, kernelRegularizer: { l1: 0.03 } }),
    ];
    const m = tn.sequential({ inputShape: [5], seed: 4, layers });
    const plain = tn.sequential({ inputShape: [5], seed: 4, layers: withoutRegularizers(layers) });
    const { x, y } = blobs(9, 5, 2);
    const g = gradCheck(m, x, y, 3);
    // against the unregularized model at the same weights: the difference is the penalty's gradient
    const g0 = plain.computeGradients(x, y, { step: 3 }).gradients;
    const [w1, w2] = m.getWeights();
    const expected = [...Array.from(w1.kernel, (w) => 0.05 * Math.sign(w) + 0.04 * w), ...Array.from(w2.kernel, (w) => 0.03 * Math.sign(w))];
    expected.forEach((e, i) => expect(Math.abs(g[i] - g0[i] - e)).toBeLessThan(1e-6));
    for (let i = expected.length; i < g.length; i++) expect(g[i]).toBe(g0[i]); // biases are not penalized
    m.dispose(); plain.dispose();
  });

  test('dense: KL sparsity on a sigmoid layer, followed by dropout, with an MSE loss', () => {
    const m = tn.sequential({ inputShape: [4], seed: 9, layers: [
      L.dropout({ keep: 0.9 }),
      L.dense({ units: 5, activation: 'sigmoid', activityRegularizer: { klSparsity: { target: 0.1, weight: 0.5 } } }),
      L.dropout({ keep: 0.5 }),
      L.dense({ units: 3, activation: 'sigmoid', activityRegularizer: { klSparsity: { target: 0.3, weight: 0.2 } } }),
      L.dense({ units: 2 }),
    ] });
    m.compile({ optimizer: sgd(), loss: 'meanSquaredError' });
    gradCheck(m, testValues(7 * 4, 5), testValues(7 * 2, 6), 12);
    m.dispose();
  });

  test('conv2d: KL sparsity per channel over the batch and positions, L1 on the kernel, stride 2 same', () => {
    const m = tn.sequential({ inputShape: [5, 6, 2], seed: 5, layers: [
      L.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'sigmoid',
        kernelRegularizer: { l1: 0.02, l2: 0.01 }, activityRegularizer: { klSparsity: { target: 0.2, weight: 0.4 } } }),
      L.dropout({ keep: 0.75 }),
      L.flatten(),
      L.dense({ units: 3 }),
    ] });
    const x = testValues(3 * 5 * 6 * 2, 8);
    gradCheck(m, x, new Int32Array([0, 2, 1]), 4);
    m.dispose();
  });
});

describe('the penalty values', () => {
  const klRef = (rho: number, q: number) => rho * Math.log(rho / q) + (1 - rho) * Math.log((1 - rho) / (1 - q));

  test('trainingLoss − the unregularized loss = λ₁Σ|W| + λ₂ΣW² + β Σ_j KL(ρ ‖ ρ̂_j), in float64 from getWeights and activations', () => {
    const layers = [
      L.dense({ units: 8, activation: 'sigmoid', kernelRegularizer: { l1: 1e-2, l2: 3e-3 }, activityRegularizer: { klSparsity: { target: 0.05, weight: 0.7 } } }),
      L.dropout({ keep: 0.5 }),
      L.dense({ units: 3, kernelRegularizer: { l2: 1e-2 } }),
    ];
    const m = tn.sequential({ inputShape: [6], seed: 2, layers });
    const plain = tn.sequential({ inputShape: [6], seed: 2, layers: withoutRegularizers(layers) });
    const { x, y } = blobs(20, 6, 3);
    const [a, b] = m.getWeights();
    const h = m.activations(x, { layer: 0 }); // the sigmoid output (before dropout: the same in both modes)
    let kl = 0;
    for (let j = 0; j < 8; j++) {
      let s = 0;
      for (let n = 0; n < 20; n++) s += h[n * 8 + j];
      kl += klRef(0.05, s / 20);
    }
    const sum = (v: Float32Array, f: (w: number) => number) => Array.from(v).reduce((s, w) => s + f(w), 0);
    const penalty = 1e-2 * sum(a.kernel, Math.abs) + 3e-3 * sum(a.kernel, (w) => w * w) + 1e-2 * sum(b.kernel, (w) => w * w) + 0.7 * kl;
    expect(penalty).toBeGreaterThan(0.1); // not negligible
    const diff = m.trainingLoss(x, y, { step: 1 }) - plain.trainingLoss(x, y, { step: 1 });
    expect(Math.abs(diff - penalty)).toBeLessThan(1e-5 * penalty);
    // evaluate() reports the data loss alone (as the paper's test errors)
    expect(m.evaluate(x, y).loss).toBe(plain.evaluate(x, y).loss);
    m.dispose(); plain.dispose();
  });

  test("fit's logged loss (batch and epoch) includes the penalties", async () => {
    const layers = [L.dense({ units: 6, activation: 'sigmoid', kernelRegularizer: { l1: 0.02 }, activityRegularizer: { klSparsity: { target: 0.05, weight: 1 } } }), L.dense({ units: 3 })];
    const { x, y } = blobs(30, 4, 7);
    const m = tn.sequential({ inputShape: [4], seed: 6, layers });
    const before = m.trainingLoss(x, y, { step: 0 });
    m.compile({ optimizer: sgd(0) }); // learning rate 0: the weights stay as they are
    const batches: number[] = [];
    const h = await m.fit(x, y, { epochs: 1, batchSize: 30, shuffle: false, onBatchEnd: (_, l) => { batches.push(l.loss); } });
    expect(batches[0]).toBeCloseTo(before, 6);
    expect(h.loss[0]).toBeCloseTo(before, 6);
    const plain = tn.sequential({ inputShape: [4], seed: 6, layers: withoutRegularizers(layers) });
    expect(h.loss[0] - plain.trainingLoss(x, y, { step: 0 })).toBeGreaterThan(0.1);
    m.dispose(); plain.dispose();
  });
});

describe('what the penalties do in training', () => {
  test('L1 drives many weights to (near) zero; without it they stay spread', async () => {
    const { x, y } = blobs(300, 10, 4);
    const train = async (reg: boolean) => {
      const m = tn.sequential({ inputShape: [10], seed: 3, layers: [
        L.dense({ units: 16, activation: 'relu', ...(reg ? { kernelRegularizer: { l1: 2e-2 } } : {}) }), L.dense({ units: 3 })] });
      m.compile({ optimizer: sgd(0.05) });
      await m.fit(x, y, { epochs: 30, batchSize: 30 });
      const w = m.getWeights()[0].kernel;
      const acc = m.evaluate(x, y).accuracy;
      m.dispose();
      return { small: Array.from(w).filter((v) => Math.abs(v) < 1e-2).length / w.length, l1: w.reduce((s, v) => s + Math.abs(v), 0), acc };
    };
    const a = await train(false), b = await train(true);
    expect(b.small).toBeGreaterThan(a.small + 0.3);
    expect(b.l1).toBeLessThan(0.5 * a.l1);
    expect(b.acc).toBeGreaterThan(0.8); // still learns the task
  });

  test('KL sparsity pulls the mean activation of sigmoid units toward the target ρ', async () => {
    const x = testValues(200 * 12, 3, 0, 1);
    const train = async (reg: boolean) => {
      const m = tn.sequential({ inputShape: [12], seed: 1, layers: [
        L.dense({ units: 10, activation: 'sigmoid', ...(reg ? { activityRegularizer: { klSparsity: { target: 0.05, weight: 3 } } } : {}) }),
        L.dense({ units: 12 })] });
      m.compile({ optimizer: sgd(0.5), loss: 'meanSquaredError' });
      await m.fit(x, x, { epochs: 40, batchSize: 20 });
      const h = m.activations(x, { layer: 0 });
      m.dispose();
      return h.reduce((s, v) => s + v, 0) / h.length;
    };
    const free = await train(false), sparse = await train(true);
    expect(free).toBeGreaterThan(0.2);
    expect(Math.abs(sparse - 0.05)).toBeLessThan(0.03);
  });
});

describe('the options are part of the saved architecture', () => {
  test('save → load keeps them (and the loss they add); summary shows them; fold keeps them', async () => {
    const m = tn.sequential({ inputShape: [4], seed: 8, layers: [
      L.dropout({ keep: 0.8 }),
      L.dense({ units: 5, activation: 'sigmoid', kernelRegularizer: tn.regularizers.l1l2({ l1: 1e-3, l2: 1e-4 }),
        activityRegularizer: tn.regularizers.klSparsity({ target: 0.05, weight: 0.1 }) }),
      L.dense({ units: 3, kernelRegularizer: tn.regularizers.l2({ l2: 1e-3 }) }),
    ] });
    const { x, y } = blobs(12, 4, 5);
    const m2 = await tn.loadModel(m.toBytes());
    expect(m2.config.layers).toEqual(m.config.layers);
    expect(m2.config.layers[1]).toMatchObject({ kernelRegularizer: { l1: 1e-3, l2: 1e-4 }, activityRegularizer: { klSparsity: { target: 0.05, weight: 0.1 } } });
    expect(m2.trainingLoss(x, y, { step: 2 })).toBe(m.trainingLoss(x, y, { step: 2 }));
    expect(m.summary()).toMatch(/1: dense units=5 activation=sigmoid kernelRegularizer=l1:0.001,l2:0.0001 klSparsity=target:0.05,weight:0.1 → \[5\]/);
    expect(m.summary()).toMatch(/2: dense units=3 activation=linear kernelRegularizer=l2:0.001 → \[3\]/);
    const f = m.foldDropout();
    expect(f.config.layers[0]).toMatchObject({ kernelRegularizer: { l1: 1e-3, l2: 1e-4 } });
    for (const k of [m, m2, f]) k.dispose();
  });

  test('the factories return plain JSON, as tf.regularizers', () => {
    expect(tn.regularizers.l1({ l1: 1e-5 })).toEqual({ l1: 1e-5 });
    expect(tn.regularizers.l2({ l2: 1e-4 })).toEqual({ l2: 1e-4 });
    expect(tn.regularizers.l1l2({ l1: 1e-5 })).toEqual({ l1: 1e-5, l2: 0 });
    expect(tn.regularizers.klSparsity({ target: 0.05, weight: 0.1 })).toEqual({ klSparsity: { target: 0.05, weight: 0.1 } });
  });
});

describe('threads', () => {
  test('2 threads give bit-identical training with both penalties (the split kernels run on 2 threads)', async () => {
    const x = testValues(200 * 200, 9, 0, 1);
    const y = new Int32Array(200).map((_, i) => i % 4);
    const run = async () => {
      const m = tn.sequential({ inputShape: [200], seed: 3, layers: [
        L.dense({ units: 1024, activation: 'sigmoid', kernelRegularizer: { l1: 1e-4, l2: 1e-4 }, activityRegularizer: { klSparsity: { target: 0.05, weight: 0.1 } } }),
        L.dropout({ keep: 0.5 }),
        L.dense({ units: 4 }),
      ] });
      m.compile({ optimizer: sgd(0.1) });
      const h = await m.fit(x, y, { epochs: 2, batchSize: 200 });
      const r = { params: m.parameters(), loss: h.loss };
      m.dispose();
      return r;
    };
    const one = await run();
    await tn.close();
    expect((await tn.ready({ threads: 2 })).threads).toBe(2);
    const two = await run();
    await tn.close();
    await tn.ready({ threads: 1 });
    expect(two.loss).toEqual(one.loss);
    expect(Buffer.from(two.params.buffer).equals(Buffer.from(one.params.buffer))).toBe(true);
  });
});

describe('bad options are clear errors naming the layer and the option', () => {
  const kl = (target: unknown, weight: unknown = 0.1) => ({ klSparsity: { target, weight } });
  test.each([
    ['kernelRegularizer not an object', () => L.dense({ units: 2, kernelRegularizer: 0.1 as never }), /layers.dense: kernelRegularizer must be an object like \{ l1: 1e-5, l2: 1e-4 \}, got 0.1/],
    ['unknown key', () => L.dense({ units: 2, kernelRegularizer: { l3: 1 } as never }), /layers.dense: unknown kernelRegularizer option 'l3' \(options: l1, l2\)/],
    ['empty', () => L.dense({ units: 2, kernelRegularizer: {} }), /kernelRegularizer needs l1, l2 or both/],
    ['negative l1', () => L.conv2d({ filters: 2, kernelSize: 3, kernelRegularizer: { l1: -1 } }), /layers.conv2d: kernelRegularizer.l1 must be a finite number ≥ 0, got -1/],
    ['NaN l2', () => L.dense({ units: 2, kernelRegularizer: { l2: NaN } }), /kernelRegularizer.l2 must be a finite number ≥ 0, got NaN/],
    ['KL on relu', () => L.dense({ units: 2, activation: 'relu', activityRegularizer: kl(0.05) }),
      /layers.dense: activityRegularizer.klSparsity needs activation 'sigmoid' \(KL\(ρ ‖ ρ̂\) compares mean activations in \(0, 1\) with ρ\), got activation 'relu'/],
    ['KL on a linear layer', () => L.conv2d({ filters: 2, kernelSize: 1, activityRegularizer: kl(0.05) }), /needs activation 'sigmoid'.*got activation 'linear'/],
    ['target 0', () => L.dense({ units: 2, activation: 'sigmoid', activityRegularizer: kl(0) }), /klSparsity.target is the target mean activation ρ and must lie in \(0, 1\), got 0/],
    ['target 1', () => L.dense({ units: 2, activation: 'sigmoid', activityRegularizer: kl(1) }), /must lie in \(0, 1\), got 1/],
    ['weight negative', () => L.dense({ units: 2, activation: 'sigmoid', activityRegularizer: kl(0.05, -2) }), /klSparsity.weight must be a finite number ≥ 0, got -2/],
    ['no klSparsity', () => L.dense({ units: 2, activation: 'sigmoid', activityRegularizer: {} as never }), /activityRegularizer needs klSparsity: \{ target, weight \}/],
    ['unknown activity key', () => L.dense({ units: 2, activation: 'sigmoid', activityRegularizer: { l1: 1 } as never }), /unknown activityRegularizer option 'l1' \(options: klSparsity\)/],
    ['unknown klSparsity key', () => L.dense({ units: 2, activation: 'sigmoid', activityRegularizer: { klSparsity: { target: 0.1, weight: 1, rho: 2 } } as never }),
      /unknown activityRegularizer.klSparsity option 'rho' \(options: target, weight\)/],
    ['factory', () => tn.regularizers.l1({ l1: -1 }), /regularizers.l1: kernelRegularizer.l1 must be a finite number ≥ 0, got -1/],
    ['a spec from a file', () => tn.sequential({ inputShape: [3], layers: [{ type: 'dense', units: 2, kernelRegularizer: { l1: 'x' } }] }),
      /layer 0: thinnet.layers.dense: kernelRegularizer.l1 must be a finite number ≥ 0, got 'x'/],
  ] as [string, () => unknown, RegExp][])('%s', (_, f, msg) => {
    expect(f).toThrow(msg);
  });
});
