// Building packed arrays (WasmArray dtype 'packed'; the format is assembly/packed.ts's): rows are
// packed one block of rows at a time into 1 MB blocks of wasm memory taken as they fill, so
// packing N rows never holds more than their packed size plus one block — the plain rows can
// arrive in pieces (a file read in chunks, a stream being inflated) and never exist whole.
import { runtime, type Runtime } from '../wasm/runtime.js';
import { WasmArray } from './wasm-array.js';

/** Bytes of one block of packed rows (a block holds whole rows; a larger row gets a block of its own size). */
const BLOCK = 1 << 20;

export class PackedRowsBuilder {
  /** The runtime whose memory holds the rows. */
  readonly rt: Runtime;
  /** The row table: one u32 address per row, and one more (the pack kernels' end marker). */
  private table: number;
  private readonly chunks: number[] = [];
  private cur = 0;
  private end = 0;
  private done = 0;
  private readonly bound: number;

  constructor(readonly rows: number, readonly rowLength: number) {
    if (!Number.isSafeInteger(rows) || rows < 0) throw new RangeError(`thinnet.data.pack: rows must be a non-negative integer, got ${String(rows)}`);
    if (!Number.isSafeInteger(rowLength) || rowLength < 1 || rowLength > 2 ** 24) throw new RangeError(`thinnet.data.pack: rowLength must be an integer in [1, 2^24], got ${String(rowLength)}`);
    this.rt = runtime();
    this.table = this.rt.heap.alloc(4 * (rows + 1));
    this.bound = this.rt.kernels.packed_row_bound(rowLength);
  }

  /** Rows added so far. */
  get count(): number {
    return this.done;
  }

  /** Packs n plain rows (rowLength bytes each) at wasm address src, in order after those already added. */
  addPlain(src: number, n: number): void {
    this.add(n, (table, dst, dstEnd, k, from) => this.rt.kernels.pack_rows_u8(table, dst, dstEnd, src + from * this.rowLength, k, this.rowLength));
  }

  /** Copies rows idx[0..n) (i32 row numbers at wasm address idx) of a packed row table. */
  addPacked(srcTable: number, idx: number, n: number): void {
    this.add(n, (table, dst, dstEnd, k, from) => {
      const r = this.rt.kernels.copy_packed_rows(table, dst, dstEnd, srcTable, idx + 4 * from, k, this.rowLength);
      if (r < 0) throw new Error('thinnet.data: a packed row is malformed (the memory was overwritten?)');
      return r;
    });
  }

  private add(n: number, pack: (table: number, dst: number, dstEnd: number, rows: number, from: number) => number): void {
    if (this.table === 0) throw new Error('thinnet.data.pack: the builder was finished or aborted');
    if (this.done + n > this.rows) throw new RangeError(`thinnet.data.pack: ${this.done + n} rows added to a packed array of ${this.rows}`);
    for (let from = 0; from < n;) {
      if (this.end - this.cur < this.bound) this.newBlock();
      const k = pack(this.table + 4 * this.done, this.cur, this.end, n - from, from);
      this.cur = this.rt.heap.u32(this.table + 4 * (this.done + k), 1)[0];
      this.done += k;
      from += k;
      if (k === 0 && this.end - this.cur >= this.bound) throw new Error('thinnet.data.pack: no progress (internal error)');
    }
  }

  private newBlock(): void {
    // the unused tail of the last block stays allocated but untouched (not resident)
    const size = Math.max(BLOCK, this.bound);
    const b = this.rt.heap.alloc(size);
    this.chunks.push(b);
    this.cur = b;
    this.end = b + size;
  }

  /** The packed array of all the rows (exactly `rows` must have been added). */
  finish(): WasmArray {
    if (this.done !== this.rows) throw new Error(`thinnet.data.pack: ${this.done} of ${this.rows} rows were added`);
    const a = WasmArray.packed(this.rt, this.table, this.chunks, this.rows, this.rowLength);
    this.table = 0;
    return a;
  }

  /** Frees everything (after an error). */
  abort(): void {
    if (this.table === 0) return;
    for (const c of this.chunks) this.rt.heap.free(c);
    this.rt.heap.free(this.table);
    this.table = 0;
  }
}

/** Bytes a packed array's rows take (its row table and the blocks' used bytes), for reports. */
export function packedBytes(a: WasmArray): number {
  if (a.dtype !== 'packed') throw new TypeError(`thinnet.data.packedBytes: the array is ${a.dtype}, not packed`);
  a.assertLive('data.packedBytes');
  const k = a.runtime.kernels, h = a.runtime.heap;
  let n = 4 * a.rows;
  const table = h.u32(a.ptr, a.rows).slice();
  for (const p of table) n += k.packed_row_bytes(p, a.rowLength);
  return n;
}

/**
 * Packs uint8 rows of `rowLength` values (a Uint8Array, or a uint8 WasmArray, which stays as it
 * is: dispose it yourself) into a new packed WasmArray; fit, evaluate and predict read it
 * like the plain rows, with the same results bit for bit. Worth it for sparse data (MNIST: 47 →
 * 14 MB); dense rows take ~1% more than plain.
 */
export function pack(x: Uint8Array | WasmArray, rowLength: number): WasmArray {
  const isWasm = x instanceof WasmArray;
  if (!(x instanceof Uint8Array) && !(isWasm && x.dtype === 'uint8')) {
    throw new TypeError(`thinnet.data.pack: x must be a Uint8Array or a uint8 WasmArray, got ${isWasm ? `a ${x.dtype} WasmArray` : x === null ? 'null' : typeof x === 'object' ? (x as object).constructor?.name : typeof x}`);
  }
  if (!Number.isInteger(rowLength) || rowLength < 1) throw new RangeError(`thinnet.data.pack: rowLength must be a positive integer, got ${String(rowLength)}`);
  if (x.length % rowLength !== 0) throw new RangeError(`thinnet.data.pack: x has ${x.length} values, not a multiple of rowLength ${rowLength}`);
  if (isWasm) x.assertLive('data.pack');
  const rows = x.length / rowLength;
  const b = new PackedRowsBuilder(rows, rowLength);
  const h = runtime().heap;
  let stage = 0;
  try {
    if (isWasm) {
      b.addPlain(x.ptr, rows);
    } else {
      // through one staging block of whole rows
      const per = Math.max(1, Math.floor(BLOCK / rowLength));
      stage = h.alloc(per * rowLength);
      for (let r = 0; r < rows; r += per) {
        const n = Math.min(per, rows - r);
        h.u8(stage, n * rowLength).set(x.subarray(r * rowLength, (r + n) * rowLength));
        b.addPlain(stage, n);
      }
    }
    return b.finish();
  } catch (e) {
    b.abort();
    throw e;
  } finally {
    if (stage) h.free(stage);
  }
}
