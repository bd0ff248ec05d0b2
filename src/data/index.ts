// The `data` namespace.
import type { WasmArray } from '../tensor/wasm-array.js';

export { readIdx, parseIdx, parseIdxHeader, gunzip, type IdxArray, type IdxHeader, type IdxSource, type ReadIdxOptions, type WasmIdxArray } from './idx.js';
export { loadMnist, readIdxFile, type MnistOptions, type Split, type WasmSplit } from './mnist.js';
export { toWasm, WasmArray, type WasmDtype } from '../tensor/wasm-array.js';

/** The first n examples of a split (views, no copy; a WasmArray's subarray shares its memory). */
export function subset<T extends { x: Uint8Array | Float32Array | WasmArray; y: Uint8Array | Int32Array }>(split: T, n: number): T {
  const N = split.y.length;
  const m = Math.max(0, Math.min(n, N));
  const F = split.x.length / Math.max(N, 1);
  return { ...split, x: split.x.subarray(0, m * F), y: split.y.subarray(0, m), count: m };
}
