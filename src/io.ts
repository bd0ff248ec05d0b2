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
import { Dense } from './layers/dense.js';
import { Sequential } from './model.js';
import type { SavedOptimizerState } from './optimizers.js';

const MAGIC = [0x54, 0x4e, 0x45, 0x54]; // "TNET"
/** The newest version this code reads and writes (1 is still written when there is no optimizer state). */
export const FORMAT_VERSION = 2;

let crcTables: Uint32Array[] | undefined;

/** CRC-32 (IEEE, reflected, polynomial 0xEDB88320) of bytes; four bytes per step (slicing-by-4). */
export function crc32(bytes: Uint8Array): number {
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
  let c = 0xffffffff;
  let i = 0;
  for (const end = bytes.length - 3; i < end; i += 4) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c = t3[c & 0xff] ^ t2[(c >>> 8) & 0xff] ^ t1[(c >>> 16) & 0xff] ^ t0[c >>> 24];
  }
  for (; i < bytes.length; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
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
  out.set(model.rt.heap.u8(model.params, 4 * P), 12 + json.length);
  for (let i = 0; i < S; i++) out.set(model.rt.heap.u8(st!.slots[i].ptr, 4 * P), 12 + json.length + 4 * P * (1 + i));
  dv.setUint32(total - 4, crc32(out.subarray(0, total - 4)), true);
  return out;
}

function bad(msg: string): Error {
  return new Error(`thinnet.loadModel: ${msg}`);
}

/** @internal */
export function decodeModel(input: Uint8Array | ArrayBuffer): Sequential {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length < 16) throw bad(`not a thinnet model: ${bytes.length} bytes is too short`);
  if (!MAGIC.every((m, i) => bytes[i] === m)) throw bad('not a thinnet model file (bad magic; expected "TNET")');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(4, true);
  if (version !== 1 && version !== 2) throw bad(`unsupported format version ${version} (this thinnet reads versions 1 and 2)`);
  const H = dv.getUint32(8, true);
  if (12 + H + 4 > bytes.length) throw bad(`truncated file: the header claims ${H} bytes but the file has ${bytes.length}`);
  let header: any;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + H)));
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
  if (bytes.length < expected) throw bad(`truncated file: expected ${expected} bytes, got ${bytes.length}`);
  if (bytes.length > expected) throw bad(`corrupted file: expected ${expected} bytes, got ${bytes.length} (trailing data)`);
  const stored = dv.getUint32(expected - 4, true);
  const actual = crc32(bytes.subarray(0, expected - 4));
  if (stored !== actual) throw bad(`checksum mismatch (stored ${hex(stored)}, computed ${hex(actual)}): the file is corrupted`);
  let model: Sequential;
  try {
    model = new Sequential(header.config, false); // weights come from the file: skip the random init
  } catch (e) {
    throw bad(`the stored architecture is invalid: ${(e as Error).message}`);
  }
  if (model.paramCount !== P) {
    model.dispose();
    throw bad(`the stored architecture has ${model.paramCount} parameters but the file holds ${P}`);
  }
  model.rt.heap.u8(model.params, 4 * P).set(bytes.subarray(12 + H, 12 + H + 4 * P));
  if (opt) {
    const saved: SavedOptimizerState = { name: opt.name, counters: { ...opt.counters }, slots: [] };
    opt.slots.forEach((name: string, i: number) => {
      const at = 12 + H + 4 * P * (1 + i);
      saved.slots.push({ name, data: new Float32Array(bytes.slice(at, at + 4 * P).buffer) });
    });
    model.savedOptimizer = saved;
  }
  model.step = Number.isInteger(header.step) ? header.step : 0;
  model.epoch = Number.isInteger(header.epoch) ? header.epoch : 0;
  return model;
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
    const fs = await nodeImport<typeof import('node:fs/promises')>('fs/promises');
    let data: Uint8Array;
    try {
      data = new Uint8Array(await fs.readFile(source));
    } catch (e) {
      throw new Error(`thinnet.loadModel: could not read ${source}: ${(e as Error).message}`);
    }
    return decodeModel(data);
  }
  if (!(source instanceof Uint8Array) && !(source instanceof ArrayBuffer)) {
    throw new TypeError('thinnet.loadModel: source must be a Uint8Array, an ArrayBuffer or a file path');
  }
  return decodeModel(source);
}
