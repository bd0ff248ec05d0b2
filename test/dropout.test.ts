// Bernoulli dropout kernels against a float64 reference, both builds, every edge size.
import { beforeAll, describe, expect, test } from 'vitest';
import { BUILDS, EDGE_SIZES, expectClose, expectSame, loadRaw, testValues, type RawKernels } from './helpers/wasm';
import { refMask, unpackBits } from './helpers/rng-ref';

const KEEPS = [0.1, 0.5, 0.8, 0.95, 1];

/** float64 reference: y = r * x * scale. */
function refApply(x: ArrayLike<number>, r: ArrayLike<number>, scale: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = r[i] * x[i] * scale;
  return y;
}

describe.each(BUILDS)('dropout kernels, %s build', (build) => {
  let k: RawKernels;
  beforeAll(async () => { k = await loadRaw(build); });

  test.each(['dropout_forward_f32', 'dropout_forward_f32_scalar'])('%s: y = r*x*scale and the mask, both conventions', (kernel) => {
    for (const n of EDGE_SIZES) {
      const xs = testValues(n, n);
      for (const p of KEEPS) {
        const keep16 = Math.round(p * 65536);
        for (const scale of [1, Math.fround(65536 / keep16)]) { // paper, inverted
          const x = k.putF32(xs), y = k.alloc(n * 4), m = k.alloc(Math.ceil(n / 32) * 4);
          k.exports[kernel](y, m, x, keep16, scale, 99, 2, 31, 64, n);
          const r = refMask(keep16, 99, 2, 31, 64, n);
          expectSame(unpackBits(k.u32(m, Math.ceil(n / 32)), n), r, `${kernel} mask n=${n} p=${p}`);
          // padding bits of the last word are zero
          if (n % 32) expect(k.u32(m, Math.ceil(n / 32))[n >> 5] >>> (n % 32)).toBe(0);
          expectClose(k.f32(y, n), refApply(xs, r, scale), 0, 6e-8, `${kernel} y n=${n} p=${p} scale=${scale}`);
          k.free(x); k.free(y); k.free(m);
        }
      }
    }
  });

  test('forward in place (y == x) equals out of place', () => {
    const n = 1021;
    const xs = testValues(n, 3);
    const x = k.putF32(xs), y = k.alloc(n * 4), m = k.alloc(128);
    k.exports.dropout_forward_f32(y, m, x, 30000, 2.5, 1, 1, 1, 0, n);
    const outOfPlace = k.f32(y, n).slice();
    k.exports.dropout_forward_f32(x, m, x, 30000, 2.5, 1, 1, 1, 0, n);
    expectSame(k.f32(x, n), outOfPlace, 'in place');
    k.free(x); k.free(y); k.free(m);
  });

  test.each(['dropout_backward_f32', 'dropout_backward_f32_scalar'])('%s: dx = r*dy*scale from the stored mask', (kernel) => {
    for (const n of EDGE_SIZES) {
      const xs = testValues(n, 1), dys = testValues(n, 2);
      const x = k.putF32(xs), y = k.alloc(n * 4), m = k.alloc(Math.ceil(n / 32) * 4), dy = k.putF32(dys), dx = k.alloc(n * 4);
      k.exports.dropout_forward_f32(y, m, x, 20000, 3.25, 4, 0, 9, 0, n);
      k.exports[kernel](dx, dy, m, 3.25, n);
      expectClose(k.f32(dx, n), refApply(dys, refMask(20000, 4, 0, 9, 0, n), 3.25), 0, 6e-8, `${kernel} n=${n}`);
      k.exports[kernel](dy, dy, m, 3.25, n); // in place
      expectSame(k.f32(dy, n), k.f32(dx, n), `${kernel} in place n=${n}`);
      for (const p of [x, y, m, dy, dx]) k.free(p);
    }
  });

  test.each(['dropout_backward_recompute_f32', 'dropout_backward_recompute_f32_scalar'])('%s equals the stored-mask backward', (kernel) => {
    for (const n of EDGE_SIZES) {
      for (const keep16 of [6554, 32768, 65536]) {
        const dys = testValues(n, 5);
        const dy = k.putF32(dys), dx = k.alloc(n * 4), m = k.alloc(Math.ceil(n / 32) * 4), y = k.alloc(n * 4), dx2 = k.alloc(n * 4);
        k.exports.dropout_forward_f32(y, m, dy, keep16, 1.5, 12, 3, 4, 96, n);
        k.exports.dropout_backward_f32(dx2, dy, m, 1.5, n);
        k.exports[kernel](dx, dy, keep16, 1.5, 12, 3, 4, 96, n);
        expectSame(k.f32(dx, n), k.f32(dx2, n), `${kernel} n=${n} keep16=${keep16}`);
        for (const p of [dy, dx, m, y, dx2]) k.free(p);
      }
    }
  });

  test.each(['dropout_apply_mask_f32', 'dropout_apply_mask_f32_scalar'])('%s: y = x*r*scale for a supplied mask', (kernel) => {
    for (const n of EDGE_SIZES) {
      const xs = testValues(n, 7), rs = testValues(n, 8, 0, 2).map((v) => (v < 0.6 ? 0 : v < 1.2 ? 1 : v));
      const x = k.putF32(xs), r = k.putF32(rs), y = k.alloc(n * 4);
      k.exports[kernel](y, x, r, 0.75, n);
      expectClose(k.f32(y, n), refApply(xs, rs, 0.75), 0, 1.2e-7, `${kernel} n=${n}`);
      k.exports[kernel](x, x, r, 0.75, n);
      expectSame(k.f32(x, n), k.f32(y, n), `${kernel} in place`);
      for (const p of [x, r, y]) k.free(p);
    }
  });

  test('keep16 = 65536 (p = 1) keeps everything and writes an all-ones mask', () => {
    for (const n of [1, 31, 32, 33, 1000]) {
      const xs = testValues(n, 4);
      const x = k.putF32(xs), y = k.alloc(n * 4), m = k.alloc(Math.ceil(n / 32) * 4);
      k.exports.dropout_forward_f32(y, m, x, 65536, 1, 1, 2, 3, 0, n);
      expectSame(k.f32(y, n), xs, 'identity');
      expectSame(unpackBits(k.u32(m, Math.ceil(n / 32)), n), new Uint8Array(n).fill(1), 'mask');
      if (n % 32) expect(k.u32(m, Math.ceil(n / 32))[n >> 5] >>> (n % 32)).toBe(0);
      k.free(x); k.free(y); k.free(m);
    }
  });
});
