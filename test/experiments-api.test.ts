// The API the paper's analyses need (examples/*.mjs): the prediction of one thinned network
// (predict({ sample })), hidden activations (model.activations) and mean-squared-error training
// for autoencoders and regression — each against float64 references built from getWeights() and
// the masks of the op API (tn.dropoutMask), finite differences, and exact equalities.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';
import { blobs } from './helpers/data';
import { lossesAround } from './helpers/gradcheck';

beforeAll(async () => { await tn.ready({ threads: 1 }); });
afterAll(async () => { await tn.close(); });

/** The seed of Monte-Carlo passes (model.ts MC_SALT): masks independent of the training masks. */
const mcSeed = (seed: number) => (seed ^ 0x9e3779b9) >>> 0;

/** The 0/1 mask of a dropout layer (stream = its index) over rows×features at (seed, step), from the op API. */
function mask(rows: number, features: number, keep: number, seed: number, stream: number, step: number): Uint8Array {
  return tn.scope(() => tn.dropoutMask(tn.dropout(tn.tensor(new Float32Array(rows * features).fill(1), [rows, features]), { keep, seed, stream, step })));
}

/** Float64 dense layer: y = x·Wᵀ + b, W [out, in] as getWeights returns it. */
function dense64(x: Float64Array, n: number, w: tn.WeightsEntry): Float64Array {
  const [O, I] = w.shape;
  const y = new Float64Array(n * O);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < O; o++) {
      let s = w.bias.length ? w.bias[o] : 0;
      for (let i = 0; i < I; i++) s += x[r * I + i] * w.kernel[o * I + i];
      y[r * O + o] = s;
    }
  }
  return y;
}

const relu64 = (x: Float64Array) => x.map((v) => Math.max(0, v));
const tanh64 = (x: Float64Array) => x.map(Math.tanh);
function softmax64(z: Float64Array, C: number): Float64Array {
  const p = new Float64Array(z.length);
  for (let r = 0; r < z.length / C; r++) {
    const row = z.subarray(r * C, (r + 1) * C);
    const m = Math.max(...row);
    let s = 0;
    for (let j = 0; j < C; j++) s += (p[r * C + j] = Math.exp(row[j] - m));
    for (let j = 0; j < C; j++) p[r * C + j] /= s;
  }
  return p;
}

/** max_i |a_i − b_i| / (atol + rtol·|b_i|) — at most 1 when every element is within tolerance. */
function worst(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number): number {
  expect(a.length).toBe(b.length);
  let w = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i]));
    if (!(e <= w)) w = Number.isNaN(e) ? Infinity : e;
  }
  return w;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const sameBits = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Seeded uniform floats in [lo, hi). */
function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return lo + (hi - lo) * (s / 2 ** 32); });
}

describe('predict({ sample: t }): one thinned network', () => {
  const keep = 0.5;
  const make = () => tn.sequential({ inputShape: [6], seed: 5, layers: [
    tn.layers.dense({ units: 16, activation: 'relu' }), tn.layers.dropout({ keep }), tn.layers.dense({ units: 3 })] });

  test('is the network with the masks of Monte-Carlo sample t (float64 reference)', () => {
    const model = make();
    const { x } = blobs(9, 6);
    const [w0, w1] = model.getWeights();
    const h = relu64(dense64(Float64Array.from(x), 9, w0));
    for (const t of [0, 3]) {
      const r = mask(9, 16, keep, mcSeed(5), 1, t); // the dropout layer is user layer 1
      const ref = softmax64(dense64(h.map((v, i) => v * r[i]), 9, w1), 3);
      expect(worst(model.predict(x, { sample: t }), ref, 1e-6, 1e-5)).toBeLessThanOrEqual(1);
    }
    model.dispose();
  });

  test('the mean over t < k equals predict({ mc: k }); different t differ; no dropout: equals weight scaling', () => {
    const model = make();
    const { x } = blobs(37, 6, 3);
    const k = 7;
    for (const batchSize of [1000, 10]) { // several batches: masks follow the row's position in its batch, as for mc
      const mean = new Float64Array(37 * 3);
      const samples = Array.from({ length: k }, (_, t) => model.predict(x, { sample: t, batchSize }));
      for (const s of samples) s.forEach((v, i) => { mean[i] += v / k; });
      expect(maxAbsDiff(mean, model.predict(x, { mc: k, batchSize }))).toBeLessThan(1e-6);
      expect(maxAbsDiff(mean, model.predictWithUncertainty(x, { samples: k, batchSize }).mean)).toBeLessThan(1e-6);
      expect(maxAbsDiff(samples[0], samples[1])).toBeGreaterThan(1e-3);
      expect(model.predict(x, { sample: 2, batchSize })).toEqual(samples[2]); // reproducible
    }
    const folded = model.foldDropout(); // no dropout left: every thinned network is the network
    expect(folded.predict(x, { sample: 4 })).toEqual(folded.predict(x));
    model.dispose();
    folded.dispose();
  });

  test('bad options are errors that name them', () => {
    const model = make();
    const x = new Float32Array(6);
    expect(() => model.predict(x, { sample: 1, mc: 5 })).toThrow(/either mc .* or sample .*, not both/);
    expect(() => model.predict(x, { sample: -1 })).toThrow(/sample must be an integer/);
    expect(() => model.predict(x, { sample: 1.5 })).toThrow(/sample must be an integer/);
    model.dispose();
  });
});

describe('model.activations', () => {
  const keep = 0.6;
  const make = () => tn.sequential({ inputShape: [5], seed: 9, layers: [
    tn.layers.dense({ units: 12, activation: 'relu' }), // 0
    tn.layers.dropout({ keep }),                          // 1
    tn.layers.dense({ units: 4 }),                        // 2
    tn.layers.softmax(),                                  // 3: fused with the loss, not in model.net
  ] });

  test('each layer\'s output in evaluation mode equals a float64 forward pass from getWeights()', () => {
    const model = make();
    const n = 23;
    const x = uniform(n * 5, 2);
    const p = tn.quantizeKeep(keep).p;
    const [w0, w1] = model.getWeights();
    expect([w0.layer, w1.layer]).toEqual([0, 2]);
    const h = relu64(dense64(Float64Array.from(x), n, w0));
    const scaled = h.map((v) => v * p); // the paper's weight scaling
    const logits = dense64(scaled, n, w1);
    const refs = [h, scaled, logits, softmax64(logits, 4)];
    const widths = [12, 12, 4, 4];
    for (let i = 0; i < 4; i++) {
      for (const batchSize of [1000, 7]) {
        const a = model.activations(x, { layer: i, batchSize });
        expect(a.length).toBe(n * widths[i]);
        expect(worst(a, refs[i], 1e-6, 1e-5)).toBeLessThanOrEqual(1);
      }
    }
    expect(model.activations(x, { layer: 3 })).toEqual(model.predict(x)); // the last layer is the prediction
    expect(refs[0].some((v) => v === 0) && refs[0].some((v) => v > 0)).toBe(true); // relu really cuts
    model.dispose();
  });

  test('training: true uses the dropout masks of a training step', () => {
    const model = make();
    const n = 11;
    const x = uniform(n * 5, 4);
    const h = relu64(dense64(Float64Array.from(x), n, model.getWeights()[0]));
    const r = mask(n, 12, keep, 9, 1, 17);
    const got = model.activations(x, { layer: 1, training: true, step: 17 });
    expect(worst(got, h.map((v, i) => v * r[i]), 1e-6, 1e-5)).toBeLessThanOrEqual(1);
    // the mask is the one training uses: this layer's output enters the training loss of step 17
    expect(model.activations(x, { layer: 0, training: true, step: 17 })).toEqual(model.activations(x, { layer: 0 }));
    model.dispose();
  });

  test('the layer index is checked', () => {
    const model = make();
    const x = new Float32Array(5);
    expect(() => model.activations(x, { layer: 4 })).toThrow(/layer must be an integer index into the model's 4 layers \(0 to 3\), got 4/);
    expect(() => model.activations(x, { layer: -1 })).toThrow(/layer must be an integer index/);
    expect(() => model.activations(x, { layer: 1.5 })).toThrow(/got 1.5/);
    expect(() => model.activations(x, {} as never)).toThrow(/got undefined/);
    expect(() => model.activations(x, { layer: 0, training: 'yes' as never })).toThrow(/training must be a boolean/);
    expect(() => model.activations(x, { layer: 0, step: 3 })).toThrow(/step only applies with training: true/);
    expect(() => model.activations(new Float32Array(4), { layer: 0 })).toThrow(/not a multiple of the model's 5 input features/);
    model.dispose();
  });
});

describe("loss: 'meanSquaredError'", () => {
  const adam = (lr = 0.01) => tn.optimizers.adam({ learningRate: lr });

  test('the training loss is the mean over examples of (1/D)·Σ_j (ŷ_j − y_j)² (float64 reference with the training masks)', () => {
    const model = tn.sequential({ inputShape: [6], seed: 3, layers: [
      tn.layers.dropout({ keep: 0.8 }), tn.layers.dense({ units: 7, activation: 'tanh' }),
      tn.layers.dropout({ keep: 0.5 }), tn.layers.dense({ units: 4 })] });
    model.compile({ optimizer: adam(), loss: 'meanSquaredError' });
    expect(model.loss).toBe('meanSquaredError');
    const n = 10, step = 6;
    const x = uniform(n * 6, 1), y = uniform(n * 4, 2);
    const [w0, w1] = model.getWeights();
    const r0 = mask(n, 6, 0.8, 3, 0, step), r2 = mask(n, 7, 0.5, 3, 2, step);
    const h = tanh64(dense64(Float64Array.from(x, (v, i) => v * r0[i]), n, w0));
    const out = dense64(h.map((v, i) => v * r2[i]), n, w1);
    let ref = 0;
    for (let i = 0; i < n * 4; i++) ref += (out[i] - y[i]) ** 2;
    ref /= n * 4;
    const got = model.trainingLoss(x, y, { step });
    expect(Math.abs(got - ref)).toBeLessThan(1e-6 * ref + 1e-9);
    expect(model.computeGradients(x, y, { step }).loss).toBeCloseTo(got, 12);
    model.dispose();
  });

  test('gradients match centered finite differences (dropout, fixed step)', () => {
    const model = tn.sequential({ inputShape: [5], seed: 7, layers: [
      tn.layers.dropout({ keep: 0.7 }), tn.layers.dense({ units: 6, activation: 'tanh' }),
      tn.layers.dropout({ keep: 0.5, convention: 'inverted' }), tn.layers.dense({ units: 5, activation: 'sigmoid' }),
      tn.layers.gaussianDropout({ keep: 0.8 }), tn.layers.dense({ units: 3 })] });
    model.compile({ optimizer: adam(), loss: 'meanSquaredError' });
    const n = 9, step = 4;
    const x = uniform(n * 5, 11), y = uniform(n * 3, 12, -2, 2);
    model.setParameters(model.parameters().map((v, i) => v + 0.05 * Math.sin(7.3 * i + 1)));
    const { gradients } = model.computeGradients(x, y, { step });
    const p = model.parameters();
    const eps = 1e-2;
    let w = 0;
    for (let i = 0; i < p.length; i++) {
      const { num } = lossesAround(model, p, i, eps, x, y, step);
      const e = Math.abs(num - gradients[i]) / (1e-4 + 0.01 * Math.abs(num));
      if (e > 1) throw new Error(`parameter ${i}: numerical ${num}, backward ${gradients[i]}`);
      w = Math.max(w, e);
    }
    model.setParameters(p);
    expect(w).toBeLessThanOrEqual(1);
    // the masks are in play: another step's masks give another loss and gradient
    const other = model.computeGradients(x, y, { step: step + 1 });
    expect(other.loss).not.toBe(model.trainingLoss(x, y, { step }));
    expect(maxAbsDiff(other.gradients, gradients)).toBeGreaterThan(1e-3);
    model.dispose();
  });

  test('an autoencoder 20 → 8 relu → 20 lowers its reconstruction loss; same seed → bit-identical weights; y === x shares the block', async () => {
    // rank-3 data in 20 dimensions: an 8-unit bottleneck can reconstruct it
    const n = 240;
    const z = uniform(n * 3, 5), A = uniform(3 * 20, 6);
    const x = new Float32Array(n * 20);
    for (let r = 0; r < n; r++) for (let j = 0; j < 20; j++) {
      let s = 0;
      for (let q = 0; q < 3; q++) s += z[r * 3 + q] * A[q * 20 + j];
      x[r * 20 + j] = s;
    }
    const run = async (seed: number, y: Float32Array) => {
      const m = tn.sequential({ inputShape: [20], seed, layers: [
        tn.layers.dense({ units: 8, activation: 'relu' }), tn.layers.dropout({ keep: 0.8 }), tn.layers.dense({ units: 20 })] });
      m.compile({ optimizer: adam(0.01), loss: 'meanSquaredError' });
      const before = m.evaluate(x, x).loss;
      const h = await m.fit(x, y, { epochs: 8, batchSize: 16, validationData: [x, x] });
      const after = m.evaluate(x, x);
      const p = m.parameters();
      m.dispose();
      return { before, after, h, p };
    };
    const a = await run(1, x);
    expect(a.after.loss).toBeLessThan(0.3 * a.before);
    expect(a.h.loss[7]).toBeLessThan(a.h.loss[0]);
    expect(Number.isNaN(a.after.accuracy) && Number.isNaN(a.after.error)).toBe(true);
    expect(a.h.accuracy.every(Number.isNaN) && a.h.valError.every(Number.isNaN)).toBe(true);
    expect(a.h.valLoss[7]).toBe(a.after.loss);
    const b = await run(1, Float32Array.from(x)); // a copy: targets in their own block
    const c = await run(2, x);
    expect(sameBits(a.p, b.p)).toBe(true);
    expect(sameBits(a.p, c.p)).toBe(false);
  });

  test('uint8 pixel inputs with float targets; a single output (regression) is allowed', async () => {
    const n = 30;
    const u8 = Uint8Array.from({ length: n * 4 }, (_, i) => (i * 37 + 11) % 256);
    const xf = Float32Array.from(u8, (v) => Math.fround(v * Math.fround(1 / 255))); // exactly the kernel's scaling
    const t = Float32Array.from({ length: n }, (_, r) => xf[r * 4] - 0.5 * xf[r * 4 + 3]);
    const mk = () => tn.sequential({ inputShape: [4], seed: 2, layers: [tn.layers.dense({ units: 5, activation: 'tanh' }), tn.layers.dense({ units: 1 })] });
    const a = mk(), b = mk();
    expect(() => a.compile({ optimizer: adam() })).toThrow(/1 output; softmaxCrossEntropy needs at least 2 classes/);
    a.compile({ optimizer: adam(), loss: 'meanSquaredError' });
    b.compile({ optimizer: adam(), loss: 'meanSquaredError' });
    await a.fit(u8, t, { epochs: 3, batchSize: 8 });
    await b.fit(xf, Array.from(t), { epochs: 3, batchSize: 8 }); // number[] targets are accepted too
    expect(sameBits(a.parameters(), b.parameters())).toBe(true);
    expect(a.evaluate(u8, t)).toEqual(b.evaluate(xf, t));
    // predict returns the outputs themselves (no softmax), equal to a float64 forward pass
    const [w0, w1] = a.getWeights();
    const ref = dense64(tanh64(dense64(Float64Array.from(xf), n, w0)), n, w1);
    const pred = a.predict(u8);
    expect(worst(pred, ref, 1e-6, 1e-5)).toBeLessThanOrEqual(1);
    let mse = 0;
    for (let i = 0; i < n; i++) mse += (ref[i] - t[i]) ** 2 / n;
    expect(a.evaluate(u8, t).loss).toBeCloseTo(mse, 6);
    a.dispose(); b.dispose();
  });

  test('Monte-Carlo on outputs: mean and variance of the thinned networks\' outputs; entropy and MI are NaN', () => {
    const m = tn.sequential({ inputShape: [4], seed: 8, layers: [
      tn.layers.dense({ units: 10, activation: 'relu' }), tn.layers.dropout({ keep: 0.5 }), tn.layers.dense({ units: 2 })] });
    m.compile({ optimizer: adam(), loss: 'meanSquaredError' });
    const x = uniform(13 * 4, 3);
    const k = 5;
    const s = Array.from({ length: k }, (_, t) => m.predict(x, { sample: t }));
    const mean = new Float64Array(26), varc = new Float64Array(26);
    for (const v of s) v.forEach((q, i) => { mean[i] += q / k; });
    for (const v of s) v.forEach((q, i) => { varc[i] += (q - mean[i]) ** 2 / k; });
    const u = m.predictWithUncertainty(x, { samples: k });
    expect(maxAbsDiff(u.mean, mean)).toBeLessThan(1e-6);
    expect(maxAbsDiff(u.variance, varc)).toBeLessThan(1e-6);
    expect(u.entropy.every(Number.isNaN) && u.mutualInformation.every(Number.isNaN)).toBe(true);
    expect(s[0].some((v) => v < 0)).toBe(true); // raw outputs, not probabilities
    m.dispose();
  });

  test('save → load keeps the loss: evaluate and predict unchanged; a checkpoint resumes bit for bit', async () => {
    const n = 40;
    const x = uniform(n * 6, 21, 0, 1);
    const make = () => tn.sequential({ inputShape: [6], seed: 4, layers: [
      tn.layers.dense({ units: 5, activation: 'relu' }), tn.layers.dropout({ keep: 0.5 }), tn.layers.dense({ units: 6, activation: 'sigmoid' })] });
    const m = make();
    m.compile({ optimizer: adam(), loss: 'meanSquaredError' });
    await m.fit(x, x, { epochs: 2, batchSize: 10 });
    const loaded = await tn.loadModel(m.toBytes());
    expect(loaded.loss).toBe('meanSquaredError');
    expect(loaded.config).toEqual(m.config);
    expect(loaded.evaluate(x, x)).toEqual(m.evaluate(x, x));
    expect(loaded.predict(x)).toEqual(m.predict(x));
    const folded = m.foldDropout();
    expect(folded.loss).toBe('meanSquaredError');
    expect(maxAbsDiff(folded.predict(x), m.predict(x))).toBeLessThan(1e-6);
    // resume: compile() without a loss keeps the loaded model's loss
    const ck = await tn.loadModel(m.toBytes({ optimizer: true }));
    ck.compile({ optimizer: adam() });
    expect(ck.loss).toBe('meanSquaredError');
    await ck.fit(x, x, { epochs: 1, batchSize: 10 });
    await m.fit(x, x, { epochs: 1, batchSize: 10 });
    expect(sameBits(ck.parameters(), m.parameters())).toBe(true);
    // a classifier saved and loaded keeps the default (and the file config carries no loss)
    const cls = tn.sequential({ inputShape: [6], seed: 1, layers: [tn.layers.dense({ units: 3 })] });
    expect('loss' in cls.config).toBe(false);
    expect((await tn.loadModel(cls.toBytes())).loss).toBe('softmaxCrossEntropy');
    for (const q of [m, loaded, folded, ck, cls]) q.dispose();
  });

  test('bad targets and losses are errors that name the problem', async () => {
    const m = tn.sequential({ inputShape: [4], seed: 1, layers: [tn.layers.dense({ units: 3 })] });
    expect(() => m.compile({ optimizer: adam(), loss: 'hinge' as never })).toThrow(/loss must be one of 'softmaxCrossEntropy', 'meanSquaredError'/);
    m.compile({ optimizer: adam(), loss: 'meanSquaredError' });
    const x = new Float32Array(8);
    expect(() => m.evaluate(x, new Float32Array(5))).toThrow(/x has 2 rows, so y \(loss 'meanSquaredError'\) needs 2 × 3 = 6 targets .*got 5/);
    expect(() => m.evaluate(x, new Float32Array(2))).toThrow(/class labels\? those need loss softmaxCrossEntropy/);
    expect(() => m.evaluate(x, new Uint8Array(6))).toThrow(/y must be float targets N×3 .*Uint8Array would be taken as raw values 0–255/);
    expect(() => m.evaluate(x, new Int32Array(6))).toThrow(/y must be float targets N×3 .*got Int32Array/);
    expect(() => m.evaluate(x, Float32Array.of(0, 0, 0, 0, NaN, 0))).toThrow(/target y\[4\] \(row 1, output 1\) is NaN; targets must be finite/);
    expect(() => m.evaluate(x, [0, 0, 0, 0, 0, 1e40])).toThrow(/target y\[5\] .*is 1e\+40; targets must be finite float32 values/);
    await expect(m.fit(x, new Float32Array(6), { validationData: [x, new Float32Array(3)] })).rejects.toThrow(/fit \(validationData\): x has 2 rows, so y .* needs 2 × 3 = 6 targets/);
    const sm = tn.sequential({ inputShape: [4], layers: [tn.layers.dense({ units: 3, activation: 'softmax' })] });
    expect(() => sm.compile({ optimizer: adam(), loss: 'meanSquaredError' })).toThrow(/needs a last layer without softmax/);
    m.dispose(); sm.dispose();
  });
});
