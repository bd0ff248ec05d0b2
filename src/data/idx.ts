// IDX files (the MNIST format, LeCun et al.): magic 0x00 0x00 <type> <dims>, then <dims> u32
// big-endian sizes, then the data, big-endian. Gzip-compressed files (.gz) are recognized by
// their 0x1f 0x8b signature and inflated with DecompressionStream (Node ≥ 18, browsers, Deno).

export interface IdxArray {
  shape: number[];
  /** uint8 data stays uint8; other types are converted to the matching typed array. */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPES: Record<number, { name: string; bytes: number }> = {
  0x08: { name: 'uint8', bytes: 1 }, 0x09: { name: 'int8', bytes: 1 }, 0x0b: { name: 'int16', bytes: 2 },
  0x0c: { name: 'int32', bytes: 4 }, 0x0d: { name: 'float32', bytes: 4 }, 0x0e: { name: 'float64', bytes: 8 },
};

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Inflates gzip bytes (DecompressionStream). */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  if (typeof DecompressionStream === 'undefined') throw new Error('thinnet.data: this runtime has no DecompressionStream to read .gz files');
  const stream = new Blob([bytes as unknown as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip'));
  try {
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new Error(`thinnet.data: corrupted gzip data (${(e as Error).message})`);
  }
}

/** Parses an uncompressed IDX file. `what` names it in errors. */
export function parseIdx(bytes: Uint8Array, what = 'IDX data'): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new Error(`thinnet.data: ${what} is not an IDX file (bad magic)`);
  const type = TYPES[bytes[2]];
  if (!type) throw new Error(`thinnet.data: ${what} has unknown IDX data type 0x${bytes[2].toString(16)}`);
  const dims = bytes[3];
  if (dims < 1) throw new Error(`thinnet.data: ${what} has 0 dimensions`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const head = 4 + 4 * dims;
  if (bytes.length < head) throw new Error(`thinnet.data: ${what} is truncated (header)`);
  const shape: number[] = [];
  for (let i = 0; i < dims; i++) shape.push(dv.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const need = head + count * type.bytes;
  if (bytes.length < need) throw new Error(`thinnet.data: ${what} is truncated: shape [${shape.join(', ')}] needs ${need} bytes, got ${bytes.length}`);
  let data: IdxArray['data'];
  switch (type.name) {
    case 'uint8': data = bytes.slice(head, need); break;
    case 'int8': data = new Int8Array(bytes.slice(head, need).buffer); break;
    default: {
      const get = {
        int16: (o: number) => dv.getInt16(o, false), int32: (o: number) => dv.getInt32(o, false),
        float32: (o: number) => dv.getFloat32(o, false), float64: (o: number) => dv.getFloat64(o, false),
      }[type.name as 'int16']!;
      const Ctor = { int16: Int16Array, int32: Int32Array, float32: Float32Array, float64: Float64Array }[type.name as 'int16'];
      data = new Ctor(count);
      for (let i = 0; i < count; i++) data[i] = get(head + i * type.bytes);
    }
  }
  return { shape, data };
}

/** Parses an IDX file, plain or gzip-compressed. */
export async function readIdx(bytes: Uint8Array | ArrayBuffer, what = 'IDX data'): Promise<IdxArray> {
  let b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (isGzip(b)) b = await gunzip(b);
  return parseIdx(b, what);
}
