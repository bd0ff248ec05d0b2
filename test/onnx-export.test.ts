// ONNX export checked by an independent runtime: onnxruntime-web (its wasm backend, in Node)
// runs thinnet's exported graphs; its outputs must equal thinnet's weight-scaling predictions to
// 1e-5 relative on MNIST test images, and with training_mode = true it must run thinned
// networks (Monte-Carlo dropout) whose average approaches the deterministic prediction.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';
import { blobs } from './helpers/data';

let dir: string;
let mnist: { x: Float32Array; y: Uint8Array; n: number };
const N = 64;

beforeAll(async () => {
  await tn.ready({ threads: 1 });
  ort.env.wasm.numThreads = 1;
  dir = mkdtempSync(join(tmpdir(), 'thinnet-onnx-'));
  const { test: t } = await tn.data.loadMnist();
  const x = new Float32Array(N * 784);
  for (let i = 0; i < N * 784; i++) x[i] = t.x[i] / 255;
  mnist = { x, y: t.y.subarray(0, N), n: N };
});
afterAll(async () => {
  await tn.close();
  rmSync(dir, { recursive: true, force: true });
});

async function run(bytes: Uint8Array, x: Float32Array, shape: number[], training?: boolean): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const feeds: Record<string, ort.Tensor> = { input: new ort.Tensor('float32', x, shape) };
  if (session.inputNames.includes('training_mode')) feeds.training_mode = new ort.Tensor('bool', [training ?? false], []);
  else expect(training).toBeUndefined();
  const out = await session.run(feeds);
  await session.release();
  return out.output.data as Float32Array;
}

/** max over i of |a − b| / max(|b|, floor): relative error with a floor for values near 0. */
function maxRel(a: Float32Array, b: Float32Array, floor = 1e-3): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), floor));
  return m;
}

/** Trains briefly so that the weights are not the initial ones (and dropout has something to do). */
async function trainOn(m: tn.Sequential, x: Float32Array, y: Uint8Array | Int32Array, epochs = 1) {
  m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }) });
  await m.fit(x, y, { epochs, batchSize: 16 });
}

describe('toOnnx: onnxruntime-web reproduces thinnet', () => {
  test('MLP with paper and inverted dropout, maxout, sigmoid, tanh: = predict to 1e-5 on MNIST test images', async () => {
    const m = tn.sequential({ inputShape: [784], seed: 3, layers: [
      tn.layers.dropout({ keep: 0.8 }),
      tn.layers.dense({ units: 64, activation: 'relu' }),
      tn.layers.dropout({ keep: 0.5 }),
      tn.layers.dense({ units: 32, activation: 'maxout', pieces: 3 }),
      tn.layers.dropout({ keep: 0.7, convention: 'inverted' }),
      tn.layers.dense({ units: 24, activation: 'sigmoid' }),
      tn.layers.dense({ units: 16, activation: 'tanh' }),
      tn.layers.dense({ units: 10 }),
    ] });
    await trainOn(m, mnist.x, mnist.y, 2);
    const bytes = await m.toOnnx();
    const want = m.predict(mnist.x);
    const got = await run(bytes, mnist.x, [N, 784]);
    expect(maxRel(got, want)).toBeLessThan(1e-5);
    // the weight scaling is really there: the same graph without it (all inverted) would differ
    expect(maxRel(got, m.foldDropout().predict(mnist.x))).toBeLessThan(1e-5);
    m.dispose();
  });

  test('conv net (same/valid padding, strided conv, overlapping pool, maxout channels, dropout on feature maps): = predict to 1e-5', async () => {
    const m = tn.sequential({ inputShape: [28, 28, 1], seed: 5, layers: [
      tn.layers.dropout({ keep: 0.9 }),
      tn.layers.conv2d({ filters: 6, kernelSize: 5, padding: 'same', activation: 'relu' }),
      tn.layers.maxPool2d({ poolSize: 3, strides: 2 }),
      tn.layers.dropout({ keep: 0.75 }),
      tn.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'maxout', pieces: 2 }),
      tn.layers.maxPool2d({ poolSize: 2, padding: 'same' }),
      tn.layers.flatten(),
      tn.layers.dense({ units: 20, activation: 'relu' }),
      tn.layers.dropout({ keep: 0.5 }),
      tn.layers.dense({ units: 10 }),
    ] });
    await trainOn(m, mnist.x, mnist.y, 1);
    const want = m.predict(mnist.x);
    const got = await run(await m.toOnnx(), mnist.x, [N, 28, 28, 1]);
    expect(maxRel(got, want)).toBeLessThan(1e-5);
    m.dispose();
  });

  test('multi-channel conv straight into dense (implicit flatten) and a regression output', async () => {
    const { x } = blobs(12, 4 * 4 * 3, 7);
    const m = tn.sequential({ inputShape: [4, 4, 3], seed: 2, layers: [
      tn.layers.conv2d({ filters: 5, kernelSize: 2, activation: 'tanh' }),
      tn.layers.dense({ units: 3 }),
    ] });
    m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.01 }), loss: 'meanSquaredError' });
    const want = m.predict(x);
    const got = await run(await m.toOnnx(), x, [12, 4, 4, 3]);
    expect(maxRel(got, want)).toBeLessThan(1e-5);
    m.dispose();
  });

  test('training_mode = true runs thinned networks: outputs vary, rows are distributions, their mean approaches weight scaling', async () => {
    const m = tn.sequential({ inputShape: [784], seed: 4, layers: [
      tn.layers.dense({ units: 64, activation: 'relu' }),
      tn.layers.dropout({ keep: 0.5 }),
      tn.layers.gaussianDropout({ keep: 0.8 }),
      tn.layers.dense({ units: 10 }),
    ] });
    await trainOn(m, mnist.x, mnist.y, 2);
    const bytes = await m.toOnnx();
    const x = mnist.x.subarray(0, 8 * 784);
    const det = await run(bytes, x, [8, 784], false);
    expect(maxRel(det, m.predict(x))).toBeLessThan(1e-5);
    const session = await ort.InferenceSession.create(bytes);
    const K = 200;
    const mean = new Float64Array(det.length);
    const samples: Float32Array[] = [];
    for (let k = 0; k < K; k++) {
      const out = (await session.run({ input: new ort.Tensor('float32', x, [8, 784]), training_mode: new ort.Tensor('bool', [true], []) })).output.data as Float32Array;
      samples.push(out);
      out.forEach((v, i) => { mean[i] += v / K; });
    }
    await session.release();
    expect(maxRel(samples[0], samples[1])).toBeGreaterThan(1e-3); // stochastic
    for (let r = 0; r < 8; r++) expect(samples[0].subarray(10 * r, 10 * r + 10).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    // thinnet's own MC average of the same network: both estimate the same expectation
    const mc = m.predict(x, { mc: K });
    let d = 0;
    mean.forEach((v, i) => { d = Math.max(d, Math.abs(v - mc[i])); });
    expect(d).toBeLessThan(0.08);
    m.dispose();
  });
});

test('the dropout conventions in training mode: paper gives mask·x, inverted mask·x/p, Gaussian x·N(1, σ²)', async () => {
  // identity dense layers around each dropout, so the graph's output is the dropout's output
  const D = 1000;
  const x = new Float32Array(D).map((_, i) => 0.5 + (i % 7) / 8);
  const eye = new Float32Array(D * D);
  for (let i = 0; i < D; i++) eye[i * D + i] = 1;
  for (const [layer, check] of [
    [tn.layers.dropout({ keep: 0.75 }), (y: number, v: number) => y === 0 || y === v],
    [tn.layers.dropout({ keep: 0.75, convention: 'inverted' }), (y: number, v: number) => y === 0 || Math.abs(y - v / 0.75) <= 1e-6 * v],
  ] as const) {
    const m = tn.sequential({ inputShape: [D], layers: [layer, tn.layers.dense({ units: D, useBias: false })] });
    m.setWeights([{ layer: 1, kernel: eye }]);
    m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.1 }), loss: 'meanSquaredError' });
    const y = await run(await m.toOnnx(), x, [1, D], true);
    expect([...y].every((v, i) => check(v, x[i]))).toBe(true);
    const kept = [...y].filter((v) => v !== 0).length / D;
    expect(Math.abs(kept - 0.75)).toBeLessThan(4 * Math.sqrt(0.75 * 0.25 / D));
    expect(maxRel(await run(await m.toOnnx(), x, [1, D], false), m.predict(x))).toBeLessThan(1e-6);
    m.dispose();
  }
  const g = tn.sequential({ inputShape: [D], layers: [tn.layers.gaussianDropout({ keep: 0.8 }), tn.layers.dense({ units: D, useBias: false })] });
  g.setWeights([{ layer: 1, kernel: eye }]);
  g.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.1 }), loss: 'meanSquaredError' });
  const r = [...await run(await g.toOnnx(), x, [1, D], true)].map((v, i) => v / x[i]);
  const mean = r.reduce((a, b) => a + b, 0) / D, sd = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / D);
  expect(Math.abs(mean - 1)).toBeLessThan(0.07); // σ = 0.5: the standard error of the mean is 0.016
  expect(Math.abs(sd - 0.5)).toBeLessThan(0.05); // and of the sd 0.011
  g.dispose();
});

test('{ trainingModeInput: false }: one input, dropout fixed in inference mode, same predictions', async () => {
  const m = tn.sequential({ inputShape: [784], seed: 9, layers: [
    tn.layers.dropout({ keep: 0.8 }), tn.layers.dense({ units: 16, activation: 'relu' }), tn.layers.dense({ units: 10 })] });
  const bytes = await tn.io.toOnnx(m, { trainingModeInput: false });
  const session = await ort.InferenceSession.create(bytes);
  expect(session.inputNames).toEqual(['input']);
  await session.release();
  expect(maxRel(await run(bytes, mnist.x, [N, 784]), m.predict(mnist.x))).toBeLessThan(1e-5);
  expect((await ort.InferenceSession.create(await m.toOnnx())).inputNames).toEqual(['input', 'training_mode']);
  await expect(tn.io.toOnnx(m, { trainingMode: true } as never)).rejects.toThrow(/unknown option 'trainingMode'/);
  m.dispose();
});

describe('saveOnnx and the CLI', () => {
  test('tn.io.saveOnnx writes the same bytes as toOnnx, atomically (no temporary files left)', async () => {
    const m = tn.sequential({ inputShape: [5], seed: 1, layers: [tn.layers.dense({ units: 3 })] });
    const path = join(dir, 'm.onnx');
    await tn.io.saveOnnx(m, path);
    expect(Buffer.from(readFileSync(path)).equals(Buffer.from(await m.toOnnx()))).toBe(true);
    m.dispose();
  });
});
