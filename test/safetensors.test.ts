// safetensors: the format byte for byte (a header checked by hand against the specification),
// PyTorch state_dicts (test/fixtures/onnx/*.safetensors, written by scripts/make-onnx-fixtures.py
// from torch's state_dict) loading into the equivalent thinnet models with the documented naming
// rule, round trips, and malformed files as clear errors.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';

const FIX = join(__dirname, 'fixtures', 'onnx');
const f32 = (file: string) => { const b = readFileSync(join(FIX, file)); return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)); };
let dir: string;

beforeAll(async () => {
  await tn.ready({ threads: 1 });
  dir = mkdtempSync(join(tmpdir(), 'thinnet-st-'));
});
afterAll(async () => {
  await tn.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A safetensors file from a header string and data bytes, as the specification lays it out. */
function file(header: string, data: number[] | Uint8Array = []): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const le32 = (...xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);

function maxRel(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), 1));
  return m;
}

describe('the format', () => {
  test('a hand-made file per the specification reads back as written (F32, F16, BF16, F64, metadata)', () => {
    const f16 = [0x3c00, 0xc000, 0x3555]; // 1, -2, 0.333251953125
    const bf16 = [0x3f80, 0xc040]; // 1, -3
    const data = new Uint8Array(8 + 6 + 4 + 8);
    data.set(le32(1.5, -2), 0);
    new Uint16Array(data.buffer, 8, 3).set(f16);
    new Uint16Array(data.buffer, 14, 2).set(bf16);
    new DataView(data.buffer).setFloat64(18, 0.1, true);
    const bytes = file('{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"h":{"dtype":"F16","shape":[3],"data_offsets":[8,14]},' +
      '"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[14,18]},"d":{"dtype":"F64","shape":[],"data_offsets":[18,26]}}', data);
    const { tensors, metadata } = tn.io.readSafetensors(bytes);
    expect(metadata).toEqual({ k: 'v' });
    expect([...tensors.get('a')!.data]).toEqual([1.5, -2]);
    expect([...tensors.get('h')!.data]).toEqual([1, -2, 0.333251953125]);
    expect(tensors.get('b')!.shape).toEqual([1, 2]);
    expect([...tensors.get('b')!.data]).toEqual([1, -3]);
    expect(tensors.get('d')!.data[0]).toBe(Math.fround(0.1));
  });

  test('writeSafetensors: u64 LE header length, JSON header padded with spaces to 8 bytes, raw LE float32 data in order', () => {
    const bytes = tn.io.writeSafetensors({ w: { shape: [2, 1], data: new Float32Array([3, 4]) }, b: { shape: [1], data: new Float32Array([-1]) } }, { format: 'pt' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(header.trimEnd()).toBe('{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}');
    expect(/^ *$/.test(header.slice(header.trimEnd().length))).toBe(true);
    expect([...new Float32Array(bytes.slice(8 + n).buffer)]).toEqual([3, 4, -1]);
    expect(bytes.length).toBe(8 + n + 12);
  });

  test('malformed files are errors that say what is wrong', () => {
    const ok = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(5), /shorter than its 8-byte header length/],
      [(() => { const b = file(ok, le32(1, 2)); new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true); return b; })(), /the header claims 1099511627776 bytes but the file has/],
      [file('[1,2]'), /must be a JSON object starting with '\{'/],
      [file('{"a":'), /not UTF-8 JSON/],
      [file('{"a":{"dtype":"F99","shape":[2],"data_offsets":[0,8]}}', le32(1, 2)), /tensor 'a' has unknown dtype "F99"/],
      [file('{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', le32(1, 2)), /tensor 'a' has shape \[-2\]/],
      [file('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', le32(1, 2)), /needs 12 bytes, its offsets span 8/],
      [file('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', le32(1, 2)), /truncated file: tensor 'a' ends at byte 16 of a 8-byte data part/],
      [file(ok, le32(1, 2, 3)), /the tensors cover 8 of the 12 data bytes/],
      [file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', le32(1, 2)), /tensor 'b' starts at byte 4, expected 8 \(overlap/],
      [file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', le32(1, 2)), /starts at byte 4, expected 0 \(hole/],
      [file('{"__metadata__":{"k":1}}'), /__metadata__ must map strings to strings/],
      [file('{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}', new Uint8Array(8)), /tensor 'a' is I64; thinnet reads float tensors/],
    ];
    for (const [bytes, msg] of cases) expect(() => tn.io.readSafetensors(bytes)).toThrow(msg);
  });
});

describe('PyTorch state_dicts ↔ thinnet models', () => {
  test("the mlp fixture's state_dict (nn.Sequential keys 0, 3, 6) loads into the same thinnet MLP: predict = PyTorch eval", async () => {
    const m = tn.sequential({ inputShape: [784], layers: [
      tn.layers.dense({ units: 64, activation: 'relu' }), tn.layers.dropout({ keep: 0.5, convention: 'inverted' }),
      tn.layers.dense({ units: 32, activation: 'tanh' }), tn.layers.dropout({ keep: 0.8, convention: 'inverted' }),
      tn.layers.dense({ units: 10 }),
    ] });
    expect(tn.io.safetensorsNames(m)).toEqual(['0.weight', '0.bias', '3.weight', '3.bias', '6.weight', '6.bias']);
    await tn.io.loadSafetensors(m, join(FIX, 'mlp.safetensors'));
    m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.1 }), loss: 'meanSquaredError' }); // raw outputs, as the torch model's logits
    expect(maxRel(m.predict(f32('mnist32.input.bin')), f32('mlp.expected.bin'))).toBeLessThan(1e-5);
    m.dispose();
  });

  test("the cnn fixture's state_dict (conv [F, C, KH, KW], Linear after a 16-channel flatten) loads with rename: predict = PyTorch eval", async () => {
    const m = tn.sequential({ inputShape: [28, 28, 1], layers: [
      tn.layers.conv2d({ filters: 8, kernelSize: 5, padding: 'same', activation: 'relu' }), tn.layers.maxPool2d({ poolSize: 2 }),
      tn.layers.dropout({ keep: 0.75, convention: 'inverted' }),
      tn.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }), tn.layers.maxPool2d({ poolSize: 2 }),
      tn.layers.flatten(), tn.layers.dense({ units: 32, activation: 'relu' }), tn.layers.dropout({ keep: 0.5, convention: 'inverted' }),
      tn.layers.dense({ units: 10 }),
    ] });
    // one nn.Sequential would number them 0, 4 | 8, 11; the fixture's model has features.{0,4} and head.{0,3}
    expect(tn.io.safetensorsNames(m).filter((k) => k.endsWith('weight'))).toEqual(['0.weight', '4.weight', '8.weight', '11.weight']);
    const rename = (k: string) => { const i = parseInt(k, 10); return i < 7 ? `features.${k}` : `head.${i - 8}${k.slice(String(i).length)}`; };
    await tn.io.loadSafetensors(m, readFileSync(join(FIX, 'cnn.safetensors')), { rename });
    m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.1 }), loss: 'meanSquaredError' });
    expect(maxRel(m.predict(f32('mnist32.input.bin')), f32('cnn.expected.bin'))).toBeLessThan(1e-5);
    // back out in PyTorch's layout: the same tensors as the file torch wrote
    const mine = tn.io.readSafetensors(tn.io.toSafetensors(m, { rename })).tensors;
    const theirs = tn.io.readSafetensors(readFileSync(join(FIX, 'cnn.safetensors'))).tensors;
    expect([...mine.keys()].sort()).toEqual([...theirs.keys()].sort());
    for (const [k, t] of theirs) {
      expect(mine.get(k)!.shape).toEqual(t.shape);
      expect(Buffer.from(mine.get(k)!.data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
    }
    m.dispose();
  });

  test('save → load round trip (atomic write), strictness, missing and mis-shaped tensors; nothing changes on error', async () => {
    const make = (seed: number) => tn.sequential({ inputShape: [6, 6, 3], seed, layers: [
      tn.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'maxout', pieces: 2 }), tn.layers.dense({ units: 5, useBias: false }), tn.layers.dense({ units: 3 })] });
    const a = make(1), b = make(2);
    // conv (0) + its maxout module (1), torch's nn.Flatten (2), the dense (3), the last dense (4)
    expect(tn.io.safetensorsNames(a)).toEqual(['0.weight', '0.bias', '3.weight', '4.weight', '4.bias']);
    expect(tn.io.safetensorsNames(a, { naming: 'spec', prefix: 'net.' })).toEqual(['net.0.weight', 'net.0.bias', 'net.1.weight', 'net.2.weight', 'net.2.bias']);
    const path = join(dir, 'a.safetensors');
    await tn.io.saveSafetensors(a, path);
    const x = new Float32Array(2 * 108).map((_, i) => Math.cos(i));
    expect(Buffer.from(b.predict(x).buffer).equals(Buffer.from(a.predict(x).buffer))).toBe(false);
    await tn.io.loadSafetensors(b, path);
    expect(Buffer.from(b.parameters().buffer).equals(Buffer.from(a.parameters().buffer))).toBe(true);
    const before = b.parameters();
    const bytes = readFileSync(path);
    const extra = tn.io.writeSafetensors({ ...Object.fromEntries(tn.io.readSafetensors(bytes).tensors), 'num_batches_tracked': { shape: [1], data: new Float32Array(1) } });
    await expect(tn.io.loadSafetensors(b, extra)).rejects.toThrow(/tensors the model does not use: num_batches_tracked \(pass \{ strict: false \}/);
    await tn.io.loadSafetensors(b, extra, { strict: false });
    const t = Object.fromEntries(tn.io.readSafetensors(bytes).tensors);
    const { ['4.bias']: _gone, ...missing } = t;
    await expect(tn.io.loadSafetensors(b, tn.io.writeSafetensors(missing))).rejects.toThrow(/the file has no tensor '4.bias' \(layer 2/);
    await expect(tn.io.loadSafetensors(b, tn.io.writeSafetensors({ ...t, '3.weight': { shape: [5, 32], data: new Float32Array(160) } })))
      .rejects.toThrow(/tensor '3.weight' has shape \[5, 32\], layer 1 needs \[5, 64\]/);
    expect(Buffer.from(b.parameters().buffer).equals(Buffer.from(before.buffer))).toBe(true);
    await expect(tn.io.loadSafetensors(b, join(dir, 'nope.safetensors'))).rejects.toThrow(/could not read .*nope\.safetensors/);
    a.dispose();
    b.dispose();
  });
});
