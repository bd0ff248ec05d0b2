// TensorProto ↔ typed arrays, with the checks a hostile file needs: dims are non-negative safe
// integers, the element count is bounded, and the data present (raw_data bytes or the typed
// list) has exactly the declared size before a single element is copied.
import { DataType, type TensorProto } from './schema.js';

/** No tensor thinnet can use has more elements (wasm32 memory holds 2^30 float32). */
const MAX_ELEMENTS = 1 << 28;

const NAMES: Record<number, string> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64' };

export function dtypeName(t: number | undefined): string {
  return NAMES[t ?? 0] ?? `data type ${t}`;
}

export function tensorDims(t: TensorProto, what: string): number[] {
  const dims = t.dims ?? [];
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`${what} has an invalid dimension ${d}`);
    n *= d;
    if (n > MAX_ELEMENTS) throw new RangeError(`${what} declares [${dims.join(', ')}], more than ${MAX_ELEMENTS} elements`);
  }
  return dims;
}

function checkLocal(t: TensorProto, what: string): void {
  if (t.data_location === 1 || (t.external_data && t.external_data.length > 0)) {
    throw new RangeError(`${what} keeps its data in an external file; thinnet reads self-contained .onnx files (save with all tensors inside)`);
  }
}

/** A float tensor's values (float32 or float64 data) and dims. */
export function floatTensor(t: TensorProto, what: string): { dims: number[]; data: Float32Array } {
  checkLocal(t, what);
  const dims = tensorDims(t, what);
  const n = dims.reduce((a, b) => a * b, 1);
  const type = t.data_type ?? 0;
  if (type !== DataType.FLOAT && type !== DataType.DOUBLE) throw new RangeError(`${what} is ${dtypeName(type)}; thinnet needs float32 weights`);
  const size = type === DataType.FLOAT ? 4 : 8;
  if (t.raw_data && t.raw_data.length > 0) {
    if (t.raw_data.length !== n * size) throw new RangeError(`${what}: [${dims.join(', ')}] needs ${n * size} bytes of data, the file has ${t.raw_data.length}`);
    const copy = new Uint8Array(t.raw_data); // a copy, aligned (a view into the file may start at any byte)
    return { dims, data: type === DataType.FLOAT ? new Float32Array(copy.buffer, 0, n) : Float32Array.from(new Float64Array(copy.buffer, 0, n)) };
  }
  const list = type === DataType.FLOAT ? t.float_data ?? [] : t.double_data ?? [];
  if (list.length !== n) throw new RangeError(`${what}: [${dims.join(', ')}] needs ${n} values, the file has ${list.length}`);
  return { dims, data: Float32Array.from(list) };
}

/** An integer (int64 / int32 / bool / uint8 / int8) tensor's values as numbers. */
export function intTensor(t: TensorProto, what: string): { dims: number[]; data: number[] } {
  checkLocal(t, what);
  const dims = tensorDims(t, what);
  const n = dims.reduce((a, b) => a * b, 1);
  const type = t.data_type ?? 0;
  const sizes: Record<number, number> = { [DataType.INT64]: 8, [DataType.INT32]: 4, [DataType.BOOL]: 1, [DataType.UINT8]: 1, [DataType.INT8]: 1 };
  const size = sizes[type];
  if (!size) throw new RangeError(`${what} is ${dtypeName(type)}; an integer tensor was expected`);
  if (t.raw_data && t.raw_data.length > 0) {
    if (t.raw_data.length !== n * size) throw new RangeError(`${what}: [${dims.join(', ')}] needs ${n * size} bytes of data, the file has ${t.raw_data.length}`);
    const dv = new DataView(t.raw_data.buffer, t.raw_data.byteOffset, t.raw_data.length);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      out.push(size === 8 ? Number(dv.getBigInt64(8 * i, true)) : size === 4 ? dv.getInt32(4 * i, true) : type === DataType.INT8 ? dv.getInt8(i) : dv.getUint8(i));
    }
    return { dims, data: out };
  }
  const list = type === DataType.INT64 ? t.int64_data ?? [] : t.int32_data ?? [];
  if (list.length !== n) throw new RangeError(`${what}: [${dims.join(', ')}] needs ${n} values, the file has ${list.length}`);
  return { dims, data: list.slice() };
}

/** A float32 TensorProto (raw little-endian bytes: wasm memory's byte order, as the .tnet format). */
export function floatProto(name: string, dims: number[], data: Float32Array): TensorProto {
  return { dims, data_type: DataType.FLOAT, name, raw_data: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
}

export function int64Proto(name: string, values: number[]): TensorProto {
  return { dims: [values.length], data_type: DataType.INT64, name, int64_data: values };
}

export function boolProto(name: string, value: boolean): TensorProto {
  return { dims: [], data_type: DataType.BOOL, name, raw_data: new Uint8Array([value ? 1 : 0]) };
}
