// Regression tests for the findings of the hostile-input probe (issue 13) that live in the model,
// the model file and the runtime: disposal / close / a second fit during fit; files whose header
// (with a valid CRC) claims what the architecture does not have; layer specs from files and from
// hand-written configs; non-finite weights, inputs and learning rates; allocation roll-back.
// Worker faults and 32-bit size wraps are in worker-faults.test.ts and heap.test.ts.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';
import { crc32 } from '../src/io/crc32';
import { blobs } from './helpers/data';

beforeAll(async () => { await tn.ready({ threads: 1 }); });
afterAll(async () => { await tn.close(); });

const small = (seed = 1) => tn.sequential({ inputShape: [10], seed, layers: [
  tn.layers.dropout({ keep: 0.8 }), tn.layers.dense({ units: 8, activation: 'relu' }), tn.layers.dense({ units: 3 })] });

/** The file with its header JSON replaced by fn(header) and a valid CRC (blocks as given, or as before). */
function rewrite(bytes: Uint8Array, fn: (h: any) => any, blocks?: Uint8Array): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const H = dv.getUint32(8, true);
  const header = fn(JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + H))));
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (4 - ((12 + json.length) % 4)) % 4;
  const j2 = new Uint8Array(json.length + pad).fill(0x20); j2.set(json); json = j2;
  const body = blocks ?? bytes.subarray(12 + H, bytes.length - 4);
  const out = new Uint8Array(12 + json.length + body.length + 4);
  out.set(bytes.subarray(0, 4));
  const o = new DataView(out.buffer);
  o.setUint32(4, dv.getUint32(4, true), true);
  o.setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(body, 12 + json.length);
  o.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

describe('fit while the model or the runtime goes away', () => {
  test('dispose() in onBatchEnd stops fit with a clear error and frees everything', async () => {
    const { x, y } = blobs(100, 10);
    const warm = small(); // the runtime's per-thread product workspaces stay allocated once made
    warm.compile({ optimizer: tn.optimizers.sgd() });
    await warm.fit(x, y, { batchSize: 10 });
    warm.dispose();
    const before = tn.memoryInfo().allocatedBytes;
    const m = small();
    m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.1 }) });
    await expect(m.fit(x, y, { epochs: 3, batchSize: 10, onBatchEnd: (b) => { if (b === 2) m.dispose(); } }))
      .rejects.toThrow(/thinnet.fit: the model was disposed/);
    expect(tn.memoryInfo().allocatedBytes).toBe(before);
    expect(() => m.predict(x)).toThrow(/disposed/);
  });

  test('dispose() in an async onEpochEnd, and a second fit while one runs', async () => {
    const { x, y } = blobs(60, 10);
    const m = small();
    m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.1 }) });
    const first = m.fit(x, y, { epochs: 2, batchSize: 10 });
    await expect(m.fit(x, y)).rejects.toThrow(/already training \(another fit\(\) call has not finished\)/);
    expect(() => m.compile({ optimizer: tn.optimizers.adam() })).toThrow(/the model is training/);
    await first;
    const m2 = small();
    m2.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.1 }) });
    await expect(m2.fit(x, y, { epochs: 3, onEpochEnd: async () => { await new Promise((r) => setTimeout(r, 1)); m2.dispose(); } }))
      .rejects.toThrow(/the model was disposed/);
    m.dispose();
  });

  test('tn.close() during fit (one thread) stops it; close() while ready() is pending abandons that ready()', async () => {
    const { x, y } = blobs(60, 10);
    const m = small();
    m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.1 }) });
    await expect(m.fit(x, y, { epochs: 2, batchSize: 10, onBatchEnd: async (b) => { if (b === 1) await tn.close(); } }))
      .rejects.toThrow(/belongs to a runtime that was closed/);
    const pending = tn.ready({ threads: 1 });
    await tn.close();
    await expect(pending).rejects.toThrow(/close\(\) was called while thinnet was loading/);
    await tn.ready({ threads: 1 }); // and thinnet loads again
    expect(() => m.predict(x)).toThrow(/closed/);
  });
});

describe('model files that claim what they do not hold', () => {
  test('an architecture far larger than the file fails before any allocation', async () => {
    const m = small();
    const bytes = m.toBytes();
    const mem = tn.memoryInfo();
    const huge = rewrite(bytes, (h) => { h.config.layers[1].units = 1 << 24; return h; });
    await expect(tn.loadModel(huge)).rejects.toThrow(/stored architecture has 234881027 parameters but the file holds 115/);
    const claims = rewrite(bytes, (h) => { h.paramCount = 1.3e9; return h; });
    await expect(tn.loadModel(claims)).rejects.toThrow(/truncated file: expected \d+ bytes/);
    expect(tn.memoryInfo().memoryBytes).toBe(mem.memoryBytes);
    expect(tn.memoryInfo().allocatedBytes).toBe(mem.allocatedBytes);
    m.dispose();
  });

  test('the header\'s tensors, weightCount, loss, step and epoch are checked', async () => {
    const m = small();
    const bytes = m.toBytes();
    const cases: Array<[(h: any) => any, RegExp]> = [
      [(h) => { h.tensors[0].shape = [10, 8]; return h; }, /"tensors" list does not match/],
      [(h) => { h.tensors.pop(); return h; }, /"tensors" list does not match/],
      [(h) => { h.tensors[1].offset = 1; return h; }, /"tensors" list does not match/],
      [(h) => { h.weightCount = 5; return h; }, /weightCount 5, but the architecture has 104 weights/],
      [(h) => { h.loss = 'hinge'; return h; }, /unknown loss "hinge"/],
      [(h) => { h.step = -1; return h; }, /step -1/],
      [(h) => { h.epoch = 1.5; return h; }, /epoch 1.5/],
      [(h) => { h.config.inputShape = [0]; return h; }, /inputShape must be an array of 1 to 3 positive integers/],
    ];
    for (const [fn, msg] of cases) await expect(tn.loadModel(rewrite(bytes, fn))).rejects.toThrow(msg);
    m.dispose();
  });

  test('layer specs from a file get the factories\' checks and messages', async () => {
    const m = small();
    const bytes = m.toBytes();
    const spec = (i: number, patch: Record<string, unknown>) => rewrite(bytes, (h) => { Object.assign(h.config.layers[i], patch); return h; });
    const cases: Array<[Uint8Array, RegExp]> = [
      ...[0, -0.5, 5, '0.5', null].map((keep): [Uint8Array, RegExp] => [spec(0, { keep }), /layer 0: thinnet.layers.dropout: keep \(the retention probability p\) must be a number in \(0, 1\]/]),
      [rewrite(bytes, (h) => { delete h.config.layers[0].keep; return h; }), /layers.dropout: keep .* got undefined/],
      [spec(0, { convention: 'bogus' }), /convention must be one of 'paper', 'inverted', got 'bogus'/],
      [spec(1, { maxNorm: -1 }), /layers.dense: maxNorm must be a finite number > 0, got -1/],
      [spec(1, { units: 1.5 }), /layers.dense: units must be a positive integer, got 1.5/],
      [spec(1, { units: '6' }), /layers.dense: units must be a positive integer, got '6'/],
      [spec(1, { activation: 'foo' }), /layers.dense: activation must be one of .* got 'foo'/],
      [spec(1, { unit: 3 }), /unknown option 'unit'/],
      [spec(2, { type: 'dense2' }), /layer 2 has unknown type "dense2"/],
    ];
    for (const [b, msg] of cases) {
      await expect(tn.loadModel(b)).rejects.toThrow(/thinnet.loadModel: the stored architecture is invalid/);
      await expect(tn.loadModel(b)).rejects.toThrow(msg);
    }
    // the same checks for a hand-written config
    expect(() => tn.sequential({ inputShape: [4], layers: [{ type: 'dropout', keep: 5 } as any, tn.layers.dense({ units: 2 })] }))
      .toThrow(/layer 0: thinnet.layers.dropout: keep/);
    expect(() => tn.sequential({ inputShape: [4], layers: [{ type: 'dense', units: 2, activation: 'foo' } as any] }))
      .toThrow(/activation must be one of/);
    m.dispose();
  });

  test('NaN or infinite weights are an error unless allowNonFinite', async () => {
    const m = small();
    const p = m.parameters();
    p[7] = NaN; p[100] = -Infinity;
    m.setParameters(p);
    const bytes = m.toBytes();
    await expect(tn.loadModel(bytes)).rejects.toThrow(/2 of the 115 weights are NaN or infinite \(pass \{ allowNonFinite: true \}/);
    const m2 = await tn.loadModel(bytes, { allowNonFinite: true });
    expect(Number.isNaN(m2.parameters()[7])).toBe(true);
    m.dispose(); m2.dispose();
  });
});

describe('non-finite training settings', () => {
  test("adam's learning rate must be finite and ≥ 0 at every epoch", async () => {
    const { x, y } = blobs(40, 10);
    const m = small();
    expect(() => tn.optimizers.adam({ learningRate: -1 })).toThrow(/learningRate must be a finite number ≥ 0/);
    m.compile({ optimizer: tn.optimizers.adam({ learningRate: () => NaN }) });
    const before = m.parameters();
    await expect(m.fit(x, y)).rejects.toThrow(/optimizers.adam: learning rate at epoch 0 is NaN/);
    expect(m.parameters()).toEqual(before);
    m.dispose();
  });
});

describe('out of memory halfway', () => {
  test('a prediction whose buffers do not fit rolls its allocations back; dispose() frees the rest', async () => {
    await tn.close();
    await tn.ready({ threads: 2, maxMemoryMB: 64 });
    try {
      const base = tn.memoryInfo().allocations;
      const m = tn.sequential({ inputShape: [784], layers: [tn.layers.dense({ units: 1024, activation: 'relu' }), tn.layers.dense({ units: 10 })] });
      const withModel = tn.memoryInfo().allocatedBytes;
      const x = new Float32Array(10000 * 784);
      expect(() => m.predict(x, { batchSize: 10000 })).toThrow(/out of WebAssembly memory allocating/);
      expect(tn.memoryInfo().allocatedBytes).toBe(withModel);
      expect(m.predict(x.subarray(0, 784 * 50)).length).toBe(500); // still works at a batch that fits
      m.dispose();
      expect(tn.memoryInfo().allocations - base).toBe(2); // only the product workspaces remain, one per thread
    } finally {
      await tn.close();
      await tn.ready({ threads: 1 });
    }
  });
});

describe('files written by earlier versions', () => {
  // test/fixtures/legacy/: written by thinnet before the Layer redesign (make.mjs says how)
  const dir = new URL('./fixtures/legacy/', import.meta.url);
  const expected = JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8'));
  const f32 = (b64: string) => new Float32Array(Uint8Array.from(Buffer.from(b64, 'base64')).buffer); // a copy: Buffer's pool is shared

  test('v1 and v2 files load and predict bit for bit as they did; the v2 checkpoint resumes', async () => {
    await tn.close();
    await tn.ready({ threads: 1, backend: 'simd' }); // the build they were written with
    try {
      const probe = f32(expected.probe);
      const v1 = await tn.loadModel(new Uint8Array(readFileSync(new URL('v1.tnet', dir))));
      expect(Buffer.from(v1.predict(probe).buffer).equals(Buffer.from(f32(expected.predict).buffer))).toBe(true);
      expect(Buffer.from(v1.predict(probe, { mc: 5 }).buffer).equals(Buffer.from(f32(expected.mc).buffer))).toBe(true);
      const v2 = await tn.loadModel(new URL('v2.tnet', dir).pathname);
      v2.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }) });
      await v2.fit(f32(expected.trainX), Int32Array.from(expected.trainY), { epochs: 1, batchSize: 10 });
      expect(Buffer.from(v2.parameters().buffer).equals(Buffer.from(f32(expected.afterOneMoreEpoch).buffer))).toBe(true);
      // and they are written back byte for byte as before
      expect(Buffer.from(v1.toBytes()).equals(readFileSync(new URL('v1.tnet', dir)))).toBe(true);
      v1.dispose(); v2.dispose();
    } finally {
      await tn.close();
      await tn.ready({ threads: 1 });
    }
  });
});
