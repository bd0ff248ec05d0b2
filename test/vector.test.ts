// Level-1 vector kernels (assembly/vector.ts) against float64 references, in both builds; the
// SIMD kernels against their scalar siblings bit for bit. scale_f32 is also dropout's evaluation
// mode (y = p·x for the paper's convention, a copy for inverted dropout and linear activations).
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILDS, EDGE_SIZES, expectClose, expectSame, loadRaw, testValues, type RawKernels } from './helpers/wasm';

/** The bit patterns of an f32 array (so that −0 and +0, or two NaNs, are told apart). */
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe.each(BUILDS)('vector kernels, %s build', (build) => {
  let K: RawKernels;
  beforeAll(async () => { K = await loadRaw(build); });

  /** Runs kernel(y, x, a, n) on copies of y and x; returns the new y. */
  function run(name: string, y: Float32Array, x: Float32Array, a: number): Float32Array {
    const n = x.length, px = K.putF32(x), py = K.putF32(y);
    K.exports[name](py, px, a, n);
    const out = K.f32(py, n).slice();
    K.free(px); K.free(py);
    return out;
  }

  it.each(['scale_f32', 'scale_f32_scalar'])('%s: y = a·x, for a = p (dropout evaluation), 1 (a copy), −0.7', (name) => {
    for (const n of EDGE_SIZES) {
      const x = testValues(n, n + 40), y0 = testValues(n, n + 41);
      for (const a of [Math.fround(0.8), 1, Math.fround(-0.7)]) {
        expectClose(run(name, y0, x, a), Array.from(x, (v) => a * v), 0, 6e-8, `${name} a=${a} n=${n}`);
      }
      expectSame(run(name, y0, x, 1), x, `${name} a=1 copies exactly, n=${n}`);
    }
  });

  it.each(['axpy_f32', 'axpy_f32_scalar'])('%s: y += a·x', (name) => {
    const a = Math.fround(-0.7);
    for (const n of EDGE_SIZES) {
      const x = testValues(n, n + 40), y0 = testValues(n, n + 41);
      expectClose(run(name, y0, x, a), Array.from(y0, (v, i) => v + a * x[i]), 1e-7, 1e-6, `${name} n=${n}`);
    }
  });

  it('in place (y == x): scale gives a·x, axpy gives x·(1 + a)', () => {
    for (const n of EDGE_SIZES) {
      const x = testValues(n, n + 7);
      for (const s of ['', '_scalar']) {
        const p = K.putF32(x);
        K.exports[`scale_f32${s}`](p, p, 2, n);
        expectSame(K.f32(p, n), Array.from(x, (v) => 2 * v), `scale${s} in place n=${n}`);
        K.exports[`axpy_f32${s}`](p, p, 0.5, n);
        expectSame(K.f32(p, n), Array.from(x, (v) => Math.fround(Math.fround(2 * v) * 1.5)), `axpy${s} in place n=${n}`);
        K.free(p);
      }
    }
  });

  it('SIMD == scalar, bit for bit', () => {
    for (const n of EDGE_SIZES) {
      const x = testValues(n, n + 3, -1e3, 1e3), y0 = testValues(n, n + 4, -1e3, 1e3);
      for (const a of [Math.fround(0.5), Math.fround(-1.3e-3), 0]) {
        expect(bits(run('scale_f32', y0, x, a)), `scale a=${a} n=${n}`).toEqual(bits(run('scale_f32_scalar', y0, x, a)));
        expect(bits(run('axpy_f32', y0, x, a)), `axpy a=${a} n=${n}`).toEqual(bits(run('axpy_f32_scalar', y0, x, a)));
      }
    }
  });
});
