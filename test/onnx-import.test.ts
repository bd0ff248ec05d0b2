// ONNX import: PyTorch's exports (test/fixtures/onnx, made by scripts/make-onnx-fixtures.py with
// torch 1.13) become thinnet models whose predictions equal PyTorch's eval outputs, whose
// Monte-Carlo predictions agree with PyTorch's train-mode averages, and which fine-tune and save;
// thinnet's own exports come back as the same model; bad files are clear errors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';
import { Model } from '../src/io/onnx/schema';
import { encode } from '../src/io/onnx/writer';


const FIX = join(__dirname, 'fixtures', 'onnx');
const manifest = JSON.parse(readFileSync(join(FIX, 'manifest.json'), 'utf8')) as {
  models: Record<string, { input: string; input_shape: number[]; output_shape: number[]; mc_mean?: number[]; mc_samples?: number }>;
};
const f32 = (file: string) => { const b = readFileSync(join(FIX, file)); return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)); };

/** PyTorch's NCHW rows → thinnet's NHWC rows. */
function nchwToNhwc(x: Float32Array, [n, c, h, w]: number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
    out[((i * h + y) * w + xx) * c + ch] = x[((i * c + ch) * h + y) * w + xx];
  }
  return out;
}

function inputsOf(name: string): Float32Array {
  const m = manifest.models[name];
  const x = f32(m.input);
  return m.input_shape.length === 4 ? nchwToNhwc(x, m.input_shape) : x;
}

/** Largest |a − b| / max(|b|, 1): relative error for outputs of size ≥ 1, absolute below (logits near 0). */
function maxRel(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), 1));
  return m;
}

beforeAll(async () => { await tn.ready({ threads: 1 }); });
afterAll(async () => { await tn.close(); });

const MODELS = ['mlp', 'mlp-eval', 'matmul-sigmoid-softmax', 'cnn', 'rgb-cnn'];

describe('PyTorch exports → thinnet', () => {
  for (const name of MODELS) {
    test(`${name}: predict = PyTorch eval output to 1e-5`, async () => {
      const m = await tn.io.loadOnnx(join(FIX, `${name}.onnx`));
      const want = f32(`${name}.expected.bin`);
      const got = m.predict(inputsOf(name));
      expect(maxRel(got, want)).toBeLessThan(1e-5);
      m.dispose();
    });
  }

  test('the mapping: layers, conventions and loss as documented', async () => {
    const mlp = await tn.io.loadOnnx(readFileSync(join(FIX, 'mlp.onnx')));
    expect(mlp.config.layers.map((l) => [l.type, l.activation ?? l.convention ?? '', l.units ?? l.keep])).toEqual([
      ['dense', 'relu', 64], ['dropout', 'inverted', Math.fround(0.5)], ['dense', 'tanh', 32], ['dropout', 'inverted', Math.fround(0.8)], ['dense', 'linear', 10]]);
    expect(mlp.loss).toBe('meanSquaredError'); // logits out: predict returns them as PyTorch does
    const eval_ = await tn.io.loadOnnx(readFileSync(join(FIX, 'mlp-eval.onnx')));
    expect(eval_.config.layers.some((l) => l.type === 'dropout')).toBe(false); // torch's eval export has no Dropout
    const sm = await tn.io.loadOnnx(readFileSync(join(FIX, 'matmul-sigmoid-softmax.onnx')));
    expect(sm.loss).toBe('softmaxCrossEntropy');
    expect(sm.config.layers.map((l) => [l.type, l.activation])).toEqual([['dense', 'sigmoid'], ['dropout', undefined], ['dense', 'softmax']]);
    const cnn = await tn.io.loadOnnx(readFileSync(join(FIX, 'cnn.onnx')));
    expect(cnn.inputShape).toEqual([28, 28, 1]);
    expect(cnn.config.layers.map((l) => l.type)).toEqual(['conv2d', 'maxPool2d', 'dropout', 'conv2d', 'maxPool2d', 'flatten', 'dense', 'dropout', 'dense']);
    expect(cnn.config.layers[0].padding).toBe('same');
    const rgb = await tn.io.loadOnnx(readFileSync(join(FIX, 'rgb-cnn.onnx')));
    expect(rgb.inputShape).toEqual([12, 12, 3]);
    for (const m of [mlp, eval_, sm, cnn, rgb]) m.dispose();
  });

  for (const name of ['mlp', 'matmul-sigmoid-softmax', 'cnn']) {
    test(`${name}: Monte-Carlo dropout agrees with PyTorch's train-mode average`, async () => {
      const info = manifest.models[name];
      const m = await tn.io.loadOnnx(join(FIX, `${name}.onnx`));
      const rows = m.inputSize * 4;
      const K = info.mc_samples!;
      const u = m.predictWithUncertainty(inputsOf(name).subarray(0, rows), { samples: K });
      const det = m.predict(inputsOf(name).subarray(0, rows));
      let moved = 0;
      info.mc_mean!.forEach((torchMean, i) => {
        // both are means of K samples of the same distribution: their difference has variance 2·var/K
        const se = Math.sqrt((2 * u.variance[i]) / K);
        expect(Math.abs(u.mean[i] - torchMean)).toBeLessThan(5 * se + 1e-4);
        moved = Math.max(moved, Math.abs(u.mean[i] - det[i]));
      });
      expect(Math.max(...u.variance)).toBeGreaterThan(1e-4); // the dropout layers really are stochastic
      m.dispose();
    });
  }

  test('an imported conv net fine-tunes (loss falls), saves and reloads bit for bit', async () => {
    const m = await tn.io.loadOnnx(join(FIX, 'cnn.onnx'), { seed: 3 });
    const { train } = await tn.data.loadMnist();
    const x = train.x.subarray(0, 512 * 784), y = train.y.subarray(0, 512);
    m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.02, momentum: 0.9 }), loss: 'softmaxCrossEntropy' });
    const before = m.evaluate(x, y).loss;
    await m.fit(x, y, { epochs: 2, batchSize: 32 });
    const after = m.evaluate(x, y).loss;
    expect(after).toBeLessThan(before);
    const again = await tn.loadModel(m.toBytes());
    expect(Buffer.from(again.predict(x.subarray(0, 10 * 784)).buffer).equals(Buffer.from(m.predict(x.subarray(0, 10 * 784)).buffer))).toBe(true);
    again.dispose();
    m.dispose();
  });
});

describe('thinnet → ONNX → thinnet', () => {
  test('the same layers (paper/inverted/Gaussian dropout, maxout, conv, pool) and the same predictions', async () => {
    const m = tn.sequential({ inputShape: [12, 12, 2], seed: 8, layers: [
      tn.layers.dropout({ keep: 0.9 }),
      tn.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'maxout', pieces: 2 }),
      tn.layers.maxPool2d({ poolSize: 2 }),
      tn.layers.gaussianDropout({ keep: 0.8 }),
      tn.layers.flatten(),
      tn.layers.dense({ units: 12, activation: 'maxout', pieces: 3 }),
      tn.layers.dropout({ keep: 0.5, convention: 'inverted' }),
      tn.layers.dense({ units: 4, activation: 'softmax' }),
    ] });
    const back = await tn.io.loadOnnx(await m.toOnnx(), { seed: 8 });
    // the same specs, keep as thinnet quantizes it (the export writes the p its kernels use)
    const strip = (ls: readonly tn.LayerSpec[]) => ls.map(({ kernelInitializer: _k, ...rest }) =>
      (rest.keep === undefined ? rest : { ...rest, keep: rest.type === 'dropout' ? tn.quantizeKeep(rest.keep as number).p : Number((rest.keep as number).toFixed(6)) }));
    expect(strip(back.config.layers)).toEqual(strip(m.config.layers));
    const x = new Float32Array(5 * 288).map((_, i) => Math.sin(i));
    expect(maxRel(back.predict(x), m.predict(x))).toBeLessThan(1e-6);
    back.dispose();
    m.dispose();
  });

  test("an image MLP (dense on [6, 5, 2] images) comes back channels last: thinnet's 4-D inputs are NHWC, not PyTorch's NCHW", async () => {
    const m = tn.sequential({ inputShape: [6, 5, 2], seed: 4, layers: [tn.layers.dropout({ keep: 0.8 }), tn.layers.dense({ units: 7, activation: 'tanh' }), tn.layers.dense({ units: 3 })] });
    const back = await tn.io.loadOnnx(await m.toOnnx());
    expect(back.inputShape).toEqual([6, 5, 2]);
    const x = new Float32Array(4 * 60).map((_, i) => Math.sin(3 * i));
    expect(maxRel(back.predict(x), m.predict(x))).toBeLessThan(1e-6);
    back.dispose();
    m.dispose();
  });
});

/** A protobuf varint. */
const varint = (v: number): number[] => { const out = []; while (v > 127) { out.push((v & 127) | 128); v = Math.floor(v / 128); } out.push(v); return out; };
const field = (num: number, payload: number[]) => [...varint((num << 3) | 2), ...varint(payload.length), ...payload];

describe('bad files', () => {
  test('an unsupported op is an error naming the op and the node', async () => {
    await expect(tn.io.loadOnnx(join(FIX, 'unsupported-batchnorm.onnx'))).rejects.toThrow(/unsupported op 'BatchNormalization' \(node '[^']+'\)/);
  });

  test('truncated, empty, garbage and non-ONNX bytes: clear errors', async () => {
    const bytes = readFileSync(join(FIX, 'mlp.onnx'));
    for (const cut of [1, 10, 100, bytes.length >> 1, bytes.length - 1]) {
      await expect(tn.io.loadOnnx(bytes.subarray(0, cut))).rejects.toThrow(/thinnet\.loadOnnx: (not a valid ONNX file: .*(truncated|malformed|index out of range)|the file has no graph)/);
    }
    await expect(tn.io.loadOnnx(new Uint8Array(0))).rejects.toThrow(/the file is empty/);
    await expect(tn.io.loadOnnx(new TextEncoder().encode('{"format": "thinnet-model"}'))).rejects.toThrow(/thinnet\.loadOnnx: not a valid ONNX file/);
    await expect(tn.io.loadOnnx(new Uint8Array([0x08, 0x07]))).rejects.toThrow(/no graph/);
    await expect(tn.io.loadOnnx(42 as never)).rejects.toThrow(/source must be a Uint8Array/);
  });

  test('unknown fields are skipped; absurdly nested groups and bad wire types are errors, not crashes', async () => {
    const tag = varint((99 << 3) | 3); // start-group of an unknown field 99, nested 100 000 deep
    const nested = new Uint8Array(tag.length * 100_000);
    for (let i = 0; i < 100_000; i++) nested.set(tag, i * tag.length);
    await expect(tn.io.loadOnnx(nested)).rejects.toThrow(/thinnet\.loadOnnx: not a valid ONNX file: malformed protobuf/);
    await expect(tn.io.loadOnnx(new Uint8Array([(7 << 3) | 0, 1]))).rejects.toThrow(/wire type 0 for the message field graph/);
    await expect(tn.io.loadOnnx(new Uint8Array([(7 << 3) | 7, 1]))).rejects.toThrow(/wire type 7 for the message field graph/);
    await expect(tn.io.loadOnnx(new Uint8Array([...varint((99 << 3) | 7), 1]))).rejects.toThrow(/not a valid ONNX file: malformed protobuf near byte \d+ of 3: invalid wire type 7/);
    // an unknown field of every valid wire type is skipped (the file then has no graph)
    const unknown = [...varint((99 << 3) | 0), 5, ...varint((98 << 3) | 1), 0, 0, 0, 0, 0, 0, 0, 0, ...varint((97 << 3) | 5), 0, 0, 0, 0, ...field(96, [1, 2, 3])];
    await expect(tn.io.loadOnnx(new Uint8Array(unknown))).rejects.toThrow(/the file has no graph/);
  });

  test('declared sizes larger than the file are refused before allocating', async () => {
    // ModelProto.graph (field 7) claiming 2^31 − 1 bytes, in a 10-byte file
    const huge = new Uint8Array([...varint((7 << 3) | 2), ...varint(2 ** 31 - 1), 0, 0, 0]);
    await expect(tn.io.loadOnnx(huge)).rejects.toThrow(/truncated: a field declares 2147483647 bytes but only 3 remain/);
    // a valid nesting whose initializer declares dims [65536, 65536, 65536] with 4 bytes of data
    const dims = [...varint((1 << 3) | 2), ...((p) => [...varint(p.length), ...p])([...varint(65536), ...varint(65536), ...varint(65536)])];
    const tensor = [...dims, ...varint((2 << 3) | 0), 1, ...field(8, [...new TextEncoder().encode('w')]), ...field(9, [0, 0, 0, 0])];
    const input = field(1, [...new TextEncoder().encode('x')]);
    const node = [...field(1, [...new TextEncoder().encode('x')]), ...field(1, [...new TextEncoder().encode('w')]), ...field(2, [...new TextEncoder().encode('y')]),
      ...field(4, [...new TextEncoder().encode('MatMul')])];
    const tt = field(1, [...varint((1 << 3) | 0), 1, ...field(2, [...field(1, [...varint((1 << 3) | 0), 1]), ...field(1, [...varint((1 << 3) | 0), 4])])]);
    const graph = [...field(1, node), ...field(5, tensor), ...field(11, [...input, ...field(2, tt)]), ...field(12, field(1, [...new TextEncoder().encode('y')]))];
    const model = new Uint8Array([...varint((1 << 3) | 0), 7, ...field(7, graph), ...field(8, [...varint((2 << 3) | 0), 13])]);
    await expect(tn.io.loadOnnx(model)).rejects.toThrow(/initializer 'w' declares \[65536, 65536, 65536\], more than 268435456 elements/);
  });

  test('graphs thinnet cannot express: branches, padding it lacks, symbolic shapes, external data', async () => {
    const w = (name: string, dims: number[]) => ({ name, dims, data_type: 1, float_data: new Array(dims.reduce((a, b) => a * b, 1)).fill(0.5) });
    const vi = (name: string, dims: Array<number | string>) => ({ name, type: { tensor_type: { elem_type: 1, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) } } } });
    const model = (nodes: object[], inits: object[], input: object, output = 'y') => encode(Model, {
      ir_version: 7, opset_import: [{ domain: '', version: 13 }],
      graph: { node: nodes, initializer: inits, input: [input], output: [vi(output, ['N', 2])] },
    });
    const gemm = (x: string, y: string, name = 'fc') => ({ op_type: 'Gemm', name, input: [x, 'w', 'b'], output: [y], attribute: [{ name: 'transB', type: 2, i: 1 }] });
    const fc = [w('w', [2, 4]), w('b', [2])];
    // sanity: the tiny graph itself imports
    const ok = await tn.io.loadOnnx(model([gemm('x', 'y')], fc, vi('x', ['N', 4])));
    expect([...ok.predict(new Float32Array(4).fill(1))]).toEqual([2.5, 2.5]);
    ok.dispose();
    await expect(tn.io.loadOnnx(model([{ op_type: 'Relu', name: 'r', input: ['x'], output: ['a'] }, { op_type: 'Tanh', name: 'side', input: ['x'], output: ['c'] }, gemm('a', 'y')], fc, vi('x', ['N', 4]))))
      .rejects.toThrow(/node 'side' \(Tanh\) reads 'x', an earlier value of the data path: the graph branches/);
    await expect(tn.io.loadOnnx(model([gemm('x', 'y')], fc, vi('x', ['N', 4]), 'other'))).rejects.toThrow(/output 'other' is not the end of its chain/);
    await expect(tn.io.loadOnnx(model([gemm('x', 'y')], [{ ...w('w', [2, 4]), float_data: [NaN, 0, 0, 0, 0, 0, 0, 0] }, w('b', [2])], vi('x', ['N', 4]))))
      .rejects.toThrow(/1 of the 10 weights are NaN or infinite/);
    await expect(tn.io.loadOnnx(model([gemm('x', 'y')], [{ ...w('w', [2, 4]), float_data: [1, 2, 3] }, w('b', [2])], vi('x', ['N', 4]))))
      .rejects.toThrow(/initializer 'w': \[2, 4\] needs 8 values, the file has 3/);
    await expect(tn.io.loadOnnx(model([gemm('x', 'y')], fc, vi('x', ['N', 'F'])))).rejects.toThrow(/dimension 1 of the input 'x' is symbolic \('F'\)/);
    await expect(tn.io.loadOnnx(model([gemm('x', 'y')], fc, vi('x', ['N', 5])))).rejects.toThrow(/node 'fc': the weight takes 4 inputs but the tensor has 5 features/);
    await expect(tn.io.loadOnnx(model([gemm('x', 'y')], [{ ...w('w', [2, 4]), data_location: 1 }, w('b', [2])], vi('x', ['N', 4])))).rejects.toThrow(/initializer 'w' keeps its data in an external file/);
    // torch's Conv2d(k=3, stride=2, padding=1) on 28×28 pads [1, 1, 1, 1]; TensorFlow's 'same' would pad [0, 0, 1, 1]
    const conv = { op_type: 'Conv', name: 'c1', input: ['x', 'k'], output: ['h'], attribute: [{ name: 'strides', type: 7, ints: [2, 2] }, { name: 'pads', type: 7, ints: [1, 1, 1, 1] }] };
    await expect(tn.io.loadOnnx(model([conv, { op_type: 'Flatten', name: 'f', input: ['h'], output: ['g'] }, gemm('g', 'y')], [w('k', [1, 1, 3, 3]), ...fc], vi('x', ['N', 1, 28, 28]))))
      .rejects.toThrow(/node 'c1': padding \[1, 1, 1, 1\] on a 28×28 input is neither thinnet's 'valid' \[0, 0, 0, 0\] nor 'same' \[0, 0, 1, 1\]/);
    await expect(tn.io.loadOnnx(model([{ op_type: 'LogSoftmax', name: 'ls', input: ['x'], output: ['z'] }, gemm('z', 'y')], fc, vi('x', ['N', 4]))))
      .rejects.toThrow(/unsupported op 'LogSoftmax' \(node 'ls'\)/);
  });
});
