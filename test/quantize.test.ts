// model.quantize(): int8 inference models (model/quantize.ts, layers/int8-dense.ts, io/quantized.ts).
// A small trained model quantized (dynamic and calibrated) predicts close to the float model;
// save → load is bit-exact and re-saves the same bytes; the simd and relaxed builds and 1 or 2
// threads give identical bits; what an int8 model cannot do, and hostile files, are clear errors.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';
import { encodeFile } from '../src/io/format';
import { blobs } from './helpers/data';

const F = 24;
let model: tn.Sequential;
const data = blobs(600, F, 3);

function net(seed = 1): tn.Sequential {
  return tn.sequential({ inputShape: [F], seed, layers: [
    tn.layers.dropout({ keep: 0.8 }),
    tn.layers.dense({ units: 40, activation: 'relu' }),
    tn.layers.dropout({ keep: 0.5 }),
    tn.layers.dense({ units: 3 }),
  ]});
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

beforeAll(async () => {
  await tn.ready({ threads: 1 });
  model = net();
  model.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }) });
  await model.fit(data.x, data.y, { epochs: 8, batchSize: 20 });
});
afterAll(async () => { await tn.close(); });

describe('quantize', () => {
  test('dynamic and calibrated int8 models predict close to the float model; the float model is unchanged', () => {
    const before = model.predict(data.x);
    const f = model.evaluate(data.x, data.y);
    expect(f.accuracy).toBeGreaterThan(0.8);
    for (const q of [model.quantize(), model.quantize({ calibration: data.x.subarray(0, 200 * F) })]) {
      const e = q.evaluate(data.x, data.y);
      expect(Math.abs(e.accuracy - f.accuracy)).toBeLessThanOrEqual(0.02);
      expect(maxDiff(q.predict(data.x), before)).toBeLessThan(0.05);
      expect(q.config.layers.map((l) => l.type)).toEqual(['dense', 'dense']); // dropout folded
      expect(q.summary()).toContain('dense');
      q.dispose();
    }
    expect(same(model.predict(data.x), before)).toBe(true);
    expect(model.quantization).toBeUndefined();
  });

  test('predict is the same for any batch size, and equals the int8 layers run by hand: parameters() hold the dequantized weights', () => {
    const q = model.quantize();
    expect(q.quantization).toEqual({ activations: 'dynamic' });
    const all = q.predict(data.x);
    expect(same(q.predict(data.x, { batchSize: 7 }), all)).toBe(true);
    expect(same(q.predict(data.x.subarray(5 * F, 6 * F)), all.subarray(15, 18))).toBe(true);
    // the dequantized weights: each unit's row is a multiple of its scale with at most 129 levels
    const w = q.getWeights()[0];
    for (let o = 0; o < 40; o++) {
      const row = w.kernel.subarray(o * F, (o + 1) * F);
      const s = Math.max(...row.map(Math.abs)) / 64;
      for (const v of row) expect(Math.abs(v / s - Math.round(v / s))).toBeLessThan(1e-3);
    }
    q.dispose();
  });

  test('save → load is bit-exact (both kinds), re-saves the same bytes, and the file is about a quarter of the float one', async () => {
    for (const q of [model.quantize(), model.quantize({ calibration: data.x })]) {
      const bytes = q.toBytes();
      expect(new DataView(bytes.buffer).getUint32(4, true)).toBe(3);
      const q2 = await tn.loadModel(bytes);
      expect(q2.quantization).toEqual(q.quantization);
      expect(same(q2.predict(data.x), q.predict(data.x))).toBe(true);
      expect(same(q2.parameters(), q.parameters())).toBe(true);
      expect(Buffer.compare(Buffer.from(q2.toBytes()), Buffer.from(bytes))).toBe(0);
      expect(await q2.contentHash()).toBe(await q.contentHash());
      q.dispose(); q2.dispose();
    }
    const big = tn.sequential({ inputShape: [200], layers: [tn.layers.dense({ units: 100, activation: 'relu' }), tn.layers.dense({ units: 10 })] });
    const qb = big.quantize();
    expect(qb.toBytes().length / big.toBytes().length).toBeLessThan(0.3);
    big.dispose(); qb.dispose();
  });

  test('conv layers stay float; the dense layers after them run int8', () => {
    const conv = tn.sequential({ inputShape: [6, 6, 1], seed: 2, layers: [
      tn.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }),
      tn.layers.flatten(),
      tn.layers.dense({ units: 16, activation: 'relu' }),
      tn.layers.dense({ units: 3 }),
    ]});
    const x = blobs(30, 36, 5).x;
    const q = conv.quantize();
    expect(maxDiff(q.predict(x), conv.predict(x))).toBeLessThan(0.05);
    expect(q.getWeights()[0].kernel).toEqual(conv.getWeights()[0].kernel); // the conv kernel is untouched
    conv.dispose(); q.dispose();
  });

  test('what an int8 model cannot do, and bad options, are clear errors', async () => {
    const q = model.quantize();
    const opt = tn.optimizers.sgd({ learningRate: 0.1 });
    expect(() => q.compile({ optimizer: opt })).toThrow(/int8 \(quantized\) model, which cannot be trained/);
    await expect(q.fit(data.x, data.y)).rejects.toThrow(/cannot be trained/);
    expect(() => q.computeGradients(data.x, data.y)).toThrow(/cannot be trained/);
    expect(() => q.predict(data.x, { mc: 5 })).toThrow(/no dropout layers.*Monte-Carlo/);
    expect(() => q.predict(data.x, { sample: 1 })).toThrow(/Monte-Carlo/);
    expect(() => q.predictWithUncertainty(data.x)).toThrow(/Monte-Carlo/);
    expect(() => q.activations(data.x, { layer: 0, training: true })).toThrow(/Monte-Carlo/);
    expect(() => q.foldDropout()).toThrow(/no dropout layers/);
    await expect(q.toOnnx()).rejects.toThrow(/no ONNX export/);
    expect(() => q.quantize()).toThrow(/quantized already/);
    expect(() => q.toBytes({ optimizer: true })).toThrow(/needs a compiled model/);
    expect(q.activations(data.x, { layer: 0 }).length).toBe(600 * 40); // evaluation-mode activations work
    expect(() => model.quantize({ calibrate: data.x } as never)).toThrow(/unknown option 'calibrate'/);
    expect(() => model.quantize({ calibration: new Float32Array(F + 1) })).toThrow(/quantize/);
    expect(() => model.quantize({ calibration: new Float32Array(0) })).toThrow(/no rows/);
    const nan = net(4);
    const p = nan.parameters(); p[3] = NaN; nan.setParameters(p);
    expect(() => nan.quantize()).toThrow(/NaN or infinite weights/);
    nan.dispose(); q.dispose();
  });

  test('hostile int8 files give clear errors', async () => {
    const q = model.quantize({ calibration: data.x });
    const good = q.toBytes();
    const H = new DataView(good.buffer).getUint32(8, true);
    const header = JSON.parse(new TextDecoder().decode(good.subarray(12, 12 + H)));
    const blocks = [good.subarray(12 + H, good.length - 4)];
    const withHeader = (edit: (h: any) => void, body = blocks) => {
      const h = JSON.parse(JSON.stringify(header)); edit(h);
      return encodeFile(3, h, body);
    };
    const sec = header.quantization;
    const split = (b: Uint8Array) => [b.subarray(0, 4 * sec.restCount), b.subarray(4 * sec.restCount, 4 * sec.restCount + sec.int8Bytes), b.subarray(4 * sec.restCount + sec.int8Bytes)];
    await expect(tn.loadModel(withHeader(() => {}, split(blocks[0])))).resolves.toBeTruthy(); // the reference: re-encoded, loads
    await expect(tn.loadModel(withHeader((h) => { h.quantization.scheme = 'int4'; }))).rejects.toThrow(/unknown quantization scheme/);
    await expect(tn.loadModel(withHeader((h) => { h.quantization.activations = 'static'; }))).rejects.toThrow(/unknown activations/);
    await expect(tn.loadModel(withHeader((h) => { h.quantization.layers.pop(); }))).rejects.toThrow(/must list the 2 dense layers/);
    await expect(tn.loadModel(withHeader((h) => { h.quantization.layers[0].units = 41; }))).rejects.toThrow(/does not match dense layer/);
    await expect(tn.loadModel(withHeader((h) => { h.quantization.layers[1].range = [1, 2]; }))).rejects.toThrow(/finite input range/);
    await expect(tn.loadModel(withHeader((h) => { h.quantization.restCount = -1; }))).rejects.toThrow(/valid "quantization" section/);
    await expect(tn.loadModel(withHeader((h) => { h.quantization.scaleCount += 4; h.quantization.restCount -= 4; }))).rejects.toThrow(/scaleCount|restCount/);
    await expect(tn.loadModel(withHeader((h) => { h.quantization = 7; }))).rejects.toThrow(/valid "quantization" section/);
    const v1 = encodeFile(1, header, blocks);
    await expect(tn.loadModel(v1)).rejects.toThrow(/"quantization" section in a version 1 file|truncated|expected/);
    // an int8 weight outside [−64, 64] with a valid checksum
    const [rest, q8, sc] = split(blocks[0]).map((b) => b.slice());
    q8[3] = 0x80;
    await expect(tn.loadModel(withHeader(() => {}, [rest, q8, sc]))).rejects.toThrow(/int8 weight 3 is -128, outside/);
    const sc2 = sc.slice(); new DataView(sc2.buffer).setFloat32(0, -1, true);
    await expect(tn.loadModel(withHeader(() => {}, [rest, split(blocks[0])[1], sc2]))).rejects.toThrow(/weight scale 0 is -1/);
    const flipped = good.slice(); flipped[12 + H + 4 * sec.restCount + 10] ^= 1;
    await expect(tn.loadModel(flipped)).rejects.toThrow(/checksum mismatch/);
    await expect(tn.loadModel(good.subarray(0, good.length - 3))).rejects.toThrow(/truncated/);
    q.dispose();
  });
});

describe('int8 bits across builds and threads', () => {
  test('the simd and relaxed builds, and 1 or 2 threads, give the same predictions bit for bit', async () => {
    const wide = tn.sequential({ inputShape: [256], seed: 3, layers: [
      tn.layers.dense({ units: 256, activation: 'relu' }), tn.layers.dense({ units: 10 }),
    ]});
    const x = blobs(300, 256, 9).x; // 300 rows: more than a small prediction, so 2 threads split the products
    const files = [wide.quantize().toBytes(), wide.quantize({ calibration: x }).toBytes()];
    wide.dispose();
    const runs: Float32Array[][] = [];
    for (const opts of [{ backend: 'relaxed', threads: 1 }, { backend: 'simd', threads: 1 }, { backend: 'auto', threads: 2 }] as const) {
      await tn.close();
      const info = await tn.ready(opts);
      if (opts.backend !== 'auto') expect(info.backend).toBe(opts.backend);
      const out: Float32Array[] = [];
      for (const f of files) {
        const m = await tn.loadModel(f);
        out.push(m.predict(x), m.predict(x.subarray(0, 256))); // batch 300 (split over threads) and batch 1
        m.dispose();
      }
      runs.push(out);
    }
    for (const r of runs.slice(1)) r.forEach((p, i) => expect(same(p, runs[0][i])).toBe(true));
    await tn.close();
    await tn.ready({ threads: 1 });
  });
});
