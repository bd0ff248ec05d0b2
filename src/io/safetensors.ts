// safetensors (https://github.com/huggingface/safetensors, the format of its README): weights
// without ONNX, named as PyTorch's state_dict names them.
//
//   8 bytes   u64 little-endian N: the header's length
//   N bytes   UTF-8 JSON: { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, …,
//             "__metadata__": { "<key>": "<string>" } }   (may be padded with spaces)
//   rest      the tensors' bytes, little-endian, row-major; offsets count from the start of this
//             part; together the tensors cover it exactly (no holes, no overlaps)
//
// Naming (safetensorsNames): the keys a PyTorch nn.Sequential with the same layers has in its
// state_dict — `<prefix><module index>.weight` / `.bias`, where thinnet's layers are numbered as
// the torch modules they correspond to: one module per layer in config.layers, plus one for the
// activation of a dense / conv2d layer that has one (torch's nn.ReLU, nn.Sigmoid, nn.Tanh,
// nn.Softmax are modules; maxout counts as one custom module), plus one nn.Flatten in front of a
// dense layer whose input is an image or a 2-D example (thinnet flattens implicitly, torch needs
// the module). Example: [dropout, dense relu, dropout, dense] ↔ nn.Sequential(Dropout, Linear,
// ReLU, Dropout, Linear): keys 1.weight, 1.bias, 4.weight, 4.bias. `{ naming: 'spec' }` uses
// `<prefix><config.layers index>.weight` instead.
//
// Layouts are PyTorch's: dense [out, in] (thinnet's own); conv2d [F, C, KH, KW] (thinnet stores
// [F, KH, KW, C]); a dense layer after a flattened image with C > 1 has its columns in torch's
// (C, H, W) flatten order (thinnet flattens (H, W, C)). So the file loads into the PyTorch
// model with load_state_dict, and a PyTorch state_dict saved with safetensors.torch.save_file
// loads into the thinnet model.
import type { Sequential } from '../model/sequential.js';
import { writeFileAtomic } from './files.js';

export interface SafetensorsTensor {
  dtype: string;
  shape: number[];
  /** The values as float32 (F32 as stored; F64, F16 and BF16 converted). */
  data: Float32Array;
}

export interface SafetensorsNamingOptions {
  /** 'torch-sequential' (default: the module numbering of an equivalent nn.Sequential) or 'spec' (thinnet's layer index). */
  naming?: 'torch-sequential' | 'spec';
  /** Prepended to every key, e.g. 'net.' for a model whose nn.Sequential is the attribute `net`. Default ''. */
  prefix?: string;
  /**
   * Maps each key of the rule (after the prefix) to the key in the file, for models whose
   * modules are not one nn.Sequential (e.g. `features.*` and `head.*`).
   */
  rename?: (key: string) => string;
}

export interface LoadSafetensorsOptions extends SafetensorsNamingOptions {
  /** Refuse files with tensors the model does not use (default true). */
  strict?: boolean;
}

class SafetensorsError extends Error {}

const bad = (op: string, msg: string) => new SafetensorsError(`thinnet.io.${op}: ${msg}`);

const SIZES: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, U16: 2, U32: 4, U64: 8 };
/** Headers above this are refused before being decoded (the reference implementation's limit). */
const MAX_HEADER = 100_000_000;

function f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function toFloat32(dtype: string, bytes: Uint8Array, n: number, op: string, name: string): Float32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32': for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true); break;
    case 'F64': for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true); break;
    case 'F16': for (let i = 0; i < n; i++) out[i] = f16(dv.getUint16(2 * i, true)); break;
    case 'BF16': { const u = new Uint32Array(out.buffer); for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16; break; }
    default: throw bad(op, `tensor '${name}' is ${dtype}; thinnet reads float tensors (F32, F64, F16, BF16)`);
  }
  return out;
}

/**
 * Parses a safetensors file: its tensors (float ones as Float32Array; others are refused when
 * read, by name) and metadata. Every claim of the header is checked against the file's length
 * before anything is allocated.
 */
export function readSafetensors(bytes: Uint8Array, op = 'readSafetensors'): { tensors: Map<string, SafetensorsTensor>; metadata: Record<string, string> } {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`thinnet.io.${op}: expected the file's bytes (a Uint8Array)`);
  if (bytes.length < 8) throw bad(op, `not a safetensors file: ${bytes.length} bytes, shorter than its 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const n = Number(dv.getBigUint64(0, true));
  if (n > bytes.length - 8) throw bad(op, `truncated or not a safetensors file: the header claims ${n} bytes but the file has ${bytes.length - 8} after the length`);
  if (n > MAX_HEADER) throw bad(op, `the header claims ${n} bytes (more than ${MAX_HEADER})`);
  if (n < 2 || bytes[8] !== 0x7b) throw bad(op, "malformed header: it must be a JSON object starting with '{'");
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw bad(op, `malformed header (not UTF-8 JSON: ${(e as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw bad(op, 'malformed header: not a JSON object');
  const data = bytes.subarray(8 + n);
  const entries: Array<{ name: string; dtype: string; shape: number[]; begin: number; end: number }> = [];
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!v || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((s) => typeof s !== 'string')) throw bad(op, 'malformed header: __metadata__ must map strings to strings');
      metadata = v as Record<string, string>;
      continue;
    }
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!t || typeof t !== 'object') throw bad(op, `malformed header: tensor '${name}' is not an object`);
    const size = typeof t.dtype === 'string' ? SIZES[t.dtype] : undefined;
    if (!size) throw bad(op, `malformed header: tensor '${name}' has unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad(op, `malformed header: tensor '${name}' has shape ${JSON.stringify(t.shape)}`);
    const o = t.data_offsets;
    if (!Array.isArray(o) || o.length !== 2 || !o.every((x) => Number.isSafeInteger(x) && x >= 0) || o[0] > o[1]) {
      throw bad(op, `malformed header: tensor '${name}' has data_offsets ${JSON.stringify(o)}`);
    }
    const count = (t.shape as number[]).reduce((a, b) => a * b, 1);
    if (o[1] > data.length) throw bad(op, `truncated file: tensor '${name}' ends at byte ${o[1]} of a ${data.length}-byte data part`);
    if (o[1] - o[0] !== count * size) throw bad(op, `malformed header: tensor '${name}' of shape [${(t.shape as number[]).join(', ')}] ${t.dtype} needs ${count * size} bytes, its offsets span ${o[1] - o[0]}`);
    entries.push({ name, dtype: t.dtype as string, shape: t.shape as number[], begin: o[0], end: o[1] });
  }
  // the tensors tile the data part exactly (the format's rule: no holes, no overlaps)
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin !== pos) throw bad(op, `malformed header: tensor '${e.name}' starts at byte ${e.begin}, expected ${pos} (${e.begin < pos ? 'overlap' : 'hole'} in the data)`);
    pos = e.end;
  }
  if (pos !== data.length) throw bad(op, `malformed file: the tensors cover ${pos} of the ${data.length} data bytes`);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    const count = e.shape.reduce((a, b) => a * b, 1);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: toFloat32(e.dtype, data.subarray(e.begin, e.end), count, op, e.name) });
  }
  return { tensors, metadata };
}

/** A safetensors file of float32 tensors (in the given order; header padded to 8 bytes). */
export function writeSafetensors(tensors: Record<string, { shape: number[]; data: Float32Array }>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new RangeError(`thinnet.io.writeSafetensors: tensor '${name}' has shape [${t.shape.join(', ')}] but ${t.data.length} values`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + 4 * count] };
    off += 4 * count;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8; // keeps the data 8-byte aligned, as the reference writer does
  if (pad) { const p = new Uint8Array(json.length + pad).fill(0x20); p.set(json); json = p; }
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  const dv = new DataView(out.buffer, 8 + json.length);
  let pos = 0;
  for (const t of Object.values(tensors)) for (let i = 0; i < t.data.length; i++, pos += 4) dv.setFloat32(pos, t.data[i], true);
  return out;
}

// ---- a model's weights ------------------------------------------------------------------------

interface Named {
  layer: number;
  weight: string;
  bias: string;
  /** Thinnet kernel → PyTorch layout, and back. */
  toTorch(k: Float32Array): { shape: number[]; data: Float32Array };
  fromTorch(t: Float32Array): Float32Array;
  torchShape: number[];
}

/** The column permutation between thinnet's (H, W, C) flatten order and torch's (C, H, W): thinnet column j = torch column perm[j]. */
function chwPerm(H: number, W: number, C: number): Int32Array {
  const perm = new Int32Array(H * W * C);
  for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) perm[(h * W + w) * C + c] = (c * H + h) * W + w;
  return perm;
}

function names(model: Sequential, options: SafetensorsNamingOptions, op: string): Named[] {
  const naming = options.naming ?? 'torch-sequential';
  if (naming !== 'torch-sequential' && naming !== 'spec') throw new RangeError(`thinnet.io.${op}: naming must be 'torch-sequential' or 'spec', got ${JSON.stringify(naming)}`);
  const prefix = options.prefix ?? '';
  if (typeof prefix !== 'string') throw new TypeError(`thinnet.io.${op}: prefix must be a string`);
  if (options.rename !== undefined && typeof options.rename !== 'function') throw new TypeError(`thinnet.io.${op}: rename must be a function (key → key)`);
  const key = (k: string) => {
    const r = options.rename ? options.rename(k) : k;
    if (typeof r !== 'string' || r === '') throw new TypeError(`thinnet.io.${op}: rename('${k}') returned ${JSON.stringify(r)}, not a key`);
    return r;
  };
  const specs = model.config.layers;
  const out: Named[] = [];
  let module = 0;
  let flatFrom: readonly number[] | undefined; // the image a flat tensor was flattened from
  const seen = new Set<number>();
  for (const l of model.net.layers) {
    const first = !seen.has(l.index);
    seen.add(l.index);
    const spec = specs[l.index];
    if (l.kind === 'flatten' && l.inShape.length === 3) flatFrom = l.inShape;
    if (!first) continue;
    if (spec.type === 'dense' && l.inShape.length > 1 && naming === 'torch-sequential') module++; // torch's nn.Flatten in front
    const idx = naming === 'spec' ? l.index : module;
    if (l.kind === 'dense' || l.kind === 'conv2d') {
      const kernel = l.params.find((p) => p.name === 'kernel')!;
      const shape = kernel.shape;
      const base = { layer: l.index, weight: key(`${prefix}${idx}.weight`), bias: key(`${prefix}${idx}.bias`) };
      if (l.kind === 'conv2d') {
        const [F, KH, KW, C] = shape;
        const at = (f: number, c: number, y: number, x: number) => [((f * KH + y) * KW + x) * C + c, ((f * C + c) * KH + y) * KW + x];
        const each = (fn: (thin: number, torch: number) => void) => {
          for (let f = 0; f < F; f++) for (let c = 0; c < C; c++) for (let y = 0; y < KH; y++) for (let x = 0; x < KW; x++) { const [a, b] = at(f, c, y, x); fn(a, b); }
        };
        out.push({ ...base, torchShape: [F, C, KH, KW],
          toTorch: (k) => { const d = new Float32Array(k.length); each((a, b) => { d[b] = k[a]; }); return { shape: [F, C, KH, KW], data: d }; },
          fromTorch: (t) => { const d = new Float32Array(t.length); each((a, b) => { d[a] = t[b]; }); return d; } });
      } else {
        const [units, inputs] = shape;
        const img = l.inShape.length === 3 ? l.inShape : flatFrom;
        const perm = img && img[2] > 1 ? chwPerm(img[0], img[1], img[2]) : undefined;
        const move = (src: Float32Array, toTorch: boolean) => {
          if (!perm) return src.slice();
          const d = new Float32Array(src.length);
          for (let o = 0; o < units; o++) for (let j = 0; j < inputs; j++) {
            if (toTorch) d[o * inputs + perm[j]] = src[o * inputs + j]; else d[o * inputs + j] = src[o * inputs + perm[j]];
          }
          return d;
        };
        out.push({ ...base, torchShape: [units, inputs], toTorch: (k) => ({ shape: [units, inputs], data: move(k, true) }), fromTorch: (t) => move(t, false) });
      }
      flatFrom = undefined;
    }
    module++;
    const act = spec.activation;
    if ((spec.type === 'dense' || spec.type === 'conv2d') && act !== undefined && act !== 'linear') module++; // torch's activation module
  }
  return out;
}

/** The state_dict keys of the model's tensors, in file order (see the naming rule above). */
export function safetensorsNames(model: Sequential, options: SafetensorsNamingOptions = {}): string[] {
  model.assertLive('io.safetensorsNames');
  const has = new Map(model.getWeights().map((w) => [w.layer, w.bias.length > 0]));
  return names(model, options, 'safetensorsNames').flatMap((n) => (has.get(n.layer) ? [n.weight, n.bias] : [n.weight]));
}

/** The model's weights as a safetensors file, in PyTorch's names and layouts. */
export function toSafetensors(model: Sequential, options: SafetensorsNamingOptions = {}): Uint8Array {
  model.assertLive('io.toSafetensors');
  const byLayer = new Map(model.getWeights().map((w) => [w.layer, w]));
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const n of names(model, options, 'toSafetensors')) {
    const w = byLayer.get(n.layer)!;
    tensors[n.weight] = n.toTorch(w.kernel);
    if (w.bias.length) tensors[n.bias] = { shape: [w.bias.length], data: w.bias };
  }
  return writeSafetensors(tensors, { format: 'pt', producer: 'thinnet' });
}

/** Node: writes toSafetensors(model, options) to `path` atomically. */
export async function saveSafetensors(model: Sequential, path: string, options: SafetensorsNamingOptions = {}): Promise<void> {
  await writeFileAtomic('io.saveSafetensors', path, toSafetensors(model, options));
}

/**
 * Sets the model's weights from a safetensors file (bytes, or a path in Node) with PyTorch's
 * names and layouts. Every tensor the model needs must be there with its shape; with strict
 * (default), a tensor the model does not use is an error too. Nothing is changed on error.
 */
export async function loadSafetensors(model: Sequential, source: Uint8Array | ArrayBuffer | string, options: LoadSafetensorsOptions = {}): Promise<void> {
  model.assertLive('io.loadSafetensors');
  let bytes: Uint8Array;
  if (typeof source === 'string') {
    const { readWholeFile } = await import('./onnx/index.js');
    bytes = await readWholeFile('io.loadSafetensors', source);
  } else if (source instanceof ArrayBuffer) bytes = new Uint8Array(source);
  else bytes = source;
  const { tensors } = readSafetensors(bytes, 'loadSafetensors');
  const used = new Set<string>();
  if (options.strict !== undefined && typeof options.strict !== 'boolean') throw new TypeError('thinnet.io.loadSafetensors: strict must be a boolean');
  const hasBias = new Map(model.getWeights().map((w) => [w.layer, w.bias.length > 0]));
  const entries = names(model, options, 'loadSafetensors').map((n) => {
    const get = (key: string, shape: number[]) => {
      const t = tensors.get(key);
      if (!t) throw bad('loadSafetensors', `the file has no tensor '${key}' (layer ${n.layer}; keys in the file: ${[...tensors.keys()].slice(0, 8).join(', ')}${tensors.size > 8 ? ', …' : ''})`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw bad('loadSafetensors', `tensor '${key}' has shape [${t.shape.join(', ')}], layer ${n.layer} needs [${shape.join(', ')}]`);
      used.add(key);
      return t.data;
    };
    const kernel = n.fromTorch(get(n.weight, n.torchShape));
    const bias = hasBias.get(n.layer) ? get(n.bias, [n.torchShape[0]]) : undefined;
    return { layer: n.layer, kernel, bias };
  });
  if (options.strict !== false) {
    const extra = [...tensors.keys()].filter((k) => !used.has(k));
    if (extra.length) throw bad('loadSafetensors', `the file has tensors the model does not use: ${extra.slice(0, 8).join(', ')}${extra.length > 8 ? ', …' : ''} (pass { strict: false } to ignore them)`);
  }
  model.setWeights(entries);
}
