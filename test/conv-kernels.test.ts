// Convolution kernels (assembly/conv.ts), NHWC: the float64 reference backward passes are first
// checked against centered finite differences of the float64 reference forward (loss = sum(y ⊙ g));
// then every wasm kernel, fast and naive, both builds, against the reference at edge geometries
// (1x1, 3x3, 5x5, even kernels, kernel = input, strides 2 and 3, 'same' and valid padding,
// asymmetric padding, C and F around the vector width and tile edges, batch 1 and > 1); and the
// threading contract: a batch cut in two calls (forward, backward data) or the filters cut in two
// calls (backward filter) give the same bits as one call.
import { describe, it, expect, beforeAll } from 'vitest';
import { BUILDS, loadRaw, expectClose, expectSame, guardedBlock, putValues, testValues, type RawKernels } from './helpers/wasm';
import { geo, name, args, forTaps, refForward, refBackward, sizes, tol, type Geo } from './helpers/conv-ref';

const GEOS: Geo[] = [
  geo(2, 5, 5, 3, 5, 1, 1, 1, 1, 'valid'),            // 1x1: the input is the patch matrix
  geo(1, 7, 6, 17, 1, 1, 1, 2, 2, 'valid'),           // 1x1 stride 2, one filter
  geo(3, 8, 8, 5, 17, 3, 3, 1, 1, 'same'),
  geo(2, 9, 7, 32, 10, 3, 3, 2, 2, 'valid'),
  geo(1, 9, 9, 4, 8, 3, 3, 2, 2, 'same'),             // same, stride 2, odd size
  geo(2, 7, 7, 1, 32, 5, 5, 1, 1, 'same'),            // LeNet layer 1 in small
  geo(1, 6, 6, 32, 64, 5, 5, 1, 1, 'same'),           // LeNet layer 2 in small
  geo(2, 5, 5, 3, 5, 5, 5, 1, 1, 'valid'),            // kernel = input: one position
  geo(3, 4, 6, 2, 3, 4, 6, 1, 1, 'valid'),            // kernel = input, non-square
  geo(2, 10, 10, 3, 9, 3, 3, 3, 3, 'same'),           // stride 3
  geo(1, 11, 8, 5, 4, 3, 3, 3, 2, 'valid'),           // strides 3 and 2, leftover rows/columns
  geo(2, 6, 6, 3, 5, 2, 2, 1, 1, 'same'),             // even kernel: the extra pad at the bottom
  geo(1, 7, 8, 4, 7, 4, 4, 1, 1, 'same'),
  { batch: 2, H: 6, W: 9, C: 3, F: 6, KH: 3, KW: 5, SH: 1, SW: 2, PT: 1, PL: 2, OH: 7, OW: 4 }, // asymmetric
  { batch: 1, H: 5, W: 5, C: 5, F: 9, KH: 3, KW: 3, SH: 1, SW: 1, PT: 0, PL: 2, OH: 3, OW: 5 }, // left pad only
  { batch: 2, H: 4, W: 5, C: 2, F: 3, KH: 3, KW: 3, SH: 2, SW: 1, PT: 3, PL: 0, OH: 4, OW: 3 }, // pad > kernel: naive fallback
  geo(2, 6, 5, 17, 5, 3, 3, 1, 1, 'same'),            // stride 1, C >= 8 (dx by the turned filters), C % 8 != 0
  geo(1, 7, 6, 9, 3, 3, 3, 1, 1, 'valid'),
  { batch: 2, H: 6, W: 7, C: 9, F: 3, KH: 3, KW: 2, SH: 1, SW: 1, PT: 0, PL: 1, OH: 5, OW: 7 },     // stride 1, asymmetric
  geo(2, 14, 14, 32, 64, 5, 5, 1, 1, 'same'),         // LeNet layer 2
  geo(1, 28, 28, 1, 32, 5, 5, 1, 1, 'same'),          // LeNet layer 1
];

/** The references, computed once per input (every build and variant checks against the same). */
const memo = new Map<string, any>();
const cached = <T>(key: string, f: () => T): T => {
  if (!memo.has(key)) memo.set(key, f());
  return memo.get(key);
};

describe('conv2d reference', () => {
  it('backward equals centered finite differences of the forward, loss = sum(y * g)', () => {
    const cases: Geo[] = [
      geo(2, 5, 4, 2, 3, 3, 3, 1, 1, 'same'),
      geo(1, 7, 6, 3, 2, 3, 2, 2, 3, 'same'),
      geo(2, 5, 5, 1, 2, 5, 5, 1, 1, 'valid'),
      { batch: 1, H: 4, W: 5, C: 2, F: 2, KH: 2, KW: 3, SH: 2, SW: 1, PT: 1, PL: 2, OH: 3, OW: 6 },
    ];
    for (const g of cases) {
      const s = sizes(g);
      const x = Array.from(testValues(s.x, 1)), w = Array.from(testValues(s.w, 2)), b = Array.from(testValues(g.F, 3));
      const gy = Array.from(testValues(s.y, 4));
      const loss = () => refForward(g, x, w, b).reduce((acc, y, k) => acc + y * gy[k], 0);
      const { dx, dw, db } = refBackward(g, gy, x, w);
      const h = 1e-5;
      const fd = (v: number[], k: number) => {
        const keep = v[k];
        v[k] = keep + h; const up = loss();
        v[k] = keep - h; const down = loss();
        v[k] = keep;
        return (up - down) / (2 * h);
      };
      expectClose(x.map((_, k) => fd(x, k)), dx, 1e-7, 1e-6, `dx ${name(g)}`);
      expectClose(w.map((_, k) => fd(w, k)), dw, 1e-7, 1e-6, `dw ${name(g)}`);
      expectClose(b.map((_, k) => fd(b, k)), db, 1e-7, 1e-6, `db ${name(g)}`);
    }
  });
});

// ---- wasm kernels -------------------------------------------------------------------------------

for (const build of BUILDS) {
  describe(`conv2d (${build})`, () => {
    let raw: RawKernels;
    beforeAll(async () => { raw = await loadRaw(build); });

    /** A workspace of conv2d_workspace_bytes (+ skew) with a canary after it; check() tests it. */
    const workspace = (g: Geo, skew = 0) =>
      guardedBlock(raw, raw.exports.conv2d_workspace_bytes(g.H, g.W, g.C, g.F, g.KH, g.KW, g.OH, g.OW) >>> 0, skew);
    const put = (values: ArrayLike<number>, skew = 0) => putValues(raw, values, skew);

    it('exports every kernel, its naive sibling, im2col and the workspace size', () => {
      expect(typeof raw.exports.conv2d_im2col_f32).toBe('function');
      for (const k of ['conv2d_forward_f32', 'conv2d_backward_data_f32', 'conv2d_backward_filter_f32']) {
        expect(typeof raw.exports[k]).toBe('function');
        expect(typeof raw.exports[`${k}_naive`]).toBe('function');
      }
      // Bounded for any batch: 107 and 386 KB at the LeNet shapes.
      expect(raw.exports.conv2d_workspace_bytes(28, 28, 1, 32, 5, 5, 28, 28) >>> 0).toBeLessThan(256 << 10);
      expect(raw.exports.conv2d_workspace_bytes(14, 14, 32, 64, 5, 5, 14, 14) >>> 0).toBeLessThan(1 << 20);
    });

    for (const variant of ['', '_naive']) {
      // The naive kernels skip the largest geometries (the last test compares them with the fast
      // kernels there).
      const geos = variant ? GEOS.filter((g) => sizes(g).y * sizes(g).K < 4e6) : GEOS;
      it(`conv2d_forward_f32${variant}: every geometry, with and without bias`, () => {
        for (const g of geos) for (const withBias of [true, false]) {
          let seed = 100 + 16 * GEOS.indexOf(g) + (withBias ? 0 : 8);
          const s = sizes(g);
          const x = testValues(s.x, seed++), w = testValues(s.w, seed++), b = testValues(g.F, seed++);
          const skew = withBias ? 0 : 4;
          const px = put(x, skew), pw = put(w, skew), pb = withBias ? put(b) : null;
          const py = put(new Float32Array(s.y).fill(NaN), skew);
          const ws = workspace(g, skew);
          const what = `${build} forward${variant} ${name(g)} bias=${withBias}`;
          raw.exports[`conv2d_forward_f32${variant}`](py.p, px.p, pw.p, pb ? pb.p : 0, ws.p, ...args(g));
          const ref = cached(`fwd ${name(g)} ${seed} ${withBias}`, () => refForward(g, x, w, withBias ? b : null));
          expectClose(raw.f32(py.p, s.y), ref, tol(s.K), 1e-5, what);
          ws.check(what);
          for (const q of [px, pw, py, ws]) q.free();
          pb?.free();
        }
      });

      it(`conv2d_backward_data_f32${variant}: every geometry`, () => {
        for (const g of geos) {
          let seed = 300 + 16 * GEOS.indexOf(g);
          const s = sizes(g);
          const x = testValues(s.x, seed++), w = testValues(s.w, seed++), dy = testValues(s.y, seed++);
          const pw = put(w), pdy = put(dy), pdx = put(new Float32Array(s.x).fill(NaN));
          const ws = workspace(g);
          const what = `${build} backward_data${variant} ${name(g)}`;
          raw.exports[`conv2d_backward_data_f32${variant}`](pdx.p, pdy.p, pw.p, ws.p, ...args(g));
          const ref = cached(`data ${name(g)} ${seed}`, () => refBackward(g, dy, x, w).dx);
          expectClose(raw.f32(pdx.p, s.x), ref, tol(g.F * g.KH * g.KW), 1e-5, what);
          ws.check(what);
          for (const q of [pw, pdy, pdx, ws]) q.free();
        }
      });

      it(`conv2d_backward_filter_f32${variant}: every geometry, accumulate on/off, db on/off, ldy > F`, () => {
        for (const g of geos) for (const [acc, withDb, pad] of [[false, true, 0], [true, true, 3], [false, false, 1]] as const) {
          let seed = 1000 + 16 * GEOS.indexOf(g) + 4 * pad;
          const s = sizes(g);
          const ldy = g.F + pad;
          const x = testValues(s.x, seed++), dy = testValues(s.P * ldy, seed++);
          const dw0 = testValues(s.w, seed++), db0 = testValues(g.F, seed++);
          const px = put(x), pdy = put(dy);
          const pdw = put(acc ? dw0 : new Float32Array(s.w).fill(NaN)), pdb = put(acc ? db0 : new Float32Array(g.F).fill(withDb ? NaN : 7));
          const ws = workspace(g);
          const what = `${build} backward_filter${variant} ${name(g)} acc=${acc} db=${withDb} ldy=${ldy}`;
          raw.exports[`conv2d_backward_filter_f32${variant}`](pdw.p, withDb ? pdb.p : 0, pdy.p, px.p, ws.p, acc ? 1 : 0, ...args(g), ldy);
          const ref = cached(`filter ${name(g)} ${seed} ${ldy}`, () => refBackward(g, dy, x, new Float64Array(s.w), ldy));
          expectClose(raw.f32(pdw.p, s.w), acc ? ref.dw.map((v, k) => v + dw0[k]) : ref.dw, tol(s.P), 1e-5, `${what} dw`);
          if (withDb) expectClose(raw.f32(pdb.p, g.F), acc ? ref.db.map((v, k) => v + db0[k]) : ref.db, tol(s.P), 1e-5, `${what} db`);
          else expect(raw.f32(pdb.p, g.F).every((v) => v === 7), `${what}: db written`).toBe(true);
          ws.check(what);
          for (const q of [px, pdy, pdw, pdb, ws]) q.free();
        }
      });
    }

    it('conv2d_im2col_f32: the patch matrix of every geometry, bit for bit', () => {
      let seed = 2500;
      for (const g of GEOS) {
        const s = sizes(g);
        const x = testValues(s.x, seed++);
        const px = put(x), pc = put(new Float32Array(s.P * s.K).fill(NaN));
        raw.exports.conv2d_im2col_f32(pc.p, px.p, g.batch, g.H, g.W, g.C, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, g.OH, g.OW);
        const want = new Float32Array(s.P * s.K);
        forTaps(g, (n, oh, ow, kh, kw, ih, iw) => {
          for (let c = 0; c < g.C; c++) {
            want[((n * g.OH + oh) * g.OW + ow) * s.K + (kh * g.KW + kw) * g.C + c] = x[((n * g.H + ih) * g.W + iw) * g.C + c];
          }
        });
        expectSame(raw.f32(pc.p, s.P * s.K), want, `${build} im2col ${name(g)}`);
        px.free(); pc.free();
      }
    });

    it('empty sizes: batch 0 leaves outputs alone, backward_filter with batch 0 zeroes dw and db', () => {
      const g = geo(0, 5, 5, 3, 4, 3, 3, 1, 1, 'same');
      const ws = workspace(g);
      const py = put([1, 2, 3]), pdw = put(new Float32Array(4 * 27).fill(5)), pdb = put([5, 5, 5, 5]);
      raw.exports.conv2d_forward_f32(py.p, py.p, py.p, 0, ws.p, ...args(g));
      raw.exports.conv2d_backward_data_f32(py.p, py.p, py.p, ws.p, ...args(g));
      expect(Array.from(raw.f32(py.p, 3))).toEqual([1, 2, 3]);
      raw.exports.conv2d_backward_filter_f32(pdw.p, pdb.p, py.p, py.p, ws.p, 1, ...args(g), 4);
      expect(raw.f32(pdw.p, 4 * 27).every((v) => v === 5) && raw.f32(pdb.p, 4).every((v) => v === 5)).toBe(true);
      raw.exports.conv2d_backward_filter_f32(pdw.p, pdb.p, py.p, py.p, ws.p, 0, ...args(g), 4);
      expect(raw.f32(pdw.p, 4 * 27).every((v) => v === 0) && raw.f32(pdb.p, 4).every((v) => v === 0)).toBe(true);
      for (const q of [py, pdw, pdb, ws]) q.free();
    });

    // ---- the threading contract: bit-identical splits ----------------------------------------

    const SPLIT_GEOS: Geo[] = [
      geo(5, 8, 8, 5, 17, 3, 3, 1, 1, 'same'),
      geo(5, 14, 14, 32, 32, 5, 5, 1, 1, 'same'),
      geo(5, 9, 7, 3, 10, 3, 3, 2, 2, 'valid'),
      geo(5, 28, 28, 1, 32, 5, 5, 1, 1, 'same'),
      geo(5, 5, 5, 3, 10, 1, 1, 1, 1, 'valid'),
      geo(5, 6, 5, 17, 9, 3, 3, 1, 1, 'same'),
    ];

    it('forward and backward_data: batch 5 in one call = 2 + 3 (and 1 + 4) in two calls, bit for bit', () => {
      let seed = 1700;
      for (const g of SPLIT_GEOS) {
        const s = sizes(g);
        const exX = s.x / g.batch, exY = s.y / g.batch;
        const x = put(testValues(s.x, seed++)), w = put(testValues(s.w, seed++)), b = put(testValues(g.F, seed++));
        const dy = put(testValues(s.y, seed++));
        const y1 = put(new Float32Array(s.y)), y2 = put(new Float32Array(s.y));
        const dx1 = put(new Float32Array(s.x)), dx2 = put(new Float32Array(s.x));
        const ws = workspace(g);
        const whole = args(g);
        raw.exports.conv2d_forward_f32(y1.p, x.p, w.p, b.p, ws.p, ...whole);
        raw.exports.conv2d_backward_data_f32(dx1.p, dy.p, w.p, ws.p, ...whole);
        for (const cut of [2, 1]) {
          raw.f32(y2.p, s.y).fill(NaN); raw.f32(dx2.p, s.x).fill(NaN);
          for (const [n0, n1] of [[0, cut], [cut, g.batch]]) {
            const part = args({ ...g, batch: n1 - n0 });
            raw.exports.conv2d_forward_f32(y2.p + 4 * n0 * exY, x.p + 4 * n0 * exX, w.p, b.p, ws.p, ...part);
            raw.exports.conv2d_backward_data_f32(dx2.p + 4 * n0 * exX, dy.p + 4 * n0 * exY, w.p, ws.p, ...part);
          }
          expectSame(raw.f32(y2.p, s.y), raw.f32(y1.p, s.y), `${build} forward split ${cut} ${name(g)}`);
          expectSame(raw.f32(dx2.p, s.x), raw.f32(dx1.p, s.x), `${build} backward_data split ${cut} ${name(g)}`);
        }
        for (const q of [x, w, b, dy, y1, y2, dx1, dx2, ws]) q.free();
      }
    });

    it('backward_filter: filters in one call = blocks [0, 8) + [8, F), [0, 1) + [1, F), [0, 3) + [3, F), bit for bit', () => {
      let seed = 1900;
      for (const g of [...SPLIT_GEOS, geo(3, 14, 14, 32, 64, 5, 5, 1, 1, 'same')]) for (const acc of [false, true]) {
        const s = sizes(g), F = g.F, K = s.K;
        const x = put(testValues(s.x, seed++)), dy = put(testValues(s.y, seed++));
        const dw0 = testValues(s.w, seed++), db0 = testValues(F, seed++);
        const dw1 = put(dw0), db1 = put(db0), dw2 = put(dw0), db2 = put(db0);
        const ws = workspace(g);
        raw.exports.conv2d_backward_filter_f32(dw1.p, db1.p, dy.p, x.p, ws.p, acc ? 1 : 0, ...args(g), F);
        for (const cut of [8, 1, 3]) {
          raw.f32(dw2.p, s.w).set(dw0); raw.f32(db2.p, F).set(db0);
          for (const [f0, f1] of [[0, cut], [cut, F]]) {
            raw.exports.conv2d_backward_filter_f32(dw2.p + 4 * f0 * K, db2.p + 4 * f0, dy.p + 4 * f0, x.p, ws.p,
              acc ? 1 : 0, ...args({ ...g, F: f1 - f0 }), F);
          }
          const what = `${build} backward_filter filters ${cut}+${F - cut} ${name(g)} acc=${acc}`;
          expectSame(raw.f32(dw2.p, s.w), raw.f32(dw1.p, s.w), `${what} dw`);
          expectSame(raw.f32(db2.p, F), raw.f32(db1.p, F), `${what} db`);
        }
        for (const q of [x, dy, dw1, db1, dw2, db2, ws]) q.free();
      }
    });

    it('fast and naive kernels agree on the LeNet shapes at batch 2', () => {
      let seed = 2100;
      for (const g of [geo(2, 28, 28, 1, 32, 5, 5, 1, 1, 'same'), geo(2, 14, 14, 32, 64, 5, 5, 1, 1, 'same')]) {
        const s = sizes(g);
        const x = put(testValues(s.x, seed++)), w = put(testValues(s.w, seed++, -0.1, 0.1)), b = put(testValues(g.F, seed++));
        const dy = put(testValues(s.y, seed++));
        const out = (n: number) => [put(new Float32Array(n)), put(new Float32Array(n))];
        const [y1, y2] = out(s.y), [dx1, dx2] = out(s.x), [dw1, dw2] = out(s.w), [db1, db2] = out(g.F);
        const ws = workspace(g);
        raw.exports.conv2d_forward_f32(y1.p, x.p, w.p, b.p, ws.p, ...args(g));
        raw.exports.conv2d_forward_f32_naive(y2.p, x.p, w.p, b.p, ws.p, ...args(g));
        expectClose(raw.f32(y1.p, s.y), raw.f32(y2.p, s.y), tol(s.K) * 0.1, 1e-5, `${build} ${name(g)} y`);
        raw.exports.conv2d_backward_data_f32(dx1.p, dy.p, w.p, ws.p, ...args(g));
        raw.exports.conv2d_backward_data_f32_naive(dx2.p, dy.p, w.p, ws.p, ...args(g));
        expectClose(raw.f32(dx1.p, s.x), raw.f32(dx2.p, s.x), tol(g.F * 25) * 0.1, 1e-5, `${build} ${name(g)} dx`);
        raw.exports.conv2d_backward_filter_f32(dw1.p, db1.p, dy.p, x.p, ws.p, 0, ...args(g), g.F);
        raw.exports.conv2d_backward_filter_f32_naive(dw2.p, db2.p, dy.p, x.p, ws.p, 0, ...args(g), g.F);
        expectClose(raw.f32(dw1.p, s.w), raw.f32(dw2.p, s.w), tol(s.P), 1e-5, `${build} ${name(g)} dw`);
        expectClose(raw.f32(db1.p, g.F), raw.f32(db2.p, g.F), tol(s.P), 1e-5, `${build} ${name(g)} db`);
        for (const q of [x, w, b, dy, y1, y2, dx1, dx2, dw1, dw2, db1, db2, ws]) q.free();
      }
    });
  });
}
