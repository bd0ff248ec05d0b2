// A Uint8Array or Float32Array that lives in wasm memory. A data set is copied in once
// (tn.data.toWasm) or read straight into it (tn.data.loadMnist({ wasm: true })); fit, evaluate,
// predict and the other model methods then read its rows in place, so the JavaScript copy can be
// dropped: 60,000 MNIST images are 47 MB once instead of twice (issue 18).
//
// Why a handle and not a typed-array view of memory.buffer: memory.grow detaches a
// non-shared ArrayBuffer, so a view kept by the caller would silently become empty.
//
// dtype 'packed': uint8 rows of `rowLength` values with their runs of zeros squeezed out
// (assembly/packed.ts; tn.data.pack, loadMnist({ wasm: 'packed' })): MNIST's training pixels take
// ~14 MB instead of 47. `ptr` is then the row table (one u32 address per row), `subarray` and
// `slice` take whole rows, and there is no flat view(); fit, evaluate and predict unpack each
// mini-batch with the bits the plain rows give.
import { isCurrentRuntime, runtime, type Runtime } from '../wasm/runtime.js';

export type WasmDtype = 'uint8' | 'float32' | 'packed';

/** The block a WasmArray and its subarrays share: freed once, by the array that allocated it. */
interface Block {
  ptr: number;
  rt: Runtime;
  /** A packed array's blocks of row bytes (freed with the row table `ptr`). */
  chunks?: number[];
}

export class WasmArray {
  /** Elements (as a typed array's length). */
  readonly length: number;
  readonly bytesPerElement: 1 | 4;

  /** Values per row of a packed array (1 for the others: they have no row structure of their own). */
  readonly rowLength: number;

  /** Use tn.data.toWasm() / WasmArray.alloc(); `owner` is false for a subarray. */
  private constructor(readonly dtype: WasmDtype, private readonly block: Block, private readonly offset: number,
                      length: number, private readonly owner: boolean, rowLength = 1) {
    this.length = length;
    this.bytesPerElement = dtype === 'float32' ? 4 : 1;
    this.rowLength = rowLength;
  }

  /** A packed array over a row table of `rows` rows of `rowLength` values (tensor/packed-rows.ts builds them). */
  static packed(rt: Runtime, table: number, chunks: number[], rows: number, rowLength: number): WasmArray {
    return new WasmArray('packed', { ptr: table, rt, chunks }, 0, rows * rowLength, true, rowLength);
  }

  /** `length` uninitialized elements in the current runtime's memory. */
  static alloc(dtype: WasmDtype, length: number): WasmArray {
    if (dtype !== 'uint8' && dtype !== 'float32') throw new TypeError(`thinnet.WasmArray: dtype must be 'uint8' or 'float32', got ${String(dtype)}${dtype === 'packed' ? ' (packed arrays come from tn.data.pack)' : ''}`);
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`thinnet.WasmArray: length must be a non-negative integer, got ${String(length)}`);
    const rt = runtime();
    const ptr = rt.heap.alloc(length * (dtype === 'uint8' ? 1 : 4));
    return new WasmArray(dtype, { ptr, rt }, 0, length, true);
  }

  /** Byte address of element 0 (of a packed array: of its first row's entry in the row table). */
  get ptr(): number {
    if (this.block.ptr === 0) return 0;
    return this.block.ptr + (this.dtype === 'packed' ? 4 * (this.offset / this.rowLength) : this.offset * this.bytesPerElement);
  }

  /** Rows of a packed array (length / rowLength). */
  get rows(): number {
    return this.length / this.rowLength;
  }

  get isDisposed(): boolean {
    return this.block.ptr === 0;
  }

  /** A typed-array view of the data: valid until the next wasm allocation (memory may grow). */
  view(): Uint8Array | Float32Array {
    this.assertLive('view');
    if (this.dtype === 'packed') throw new TypeError('thinnet.WasmArray.view: a packed array has no flat view (its rows are stored without their zeros); slice() unpacks rows into a Uint8Array');
    const h = this.block.rt.heap;
    return this.dtype === 'uint8' ? h.u8(this.ptr, this.length) : h.f32(this.ptr, this.length);
  }

  /** Elements [begin, end) as a WasmArray sharing this one's memory (TypedArray.subarray's rules for the bounds). */
  subarray(begin = 0, end = this.length): WasmArray {
    this.assertLive('subarray');
    const clamp = (i: number) => {
      const t = Math.trunc(i) || 0;
      return t < 0 ? Math.max(0, this.length + t) : Math.min(t, this.length);
    };
    const b = clamp(begin), e = Math.max(b, clamp(end));
    if (this.dtype === 'packed' && (b % this.rowLength !== 0 || e % this.rowLength !== 0)) {
      throw new RangeError(`thinnet.WasmArray.subarray: a packed array splits at whole rows (multiples of its ${this.rowLength} values per row), got [${b}, ${e})`);
    }
    return new WasmArray(this.dtype, this.block, this.offset + b, e - b, false, this.rowLength);
  }

  /** A JavaScript copy of elements [begin, end) (of a packed array: whole rows, unpacked into a Uint8Array). */
  slice(begin = 0, end = this.length): Uint8Array | Float32Array {
    const part = this.subarray(begin, end);
    if (this.dtype !== 'packed') return part.view().slice();
    const h = this.block.rt.heap, tmp = h.alloc(Math.max(part.length, 1));
    try {
      if (this.block.rt.kernels.unpack_rows_u8(tmp, part.ptr, part.rows, this.rowLength) !== part.rows) throw new Error('thinnet.WasmArray.slice: a packed row is malformed (the memory was overwritten?)');
      return h.u8(tmp, part.length).slice();
    } finally {
      h.free(tmp);
    }
  }

  /**
   * Frees the memory (safe to call twice). Only the array that allocated the block can free it;
   * its subarrays are disposed with it.
   */
  dispose(): void {
    if (!this.owner) throw new Error('thinnet.WasmArray.dispose: this is a subarray; dispose the array it was taken from');
    if (this.block.ptr === 0) return;
    if (isCurrentRuntime(this.block.rt)) {
      for (const c of this.block.chunks ?? []) this.block.rt.heap.free(c);
      this.block.rt.heap.free(this.block.ptr);
    }
    this.block.ptr = 0;
  }

  /** Throws a clear error if the array was disposed or belongs to a closed runtime. */
  assertLive(op: string): void {
    if (this.block.ptr === 0) throw new Error(`thinnet.${op}: the WasmArray was disposed`);
    if (!isCurrentRuntime(this.block.rt)) throw new Error(`thinnet.${op}: the WasmArray belongs to a runtime that was closed (thinnet.close())`);
  }

  /** The runtime whose memory holds the data. */
  get runtime(): Runtime {
    return this.block.rt;
  }

  toString(): string {
    return this.dtype === 'packed' ? `WasmArray(packed, ${this.rows} rows × ${this.rowLength})` : `WasmArray(${this.dtype}, ${this.length})`;
  }
}

/**
 * Copies a Uint8Array or Float32Array into wasm memory once. Drop your own reference to `x`
 * afterwards and the JavaScript copy can be garbage-collected: fit, evaluate and predict take the
 * WasmArray wherever they take x. dispose() it when done.
 */
export function toWasm(x: Uint8Array | Float32Array): WasmArray {
  if (!(x instanceof Uint8Array) && !(x instanceof Float32Array)) {
    throw new TypeError(`thinnet.data.toWasm: x must be a Uint8Array or a Float32Array, got ${x === null ? 'null' : typeof x === 'object' ? (x as object).constructor?.name : typeof x}`);
  }
  const a = WasmArray.alloc(x instanceof Uint8Array ? 'uint8' : 'float32', x.length);
  a.view().set(x);
  return a;
}
