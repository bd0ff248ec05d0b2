// Packed uint8 rows (assembly/packed.ts, tensor/packed-rows.ts; issue 18): the kernels against a
// plain-TS encoder and decoder, the format's worst cases, and the contract that matters — a model
// trained, evaluated and run on packed rows gives the bits of the plain rows. Not timed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';
import { runtime } from '../src/wasm/runtime';
import { idx } from './helpers/data';

let dir: string;
beforeAll(async () => { dir = mkdtempSync(join(tmpdir(), 'thinnet-packed-')); await tn.ready({ threads: 1 }); });
afterAll(async () => { rmSync(dir, { recursive: true, force: true }); await tn.close(); });

/** Byte-equality of large uint8 arrays (vitest's deep equality is slow on megabytes). */
function expectBytes(a: Uint8Array | Float32Array, b: Uint8Array | Float32Array): void {
  expect(a.length).toBe(b.length);
  expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(true);
}

/** The format in plain TypeScript: (zeros, literals) pairs, each run at most 255, never (0, 0). */
function encodeRef(row: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let j = 0; j < row.length;) {
    let z = 0;
    while (j < row.length && z < 255 && row[j] === 0) { z++; j++; }
    const lits: number[] = [];
    while (j < row.length && lits.length < 255 && row[j] !== 0) lits.push(row[j++]);
    out.push(z, lits.length, ...lits);
  }
  return out;
}

function decodeRef(bytes: ArrayLike<number>, F: number): number[] {
  const out: number[] = [];
  for (let o = 0; out.length < F;) {
    const z = bytes[o], l = bytes[o + 1];
    for (let t = 0; t < z; t++) out.push(0);
    for (let t = 0; t < l; t++) out.push(bytes[o + 2 + t]);
    o += 2 + l;
  }
  return out;
}

/** Seeded sparse rows: mostly zeros with strokes of nonzero values (like MNIST). */
function sparseRows(n: number, F: number, seed = 1): Uint8Array {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const x = new Uint8Array(n * F);
  for (let i = 0; i < x.length; i++) if (rnd() < 0.2) x[i] = 1 + Math.floor(rnd() * 255);
  return x;
}

const worstCases = (F: number): Record<string, Uint8Array> => ({
  zeros: new Uint8Array(F),
  dense: Uint8Array.from({ length: F }, (_, i) => 1 + (i % 255)),
  alternating: Uint8Array.from({ length: F }, (_, i) => (i % 2 ? 0 : 200)),
  alternatingOdd: Uint8Array.from({ length: F }, (_, i) => (i % 2 ? 9 : 0)),
  longRuns: Uint8Array.from({ length: F }, (_, i) => (Math.floor(i / 300) % 2 ? 0 : 255)),
});

describe('packed-row kernels against the plain-TS format', () => {
  test('pack_row_u8 writes exactly the reference bytes, within the bound, and unpack gives the row back', () => {
    const rt = runtime(), k = rt.kernels, h = rt.heap;
    for (const F of [1, 2, 3, 255, 256, 784, 1000]) {
      const rows: Record<string, Uint8Array> = { ...worstCases(F), sparse: sparseRows(1, F, F) };
      for (const [name, row] of Object.entries(rows)) {
        const src = h.alloc(F), dst = h.alloc(k.packed_row_bound(F)), y = h.alloc(4 * F), tab = h.alloc(8);
        try {
          h.u8(src, F).set(row);
          const n = k.pack_row_u8(dst, src, F);
          const ref = encodeRef(row);
          expect({ F, name, bytes: Array.from(h.u8(dst, n)) }).toEqual({ F, name, bytes: ref });
          expect(n).toBeLessThanOrEqual(k.packed_row_bound(F));
          expect(k.packed_row_bytes(dst, F)).toBe(n);
          expect(decodeRef(ref, F)).toEqual(Array.from(row));
          h.u32(tab, 1)[0] = dst;
          expect(k.unpack_rows_f32(y, tab, 0, 1 / 255, 1, F)).toBe(1);
          // the bits of the plain rows' conversion (model_extra.ts), and of its float32 definition
          const want = Float32Array.from(row, (v) => Math.fround(v * Math.fround(1 / 255)));
          expect(h.f32(y, F)).toEqual(want);
          const plain = h.alloc(4 * F);
          k.u8_to_f32_scaled(plain, src, 1 / 255, F);
          expect(h.f32(y, F)).toEqual(h.f32(plain, F));
          h.free(plain);
        } finally {
          for (const p of [src, dst, y, tab]) h.free(p);
        }
      }
    }
  });

  test('known answer: [0, 0, 5, 7, 0] packs to [2, 2, 5, 7, 1, 0]; 600 zeros to three pairs', () => {
    expect(encodeRef([0, 0, 5, 7, 0])).toEqual([2, 2, 5, 7, 1, 0]);
    expect(encodeRef(new Array(600).fill(0))).toEqual([255, 0, 255, 0, 90, 0]);
    const p = tn.data.pack(Uint8Array.from([0, 0, 5, 7, 0]), 5);
    try {
      expect(tn.data.packedBytes(p)).toBe(4 + 6);
      expect(Array.from(p.slice())).toEqual([0, 0, 5, 7, 0]);
    } finally { p.dispose(); }
  });

  test('a malformed row is reported, not decoded past its end', () => {
    const rt = runtime(), k = rt.kernels, h = rt.heap;
    const p = h.alloc(16), y = h.alloc(64), tab = h.alloc(4);
    try {
      h.u8(p, 4).set([0, 0, 0, 0]); // (0, 0): never written by pack_row_u8
      h.u32(tab, 1)[0] = p;
      expect(k.packed_row_bytes(p, 4)).toBe(-1);
      expect(k.unpack_rows_f32(y, tab, 0, 1, 1, 4)).toBe(0);
      h.u8(p, 4).set([3, 3, 1, 1]); // 6 values claimed in a row of 4
      expect(k.unpack_rows_f32(y, tab, 0, 1, 1, 4)).toBe(0);
      expect(k.unpack_rows_u8(y, tab, 1, 4)).toBe(0);
    } finally { for (const q of [p, y, tab]) h.free(q); }
  });
});

describe('tn.data.pack', () => {
  test('round trip from a Uint8Array and from a WasmArray, whole-row subarrays, no flat view', () => {
    const F = 784, x = sparseRows(3000, F, 7); // ~2.4 MB plain: several 1 MB blocks
    const a = tn.data.pack(x, F);
    const w = tn.data.toWasm(x);
    const b = tn.data.pack(w, F);
    try {
      expect(a.dtype).toBe('packed');
      expect(a.rows).toBe(3000);
      expect(a.length).toBe(x.length);
      expectBytes(a.slice(), x);
      expectBytes(b.slice(), x);
      expectBytes(a.subarray(5 * F, 9 * F).slice(), x.subarray(5 * F, 9 * F));
      expectBytes(a.slice(2999 * F), x.subarray(2999 * F));
      const bytes = tn.data.packedBytes(a);
      expect(bytes).toBeLessThan(0.6 * x.length); // 20% nonzero, scattered: ~3 bytes per nonzero value
      expect(bytes).toBe(tn.data.packedBytes(b));
      expect(() => a.subarray(1, F)).toThrow(/whole rows/);
      expect(() => a.view()).toThrow(/no flat view/);
      expect(String(a)).toBe('WasmArray(packed, 3000 rows × 784)');
    } finally { a.dispose(); b.dispose(); w.dispose(); }
  });

  test('bad input is a clear error; dispose frees every block', () => {
    const h = runtime().heap;
    expect(() => tn.data.pack(new Float32Array(4) as never, 2)).toThrow(/Uint8Array or a uint8 WasmArray, got Float32Array/);
    const f = tn.data.toWasm(new Float32Array(4));
    try { expect(() => tn.data.pack(f as never, 2)).toThrow(/float32 WasmArray/); } finally { f.dispose(); }
    expect(() => tn.data.pack(new Uint8Array(5), 2)).toThrow(/not a multiple of rowLength 2/);
    expect(() => tn.data.pack(new Uint8Array(4), 0)).toThrow(/rowLength must be a positive integer/);
    expect(() => tn.data.WasmArray.alloc('packed' as never, 4)).toThrow(/tn\.data\.pack/);
    const before = h.allocatedBytes;
    const a = tn.data.pack(sparseRows(2000, 784, 3), 784);
    expect(h.allocatedBytes).toBeGreaterThan(before);
    a.dispose();
    expect(h.allocatedBytes).toBe(before);
    expect(() => a.slice()).toThrow(/disposed/);
  });

  test('randomSubset of packed rows equals randomSubset of the plain rows', () => {
    const F = 50, x = sparseRows(400, F, 11), y = Uint8Array.from({ length: 400 }, (_, i) => i % 10);
    const p = tn.data.pack(x, F);
    try {
      const sp = tn.data.randomSubset({ x: p, y }, 123, 5);
      const sx = tn.data.randomSubset({ x, y }, 123, 5);
      try {
        expect((sp.x as tn.data.WasmArray).dtype).toBe('packed');
        expectBytes((sp.x as tn.data.WasmArray).slice(), sx.x);
        expect(sp.y).toEqual(sx.y);
      } finally { (sp.x as tn.data.WasmArray).dispose(); }
    } finally { p.dispose(); }
  });
});

describe('models read packed rows with the bits of the plain rows', () => {
  const net = () => tn.sequential({ inputShape: [64], seed: 3, layers: [
    tn.layers.dropout({ keep: 0.8 }),
    tn.layers.dense({ units: 32, activation: 'relu', maxNorm: 3 }),
    tn.layers.dropout({ keep: 0.5 }),
    tn.layers.dense({ units: 10 }),
  ] });
  const N = 530, x = sparseRows(N, 64, 5), y = Uint8Array.from({ length: N }, (_, i) => (i * 7) % 10);

  test('fit (with a validation split), evaluate, predict, MC and predictWithUncertainty', async () => {
    const plain = tn.data.toWasm(x), packed = tn.data.pack(x, 64);
    const a = net(), b = net();
    try {
      for (const m of [a, b]) m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.5, momentum: 0.9 }) });
      const ha = await a.fit(plain, y, { epochs: 3, batchSize: 32, validationSplit: 0.2 });
      const hb = await b.fit(packed, y, { epochs: 3, batchSize: 32, validationSplit: 0.2 });
      expect(hb.loss).toEqual(ha.loss);
      expect(hb.valLoss).toEqual(ha.valLoss);
      expect(b.getWeights()).toEqual(a.getWeights());
      expect(b.evaluate(packed, y, { batchSize: 100 })).toEqual(a.evaluate(x, y, { batchSize: 100 }));
      expect(b.predict(packed.subarray(64 * 10, 64 * 500), { batchSize: 64 })).toEqual(a.predict(x.subarray(640, 64 * 500), { batchSize: 64 }));
      expect(b.predict(packed, { mc: 4 })).toEqual(a.predict(plain, { mc: 4 }));
      expect(b.predictWithUncertainty(packed, { samples: 3 })).toEqual(a.predictWithUncertainty(x, { samples: 3 }));
      expect(() => b.predict(tn.data.pack(x.subarray(0, 32 * 10), 32))).toThrow(/packed in rows of 32 values, but the model has 64 input features/);
    } finally { a.dispose(); b.dispose(); plain.dispose(); packed.dispose(); }
  });
});

describe('reading IDX files packed', () => {
  const F = 28 * 28, n = 1500;
  const px = sparseRows(n, F, 9);
  const file = idx(0x08, [n, 28, 28], px);

  test('readIdx from bytes, gzip bytes and odd-sized stream chunks', async () => {
    async function* chunked(bytes: Uint8Array, size: number) { for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size); }
    for (const src of [file, gzipSync(file), chunked(file, 777), chunked(gzipSync(file), 1001)]) {
      const r = await tn.data.readIdx(src, { wasm: 'packed' });
      try {
        expect(r.shape).toEqual([n, 28, 28]);
        expect(r.data.dtype).toBe('packed');
        expect(r.data.rowLength).toBe(F);
        expectBytes(r.data.slice(), px);
      } finally { r.data.dispose(); }
    }
    await expect(tn.data.readIdx(idx(0x0d, [2, 2], new Uint8Array(16)), { wasm: 'packed' })).rejects.toThrow(/only uint8 data can be packed/);
    await expect(tn.data.readIdx(file, { wasm: 'yes' as never })).rejects.toThrow(/wasm must be true, false or 'packed'/);
  });

  test('readIdxFile and loadMnist({ wasm: "packed" }) from plain and .gz files', async () => {
    const labels = idx(0x08, [n], Uint8Array.from({ length: n }, (_, i) => i % 10));
    const plainDir = join(dir, 'plain'), gzDir = join(dir, 'gz');
    for (const [d, gz] of [[plainDir, false], [gzDir, true]] as const) {
      (await import('node:fs')).mkdirSync(d, { recursive: true });
      for (const prefix of ['train', 't10k']) {
        writeFileSync(join(d, `${prefix}-images-idx3-ubyte${gz ? '.gz' : ''}`), gz ? gzipSync(file) : file);
        writeFileSync(join(d, `${prefix}-labels-idx1-ubyte${gz ? '.gz' : ''}`), gz ? gzipSync(labels) : labels);
      }
      const m = await tn.data.loadMnist({ dir: d, wasm: 'packed' });
      try {
        expect(m.train.x.dtype).toBe('packed');
        expectBytes(m.train.x.slice(), px);
        expectBytes(m.test.x.slice(), px);
        expect(m.train.count).toBe(n);
      } finally { m.train.x.dispose(); m.test.x.dispose(); }
      const f = await tn.data.readIdxFile(join(d, `train-images-idx3-ubyte${gz ? '.gz' : ''}`), { wasm: 'packed' });
      try { expectBytes(f.data.slice(), px); } finally { f.data.dispose(); }
    }
    await expect(tn.data.loadMnist({ dir: plainDir, wasm: 'no' as never })).rejects.toThrow(/wasm must be true, false or 'packed'/);
  });
});
