// The `data` namespace.
export { readIdx, parseIdx, gunzip, type IdxArray } from './idx.js';
export { loadMnist, type MnistOptions, type Split } from './mnist.js';

/** The first n examples of a split (views, no copy). */
export function subset<T extends { x: Uint8Array | Float32Array; y: Uint8Array | Int32Array }>(split: T, n: number): T {
  const N = split.y.length;
  const m = Math.max(0, Math.min(n, N));
  const F = split.x.length / Math.max(N, 1);
  return { ...split, x: split.x.subarray(0, m * F), y: split.y.subarray(0, m), count: m };
}
