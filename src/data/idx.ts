// IDX files (the MNIST format, LeCun et al.): magic 0x00 0x00 <type> <dims>, then <dims> u32
// big-endian sizes, then the data, big-endian. Gzip-compressed files (.gz) are recognized by
// their 0x1f 0x8b signature and inflated by the platform (node:zlib in Node, DecompressionStream
// elsewhere).
//
// Memory (issue 18): the data is written once, into its final array. Plain bytes give views of
// the input (uint8, int8), never a copy; compressed data and streams are inflated chunk by chunk
// straight into the final array, allocated as soon as the header says how large it is. So the
// decompressed bytes never exist twice, and a stream (a fetch Response, a file) is never held
// whole in its compressed form either.
import { platform } from '../platform/types.js';
import { PackedRowsBuilder } from '../tensor/packed-rows.js';
import { WasmArray } from '../tensor/wasm-array.js';

export interface IdxArray {
  shape: number[];
  /**
   * uint8 data stays uint8; other types are converted to the matching typed array. From plain
   * bytes, uint8 and int8 data are views of those bytes (no copy).
   */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/** An IDX array read into wasm memory (readIdx(..., { wasm: true })): uint8 or float32 data. */
export interface WasmIdxArray {
  shape: number[];
  data: WasmArray;
}

/** Bytes, or a stream of them: a fetch Response, its body, or any (async) iterable of chunks. */
export type IdxSource = Uint8Array | ArrayBuffer | Response | Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface ReadIdxOptions {
  /** Names the data in error messages (default 'IDX data'). */
  what?: string;
  /**
   * Write the data straight into wasm memory (a WasmArray; uint8 and float32 data only); 'packed':
   * uint8 rows (one per entry of the first dimension) packed as they arrive (tn.data.pack), the
   * plain rows never held whole.
   */
  wasm?: boolean | 'packed';
}

type TypeName = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
const TYPES: Record<number, { name: TypeName; bytes: number }> = {
  0x08: { name: 'uint8', bytes: 1 }, 0x09: { name: 'int8', bytes: 1 }, 0x0b: { name: 'int16', bytes: 2 },
  0x0c: { name: 'int32', bytes: 4 }, 0x0d: { name: 'float32', bytes: 4 }, 0x0e: { name: 'float64', bytes: 8 },
};

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** The header of an IDX file: element type, shape, and where the data starts and ends. */
export interface IdxHeader {
  type: { name: TypeName; bytes: number };
  shape: number[];
  /** Bytes of the header (4 + 4·dims): the data starts here. */
  head: number;
  /** Bytes of the data (elements × element size). */
  dataBytes: number;
}

/**
 * The header at the start of `bytes`, or undefined if more bytes are needed to read it (a
 * stream's first chunk may be short). Throws on a malformed header.
 */
export function parseIdxHeader(bytes: Uint8Array, what = 'IDX data'): IdxHeader | undefined {
  if (bytes.length >= 1 && bytes[0] !== 0 || bytes.length >= 2 && bytes[1] !== 0) throw new Error(`thinnet.data: ${what} is not an IDX file (bad magic)`);
  if (bytes.length < 4) return undefined;
  const type = TYPES[bytes[2]];
  if (!type) throw new Error(`thinnet.data: ${what} has unknown IDX data type 0x${bytes[2].toString(16)}`);
  const dims = bytes[3];
  if (dims < 1) throw new Error(`thinnet.data: ${what} has 0 dimensions`);
  const head = 4 + 4 * dims;
  if (bytes.length < head) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, head);
  const shape: number[] = [];
  for (let i = 0; i < dims; i++) shape.push(dv.getUint32(4 + 4 * i, false));
  const dataBytes = shape.reduce((a, b) => a * b, 1) * type.bytes;
  if (!Number.isSafeInteger(dataBytes) || dataBytes > 2 ** 32) {
    throw new RangeError(`thinnet.data: ${what} has shape [${shape.join(', ')}]: ${dataBytes} bytes of data, more than thinnet reads (4 GiB)`);
  }
  return { type, shape, head, dataBytes };
}

/**
 * Converts big-endian data of `type` in `raw` (an exact, aligned buffer) to native typed values
 * in place: element i is read before it is overwritten, so no second buffer is needed.
 */
function fromBigEndian(raw: ArrayBuffer, offset: number, type: IdxHeader['type'], count: number): IdxArray['data'] {
  switch (type.name) {
    case 'uint8': return new Uint8Array(raw, offset, count);
    case 'int8': return new Int8Array(raw, offset, count);
    default: {
      const dv = new DataView(raw, offset, count * type.bytes);
      if (type.name === 'int16') { const a = new Int16Array(raw, offset, count); for (let i = 0; i < count; i++) a[i] = dv.getInt16(2 * i, false); return a; }
      if (type.name === 'int32') { const a = new Int32Array(raw, offset, count); for (let i = 0; i < count; i++) a[i] = dv.getInt32(4 * i, false); return a; }
      if (type.name === 'float32') { const a = new Float32Array(raw, offset, count); for (let i = 0; i < count; i++) a[i] = dv.getFloat32(4 * i, false); return a; }
      const a = new Float64Array(raw, offset, count); for (let i = 0; i < count; i++) a[i] = dv.getFloat64(8 * i, false); return a;
    }
  }
}

/** The data of `header` in `raw` (exactly its data bytes, big-endian), converted in place. */
export function fromBigEndianData(raw: ArrayBuffer, header: IdxHeader): IdxArray['data'] {
  return fromBigEndian(raw, 0, header.type, header.dataBytes / header.type.bytes);
}

/**
 * Parses an uncompressed IDX file held in memory. uint8 and int8 data are views of `bytes` (no
 * copy: keep `bytes` unchanged while you use them); other types are converted into one new array.
 */
export function parseIdx(bytes: Uint8Array, what = 'IDX data'): IdxArray {
  const h = parseIdxHeader(bytes, what);
  if (!h) throw new Error(`thinnet.data: ${what} is truncated (header)`);
  const need = h.head + h.dataBytes;
  if (bytes.length < need) throw new Error(`thinnet.data: ${what} is truncated: shape [${h.shape.join(', ')}] needs ${need} bytes, got ${bytes.length}`);
  const count = h.dataBytes / h.type.bytes;
  if (h.type.bytes === 1) return { shape: h.shape, data: fromBigEndian(bytes.buffer as ArrayBuffer, bytes.byteOffset + h.head, h.type, count) };
  // multi-byte values: one copy into an aligned buffer of their own, converted there
  const raw = new ArrayBuffer(h.dataBytes);
  new Uint8Array(raw).set(bytes.subarray(h.head, need));
  return { shape: h.shape, data: fromBigEndian(raw, 0, h.type, count) };
}

/** Where the decoded data goes: a JavaScript buffer, or a block of wasm memory. */
export interface Sink {
  /** Called once, with the header, before any data. */
  open(header: IdxHeader): void;
  /** Writes data bytes [offset, offset + chunk.length). */
  write(offset: number, chunk: Uint8Array): void;
}

/**
 * Feeds chunks of an (uncompressed) IDX stream to `sink`: collects the header (a few bytes, even
 * when split across chunks), then copies each chunk's data bytes to its place. Bytes after the
 * data are ignored, as parseIdx ignores them.
 */
async function assemble(chunks: AsyncIterable<Uint8Array>, sink: Sink, what: string): Promise<IdxHeader> {
  let header: IdxHeader | undefined;
  let pending: Uint8Array = new Uint8Array(0); // header bytes so far (at most 4 + 4·255)
  let filled = 0;
  for await (const c of chunks) {
    let chunk = c;
    if (!header) {
      const joined = new Uint8Array(pending.length + chunk.length);
      joined.set(pending);
      joined.set(chunk, pending.length);
      header = parseIdxHeader(joined.subarray(0, Math.min(joined.length, 4 + 4 * 255)), what);
      if (!header) { pending = joined; continue; }
      chunk = joined.subarray(header.head);
      pending = new Uint8Array(0);
      sink.open(header);
    }
    const take = Math.min(chunk.length, header.dataBytes - filled);
    if (take > 0) sink.write(filled, take === chunk.length ? chunk : chunk.subarray(0, take));
    filled += take;
  }
  if (!header) throw new Error(`thinnet.data: ${what} is truncated (header)`);
  const need = header.head + header.dataBytes;
  if (filled < header.dataBytes) throw new Error(`thinnet.data: ${what} is truncated: shape [${header.shape.join(', ')}] needs ${need} bytes, got ${header.head + filled}`);
  return header;
}

/** The chunks of any IdxSource, as an async iterable. */
async function* chunksOf(source: Exclude<IdxSource, Uint8Array | ArrayBuffer>): AsyncGenerator<Uint8Array> {
  const s = source as { body?: unknown; getReader?: unknown };
  if (typeof s.getReader !== 'function' && typeof (source as Response).arrayBuffer === 'function' && 'body' in (source as object)) {
    const r = source as Response;
    if (r.ok === false) throw new Error(`thinnet.data: HTTP ${r.status} ${r.statusText ?? ''} for ${r.url || 'the response'}`.trimEnd());
    if (!r.body) return;
    yield* chunksOf(r.body);
    return;
  }
  if (typeof s.getReader !== 'function' && typeof (source as Blob).stream === 'function') { // a Blob or File
    yield* chunksOf((source as Blob).stream() as ReadableStream<Uint8Array>);
    return;
  }
  if (typeof s.getReader === 'function') {
    const reader = (source as ReadableStream<Uint8Array>).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  }
  const it = source as Partial<AsyncIterable<Uint8Array> & Iterable<Uint8Array>>;
  if (typeof it[Symbol.asyncIterator] !== 'function' && typeof it[Symbol.iterator] !== 'function') {
    throw new TypeError(`thinnet.data.readIdx: expected bytes (Uint8Array, ArrayBuffer), a Response, a Blob, a ReadableStream or an iterable of Uint8Array chunks, got ${(source as object).constructor?.name ?? typeof source}`);
  }
  for await (const c of source as AsyncIterable<Uint8Array>) {
    if (!(c instanceof Uint8Array)) throw new TypeError(`thinnet.data.readIdx: a stream chunk is a ${c === null ? 'null' : typeof c === 'object' ? (c as object).constructor?.name : typeof c}, not a Uint8Array`);
    yield c;
  }
}

/** Yields `first`, then the rest of `it` (a peeked chunk put back). */
async function* prepend(first: Uint8Array, it: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield first;
  for (;;) {
    const r = await it.next();
    if (r.done) return;
    yield r.value;
  }
}

/** The decompressed chunks of `chunks` if they start with the gzip signature, else the chunks themselves. */
async function* maybeInflate(chunks: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<Uint8Array> {
  const it = chunks[Symbol.asyncIterator]();
  // the first two bytes decide; a first chunk of one byte is joined with the next
  let first = new Uint8Array(0);
  while (first.length < 2) {
    const r = await it.next();
    if (r.done) break;
    const j = new Uint8Array(first.length + r.value.length);
    j.set(first); j.set(r.value, first.length);
    first = j;
  }
  const all = prepend(first, it);
  if (!isGzip(first)) { yield* all; return; }
  try {
    yield* platform().inflate(all);
  } catch (e) {
    if ((e as Error).message?.startsWith('thinnet.data:')) throw e;
    throw new Error(`thinnet.data: ${what}: corrupted gzip data (${(e as Error).message})`);
  }
}

/** A sink into a new JavaScript buffer; `result` converts it in place when the data is done. */
function jsSink(): Sink & { result(): IdxArray['data'] } {
  let raw: ArrayBuffer | undefined;
  let header: IdxHeader | undefined;
  return {
    open(h) { header = h; raw = new ArrayBuffer(h.dataBytes); },
    write(offset, chunk) { new Uint8Array(raw!, offset, chunk.length).set(chunk); },
    result: () => fromBigEndian(raw!, 0, header!.type, header!.dataBytes / header!.type.bytes),
  };
}

/** A sink into wasm memory (a WasmArray, allocated when the header arrives). */
function wasmSink(what: string): Sink & { result(): WasmArray | undefined; abort(): void } {
  let arr: WasmArray | undefined;
  return {
    open(h) {
      if (h.type.name !== 'uint8' && h.type.name !== 'float32') throw new TypeError(`thinnet.data: ${what} holds ${h.type.name} data; only uint8 and float32 data can be read into wasm memory`);
      arr = WasmArray.alloc(h.type.name, h.dataBytes / h.type.bytes);
    },
    // a fresh view per chunk: another allocation (the other file of a split, loading at the
    // same time) may grow the memory between chunks and detach an older view
    write(offset, chunk) { arr!.runtime.heap.u8(arr!.ptr + offset, chunk.length).set(chunk); },
    result() {
      if (arr?.dtype === 'float32') {
        // wasm is little-endian: swap each float's four bytes in place
        const b = arr.runtime.heap.u8(arr.ptr, 4 * arr.length);
        for (let i = 0; i < b.length; i += 4) {
          const t0 = b[i], t1 = b[i + 1];
          b[i] = b[i + 3]; b[i + 1] = b[i + 2]; b[i + 2] = t1; b[i + 3] = t0;
        }
      }
      return arr;
    },
    abort() { arr?.dispose(); arr = undefined; },
  };
}

/**
 * A sink that packs the rows as they arrive (ReadIdxOptions.wasm 'packed'): the bytes of whole
 * rows are staged in one ~1 MB wasm block and packed from there.
 */
export function packedSink(what: string): Sink & { result(): WasmArray; abort(): void } {
  let b: PackedRowsBuilder | undefined;
  let stage = 0, stageBytes = 0, fill = 0, F = 1;
  const flush = () => {
    if (fill > 0) b!.addPlain(stage, fill / F);
    fill = 0;
  };
  const free = () => { if (stage) b!.rt.heap.free(stage); stage = 0; };
  return {
    open(h) {
      if (h.type.name !== 'uint8') throw new TypeError(`thinnet.data: ${what} holds ${h.type.name} data; only uint8 data can be packed`);
      F = h.shape.slice(1).reduce((a, c) => a * c, 1);
      b = new PackedRowsBuilder(h.shape[0], F);
      stageBytes = Math.max(1, Math.floor((1 << 20) / F)) * F;
      stage = b.rt.heap.alloc(stageBytes);
    },
    write(_offset, chunk) {
      for (let at = 0; at < chunk.length;) {
        const take = Math.min(stageBytes - fill, chunk.length - at);
        b!.rt.heap.u8(stage + fill, take).set(chunk.subarray(at, at + take));
        fill += take;
        at += take;
        if (fill === stageBytes) flush();
      }
    },
    result() {
      flush();
      free();
      return b!.finish();
    },
    abort() { free(); b?.abort(); },
  };
}

/**
 * Reads an IDX file, plain or gzip-compressed, from bytes or a stream: a fetch Response (the
 * browser path: `await tn.data.readIdx(await fetch(url))` inflates the body as it arrives, never
 * holding the whole compressed file), a ReadableStream, or an (async) iterable of chunks.
 * `options.wasm`: the data goes straight into wasm memory (a WasmArray, for fit/predict).
 */
export async function readIdx(source: IdxSource, what?: string): Promise<IdxArray>;
export async function readIdx(source: IdxSource, options: ReadIdxOptions & { wasm: true | 'packed' }): Promise<WasmIdxArray>;
export async function readIdx(source: IdxSource, options?: ReadIdxOptions): Promise<IdxArray>;
export async function readIdx(source: IdxSource, opt?: string | ReadIdxOptions): Promise<IdxArray | WasmIdxArray> {
  const o: ReadIdxOptions = typeof opt === 'string' ? { what: opt } : opt ?? {};
  const what = o.what ?? 'IDX data';
  if (source === null || typeof source !== 'object') throw new TypeError(`thinnet.data.readIdx: expected bytes or a stream, got ${source === null ? 'null' : typeof source}`);
  let chunks: AsyncIterable<Uint8Array>;
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
    const b = source instanceof Uint8Array ? source : new Uint8Array(source);
    if (!isGzip(b) && !o.wasm) return parseIdx(b, what); // views of the input, no copy
    chunks = (async function* one() { yield b; })();
  } else {
    chunks = chunksOf(source);
  }
  chunks = maybeInflate(chunks, what);
  if (o.wasm !== undefined && typeof o.wasm !== 'boolean' && o.wasm !== 'packed') throw new TypeError(`thinnet.data.readIdx: wasm must be true, false or 'packed', got ${String(o.wasm)}`);
  if (o.wasm) {
    const sink = o.wasm === 'packed' ? packedSink(what) : wasmSink(what);
    try {
      const h = await assemble(chunks, sink, what);
      return { shape: h.shape, data: sink.result()! };
    } catch (e) {
      sink.abort();
      throw e;
    }
  }
  const sink = jsSink();
  const h = await assemble(chunks, sink, what);
  return { shape: h.shape, data: sink.result() };
}

/** Inflates gzip bytes (node:zlib in Node, DecompressionStream elsewhere) into one new array. */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  try {
    for await (const c of platform().inflate((async function* one() { yield bytes; })())) { parts.push(c); n += c.length; }
  } catch (e) {
    throw new Error(`thinnet.data: corrupted gzip data (${(e as Error).message})`);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
