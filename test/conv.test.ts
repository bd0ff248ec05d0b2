// Conv nets through the public API: conv2d, maxPool2d, flatten and dropout on feature maps.
// Forward against a float64 reference built from getWeights(); every parameter's gradient
// against centered finite differences of the training loss (fixed dropout step) at edge
// geometries (1×1 kernels, odd sizes, stride > 1, 'same' and 'valid', overlapping pools, batch
// 1); then everything dense models do: fit with schedules, weight scaling, MC, foldDropout,
// save/load, checkpoint/resume, 1 vs 2 threads bit-identical; and clear errors for bad shapes.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';
import { checkEveryParameter } from './helpers/gradcheck';
import { testValues } from './helpers/wasm';

beforeAll(async () => { await tn.ready({ threads: 1 }); });
afterAll(async () => { await tn.close(); });

const L = tn.layers;

// ---- float64 references (NHWC, kernel [F, KH, KW, C]) -------------------------------------------

function pad1(n: number, k: number, s: number, same: boolean): { out: number; pad: number } {
  if (!same) return { out: Math.floor((n - k) / s) + 1, pad: 0 };
  const out = Math.ceil(n / s);
  return { out, pad: Math.floor(Math.max((out - 1) * s + k - n, 0) / 2) };
}

function conv64(x: ArrayLike<number>, N: number, [H, W, C]: number[], w: ArrayLike<number>, b: ArrayLike<number>,
  F: number, KH: number, KW: number, SH: number, SW: number, same: boolean) {
  const v = pad1(H, KH, SH, same), h = pad1(W, KW, SW, same);
  const OH = v.out, OW = h.out;
  const y = new Float64Array(N * OH * OW * F);
  for (let n = 0; n < N; n++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) for (let f = 0; f < F; f++) {
    let s = b.length ? b[f] : 0;
    for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      const ih = oh * SH - v.pad + kh, iw = ow * SW - h.pad + kw;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      for (let c = 0; c < C; c++) s += w[((f * KH + kh) * KW + kw) * C + c] * x[((n * H + ih) * W + iw) * C + c];
    }
    y[((n * OH + oh) * OW + ow) * F + f] = s;
  }
  return { y, shape: [OH, OW, F] };
}

function pool64(x: ArrayLike<number>, N: number, [H, W, C]: number[], PH: number, PW: number, SH: number, SW: number, same: boolean) {
  const v = pad1(H, PH, SH, same), h = pad1(W, PW, SW, same);
  const y = new Float64Array(N * v.out * h.out * C);
  for (let n = 0; n < N; n++) for (let oh = 0; oh < v.out; oh++) for (let ow = 0; ow < h.out; ow++) for (let c = 0; c < C; c++) {
    let m = -Infinity;
    for (let ph = 0; ph < PH; ph++) for (let pw = 0; pw < PW; pw++) {
      const ih = oh * SH - v.pad + ph, iw = ow * SW - h.pad + pw;
      if (ih >= 0 && ih < H && iw >= 0 && iw < W) m = Math.max(m, x[((n * H + ih) * W + iw) * C + c]);
    }
    y[((n * v.out + oh) * h.out + ow) * C + c] = m;
  }
  return { y, shape: [v.out, h.out, C] };
}

function expectNear(got: Float32Array, ref: Float64Array, tol = 1e-5) {
  expect(got.length).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) {
    if (!(Math.abs(got[i] - ref[i]) <= tol * (1 + Math.abs(ref[i])))) throw new Error(`index ${i}: reference ${ref[i]}, got ${got[i]}`);
  }
}

/** Every parameter's backward gradient against centered finite differences (kinks tolerated as in model.test.ts). */
function gradCheck(model: tn.Sequential, x: Float32Array, y: Float32Array | Int32Array, step: number, eps = 1e-2) {
  model.setParameters(model.parameters().map((v, i) => v + 0.05 * Math.sin(7.3 * i + 1)));
  const { gradients } = model.computeGradients(x, y, { step });
  const p = model.parameters();
  const kinks = checkEveryParameter(model, gradients, x, y, step, { eps, abs: 2e-3, rel: 0.03 });
  expect(kinks).toBeLessThanOrEqual(Math.ceil(0.03 * p.length));
  model.setParameters(p);
  // some gradient is not zero (the check is not vacuous)
  expect(gradients.some((g) => Math.abs(g) > 1e-3)).toBe(true);
}

describe('conv2d and maxPool2d forward = float64 reference', () => {
  const cases = [
    { name: '1×1 kernel, valid', shape: [5, 4, 3], F: 2, K: [1, 1], S: [1, 1], same: false, N: 2 },
    { name: '3×3 same, odd sizes', shape: [7, 5, 3], F: 5, K: [3, 3], S: [1, 1], same: true, N: 3 },
    { name: '5×5 same stride 2, even/odd', shape: [8, 9, 2], F: 4, K: [5, 5], S: [2, 2], same: true, N: 1 },
    { name: '[3, 2] valid strides [2, 3]', shape: [9, 11, 1], F: 3, K: [3, 2], S: [2, 3], same: false, N: 2 },
    { name: 'kernel = input (valid → 1×1)', shape: [4, 4, 5], F: 17, K: [4, 4], S: [1, 1], same: false, N: 2 },
    { name: '5×5 same, 32 channels in, 64 out', shape: [6, 6, 32], F: 64, K: [5, 5], S: [1, 1], same: true, N: 2 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const m = tn.sequential({ inputShape: c.shape, seed: 3, layers: [
        L.conv2d({ filters: c.F, kernelSize: c.K as [number, number], strides: c.S as [number, number], padding: c.same ? 'same' : 'valid' }),
        L.maxPool2d({ poolSize: 2, strides: 1, padding: 'same' }),
        L.flatten(),
        L.dense({ units: 2 }),
      ] });
      const n = c.N * c.shape[0] * c.shape[1] * c.shape[2];
      const x = testValues(n, 5);
      const [{ kernel, bias, shape }] = m.getWeights();
      expect(shape).toEqual([c.F, c.K[0], c.K[1], c.shape[2]]);
      const conv = conv64(x, c.N, c.shape, kernel, bias, c.F, c.K[0], c.K[1], c.S[0], c.S[1], c.same);
      expectNear(m.activations(x, { layer: 0 }), conv.y);
      const pool = pool64(conv.y, c.N, conv.shape, 2, 2, 1, 1, true);
      expectNear(m.activations(x, { layer: 1 }), pool.y);
      expect(m.activations(x, { layer: 2 })).toEqual(m.activations(x, { layer: 1 })); // flatten: the same values
      m.dispose();
    });
  }

  test('overlapping 3×3 stride 2 pooling (the paper) and 2×2', () => {
    for (const [P, S] of [[3, 2], [2, 2]]) {
      const m = tn.sequential({ inputShape: [9, 8, 4], layers: [L.maxPool2d({ poolSize: P, strides: S }), L.dense({ units: 2 })] });
      const x = testValues(2 * 9 * 8 * 4, P);
      expectNear(m.activations(x, { layer: 0 }), pool64(x, 2, [9, 8, 4], P, P, S, S, false).y, 0);
      m.dispose();
    }
  });
});

describe('gradients against finite differences (public API, fixed dropout step)', () => {
  const mse = (model: tn.Sequential) => model.compile({ optimizer: tn.optimizers.sgd(), loss: 'meanSquaredError' });
  const targets = (n: number, d: number) => testValues(n * d, 77, -1, 1);

  test('1×1 kernel, batch 1, tanh, no pooling', () => {
    const m = tn.sequential({ inputShape: [3, 4, 2], seed: 1, layers: [
      L.conv2d({ filters: 3, kernelSize: 1, activation: 'tanh' }), L.flatten(), L.dense({ units: 2 })] });
    mse(m);
    gradCheck(m, testValues(3 * 4 * 2, 2), targets(1, 2), 0);
    m.dispose();
  });

  test('two convs (the input gradient of conv), stride 2 same, odd sizes, dropout on the maps, overlapping pool', () => {
    const m = tn.sequential({ inputShape: [7, 6, 2], seed: 2, layers: [
      L.dropout({ keep: 0.8 }),
      L.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' }),
      L.dropout({ keep: 0.75, convention: 'inverted' }),
      L.conv2d({ filters: 4, kernelSize: [2, 3], padding: 'valid', activation: 'sigmoid' }),
      L.maxPool2d({ poolSize: 3, strides: 2, padding: 'same' }),
      L.gaussianDropout({ keep: 0.8 }),
      L.flatten(),
      L.dense({ units: 3 }),
    ] });
    mse(m);
    gradCheck(m, testValues(3 * 7 * 6 * 2, 3), targets(3, 3), 5);
    m.dispose();
  });

  test('a 5×5 conv on 8 channels (Winograd F(2×2, 5×5) in all three passes), odd size, batch 2', () => {
    const m = tn.sequential({ inputShape: [7, 5, 8], seed: 6, layers: [
      L.conv2d({ filters: 4, kernelSize: 5, padding: 'same', activation: 'tanh' }), // the first conv: forward and dW
      L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'tanh' }),
      L.conv2d({ filters: 4, kernelSize: 5, padding: 'same', activation: 'tanh' }), // also dx
      L.flatten(),
      L.dense({ units: 2 }),
    ] });
    mse(m);
    gradCheck(m, testValues(2 * 7 * 5 * 8, 12), targets(2, 2), 0);
    m.dispose();
  });

  test('relu + 2×2 pool + maxout conv without bias, softmax cross-entropy', () => {
    const m = tn.sequential({ inputShape: [6, 6, 1], seed: 4, layers: [
      L.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'maxout', pieces: 2, useBias: false }),
      L.maxPool2d({ poolSize: 2 }),
      L.conv2d({ filters: 3, kernelSize: 3, activation: 'relu' }),
      L.dense({ units: 3, activation: 'softmax' }), // dense flattens its [1, 1, 3] input
    ] });
    m.compile({ optimizer: tn.optimizers.sgd() });
    gradCheck(m, testValues(4 * 36, 9), Int32Array.from([0, 2, 1, 2]), 0, 5e-4); // small steps: max-pool and maxout ties are kinks
    m.dispose();
  });
});

describe('conv models do what dense models do', () => {
  // a small image task: the class is which quadrant holds the bright blob
  function images(n: number, seed: number) {
    const x = new Float32Array(n * 64), y = new Int32Array(n);
    const noise = testValues(n * 64, seed, 0, 0.3);
    for (let i = 0; i < n; i++) {
      const c = (i * 7 + seed) % 4;
      y[i] = c;
      const r0 = c < 2 ? 1 : 5, c0 = c % 2 ? 5 : 1;
      for (let p = 0; p < 64; p++) {
        const r = p >> 3, q = p & 7;
        x[i * 64 + p] = noise[i * 64 + p] + (r >= r0 && r < r0 + 2 && q >= c0 && q < c0 + 2 ? 1 : 0);
      }
    }
    return { x, y };
  }
  const net = (seed = 1) => tn.sequential({ inputShape: [8, 8, 1], seed, layers: [
    L.dropout({ keep: 0.9 }),
    L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', maxNorm: 2 }),
    L.maxPool2d({ poolSize: 2 }),
    L.dropout({ keep: 0.75 }),
    L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', maxNorm: 2 }),
    L.maxPool2d({ poolSize: 2 }),
    L.dropout({ keep: 0.75 }),
    L.flatten(),
    L.dense({ units: 16, activation: 'relu', maxNorm: 2 }),
    L.dropout({ keep: 0.5 }),
    L.dense({ units: 4 }),
  ] });
  const sgd = () => tn.optimizers.sgd({
    learningRate: tn.schedules.exponentialDecay({ initial: 0.1, rate: 0.95 }), momentum: { start: 0.5, end: 0.9, epochs: 4 }, dampening: true,
  });

  test('fit learns; max-norm holds per filter; the same seed is bit-identical', async () => {
    const { x, y } = images(400, 1), test = images(200, 2);
    const m = net();
    m.compile({ optimizer: sgd() });
    const h = await m.fit(x, y, { epochs: 8, batchSize: 20, validationData: [test.x, test.y] });
    expect(h.loss[h.loss.length - 1]).toBeLessThan(h.loss[0]);
    expect(m.evaluate(test.x, test.y).error).toBeLessThan(0.2);
    for (const { kernel, shape } of m.getWeights()) {
      const rows = shape[0], cols = kernel.length / rows;
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let j = 0; j < cols; j++) s += kernel[r * cols + j] ** 2;
        expect(Math.sqrt(s)).toBeLessThanOrEqual(2 * (1 + 1e-5));
      }
    }
    const m2 = net();
    m2.compile({ optimizer: sgd() });
    await m2.fit(x, y, { epochs: 8, batchSize: 20 });
    expect(Buffer.from(m2.parameters().buffer).equals(Buffer.from(m.parameters().buffer))).toBe(true);
    m.dispose(); m2.dispose();
  });

  test('weight scaling = foldDropout (no dropout left); MC averaging approaches it; uncertainty shapes', async () => {
    const { x, y } = images(200, 3);
    const m = net(5);
    m.compile({ optimizer: sgd() });
    await m.fit(x, y, { epochs: 3, batchSize: 20 });
    const p = m.predict(x);
    const folded = m.foldDropout();
    expect(folded.config.layers.some((s) => s.type === 'dropout')).toBe(false);
    const q = folded.predict(x);
    for (let i = 0; i < p.length; i++) expect(Math.abs(p[i] - q[i])).toBeLessThan(1e-5);
    // the mean of 40 thinned networks is much closer to weight scaling than one thinned network
    const dist = (a: Float32Array) => a.reduce((s, v, i) => s + Math.abs(v - p[i]), 0) / a.length;
    const mc = m.predict(x, { mc: 40 }), one = m.predict(x, { sample: 0 });
    expect(dist(mc)).toBeLessThan(0.5 * dist(one));
    expect(dist(mc)).toBeGreaterThan(0); // and not the same thing
    const u = m.predictWithUncertainty(x.subarray(0, 640), { samples: 10 });
    expect(u.mean.length).toBe(40);
    expect(u.entropy.length).toBe(10);
    expect(u.mutualInformation.every((v) => v >= -1e-6)).toBe(true);
    m.dispose(); folded.dispose();
  });

  test('dropout on feature maps: per element, the paper\'s r∗x in training', () => {
    const m = tn.sequential({ inputShape: [10, 10, 4], layers: [L.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }), L.dropout({ keep: 0.75 }), L.dense({ units: 2 })] });
    const x = testValues(20 * 400, 4);
    const maps = m.activations(x, { layer: 0 });
    const dropped = m.activations(x, { layer: 1, training: true, step: 3 });
    let kept = 0;
    for (let i = 0; i < maps.length; i++) {
      if (dropped[i] === maps[i]) kept++;
      else expect(dropped[i]).toBe(0);
    }
    const rate = kept / maps.length; // 16,000 elements: sd of the rate ≈ 0.0034
    expect(Math.abs(rate - 0.75)).toBeLessThan(0.015);
    expect(m.activations(x, { layer: 1 })).toEqual(maps.map((v) => Math.fround(v * 0.75)));
    m.dispose();
  });

  test('save → load is bit-exact; a checkpoint resumes bit for bit', async () => {
    const { x, y } = images(120, 6);
    const a = net(7);
    a.compile({ optimizer: sgd() });
    await a.fit(x, y, { epochs: 2, batchSize: 20 });
    const ckpt = a.toBytes({ optimizer: true });
    const b = await tn.loadModel(a.toBytes());
    expect(b.config).toEqual(a.config);
    expect(Buffer.from(b.predict(x).buffer).equals(Buffer.from(a.predict(x).buffer))).toBe(true);
    expect(Buffer.from(b.predict(x, { mc: 3 }).buffer).equals(Buffer.from(a.predict(x, { mc: 3 }).buffer))).toBe(true);
    await a.fit(x, y, { epochs: 2, batchSize: 20 });
    const c = await tn.loadModel(ckpt);
    c.compile({ optimizer: sgd() });
    await c.fit(x, y, { epochs: 2, batchSize: 20 });
    expect(c.epoch).toBe(4);
    expect(Buffer.from(c.parameters().buffer).equals(Buffer.from(a.parameters().buffer))).toBe(true);
    expect(a.summary()).toMatch(/conv2d filters=8 kernel=3×3 strides=1×1 padding=same activation=relu maxNorm=2 → \[8, 8, 8\]/);
    expect(a.summary()).toMatch(/flatten  → \[32\]/);
    for (const m of [a, b, c]) m.dispose();
  });

  test('2 threads give bit-identical training, predictions and MC predictions', async () => {
    const { x, y } = images(300, 8);
    const run = async () => {
      const m = tn.sequential({ inputShape: [8, 8, 1], seed: 3, layers: [
        L.dropout({ keep: 0.9 }),
        L.conv2d({ filters: 32, kernelSize: 5, padding: 'same', activation: 'relu', maxNorm: 3 }),
        L.maxPool2d({ poolSize: 2 }),
        L.dropout({ keep: 0.75 }),
        L.conv2d({ filters: 24, kernelSize: 5, padding: 'same', activation: 'relu' }), // Winograd: C = 32, F = 24
        L.dense({ units: 4 }),
      ] });
      m.compile({ optimizer: sgd() });
      await m.fit(x, y, { epochs: 2, batchSize: 100 });
      const r = { params: m.parameters(), p: m.predict(x), mc: m.predict(x, { mc: 3 }) };
      m.dispose();
      return r;
    };
    const one = await run();
    await tn.close();
    expect((await tn.ready({ threads: 2 })).threads).toBe(2);
    const two = await run();
    await tn.close();
    await tn.ready({ threads: 1 });
    for (const k of ['params', 'p', 'mc'] as const) expect(Buffer.from(two[k].buffer).equals(Buffer.from(one[k].buffer))).toBe(true);
  });
});

describe('bad conv shapes and options are clear errors naming the layer and the shape', () => {
  test('shapes', () => {
    expect(() => tn.sequential({ inputShape: [784], layers: [L.conv2d({ filters: 2, kernelSize: 3 }), L.dense({ units: 2 })] }))
      .toThrow(/layer 0 \(conv2d\) needs inputs of shape \[H, W, C\], got \[784\] \(for images give inputShape \[H, W, C\]/);
    expect(() => tn.sequential({ inputShape: [4, 4, 1], layers: [L.conv2d({ filters: 2, kernelSize: 5 }), L.dense({ units: 2 })] }))
      .toThrow(/layer 0 \(conv2d\): the 5×5 kernel is larger than its 4×4 input with padding 'valid'/);
    expect(() => tn.sequential({ inputShape: [4, 4, 1], layers: [L.conv2d({ filters: 2, kernelSize: 3 }), L.maxPool2d({ poolSize: 3 }), L.dense({ units: 2 })] }))
      .toThrow(/layer 1 \(maxPool2d\): the 3×3 window is larger than its 2×2 input/);
    expect(() => tn.sequential({ inputShape: [4, 4, 1], layers: [L.flatten(), L.maxPool2d(), L.dense({ units: 2 })] }))
      .toThrow(/layer 1 \(maxPool2d\) needs inputs of shape \[H, W, C\], got \[16\]/);
    // 'same' takes any kernel size
    const m = tn.sequential({ inputShape: [2, 3, 1], layers: [L.conv2d({ filters: 2, kernelSize: 7, padding: 'same' }), L.dense({ units: 2 })] });
    expect(m.getWeights()[0].shape).toEqual([2, 7, 7, 1]);
    m.dispose();
  });

  test('options', () => {
    expect(() => L.conv2d({ filters: 1.5, kernelSize: 3 })).toThrow(/thinnet.layers.conv2d: filters must be a positive integer/);
    expect(() => L.conv2d({ filters: 2, kernelSize: [3, 0] as any })).toThrow(/kernelSize must be a positive integer/);
    expect(() => L.conv2d({ filters: 2, kernelSize: [3, 3, 3] as any })).toThrow(/kernelSize must be a positive integer or a pair/);
    expect(() => L.conv2d({ filters: 2, kernelSize: 3, strides: '2' as any })).toThrow(/strides must be a positive integer/);
    expect(() => L.conv2d({ filters: 2, kernelSize: 3, padding: 'full' as any })).toThrow(/padding must be one of 'valid', 'same'/);
    expect(() => L.conv2d({ filters: 2, kernelSize: 3, maxNorm: -1 })).toThrow(/maxNorm must be a finite number > 0/);
    expect(() => L.conv2d({ filters: 2, kernelSize: 3, kernalSize: 3 } as any)).toThrow(/unknown option 'kernalSize'/);
    expect(() => L.maxPool2d({ poolSize: 0 })).toThrow(/thinnet.layers.maxPool2d: poolSize must be a positive integer/);
    expect(L.maxPool2d({ poolSize: 3, strides: 2 })).toEqual({ type: 'maxPool2d', poolSize: [3, 3], strides: [2, 2], padding: 'valid' });
    expect(L.conv2d({ filters: 4, kernelSize: 5 })).toEqual({
      type: 'conv2d', filters: 4, kernelSize: [5, 5], strides: [1, 1], padding: 'valid', activation: 'linear', kernelInitializer: 'glorotUniform',
    });
  });
});
