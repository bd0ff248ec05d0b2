// Training: determinism, schedules, max-norm, weight decay, Adam, callbacks, NaN detection,
// validation, and the MNIST sanity check.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';
import { blobs } from './helpers/data';

beforeAll(async () => { await tn.ready({ threads: 1 }); });
afterAll(async () => { await tn.close(); });

const mlp = (seed: number, extra: Partial<tn.layers.DenseOptions> = {}) => tn.sequential({
  inputShape: [10], seed, layers: [
    tn.layers.dropout({ keep: 0.8 }),
    tn.layers.dense({ units: 24, activation: 'relu', ...extra }),
    tn.layers.dropout({ keep: 0.5 }),
    tn.layers.gaussianDropout({ keep: 0.8 }),
    tn.layers.dense({ units: 3, ...extra }),
  ] });

describe('training', () => {
  test('the same seed gives bit-identical weights after training; another seed does not', async () => {
    const { x, y } = blobs(200, 10);
    const run = async (seed: number) => {
      const m = mlp(seed, { maxNorm: 1.5 });
      m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.05, momentum: { start: 0.5, end: 0.9, epochs: 2 }, weightDecay: 1e-4 }) });
      await m.fit(x, y, { epochs: 3, batchSize: 16 });
      const p = m.parameters();
      m.dispose();
      return p;
    };
    const a = await run(42), b = await run(42), c = await run(43);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
  });

  test('two fits of 1 epoch equal one fit of 2 epochs (step, epoch and schedules continue)', async () => {
    const { x, y } = blobs(100, 10);
    const opt = () => tn.optimizers.sgd({ learningRate: tn.schedules.exponentialDecay({ initial: 0.1, rate: 0.5 }), momentum: 0.9 });
    const a = mlp(1); a.compile({ optimizer: opt() });
    await a.fit(x, y, { epochs: 2, batchSize: 10 });
    const b = mlp(1); b.compile({ optimizer: opt() });
    await b.fit(x, y, { epochs: 1, batchSize: 10 });
    await b.fit(x, y, { epochs: 1, batchSize: 10 });
    expect(b.step).toBe(20);
    expect(b.epoch).toBe(2);
    expect(b.parameters()).toEqual(a.parameters());
    a.dispose(); b.dispose();
  });

  test('history, callbacks and schedules', async () => {
    const { x, y } = blobs(95, 10);
    const m = mlp(3);
    m.compile({ optimizer: tn.optimizers.sgd({
      learningRate: tn.schedules.inverseTimeDecay({ initial: 0.1, T: 2 }), momentum: { start: 0.5, end: 0.9, epochs: 2 } }) });
    const batches: number[] = [];
    const epochs: tn.EpochLogs[] = [];
    const h = await m.fit(x, y, {
      epochs: 3, batchSize: 10, validationData: [x, y],
      onBatchEnd: (b, logs) => { batches.push(b); expect(logs.batches).toBe(10); },
      onEpochEnd: async (_e, logs) => { epochs.push(logs); },
    });
    expect(batches.length).toBe(30);
    expect(batches.slice(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(h.epochs).toEqual(epochs);
    expect(h.loss.length).toBe(3);
    expect(h.valError.length).toBe(3);
    expect(h.valError[2]).toBeCloseTo(1 - h.valAccuracy[2], 12);
    expect(epochs.map((e) => e.learningRate)).toEqual([0.1, 0.1 / 1.5, 0.1 / 2]);
    expect(epochs.map((e) => e.momentum)).toEqual([0.5, 0.7, 0.9]);
    expect(epochs[0].examplesPerSecond).toBeGreaterThan(0);
    // onEpochEnd returning false stops training
    const h2 = await m.fit(x, y, { epochs: 5, batchSize: 10, onEpochEnd: (e) => e < 4 ? false : undefined });
    expect(h2.epochs.length).toBe(1);
    m.dispose();
  });

  test('schedule helpers', () => {
    expect(tn.schedules.exponentialDecay({ initial: 2, rate: 0.5 })(3)).toBe(0.25);
    expect(tn.schedules.inverseTimeDecay({ initial: 1, T: 4 })(4)).toBe(0.5);
    const ramp = tn.schedules.linearRamp({ start: 0.5, end: 0.99, epochs: 10 });
    expect(ramp(0)).toBe(0.5);
    expect(ramp(5)).toBeCloseTo(0.745, 12);
    expect(ramp(10)).toBe(0.99);
    expect(ramp(500)).toBe(0.99);
    expect(() => tn.schedules.inverseTimeDecay({ initial: 1, T: 0 })).toThrow(/T must be > 0/);
    // Warm-up: linear from `from` to the wrapped schedule's value at `epochs`, then that schedule.
    const decay = tn.schedules.exponentialDecay({ initial: 5, rate: 0.5 });
    const warm = tn.schedules.warmup({ from: 1, epochs: 2, then: decay });
    expect([0, 1, 2, 3].map(warm)).toEqual([1, 1 + (1.25 - 1) / 2, 1.25, 0.625]);
    expect(tn.schedules.warmup({ from: 0, epochs: 4, then: 2 })(1)).toBe(0.5);
    expect(tn.schedules.warmup({ from: 0.3, epochs: 0, then: 2 })(0)).toBe(2);
    expect(() => tn.schedules.warmup({ from: -1, epochs: 2, then: 1 })).toThrow(/warmup: from must be a finite number ≥ 0/);
    expect(() => tn.schedules.warmup({ from: 0, epochs: 1.5, then: 1 })).toThrow(/warmup: epochs must be an integer ≥ 0, got 1.5/);
  });

  test('max-norm holds after every update; weight decay shrinks the weights', async () => {
    const { x, y } = blobs(200, 10);
    const c = 0.7;
    const m = mlp(5, { maxNorm: c });
    m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.5, momentum: 0.9 }) });
    let checked = 0;
    await m.fit(x, y, { epochs: 2, batchSize: 20, onBatchEnd: () => {
      for (const w of m.getWeights()) {
        const [rows, cols] = w.shape;
        for (let r = 0; r < rows; r++) {
          let s = 0;
          for (let j = 0; j < cols; j++) s += w.kernel[r * cols + j] ** 2;
          expect(Math.sqrt(s)).toBeLessThanOrEqual(c * (1 + 1e-5));
        }
      }
      checked++;
    } });
    expect(checked).toBe(20);
    m.dispose();

    const norm = async (wd: number) => {
      const a = mlp(6);
      a.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.05, momentum: 0.5, weightDecay: wd }) });
      await a.fit(x, y, { epochs: 3, batchSize: 20 });
      const w = a.getWeights();
      const bias = w[0].bias.slice();
      a.dispose();
      return { w: w.reduce((s, e) => s + e.kernel.reduce((t, v) => t + v * v, 0), 0), bias };
    };
    const plain = await norm(0), decayed = await norm(0.05);
    expect(decayed.w).toBeLessThan(plain.w * 0.9);
  });

  test('the paper\'s momentum form (dampening) and Adam train too', async () => {
    const { x, y } = blobs(300, 10);
    for (const optimizer of [
      tn.optimizers.sgd({ learningRate: 1, momentum: { start: 0.5, end: 0.95, epochs: 3 }, dampening: true }),
      tn.optimizers.adam({ learningRate: 0.01, weightDecay: 1e-4 }),
    ]) {
      const m = mlp(7);
      m.compile({ optimizer });
      const before = m.evaluate(x, y).loss;
      await m.fit(x, y, { epochs: 4, batchSize: 20 });
      expect(m.evaluate(x, y).loss).toBeLessThan(before * 0.5);
      m.dispose();
    }
  });

  test('NaN in x is refused before any step; a loss that becomes NaN/Inf stops training with an error naming epoch and batch', async () => {
    const { x, y } = blobs(50, 10);
    const bad = x.slice();
    bad[33 * 10 + 4] = NaN; // row 33
    const m = tn.sequential({ inputShape: [10], seed: 1, layers: [tn.layers.dense({ units: 3 })] });
    m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.1 }) });
    const before = m.parameters();
    await expect(m.fit(bad, y, { epochs: 2, batchSize: 10, shuffle: false })).rejects.toThrow(/x\[334\] \(row 33, value 4\) is NaN; inputs must be finite/);
    expect(m.parameters()).toEqual(before);
    expect(m.step).toBe(0);
    expect(() => m.predict(bad)).toThrow(/row 33, value 4\) is NaN/);
    expect(() => m.evaluate(bad, y)).toThrow(/row 33, value 4\) is NaN/);
    const inf = x.slice(); inf[7] = -Infinity;
    await expect(m.fit(x, y, { validationData: [inf, y] })).rejects.toThrow(/row 0, value 7\) is -Infinity/);
    // diverging learning rate
    const d = tn.sequential({ inputShape: [10], seed: 1, layers: [tn.layers.dense({ units: 16, activation: 'relu' }), tn.layers.dense({ units: 3 })] });
    d.compile({ optimizer: tn.optimizers.sgd({ learningRate: 1e12, momentum: 0.9 }) });
    await expect(d.fit(x, y, { epochs: 5, batchSize: 10 })).rejects.toThrow(/loss became (NaN|Infinity) at epoch \d+, batch \d+ of 5/);
    m.dispose(); d.dispose();
  });

  test('validation errors are clear', async () => {
    const { x, y } = blobs(20, 10);
    const m = mlp(1);
    await expect(m.fit(x, y)).rejects.toThrow(/call model.compile/);
    m.compile({ optimizer: tn.optimizers.sgd() });
    await expect(m.fit(x, y, { batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer, got 0/);
    await expect(m.fit(x, y, { batchSize: -5 })).rejects.toThrow(/batchSize/);
    await expect(m.fit(x, y, { epochs: 1.5 })).rejects.toThrow(/epochs must be an integer/);
    await expect(m.fit(x.subarray(0, 190), y)).rejects.toThrow(/x has 19 rows but y has 20 labels/);
    await expect(m.fit(x.subarray(0, 199), y)).rejects.toThrow(/not a multiple of the model's 10 input features/);
    await expect(m.fit(x, y.map((v) => v + 1))).rejects.toThrow(/y\[\d+\] = 3 is out of range; labels must be integers in \[0, 3\)/);
    await expect(m.fit(x, new Float32Array(20).fill(0.5))).rejects.toThrow(/y\[0\] = 0.5 is out of range/);
    await expect(m.fit(new Float32Array(0), new Int32Array(0))).rejects.toThrow(/no rows/);
    await expect(m.fit(x, y, { validationData: { x: new Float32Array(3), y } })).rejects.toThrow(/validationData.*not a multiple/);
    await expect(m.fit(x, y, { onEpochEnd: 5 as never })).rejects.toThrow(/onEpochEnd must be a function/);
    expect(() => tn.optimizers.sgd({ learningRate: -1 })).toThrow(/learningRate must be a finite number ≥ 0/);
    expect(() => tn.optimizers.adam({ beta1: 1 })).toThrow(/beta1/);
    const bad = mlp(1);
    bad.compile({ optimizer: tn.optimizers.sgd({ momentum: { start: 0.5, end: 1.2, epochs: 1 } }) });
    await expect(bad.fit(x, y, { epochs: 2 })).rejects.toThrow(/momentum at epoch 1 is 1.2/);
    m.dispose(); bad.dispose();
  });
});

describe('MNIST', () => {
  test('CI sanity check: 10k-image subset, 2 epochs, the dropout MLP reaches ≤ 5% test error in under a minute', async () => {
    const { train, test: testSet } = await tn.data.loadMnist();
    const sub = tn.data.subset(train, 10000);
    const t0 = performance.now();
    const model = tn.sequential({ inputShape: [784], seed: 1, layers: [
      tn.layers.dense({ units: 1024, activation: 'relu', maxNorm: 3, kernelInitializer: 'heUniform' }),
      tn.layers.dropout({ keep: 0.5 }),
      tn.layers.dense({ units: 1024, activation: 'relu', maxNorm: 3, kernelInitializer: 'heUniform' }),
      tn.layers.dropout({ keep: 0.5 }),
      tn.layers.dense({ units: 10, maxNorm: 3 }),
    ] });
    // Adam with a steep decay (2e-3, then 4e-4): the fastest of the settings tried for this budget
    model.compile({ optimizer: tn.optimizers.adam({ learningRate: tn.schedules.exponentialDecay({ initial: 2e-3, rate: 0.2 }) }) });
    await model.fit(sub.x, sub.y, { epochs: 2, batchSize: 20 });
    const { error } = model.evaluate(testSet.x, testSet.y);
    const seconds = (performance.now() - t0) / 1000;
    console.log(`MNIST 10k subset, 2 epochs: test error ${(100 * error).toFixed(2)}% in ${seconds.toFixed(1)} s`);
    expect(error).toBeLessThanOrEqual(0.05);
    expect(seconds).toBeLessThan(60);
    model.dispose();
  }, 120_000);
});

describe('threads', () => {
  test('training on a worker pool (products, updates and max-norm split across 2 threads) gives bit-identical weights', async () => {
    const { x, y } = blobs(400, 10);
    const run = async () => {
      const m = tn.sequential({ inputShape: [10], seed: 9, layers: [
        tn.layers.dropout({ keep: 0.8 }),
        tn.layers.dense({ units: 512, activation: 'relu', maxNorm: 2 }), tn.layers.dropout({ keep: 0.5 }),
        tn.layers.dense({ units: 300, activation: 'tanh', maxNorm: 1.5 }), tn.layers.gaussianDropout({ keep: 0.7 }),
        tn.layers.dense({ units: 3 })] });
      m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.02, momentum: 0.9 }) });
      await m.fit(x, y, { epochs: 2, batchSize: 100 });
      const r = { params: m.parameters(), mc: m.predict(x, { mc: 5 }) };
      m.dispose();
      return r;
    };
    const one = await run();
    await tn.close();
    const info = await tn.ready({ threads: 2 });
    expect(info.threads).toBe(2);
    const two = await run();
    expect(Buffer.from(two.params.buffer).equals(Buffer.from(one.params.buffer))).toBe(true);
    expect(Buffer.from(two.mc.buffer).equals(Buffer.from(one.mc.buffer))).toBe(true);
  });
});
