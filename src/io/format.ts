// thinnet's model file format (.tnet), versions 1 to 3: bytes ↔ (version, header, blocks). Pure:
// it knows nothing of models (model/sequential.ts writes the header and blocks, io/load.ts builds
// a model from them). All integers little-endian.
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
//   12 + H  4·P   block 0, the float32 parameters, P = paramCount: every layer's kernel
//                 (dense [units, inputs], conv2d [filters, KH, KW, C], row-major), then every
//                 bias (the model's parameter block, byte for byte)
//   (v2)    4·S·P block 1, the optimizer's S state buffers, each P float32 in parameter order;
//                 the header then has "optimizer": { "name": "sgd" | "adam", "config",
//                 "counters": {..}, "slots": ["velocity"] | ["m", "v"] } and "stateCount": S·P
//   end−4   4     u32 CRC-32 (IEEE 802.3, as zlib/PNG) of every byte before it
//
// Version 3 is an int8 model (model.quantize()): instead of block 0 it has three blocks, the
// float32 parameters without the int8 kernels (4·restCount bytes), the int8 kernels (int8Bytes)
// and their per-unit scales (4·scaleCount), sized by the header's "quantization" section (laid
// out in io/quantized.ts); no optimizer state.
//
// Version 1 is what inference needs; version 2 is a checkpoint (model.save(path, { optimizer: true })).
import { crc32Update, PIECE, type Checksum } from './crc32.js';

const MAGIC = [0x54, 0x4e, 0x45, 0x54]; // "TNET"
/** The newest version this code reads and writes (1 is still written for a float model without optimizer state). */
export const FORMAT_VERSION = 3;

/** Where a file's bytes come from: a byte array, or (Node) an open file. */
export interface ByteSource {
  /** Length in bytes. */
  readonly size: number;
  /** Fills `dst` with the bytes at [pos, pos + dst.length) (within size). */
  read(dst: Uint8Array, pos: number): void;
}

/** The checked structure of a file: its header and where each block sits. */
export interface FileLayout {
  version: number;
  header: Record<string, any>;
  /** Byte lengths of the blocks, in file order. */
  blocks: number[];
  /** Bytes [0, 12 + H): preamble and header, checksummed with the rest. */
  head: Uint8Array;
  size: number;
}

export class FormatError extends Error {}

function bad(msg: string): FormatError {
  return new FormatError(msg);
}

export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (dst, pos) => dst.set(bytes.subarray(pos, pos + dst.length)) };
}

/** Every check that needs only the preamble and the header; reads nothing else. */
export function readLayout(src: ByteSource): FileLayout {
  const size = src.size;
  if (size < 16) throw bad(`not a thinnet model: ${size} bytes is too short`);
  const pre = new Uint8Array(12);
  src.read(pre, 0);
  if (!MAGIC.every((m, i) => pre[i] === m)) throw bad('not a thinnet model file (bad magic; expected "TNET")');
  const dv = new DataView(pre.buffer);
  const version = dv.getUint32(4, true);
  if (version !== 1 && version !== 2 && version !== 3) throw bad(`unsupported format version ${version} (this thinnet reads versions 1 to 3)`);
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
  if (!header || typeof header !== 'object' || header.format !== 'thinnet-model' || !header.config) throw bad('corrupted header (missing format or config)');
  const P = header.paramCount;
  if (!Number.isSafeInteger(P) || P < 0) throw bad(`corrupted header (bad paramCount ${JSON.stringify(P)})`);
  const blocks = [4 * P];
  if (version === 3) {
    const q = header.quantization;
    const counts = q && typeof q === 'object' ? [q.restCount, q.int8Bytes, q.scaleCount] : [];
    if (counts.length !== 3 || !counts.every((c) => Number.isSafeInteger(c) && c >= 0 && c <= P * 4) || !Array.isArray(q.layers)) {
      throw bad('corrupted header (version 3 needs a valid "quantization" section: restCount, int8Bytes, scaleCount, layers)');
    }
    blocks.splice(0, 1, 4 * q.restCount, q.int8Bytes, 4 * q.scaleCount);
  } else if (header.quantization !== undefined) {
    throw bad(`corrupted header (a "quantization" section in a version ${version} file)`);
  }
  if (version === 2) {
    const opt = header.optimizer;
    if (!opt || typeof opt.name !== 'string' || !Array.isArray(opt.slots) || !opt.slots.every((n: unknown) => typeof n === 'string') ||
      typeof opt.counters !== 'object' || opt.counters === null || header.stateCount !== opt.slots.length * P) {
      throw bad('corrupted header (version 2 needs a valid "optimizer" section and stateCount)');
    }
    blocks.push(4 * header.stateCount);
  }
  const expected = 12 + H + blocks.reduce((a, b) => a + b, 0) + 4;
  if (size < expected) throw bad(`truncated file: expected ${expected} bytes, got ${size}`);
  if (size > expected) throw bad(`corrupted file: expected ${expected} bytes, got ${size} (trailing data)`);
  return { version, header, blocks, head, size };
}

/**
 * Reads every block into `dst` (one array per block, of its length; a view of wasm memory is
 * read into directly), piece by piece with the running checksum, then checks the stored CRC.
 */
export function readBlocks(src: ByteSource, layout: FileLayout, dst: Uint8Array[], checksum: Checksum = crc32Update): void {
  let crc = crc32Update(0, layout.head);
  let pos = layout.head.length;
  layout.blocks.forEach((bytes, i) => {
    if (dst[i].length !== bytes) throw new Error(`thinnet: block ${i} needs ${bytes} bytes, got a destination of ${dst[i].length}`);
    for (let o = 0; o < bytes; o += PIECE) {
      const piece = dst[i].subarray(o, Math.min(o + PIECE, bytes));
      src.read(piece, pos + o);
      crc = checksum(crc, piece);
    }
    pos += bytes;
  });
  const tail = new Uint8Array(4);
  src.read(tail, pos);
  const stored = new DataView(tail.buffer).getUint32(0, true);
  if (stored !== crc) throw bad(`checksum mismatch (stored ${hex(stored)}, computed ${hex(crc)}): the file is corrupted`);
}

/** The file of `header` and `blocks` (byte arrays, e.g. views of wasm memory), with its CRC. */
export function encodeFile(version: 1 | 2 | 3, header: Record<string, unknown>, blocks: Uint8Array[], checksum: Checksum = crc32Update): Uint8Array {
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (4 - ((12 + json.length) % 4)) % 4;
  if (pad) {
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const total = 12 + json.length + blocks.reduce((a, b) => a + b.length, 0) + 4;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  dv.setUint32(4, version, true);
  dv.setUint32(8, json.length, true);
  out.set(json, 12);
  let crc = crc32Update(0, out.subarray(0, 12 + json.length));
  let pos = 12 + json.length;
  for (const b of blocks) {
    out.set(b, pos);
    crc = checksum(crc, b); // over the source: the wasm kernel where it is a view of wasm memory
    pos += b.length;
  }
  dv.setUint32(total - 4, crc, true);
  return out;
}

function hex(v: number): string {
  return `0x${v.toString(16).padStart(8, '0')}`;
}
