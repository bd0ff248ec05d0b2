// The `data` namespace.
import { WasmArray } from '../tensor/wasm-array.js';
import { platform } from '../platform/types.js';
import { PackedRowsBuilder } from '../tensor/packed-rows.js';

export { readIdx, parseIdx, parseIdxHeader, gunzip, type IdxArray, type IdxHeader, type IdxSource, type ReadIdxOptions, type WasmIdxArray } from './idx.js';
export { loadMnist, readIdxFile, type MnistOptions, type Split, type WasmSplit } from './mnist.js';
export { toWasm, WasmArray, type WasmDtype } from '../tensor/wasm-array.js';
export { pack, packedBytes } from '../tensor/packed-rows.js';

/** The first n examples of a split (views, no copy; a WasmArray's subarray shares its memory). */
export function subset<T extends { x: Uint8Array | Float32Array | WasmArray; y: Uint8Array | Int32Array }>(split: T, n: number): T {
  const N = split.y.length;
  const m = Math.max(0, Math.min(n, N));
  const F = split.x.length / Math.max(N, 1);
  return { ...split, x: split.x.subarray(0, m * F), y: split.y.subarray(0, m), count: m };
}

/**
 * n examples drawn at random without replacement (seeded: the same seed gives the same rows in
 * every runtime), kept in their original order. Unlike `subset` it copies them: a new split of
 * the same array types (a WasmArray split gives a new WasmArray, which the caller disposes).
 * n ≥ the number of examples returns them all, copied.
 */
export function randomSubset<T extends { x: Uint8Array | Float32Array | WasmArray; y: Uint8Array | Int32Array }>(split: T, n: number, seed: number): T {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`thinnet.data.randomSubset: n must be a non-negative integer, got ${String(n)}`);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new RangeError(`thinnet.data.randomSubset: seed must be an integer in [0, 2^32), got ${String(seed)}`);
  const N = split.y.length;
  if (split.x.length % Math.max(N, 1) !== 0) {
    throw new RangeError(`thinnet.data.randomSubset: x has ${split.x.length} elements, not a multiple of the ${N} labels`);
  }
  const F = split.x.length / Math.max(N, 1);
  const m = Math.min(n, N);
  // a partial Fisher-Yates shuffle of the indices picks m of N uniformly; sorted back into order
  const idx = new Int32Array(N);
  for (let i = 0; i < N; i++) idx[i] = i;
  const rand = platform().seedrandom(`thinnet:subset:${seed}`);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rand() * (N - i));
    const t = idx[i]; idx[i] = idx[j]; idx[j] = t;
  }
  const rows = idx.subarray(0, m).sort();
  const y = new (split.y.constructor as Uint8ArrayConstructor | Int32ArrayConstructor)(m);
  for (let i = 0; i < m; i++) y[i] = split.y[rows[i]];
  const gather = (src: Uint8Array | Float32Array, dst: Uint8Array | Float32Array) => {
    for (let i = 0; i < m; i++) dst.set(src.subarray(rows[i] * F, (rows[i] + 1) * F), i * F);
  };
  let x: Uint8Array | Float32Array | WasmArray;
  if (split.x instanceof WasmArray && split.x.dtype === 'packed') {
    // the chosen rows' packed bytes, copied as they are
    const src = split.x, h = src.runtime.heap;
    const b = new PackedRowsBuilder(m, F);
    const at = h.alloc(4 * Math.max(m, 1));
    try {
      h.i32(at, m).set(rows);
      b.addPacked(src.ptr, at, m);
      x = b.finish();
    } catch (e) {
      b.abort();
      throw e;
    } finally {
      h.free(at);
    }
  } else if (split.x instanceof WasmArray) {
    const out = WasmArray.alloc(split.x.dtype as 'uint8' | 'float32', m * F);
    gather(split.x.view(), out.view()); // both views taken after the allocation (memory may grow)
    x = out;
  } else {
    x = new (split.x.constructor as Uint8ArrayConstructor | Float32ArrayConstructor)(m * F);
    gather(split.x, x);
  }
  return { ...split, x, y, count: m };
}
