// thinnet's model file format (.tnet), versions 1 and 2. All integers little-endian.
//
//   offset  size  field
//   0       4     magic: the bytes "TNET"
//   4       4     u32 format version: 1 (model only), 2 (model + optimizer state)
//   8       4     u32 H: byte length of the header
//   12      H     header: UTF-8 JSON, padded with spaces so 12 + H is a multiple of 4:
//                 { "format": "thinnet-model", "config": { inputShape, seed, layers: [...] },
//                   "loss", "step", "epoch", "paramCount", "weightCount",
//                   "tensors": [{ "layer", "name": "kernel" | "bias", "shape", "offset" }] }
//                 (offsets count float32 elements from the start of the weight block)
//   12 + H  4·P   float32 weights, P = paramCount: every dense layer's kernel [units, inputs]
//                 row-major, then every bias (the model's parameter block, byte for byte)
//   (v2)    4·S·P the optimizer's S state buffers, each P float32 in parameter order; the header
//                 then has "optimizer": { "name": "sgd" | "adam", "config", "counters": {..},
//                 "slots": ["velocity"] | ["m", "v"] } and "stateCount": S·P
//   end−4   4     u32 CRC-32 (IEEE 802.3, as zlib/PNG) of every byte before it
//
// model.save(path) writes version 1 (what inference needs); model.save(path, { optimizer: true })
// writes version 2, a checkpoint: loading it and calling compile() with the same kind of
// optimizer resumes training exactly (see Sequential.compile).
import { Dense } from '../layers/dense.js';
import { Sequential } from '../model/sequential.js';
import type { SavedOptimizerState } from '../train/optimizers.js';
import { runtime, type Runtime } from '../wasm/runtime.js';

const MAGIC = [0x54, 0x4e, 0x45, 0x54]; // "TNET"
/** The newest version this code reads and writes (1 is still written when there is no optimizer state). */
export const FORMAT_VERSION = 2;

/**
 * Bytes per step when weights are copied (or read) into wasm memory and checksummed: each piece
 * is checksummed while it is still in cache, and the CRC kernel, called once per piece, runs
 * optimized code after V8 tiers it up (a single call over megabytes would stay in the baseline
 * tier from start to end).
 */
const PIECE = 1 << 18;

let crcTables: Uint32Array[] | undefined;

/** CRC-32 (IEEE, reflected, polynomial 0xEDB88320) of bytes; four bytes per step (slicing-by-4). */
export function crc32(bytes: Uint8Array): number {
  return crc32Update(0, bytes);
}

/** The CRC-32 of the bytes behind `crc` (0 for none) followed by `bytes`, in JavaScript. */
export function crc32Update(crc: number, bytes: Uint8Array): number {
  if (!crcTables) {
    const t0 = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t0[n] = c >>> 0;
    }
    crcTables = [t0];
    for (let k = 1; k < 4; k++) {
      const prev = crcTables[k - 1], t = new Uint32Array(256);
      for (let n = 0; n < 256; n++) t[n] = (prev[n] >>> 8) ^ t0[prev[n] & 0xff];
      crcTables.push(t);
    }
  }
  const [t0, t1, t2, t3] = crcTables;
  let c = ~crc;
  let i = 0;
  for (const end = bytes.length - 3; i < end; i += 4) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c = t3[c & 0xff] ^ t2[(c >>> 8) & 0xff] ^ t1[(c >>> 16) & 0xff] ^ t0[c >>> 24];
  }
  for (; i < bytes.length; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Continues `crc` over n bytes of wasm memory (the kernel, piece by piece). */
function crcHeap(rt: Runtime, crc: number, ptr: number, n: number): number {
  for (let o = 0; o < n; o += PIECE) crc = rt.kernels.crc32_update(crc, ptr + o, Math.min(PIECE, n - o)) >>> 0;
  return crc;
}

/** Continues `crc` over bytes outside wasm memory: small ones in JavaScript, large ones through a scratch block. */
function crcBytes(rt: Runtime, crc: number, bytes: Uint8Array): number {
  if (bytes.length < 4096) return crc32Update(crc, bytes);
  const scratch = rt.heap.alloc(Math.min(PIECE, bytes.length));
  try {
    for (let o = 0; o < bytes.length; o += PIECE) {
      const n = Math.min(PIECE, bytes.length - o);
      rt.heap.u8(scratch, n).set(bytes.subarray(o, o + n));
      crc = rt.kernels.crc32_update(crc, scratch, n) >>> 0;
    }
  } finally {
    rt.heap.free(scratch);
  }
  return crc;
}

/** @internal */
export function encodeModel(model: Sequential, options: { optimizer?: boolean } = {}): Uint8Array {
  const tensors: Array<{ layer: number; name: string; shape: number[]; offset: number }> = [];
  for (const l of model.net) {
    if (!(l instanceof Dense)) continue;
    tensors.push({ layer: l.index, name: 'kernel', shape: [l.outF, l.inF], offset: l.wOff });
    if (l.biasCount) tensors.push({ layer: l.index, name: 'bias', shape: [l.outF], offset: l.bOff });
  }
  const header: Record<string, unknown> = {
    format: 'thinnet-model', config: model.config, loss: model.loss, step: model.step, epoch: model.epoch,
    paramCount: model.paramCount, weightCount: model.weightCount, tensors,
  };
  const st = options.optimizer ? model.optState : undefined;
  if (options.optimizer && (!st || !model.optimizer)) throw new Error('thinnet.save: { optimizer: true } needs a compiled model');
  if (st && model.optimizer) {
    header.optimizer = { name: model.optimizer.name, config: model.optimizer.config, counters: st.counters(), slots: st.slots.map((s) => s.name) };
    header.stateCount = st.slots.length * model.paramCount;
  }
  const S = st ? st.slots.length : 0;
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (4 - ((12 + json.length) % 4)) % 4;
  if (pad) {
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const P = model.paramCount;
  const total = 12 + json.length + 4 * P * (1 + S) + 4;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  dv.setUint32(4, st ? 2 : 1, true);
  dv.setUint32(8, json.length, true);
  out.set(json, 12);
  // wasm memory is little-endian: the parameter block's bytes are the file's float32 LE data.
  const rt = model.rt;
  out.set(rt.heap.u8(model.params, 4 * P), 12 + json.length);
  let crc = crc32Update(0, out.subarray(0, 12 + json.length));
  crc = crcHeap(rt, crc, model.params, 4 * P);
  for (let i = 0; i < S; i++) {
    out.set(rt.heap.u8(st!.slots[i].ptr, 4 * P), 12 + json.length + 4 * P * (1 + i));
    crc = crcHeap(rt, crc, st!.slots[i].ptr, 4 * P);
  }
  dv.setUint32(total - 4, crc, true);
  return out;
}

function bad(msg: string): Error {
  return new Error(`thinnet.loadModel: ${msg}`);
}

/** Where a model's bytes come from: a byte array, or (Node) an open file. */
interface ByteSource {
  /** Length in bytes. */
  readonly size: number;
  /** Fills `dst` with the bytes at [pos, pos + dst.length) (within size). */
  read(dst: Uint8Array, pos: number): void;
}

/** The checked structure of a file: its header and where each block sits. */
interface Layout {
  version: number;
  /** Bytes [0, 12 + H): preamble and header, checksummed with the rest. */
  head: Uint8Array;
  H: number;
  header: any;
  P: number;
  opt: any;
  /** Total length of a well-formed file with this header. */
  expected: number;
}

function readAt(src: ByteSource, pos: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  src.read(out, pos);
  return out;
}

/** Every check that needs only the preamble and the header (the same errors for bytes and files). */
function readLayout(src: ByteSource): Layout {
  const size = src.size;
  if (size < 16) throw bad(`not a thinnet model: ${size} bytes is too short`);
  const pre = readAt(src, 0, 12);
  if (!MAGIC.every((m, i) => pre[i] === m)) throw bad('not a thinnet model file (bad magic; expected "TNET")');
  const dv = new DataView(pre.buffer, pre.byteOffset, pre.byteLength);
  const version = dv.getUint32(4, true);
  if (version !== 1 && version !== 2) throw bad(`unsupported format version ${version} (this thinnet reads versions 1 and 2)`);
  const H = dv.getUint32(8, true);
  if (12 + H + 4 > size) throw bad(`truncated file: the header claims ${H} bytes but the file has ${size}`);
  const head = new Uint8Array(12 + H);
  head.set(pre);
  src.read(head.subarray(12), 12);
  let header: any;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(12)));
  } catch (e) {
    throw bad(`corrupted header (not valid JSON: ${(e as Error).message})`);
  }
  if (!header || header.format !== 'thinnet-model' || !header.config) throw bad('corrupted header (missing format or config)');
  const P = header.paramCount;
  if (!Number.isInteger(P) || P < 0) throw bad('corrupted header (bad paramCount)');
  const opt = version === 2 ? header.optimizer : undefined;
  if (version === 2 && (!opt || typeof opt.name !== 'string' || !Array.isArray(opt.slots) || !opt.slots.every((n: unknown) => typeof n === 'string') ||
    typeof opt.counters !== 'object' || header.stateCount !== opt.slots.length * P)) {
    throw bad('corrupted header (version 2 needs a valid "optimizer" section and stateCount)');
  }
  const SP = opt ? header.stateCount as number : 0;
  const expected = 12 + H + 4 * (P + SP) + 4;
  if (size < expected) throw bad(`truncated file: expected ${expected} bytes, got ${size}`);
  if (size > expected) throw bad(`corrupted file: expected ${expected} bytes, got ${size} (trailing data)`);
  return { version, head, H, header, P, opt, expected };
}

/**
 * Reads a model: the checks of readLayout, then the weights go straight into the block that
 * becomes the model's parameter block (no intermediate copy), checksummed piece by piece in
 * wasm as they arrive, then the architecture is built around that block.
 */
function decode(src: ByteSource): Sequential {
  const lay = readLayout(src);
  const { H, P, opt, header } = lay;
  const rt = runtime();
  const bytesP = 4 * P;
  const block = rt.heap.alloc(bytesP);
  let model: Sequential | undefined;
  try {
    let crc = crc32Update(0, lay.head);
    for (let o = 0; o < bytesP; o += PIECE) {
      const n = Math.min(PIECE, bytesP - o);
      src.read(rt.heap.u8(block + o, n), 12 + H + o);
      crc = rt.kernels.crc32_update(crc, block + o, n) >>> 0;
    }
    let saved: SavedOptimizerState | undefined;
    if (opt) {
      saved = { name: opt.name, counters: { ...opt.counters }, slots: [] };
      for (let i = 0; i < opt.slots.length; i++) {
        const data = readAt(src, 12 + H + bytesP * (1 + i), bytesP);
        crc = crcBytes(rt, crc, data);
        saved.slots.push({ name: opt.slots[i], data: new Float32Array(data.buffer) });
      }
    }
    const tail = readAt(src, lay.expected - 4, 4);
    const stored = new DataView(tail.buffer).getUint32(0, true);
    if (stored !== crc) throw bad(`checksum mismatch (stored ${hex(stored)}, computed ${hex(crc)}): the file is corrupted`);
    try {
      // Weights come from the file: no random init; the block becomes the parameter block when
      // the architecture has exactly P parameters.
      model = new Sequential(header.config, false, { ptr: block, count: P });
    } catch (e) {
      throw bad(`the stored architecture is invalid: ${(e as Error).message}`);
    }
    if (model.paramCount !== P) {
      model.dispose();
      throw bad(`the stored architecture has ${model.paramCount} parameters but the file holds ${P}`);
    }
    model.savedOptimizer = saved;
    if (header.loss !== undefined) {
    if (header.loss !== 'softmaxCrossEntropy' && header.loss !== 'meanSquaredError') {
      model.dispose();
      throw bad(`corrupted header (unknown loss ${JSON.stringify(header.loss)})`);
    }
    model.loss = header.loss; // evaluate / predict / a later compile() without a loss use it
  }
  model.step = Number.isInteger(header.step) ? header.step : 0;
    model.epoch = Number.isInteger(header.epoch) ? header.epoch : 0;
    return model;
  } catch (e) {
    if (model?.params !== block) rt.heap.free(block);
    throw e;
  }
}

/** @internal */
export function decodeModel(input: Uint8Array | ArrayBuffer): Sequential {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  return decode({ size: bytes.length, read: (dst, pos) => dst.set(bytes.subarray(pos, pos + dst.length)) });
}

function hex(v: number): string {
  return `0x${v.toString(16).padStart(8, '0')}`;
}

// Node-only helpers are loaded by dynamic import with a computed specifier, so browser bundles
// never see `node:` modules.
async function nodeImport<T>(name: string): Promise<T> {
  const spec = `node:${name}`;
  return (await import(/* @vite-ignore */ spec)) as T;
}

function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node;
}

/** @internal Writes bytes to path atomically: a temporary file in the same directory, then rename. */
export async function saveBytes(path: string, bytes: Uint8Array): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('thinnet.save: path must be a non-empty string');
  if (!isNode()) throw new Error('thinnet.save: saving to a path needs Node; elsewhere use model.toBytes()');
  const fs = await nodeImport<typeof import('node:fs/promises')>('fs/promises');
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw new Error(`thinnet.save: could not write ${path}: ${(e as Error).message}`);
  }
}

/** Loads a model from bytes (anywhere) or from a file path (Node). */
export async function loadModel(source: Uint8Array | ArrayBuffer | string): Promise<Sequential> {
  if (typeof source === 'string') {
    if (!isNode()) throw new Error('thinnet.loadModel: loading from a path needs Node; elsewhere pass the bytes');
    const fs = await nodeImport<typeof import('node:fs')>('fs');
    // Synchronous reads, straight into wasm memory: an asynchronous read would have to land in
    // a JavaScript buffer first (wasm memory may move while a read is in flight), which costs a
    // second pass over the bytes; the whole load of a 7.5 MB model blocks for a few ms.
    const fail = (e: unknown) => new Error(`thinnet.loadModel: could not read ${source}: ${(e as Error).message}`);
    let fd: number;
    let size: number;
    try {
      fd = fs.openSync(source, 'r');
    } catch (e) {
      throw fail(e);
    }
    try {
      try {
        size = fs.fstatSync(fd).size;
      } catch (e) {
        throw fail(e);
      }
      return decode({
        size,
        read(dst, pos) {
          let done = 0;
          while (done < dst.length) {
            let n: number;
            try {
              n = fs.readSync(fd, dst, done, dst.length - done, pos + done);
            } catch (e) {
              throw fail(e);
            }
            if (n === 0) throw bad(`truncated file: ${source} ended at byte ${pos + done} while being read`);
            done += n;
          }
        },
      });
    } finally {
      fs.closeSync(fd);
    }
  }
  if (!(source instanceof Uint8Array) && !(source instanceof ArrayBuffer)) {
    throw new TypeError('thinnet.loadModel: source must be a Uint8Array, an ArrayBuffer or a file path');
  }
  return decodeModel(source);
}
