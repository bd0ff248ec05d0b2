// Save / load: the binary format, bit-exact round trips, atomic writes, corrupted files.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';
import { blobs } from './helpers/data';
import { crc32 } from '../src/io/crc32';

let dir: string;
beforeAll(async () => {
  await tn.ready({ threads: 1 });
  dir = mkdtempSync(join(tmpdir(), 'thinnet-io-'));
});
afterAll(async () => {
  await tn.close();
  rmSync(dir, { recursive: true, force: true });
});

async function trained(): Promise<tn.Sequential> {
  const m = tn.sequential({ inputShape: [10], seed: 11, layers: [
    tn.layers.dropout({ keep: 0.8 }),
    tn.layers.dense({ units: 16, activation: 'maxout', pieces: 3, maxNorm: 2, kernelInitializer: { normal: 0.1 } }),
    tn.layers.dropout({ keep: 0.5, convention: 'inverted' }),
    tn.layers.gaussianDropout({ keep: 0.9 }),
    tn.layers.dense({ units: 8, activation: 'tanh', useBias: false }),
    tn.layers.dense({ units: 3, activation: 'softmax' }),
  ] });
  const { x, y } = blobs(100, 10);
  m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }) });
  await m.fit(x, y, { epochs: 2, batchSize: 10 });
  return m;
}

const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('save and load', () => {
  test('toBytes → loadModel is bit-exact (weights, predictions, MC predictions, config, step)', async () => {
    const m = await trained();
    const bytes = m.toBytes();
    expect(String.fromCharCode(...bytes.subarray(0, 4))).toBe('TNET');
    expect(new DataView(bytes.buffer).getUint32(4, true)).toBe(1); // no optimizer state: version 1
    expect(bytes.length).toBe(12 + new DataView(bytes.buffer).getUint32(8, true) + 4 * m.paramCount + 4);
    const m2 = await tn.loadModel(bytes);
    expect(same(m2.parameters(), m.parameters())).toBe(true);
    expect(m2.config).toEqual(m.config);
    expect(m2.step).toBe(m.step);
    expect(m2.epoch).toBe(2);
    const { x } = blobs(30, 10, 5);
    expect(same(m2.predict(x), m.predict(x))).toBe(true);
    expect(same(m2.predict(x, { mc: 10 }), m.predict(x, { mc: 10 }))).toBe(true);
    // from an ArrayBuffer too, and the bytes are stable
    const m3 = await tn.loadModel(bytes.slice().buffer);
    expect(m3.toBytes()).toEqual(bytes);
    for (const k of [m, m2, m3]) k.dispose();
  });

  test('save(path) writes atomically; loadModel(path) reads it back; a loaded model can train on', async () => {
    const m = await trained();
    const path = join(dir, 'model.tnet');
    await m.save(path);
    await m.save(path); // overwrite
    expect(readdirSync(dir).filter((f) => f.startsWith('model.tnet'))).toEqual(['model.tnet']);
    expect(new Uint8Array(readFileSync(path))).toEqual(m.toBytes());
    const m2 = await tn.loadModel(path);
    expect(same(m2.parameters(), m.parameters())).toBe(true);
    m2.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.01 }) });
    const { x, y } = blobs(20, 10);
    await m2.fit(x, y, { epochs: 1, batchSize: 10 });
    expect(m2.step).toBe(m.step + 2);
    await expect(m.save(join(dir, 'no', 'such', 'dir', 'm.tnet'))).rejects.toThrow(/could not write/);
    await expect(tn.loadModel(join(dir, 'missing.tnet'))).rejects.toThrow(/could not read/);
    m.dispose(); m2.dispose();
  });

  test('malformed, truncated and corrupted files give clear errors', async () => {
    const m = await trained();
    const good = m.toBytes();
    const H = new DataView(good.buffer).getUint32(8, true);
    const flip = (i: number) => { const b = good.slice(); b[i] ^= 0x10; return b; };
    await expect(tn.loadModel(new Uint8Array(3))).rejects.toThrow(/too short/);
    await expect(tn.loadModel(flip(0))).rejects.toThrow(/bad magic/);
    const v4 = good.slice(); new DataView(v4.buffer).setUint32(4, 4, true);
    await expect(tn.loadModel(v4)).rejects.toThrow(/unsupported format version 4/);
    const v3 = good.slice(); new DataView(v3.buffer).setUint32(4, 3, true); // v3 (int8) without a quantization section
    await expect(tn.loadModel(v3)).rejects.toThrow(/version 3 needs a valid "quantization" section/);
    const v2 = good.slice(); new DataView(v2.buffer).setUint32(4, 2, true); // v2 without an optimizer section
    await expect(tn.loadModel(v2)).rejects.toThrow(/version 2 needs a valid "optimizer" section/);
    await expect(tn.loadModel(good.subarray(0, good.length - 9))).rejects.toThrow(/truncated file/);
    await expect(tn.loadModel(good.subarray(0, 40))).rejects.toThrow(/truncated file/);
    const longer = new Uint8Array(good.length + 4); longer.set(good);
    await expect(tn.loadModel(longer)).rejects.toThrow(/trailing data/);
    await expect(tn.loadModel(flip(12 + H + 4 * 7 + 1))).rejects.toThrow(/checksum mismatch.*corrupted/); // a weight
    await expect(tn.loadModel(flip(good.length - 1))).rejects.toThrow(/checksum mismatch/); // the checksum
    await expect(tn.loadModel(flip(12 + 2))).rejects.toThrow(/corrupted header|checksum mismatch/);
    const hugeHeader = good.slice(); new DataView(hugeHeader.buffer).setUint32(8, 1e9, true);
    await expect(tn.loadModel(hugeHeader)).rejects.toThrow(/truncated file: the header claims/);
    await expect(tn.loadModel('' as never)).rejects.toThrow(/could not read/);
    await expect(tn.loadModel(123 as never)).rejects.toThrow(/must be a Uint8Array, an ArrayBuffer or a file path/);
    const path = join(dir, 'bad.tnet');
    writeFileSync(path, flip(12 + H + 5));
    await expect(tn.loadModel(path)).rejects.toThrow(/checksum mismatch/);
    m.dispose();
  });
});

describe('checkpoints: save with { optimizer: true }, load, compile, train on', () => {
  const net = () => tn.sequential({ inputShape: [10], seed: 5, layers: [
    tn.layers.dropout({ keep: 0.8 }),
    tn.layers.dense({ units: 12, activation: 'relu', maxNorm: 1.5 }),
    tn.layers.dropout({ keep: 0.5 }),
    tn.layers.dense({ units: 3 }),
  ] });
  const sgd = () => tn.optimizers.sgd({ learningRate: tn.schedules.exponentialDecay({ initial: 0.2, rate: 0.9 }),
    momentum: { start: 0.5, end: 0.95, epochs: 3 }, dampening: true, weightDecay: 1e-4 });
  const adam = () => tn.optimizers.adam({ learningRate: 0.01 });
  const { x, y } = blobs(120, 10, 3);

  for (const [name, make] of [['sgd (momentum ramp, decay)', sgd], ['adam', adam]] as const) {
    test(`${name}: 2 epochs + checkpoint + 2 epochs = 4 epochs, bit for bit`, async () => {
      const whole = net();
      whole.compile({ optimizer: make() });
      await whole.fit(x, y, { epochs: 4, batchSize: 10 });

      const first = net();
      first.compile({ optimizer: make() });
      await first.fit(x, y, { epochs: 2, batchSize: 10 });
      const path = join(dir, `ckpt-${name.slice(0, 4)}.tnet`);
      await first.save(path, { optimizer: true });
      const bytes = readFileSync(path);
      expect(bytes.readUInt32LE(4)).toBe(2);
      const slots = name.startsWith('adam') ? 2 : 1;
      expect(bytes.length).toBe(12 + bytes.readUInt32LE(8) + 4 * first.paramCount * (1 + slots) + 4);

      const resumed = await tn.loadModel(path);
      expect(resumed.epoch).toBe(2);
      expect(resumed.step).toBe(first.step);
      expect(same(resumed.predict(x), first.predict(x))).toBe(true); // inference needs no compile
      resumed.compile({ optimizer: make() });
      await resumed.fit(x, y, { epochs: 2, batchSize: 10 });
      expect(resumed.epoch).toBe(4);
      expect(same(resumed.parameters(), whole.parameters())).toBe(true);

      // without the optimizer state the continuation differs (the state is what makes it exact)
      const weightsOnly = await tn.loadModel(first.toBytes());
      weightsOnly.compile({ optimizer: make() });
      await weightsOnly.fit(x, y, { epochs: 2, batchSize: 10 });
      expect(same(weightsOnly.parameters(), whole.parameters())).toBe(false);
      for (const m of [whole, first, resumed, weightsOnly]) m.dispose();
    });
  }

  test('the saved state goes only to an optimizer of the same kind, once; errors name the problem', async () => {
    const m = net();
    expect(() => m.toBytes({ optimizer: true })).toThrow(/needs a compiled model/);
    expect(() => m.toBytes({ optimizer: 'yes' as never })).toThrow(/optimizer must be a boolean/);
    m.compile({ optimizer: sgd() });
    await m.fit(x, y, { epochs: 1, batchSize: 10 });
    const bytes = m.toBytes({ optimizer: true });
    // an Adam compile ignores SGD's velocity: same as a fresh Adam on the loaded weights
    const a = await tn.loadModel(bytes), b = await tn.loadModel(m.toBytes());
    a.compile({ optimizer: adam() });
    b.compile({ optimizer: adam() });
    await a.fit(x, y, { epochs: 1, batchSize: 10 });
    await b.fit(x, y, { epochs: 1, batchSize: 10 });
    expect(same(a.parameters(), b.parameters())).toBe(true);
    // a truncated or flipped optimizer block is caught
    await expect(tn.loadModel(bytes.subarray(0, bytes.length - 8))).rejects.toThrow(/truncated file/);
    const flipped = bytes.slice(); flipped[bytes.length - 12] ^= 1;
    await expect(tn.loadModel(flipped)).rejects.toThrow(/checksum mismatch/);
    for (const k of [m, a, b]) k.dispose();
  });
});

describe('crc32', () => {
  test('known answers (IEEE CRC-32) at every length around the 4-byte step', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(new TextEncoder().encode('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
    // against the bytewise definition for lengths 0..9 of arbitrary bytes
    const bytewise = (b: Uint8Array) => {
      let c = 0xffffffff;
      for (const x of b) { c ^= x; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; }
      return (c ^ 0xffffffff) >>> 0;
    };
    const data = Uint8Array.from({ length: 9 }, (_, i) => (i * 97 + 13) & 0xff);
    for (let n = 0; n <= 9; n++) expect(crc32(data.subarray(0, n))).toBe(bytewise(data.subarray(0, n)));
  });
});
