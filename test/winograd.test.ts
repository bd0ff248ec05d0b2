// Winograd F(2x2, 5x5) kernels (assembly/winograd.ts), both builds: each pass against the float64
// references of test/helpers/conv-ref.ts at 5x5 stride-1 geometries (odd sizes whose last tile
// sticks out, 'same' and 'valid', one-tile outputs, asymmetric padding, C and F at 4 and at
// multiples of 4 that are not of 8, blocks of tiles cut inside an example, batch 1 and > 1); the
// threading contract (a batch cut in two calls, the filters cut in two blocks: the bits of one
// call; the filter gradient as the layers split it, two partial sums over halves of the batch); and the hand-over of every other geometry to conv.ts's kernels, bit for bit.
import { describe, it, expect, beforeAll } from 'vitest';
import { BUILDS, loadRaw, expectClose, expectSame, guardedBlock, putValues, testValues, type RawKernels } from './helpers/wasm';
import { geo, name, args, refForward, refBackward, sizes, tol, type Geo } from './helpers/conv-ref';

const GEOS: Geo[] = [
  geo(2, 14, 14, 32, 64, 5, 5, 1, 1, 'same'),      // LeNet layer 2 (bench/conv.mjs)
  geo(3, 13, 13, 32, 64, 5, 5, 1, 1, 'same'),      // examples/conv-mnist's layer 2: the last tiles stick out
  geo(2, 11, 11, 32, 64, 5, 5, 1, 1, 'valid'),     // 7x7 outputs of 'valid'
  geo(1, 6, 6, 8, 12, 5, 5, 1, 1, 'same'),         // F % 8 = 4: a half-empty panel
  geo(2, 7, 9, 4, 4, 5, 5, 1, 1, 'same'),          // the smallest lanes, odd sizes
  geo(1, 5, 5, 12, 8, 5, 5, 1, 1, 'valid'),        // a 1x1 output: one tile, three of its outputs outside
  geo(2, 9, 6, 16, 20, 5, 5, 1, 1, 'valid'),       // 5x2 outputs
  geo(3, 10, 10, 8, 8, 5, 5, 1, 1, 'same'),        // 75 tiles: blocks of 32 and 64 cut inside examples
  { batch: 2, H: 6, W: 7, C: 8, F: 4, KH: 5, KW: 5, SH: 1, SW: 1, PT: 4, PL: 1, OH: 6, OW: 5 }, // asymmetric, pad 4
];

// The transforms add terms of larger magnitude than the products, so rounding errors grow: the
// bound of the direct kernels' `tol`, times 4. Measured (2026-12-04, both builds): forward and
// backward data stay within 0.5x of `tol`, the filter gradient at 14x14x32->64 exceeds 2x
// (within 3x), so 4 leaves a margin and still fails an error twice as large.
const wtol = (terms: number) => 4 * tol(terms);

for (const build of BUILDS) {
  describe(`conv2d Winograd F(2x2, 5x5) (${build})`, () => {
    let raw: RawKernels;
    beforeAll(async () => { raw = await loadRaw(build); });

    /** A workspace of the larger of the two workspace sizes, with a canary after it. */
    const workspace = (g: Geo) => guardedBlock(raw, Math.max(raw.exports.conv2d_workspace_bytes(g.H, g.W, g.C, g.F, g.KH, g.KW, g.OH, g.OW) >>> 0,
      raw.exports.conv2d_winograd_workspace_bytes(g.H, g.W, g.C, g.F, g.OH, g.OW) >>> 0));
    const put = (values: ArrayLike<number>) => putValues(raw, values);

    it('forward: every geometry, with and without bias', () => {
      for (const g of GEOS) for (const withBias of [true, false]) {
        let seed = 7100 + 8 * GEOS.indexOf(g);
        const s = sizes(g);
        const x = testValues(s.x, seed++), w = testValues(s.w, seed++), b = testValues(g.F, seed++);
        const px = put(x), pw = put(w), pb = put(b), py = put(new Float32Array(s.y).fill(NaN));
        const ws = workspace(g);
        const what = `${build} winograd forward ${name(g)} bias=${withBias}`;
        raw.exports.conv2d_winograd_forward_f32(py.p, px.p, pw.p, withBias ? pb.p : 0, ws.p, ...args(g));
        expectClose(raw.f32(py.p, s.y), refForward(g, x, w, withBias ? b : null), wtol(s.K), 1e-5, what);
        ws.check(what);
        for (const q of [px, pw, pb, py, ws]) q.free();
      }
    });

    it('backward data: every geometry', () => {
      for (const g of GEOS) {
        let seed = 7300 + 8 * GEOS.indexOf(g);
        const s = sizes(g);
        const x = testValues(s.x, seed++), w = testValues(s.w, seed++), dy = testValues(s.y, seed++);
        const pw = put(w), pdy = put(dy), pdx = put(new Float32Array(s.x).fill(NaN));
        const ws = workspace(g);
        const what = `${build} winograd backward_data ${name(g)}`;
        raw.exports.conv2d_winograd_backward_data_f32(pdx.p, pdy.p, pw.p, ws.p, ...args(g));
        expectClose(raw.f32(pdx.p, s.x), refBackward(g, dy, x, w).dx, wtol(g.F * 25), 1e-5, what);
        ws.check(what);
        for (const q of [pw, pdy, pdx, ws]) q.free();
      }
    });

    it('backward filter: every geometry, accumulate on/off, db on/off, ldy > F', () => {
      for (const g of GEOS) for (const [acc, withDb, pad] of [[false, true, 0], [true, true, 4], [false, false, 1]] as const) {
        let seed = 7500 + 8 * GEOS.indexOf(g) + pad;
        const s = sizes(g);
        const ldy = g.F + pad;
        const x = testValues(s.x, seed++), dy = testValues(s.P * ldy, seed++);
        const dw0 = testValues(s.w, seed++), db0 = testValues(g.F, seed++);
        const px = put(x), pdy = put(dy);
        const pdw = put(acc ? dw0 : new Float32Array(s.w).fill(NaN)), pdb = put(acc ? db0 : new Float32Array(g.F).fill(withDb ? NaN : 7));
        const ws = workspace(g);
        const what = `${build} winograd backward_filter ${name(g)} acc=${acc} db=${withDb} ldy=${ldy}`;
        raw.exports.conv2d_winograd_backward_filter_f32(pdw.p, withDb ? pdb.p : 0, pdy.p, px.p, ws.p, acc ? 1 : 0, ...args(g), ldy);
        const ref = refBackward(g, dy, x, new Float64Array(s.w), ldy);
        expectClose(raw.f32(pdw.p, s.w), acc ? ref.dw.map((v, k) => v + dw0[k]) : ref.dw, wtol(s.P), 1e-5, `${what} dw`);
        if (withDb) expectClose(raw.f32(pdb.p, g.F), acc ? ref.db.map((v, k) => v + db0[k]) : ref.db, tol(s.P), 1e-5, `${what} db`);
        else expect(raw.f32(pdb.p, g.F).every((v) => v === 7), `${what}: db written`).toBe(true);
        ws.check(what);
        for (const q of [px, pdy, pdw, pdb, ws]) q.free();
      }
    });

    it('threads: batch 5 in one call = 2 + 3 in two (forward, data); filters 16 = 4 + 12 in two blocks, bit for bit', () => {
      let seed = 7900;
      for (const g of [geo(5, 14, 14, 8, 16, 5, 5, 1, 1, 'same'), geo(5, 11, 11, 12, 16, 5, 5, 1, 1, 'valid')]) {
        const s = sizes(g), exX = s.x / g.batch, exY = s.y / g.batch;
        const x = put(testValues(s.x, seed++)), w = put(testValues(s.w, seed++)), b = put(testValues(g.F, seed++));
        const dy = put(testValues(s.y, seed++));
        const ws = workspace(g);
        const one = put(new Float32Array(Math.max(s.x, s.y))), two = put(new Float32Array(Math.max(s.x, s.y)));
        const part = (n: number) => [n, ...args(g).slice(1)];
        raw.exports.conv2d_winograd_forward_f32(one.p, x.p, w.p, b.p, ws.p, ...args(g));
        raw.exports.conv2d_winograd_forward_f32(two.p, x.p, w.p, b.p, ws.p, ...part(2));
        raw.exports.conv2d_winograd_forward_f32(two.p + 8 * exY, x.p + 8 * exX, w.p, b.p, ws.p, ...part(3));
        expectSame(raw.f32(two.p, s.y), raw.f32(one.p, s.y).slice(), `${build} forward split ${name(g)}`);
        raw.exports.conv2d_winograd_backward_data_f32(one.p, dy.p, w.p, ws.p, ...args(g));
        raw.exports.conv2d_winograd_backward_data_f32(two.p, dy.p, w.p, ws.p, ...part(2));
        raw.exports.conv2d_winograd_backward_data_f32(two.p + 8 * exX, dy.p + 8 * exY, w.p, ws.p, ...part(3));
        expectSame(raw.f32(two.p, s.x), raw.f32(one.p, s.x).slice(), `${build} backward_data split ${name(g)}`);
        const K = 25 * g.C;
        const dw1 = put(new Float32Array(s.w)), dw2 = put(new Float32Array(s.w)), db1 = put(new Float32Array(g.F)), db2 = put(new Float32Array(g.F));
        const geoF = (F: number) => [...args(g).slice(0, 4), F, ...args(g).slice(5)];
        raw.exports.conv2d_winograd_backward_filter_f32(dw1.p, db1.p, dy.p, x.p, ws.p, 0, ...geoF(g.F), g.F);
        raw.exports.conv2d_winograd_backward_filter_f32(dw2.p, db2.p, dy.p, x.p, ws.p, 0, ...geoF(4), g.F);
        raw.exports.conv2d_winograd_backward_filter_f32(dw2.p + 16 * K, db2.p + 16, dy.p + 16, x.p, ws.p, 0, ...geoF(g.F - 4), g.F);
        expectSame(raw.f32(dw2.p, s.w), raw.f32(dw1.p, s.w).slice(), `${build} backward_filter split ${name(g)}`);
        expectSame(raw.f32(db2.p, g.F), raw.f32(db1.p, g.F).slice(), `${build} backward_filter db split ${name(g)}`);
        ws.check(`${build} split ${name(g)}`);
        for (const q of [x, w, b, dy, ws, one, two, dw1, dw2, db1, db2]) q.free();
      }
    });

    it('backward filter split by examples (the layers\' path): two partial sums + reduce = the float64 reference; any filter blocks, the same bits', () => {
      for (const g of GEOS) for (const acc of [false, true]) {
        let seed = 8700 + 8 * GEOS.indexOf(g) + (acc ? 4 : 0);
        const s = sizes(g), exX = s.x / g.batch, exY = s.y / g.batch;
        const x = testValues(s.x, seed++), dy = testValues(s.y, seed++);
        const dw0 = testValues(s.w, seed++), db0 = testValues(g.F, seed++);
        const px = put(x), pdy = put(dy), ws = workspace(g);
        const bytes = raw.exports.conv2d_winograd_filter_partial_bytes(g.C, g.F) >>> 0;
        const du = [0, 1].map(() => guardedBlock(raw, bytes));
        const n0 = Math.ceil(g.batch / 2), n1 = g.batch - n0; // n1 = 0 at batch 1: du1 is then all zero
        const part = (n: number) => [n, ...args(g).slice(1)];
        const what = `${build} winograd filter partial+reduce ${name(g)} acc=${acc}`;
        raw.exports.conv2d_winograd_filter_partial_f32(du[0].p, pdy.p, px.p, ws.p, ...part(n0));
        raw.exports.conv2d_winograd_filter_partial_f32(du[1].p, pdy.p + 4 * n0 * exY, px.p + 4 * n0 * exX, ws.p, ...part(n1));
        const rows = s.y / g.F;
        const start = (v: Float32Array) => (acc ? v : new Float32Array(v.length).fill(NaN));
        const dwA = put(start(dw0)), dbA = put(start(db0)), dwB = put(start(dw0)), dbB = put(start(db0));
        raw.exports.conv2d_winograd_filter_reduce_f32(dwA.p, dbA.p, du[0].p, du[1].p, pdy.p, ws.p, acc ? 1 : 0, rows, 0, g.F, g.C, g.F);
        const cut = Math.max(1, Math.floor(g.F / 3)); // not a multiple of 4
        raw.exports.conv2d_winograd_filter_reduce_f32(dwB.p, dbB.p, du[0].p, du[1].p, pdy.p, ws.p, acc ? 1 : 0, rows, 0, cut, g.C, g.F);
        raw.exports.conv2d_winograd_filter_reduce_f32(dwB.p, dbB.p, du[0].p, du[1].p, pdy.p, ws.p, acc ? 1 : 0, rows, cut, g.F - cut, g.C, g.F);
        const ref = refBackward(g, dy, x, new Float64Array(s.w));
        expectClose(raw.f32(dwA.p, s.w), acc ? ref.dw.map((v, k) => v + dw0[k]) : ref.dw, wtol(s.P), 1e-5, `${what} dw`);
        expectClose(raw.f32(dbA.p, g.F), acc ? ref.db.map((v, k) => v + db0[k]) : ref.db, tol(s.P), 1e-5, `${what} db`);
        expectSame(raw.f32(dwB.p, s.w), raw.f32(dwA.p, s.w).slice(), `${what} dw in filter blocks`);
        expectSame(raw.f32(dbB.p, g.F), raw.f32(dbA.p, g.F).slice(), `${what} db in filter blocks`);
        for (const q of [ws, ...du]) q.check(what);
        for (const q of [px, pdy, ws, ...du, dwA, dbA, dwB, dbB]) q.free();
      }
    });

    it('every other geometry (3x3, stride 2, C or F not a multiple of 4) runs the conv.ts kernels: the same bits', () => {
      let seed = 8100;
      for (const g of [geo(2, 8, 8, 8, 8, 3, 3, 1, 1, 'same'), geo(2, 9, 9, 8, 8, 5, 5, 2, 2, 'same'),
        geo(2, 8, 8, 3, 8, 5, 5, 1, 1, 'same'), geo(1, 8, 8, 8, 6, 5, 5, 1, 1, 'valid')]) {
        const s = sizes(g);
        const x = put(testValues(s.x, seed++)), w = put(testValues(s.w, seed++)), b = put(testValues(g.F, seed++));
        const dy = put(testValues(s.y, seed++));
        const ws = workspace(g);
        const n = Math.max(s.x, s.y, s.w);
        const a1 = put(new Float32Array(n)), a2 = put(new Float32Array(n)), db = put(new Float32Array(g.F));
        const pairs: [string, (out: number) => void, number][] = [
          ['forward', (o) => raw.exports[o === a1.p ? 'conv2d_winograd_forward_f32' : 'conv2d_forward_f32'](o, x.p, w.p, b.p, ws.p, ...args(g)), s.y],
          ['backward_data', (o) => raw.exports[o === a1.p ? 'conv2d_winograd_backward_data_f32' : 'conv2d_backward_data_f32'](o, dy.p, w.p, ws.p, ...args(g)), s.x],
          ['backward_filter', (o) => raw.exports[o === a1.p ? 'conv2d_winograd_backward_filter_f32' : 'conv2d_backward_filter_f32'](o, db.p, dy.p, x.p, ws.p, 0, ...args(g), g.F), s.w],
        ];
        for (const [what, run, len] of pairs) {
          run(a1.p); run(a2.p);
          expectSame(raw.f32(a1.p, len), raw.f32(a2.p, len).slice(), `${build} ${what} hand-over ${name(g)}`);
        }
        for (const q of [x, w, b, dy, ws, a1, a2, db]) q.free();
      }
    });
  });
}
