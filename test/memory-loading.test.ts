// Memory (issue 18), loading: IDX data is written once, into its final array. Plain bytes give
// views (no copy); gzip data and streams are inflated chunk by chunk into the final array (node:zlib
// in Node, DecompressionStream in the browser platform), headers split across chunks included;
// { wasm: true } writes straight into wasm memory. Not timed, not memory-limited.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';
import { idx } from './helpers/data';
import { browserPlatform } from '../src/platform/browser';
import { nodePlatform } from '../src/platform/node';
import { setPlatform } from '../src/platform/types';

let dir: string;
beforeAll(async () => { dir = mkdtempSync(join(tmpdir(), 'thinnet-memload-')); await tn.ready({ threads: 1 }); });
afterAll(async () => { rmSync(dir, { recursive: true, force: true }); await tn.close(); });

const pixels = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 255);

/** `bytes` in chunks of `size` (an async iterable, as a stream delivers them). */
async function* chunked(bytes: Uint8Array, size: number) {
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

function float32Body(values: number[]): Uint8Array {
  const b = new Uint8Array(4 * values.length);
  const dv = new DataView(b.buffer);
  values.forEach((v, i) => dv.setFloat32(4 * i, v, false));
  return b;
}

describe('readIdx writes the data once', () => {
  test('plain uint8 bytes: the result is a view of the input, not a copy', async () => {
    const file = idx(0x08, [3, 4, 5], pixels(60));
    const a = await tn.data.readIdx(file);
    expect(a.data.buffer).toBe(file.buffer);
    expect(a.data.byteOffset).toBe(16);
    expect(Array.from(a.data)).toEqual(Array.from(pixels(60)));
  });

  test('streams in any chunking (header split across chunks), plain and gzip, equal the bytes', async () => {
    const body = pixels(2 * 28 * 28);
    const file = idx(0x08, [2, 28, 28], body);
    const gz = new Uint8Array(gzipSync(file));
    for (const size of [1, 3, 7, 16, 17, 1000, 1 << 20]) {
      for (const src of [file, gz]) {
        const a = await tn.data.readIdx(chunked(src, size));
        expect(a.shape).toEqual([2, 28, 28]);
        expect(a.data).toEqual(body);
      }
    }
  });

  test('a fetch Response, a Blob, a ReadableStream (the browser path), plain and gzip; int32 and float32 converted in place', async () => {
    const body = pixels(100);
    const file = idx(0x08, [100], body);
    const gz = new Uint8Array(gzipSync(file));
    expect((await tn.data.readIdx(new Response(gz))).data).toEqual(body);
    expect((await tn.data.readIdx(new Blob([gz]))).data).toEqual(body);
    expect((await tn.data.readIdx(new Response(file).body!)).data).toEqual(body);
    const f = await tn.data.readIdx(new Response(gzipSync(idx(0x0d, [3], float32Body([1.5, -0.25, 3e38])))));
    expect(f.data).toBeInstanceOf(Float32Array);
    expect(Array.from(f.data)).toEqual([1.5, -0.25, Math.fround(3e38)]);
    const ib = new Uint8Array(8);
    new DataView(ib.buffer).setInt32(0, -5, false); new DataView(ib.buffer).setInt32(4, 70000, false);
    expect(Array.from((await tn.data.readIdx(chunked(idx(0x0c, [2], ib), 3))).data)).toEqual([-5, 70000]);
    await expect(tn.data.readIdx(new Response('nope', { status: 404, statusText: 'Not Found' }))).rejects.toThrow(/HTTP 404 Not Found/);
  });

  test('the browser platform inflates with DecompressionStream, chunk by chunk', async () => {
    const body = pixels(5000);
    const gz = new Uint8Array(gzipSync(idx(0x08, [5000], body)));
    setPlatform(browserPlatform);
    try {
      const a = await tn.data.readIdx(chunked(gz, 333));
      expect(a.data).toEqual(body);
      await expect(tn.data.readIdx(gz.subarray(0, gz.length - 20))).rejects.toThrow(/gzip|truncated/);
    } finally {
      setPlatform(nodePlatform);
    }
  });

  test('{ wasm: true }: straight into wasm memory, uint8 and float32', async () => {
    const body = pixels(3 * 28 * 28);
    for (const src of [idx(0x08, [3, 28, 28], body), new Uint8Array(gzipSync(idx(0x08, [3, 28, 28], body)))]) {
      const a = await tn.data.readIdx(chunked(src, 100), { wasm: true, what: 'images' });
      expect(a.data).toBeInstanceOf(tn.data.WasmArray);
      expect(a.data.view()).toEqual(body);
      a.data.dispose();
    }
    const f = await tn.data.readIdx(idx(0x0d, [1, 3], float32Body([1.5, -0.25, 7])), { wasm: true });
    expect(Array.from(f.data.view())).toEqual([1.5, -0.25, 7]);
    f.data.dispose();
    const before = tn.memoryInfo().allocatedBytes;
    await expect(tn.data.readIdx(idx(0x0c, [1], new Uint8Array(4)), { wasm: true, what: 'labels.idx' }))
      .rejects.toThrow(/labels.idx holds int32 data; only uint8 and float32 data can be read into wasm memory/);
    await expect(tn.data.readIdx(chunked(idx(0x08, [10, 10], new Uint8Array(50)), 8), { wasm: true }))
      .rejects.toThrow(/truncated: shape \[10, 10\] needs 112 bytes, got 62/);
    expect(tn.memoryInfo().allocatedBytes).toBe(before); // the block of a failed read is freed
  });

  test('errors name the problem: truncated streams, corrupted gzip, a chunk that is not bytes, a source that is not a stream', async () => {
    const file = idx(0x08, [10, 10], new Uint8Array(100));
    await expect(tn.data.readIdx(chunked(file.subarray(0, 70), 9))).rejects.toThrow(/truncated: shape \[10, 10\] needs 112 bytes, got 70/);
    await expect(tn.data.readIdx(chunked(file.subarray(0, 10), 3))).rejects.toThrow(/truncated \(header\)/);
    await expect(tn.data.readIdx(chunked(new Uint8Array([0, 1, 8, 1]), 1))).rejects.toThrow(/not an IDX file \(bad magic\)/);
    const gz = new Uint8Array(gzipSync(file));
    const bad = gz.slice(); bad[20] ^= 0xff; bad[21] ^= 0xff;
    await expect(tn.data.readIdx(chunked(bad, 50), 'my file')).rejects.toThrow(/thinnet.data: my file: corrupted gzip data|truncated/);
    await expect(tn.data.readIdx([new Uint8Array([0, 0]), 'x' as unknown as Uint8Array])).rejects.toThrow(/a stream chunk is a string, not a Uint8Array/);
    await expect(tn.data.readIdx({} as unknown as Uint8Array)).rejects.toThrow(/expected bytes .* got Object/);
  });
});

describe('loadMnist', () => {
  test('{ wasm: true } from plain and .gz files: the same pixels as the JavaScript arrays, labels in JavaScript', async () => {
    const trX = pixels(6 * 784), teX = pixels(2 * 784).reverse();
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idx(0x08, [6, 28, 28], trX)));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx(0x08, [6], new Uint8Array([0, 1, 2, 3, 4, 5])));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idx(0x08, [2, 28, 28], teX));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx(0x08, [2], new Uint8Array([9, 8]))));
    const js = await tn.data.loadMnist({ dir });
    const w = await tn.data.loadMnist({ dir, wasm: true });
    expect(w.train.x).toBeInstanceOf(tn.data.WasmArray);
    expect(w.train.x.view()).toEqual(js.train.x);
    expect(w.test.x.view()).toEqual(js.test.x);
    expect(w.train.y).toEqual(js.train.y);
    expect([w.train.count, w.train.rows, w.train.cols, w.test.count]).toEqual([6, 28, 28, 2]);
    expect(tn.data.subset(w.train, 4).x.view()).toEqual(js.train.x.subarray(0, 4 * 784));
    w.train.x.dispose(); w.test.x.dispose();
    await expect(tn.data.loadMnist({ dir, wasm: 'yes' as unknown as boolean })).rejects.toThrow(/wasm must be true, false or 'packed'/);
  });

  test('a truncated file is a clear error naming it, and leaves no wasm memory behind', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'thinnet-memload-bad-'));
    try {
      writeFileSync(join(bad, 'train-images-idx3-ubyte'), idx(0x08, [3, 28, 28], new Uint8Array(100)));
      writeFileSync(join(bad, 'train-labels-idx1-ubyte'), idx(0x08, [3], new Uint8Array(3)));
      writeFileSync(join(bad, 't10k-images-idx3-ubyte'), idx(0x08, [1, 28, 28], new Uint8Array(784)));
      writeFileSync(join(bad, 't10k-labels-idx1-ubyte'), idx(0x08, [1], new Uint8Array(1)));
      const before = tn.memoryInfo().allocatedBytes;
      await expect(tn.data.loadMnist({ dir: bad, wasm: true })).rejects.toThrow(/train-images-idx3-ubyte is truncated: shape \[3, 28, 28\] needs 2368 bytes, got 116/);
      await new Promise((r) => setTimeout(r, 50)); // the test split's block is freed when its read settles
      expect(tn.memoryInfo().allocatedBytes).toBe(before);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
