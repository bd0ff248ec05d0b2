// Toy data for model tests, and IDX files for the loader tests.

/** Three Gaussian blobs in `features` dimensions (a learnable toy problem), seeded. */
export function blobs(n: number, features: number, seed = 1): { x: Float32Array; y: Int32Array } {
  let s = seed >>> 0;
  const rnd = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const x = new Float32Array(n * features), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    y[i] = c;
    for (let j = 0; j < features; j++) x[i * features + j] = (j % 3 === c ? 1.5 : 0) + gauss();
  }
  return { x, y };
}

/** An IDX file: magic (0, 0, type, dims), big-endian sizes, data. */
export function idx(type: number, shape: number[], body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + body.length);
  const dv = new DataView(out.buffer);
  out[2] = type; out[3] = shape.length;
  shape.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  out.set(body, 4 + 4 * shape.length);
  return out;
}
