// Dense layer kernels (assembly/dense.ts): the float64 reference backward is first checked against
// centered finite differences of the float64 reference forward (loss = sum(y ⊙ g)); then every
// wasm kernel, fast and naive, both builds, against the reference.
import { describe, it, expect, beforeAll } from 'vitest';
import { BUILDS, loadRaw, expectClose, testValues, type RawKernels } from './helpers/wasm';

// ---- float64 reference ----------------------------------------------------------------------

/** y[n,o] = sum_i x[n,i] W[o,i] + b[o]   (W is [out, in]; b may be null). */
function refForward(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null,
                    batch: number, inF: number, outF: number): Float64Array {
  const y = new Float64Array(batch * outF);
  for (let n = 0; n < batch; n++) for (let o = 0; o < outF; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < inF; i++) s += x[n * inF + i] * w[o * inF + i];
    y[n * outF + o] = s;
  }
  return y;
}

/** dx = dy·W, dW = dyᵀ·x, db = column sums of dy. */
function refBackward(dy: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>,
                     batch: number, inF: number, outF: number) {
  const dx = new Float64Array(batch * inF), dw = new Float64Array(outF * inF), db = new Float64Array(outF);
  for (let n = 0; n < batch; n++) for (let o = 0; o < outF; o++) {
    const g = dy[n * outF + o];
    db[o] += g;
    for (let i = 0; i < inF; i++) {
      dx[n * inF + i] += g * w[o * inF + i];
      dw[o * inF + i] += g * x[n * inF + i];
    }
  }
  return { dx, dw, db };
}

const SHAPES: [number, number, number][] = [ // [batch, inF, outF]
  [1, 1, 1], [1, 7, 3], [2, 3, 5], [3, 4, 8], [4, 5, 9], [5, 16, 17], [7, 9, 4], [8, 17, 15],
  [9, 31, 33], [15, 33, 16], [16, 8, 31], [17, 2, 127], [31, 127, 7], [33, 15, 2], [1, 127, 33],
  [127, 33, 9],
];

describe('dense reference', () => {
  it('backward equals centered finite differences of the forward, loss = sum(y * g)', () => {
    for (const [batch, inF, outF] of [[1, 1, 1], [2, 3, 4], [3, 5, 2], [4, 7, 6], [5, 4, 9]] as const) {
      const x = Array.from(testValues(batch * inF, 1));
      const w = Array.from(testValues(outF * inF, 2));
      const b = Array.from(testValues(outF, 3));
      const g = Array.from(testValues(batch * outF, 4));
      const loss = () => refForward(x, w, b, batch, inF, outF).reduce((s, y, k) => s + y * g[k], 0);
      const { dx, dw, db } = refBackward(g, x, w, batch, inF, outF);
      const h = 1e-5;
      const fd = (v: number[], k: number) => {
        const keep = v[k];
        v[k] = keep + h; const up = loss();
        v[k] = keep - h; const down = loss();
        v[k] = keep;
        return (up - down) / (2 * h);
      };
      expectClose(x.map((_, k) => fd(x, k)), dx, 1e-7, 1e-6, `dx ${batch}x${inF}x${outF}`);
      expectClose(w.map((_, k) => fd(w, k)), dw, 1e-7, 1e-6, `dW ${batch}x${inF}x${outF}`);
      expectClose(b.map((_, k) => fd(b, k)), db, 1e-7, 1e-6, `db ${batch}x${inF}x${outF}`);
    }
  });
});

// ---- wasm kernels ---------------------------------------------------------------------------

const tol = (k: number) => 1e-6 + 2.5e-7 * k;

for (const build of BUILDS) {
  describe(`dense (${build})`, () => {
    let raw: RawKernels;
    beforeAll(async () => { raw = await loadRaw(build); });

    const wsFor = (batch: number, inF: number, outF: number) =>
      raw.alloc(raw.exports.dense_workspace_bytes(batch, inF, outF) >>> 0);

    for (const variant of ['', '_naive']) {
      it(`dense_forward_f32${variant} with and without bias`, () => {
        let seed = 100;
        for (const [batch, inF, outF] of [...SHAPES, [100, 784, 64] as [number, number, number]]) {
          for (const withBias of [true, false]) {
            const x = testValues(batch * inF, seed++), w = testValues(outF * inF, seed++);
            const b = testValues(outF, seed++);
            const px = raw.putF32(x), pw = raw.putF32(w), pb = withBias ? raw.putF32(b) : 0;
            const py = raw.putF32(new Float32Array(batch * outF).fill(NaN));
            const ws = wsFor(batch, inF, outF);
            raw.exports[`dense_forward_f32${variant}`](py, px, pw, pb, ws, batch, inF, outF);
            expectClose(raw.f32(py, batch * outF), refForward(x, w, withBias ? b : null, batch, inF, outF),
              tol(inF), 1e-5, `${build} forward${variant} ${batch}x${inF}x${outF} bias=${withBias}`);
            for (const p of [px, pw, py, ws]) raw.free(p);
            if (pb) raw.free(pb);
          }
        }
      });

      it(`dense_backward_f32${variant}: dx, dW, db, accumulate on/off, skipped outputs`, () => {
        let seed = 500;
        for (const [batch, inF, outF] of [...SHAPES, [100, 784, 64] as [number, number, number]]) {
          for (const accumulate of [false, true]) {
            const x = testValues(batch * inF, seed++), w = testValues(outF * inF, seed++);
            const dy = testValues(batch * outF, seed++);
            const dw0 = testValues(outF * inF, seed++), db0 = testValues(outF, seed++);
            const ref = refBackward(dy, x, w, batch, inF, outF);
            const px = raw.putF32(x), pw = raw.putF32(w), pdy = raw.putF32(dy);
            const pdx = raw.putF32(new Float32Array(batch * inF).fill(NaN));
            const pdw = raw.putF32(accumulate ? dw0 : new Float32Array(outF * inF).fill(NaN));
            const pdb = raw.putF32(accumulate ? db0 : new Float32Array(outF).fill(NaN));
            const ws = wsFor(batch, inF, outF);
            const what = `${build} backward${variant} ${batch}x${inF}x${outF} acc=${accumulate}`;
            raw.exports[`dense_backward_f32${variant}`](pdx, pdw, pdb, pdy, px, pw, ws, accumulate ? 1 : 0, batch, inF, outF);
            expectClose(raw.f32(pdx, batch * inF), ref.dx, tol(outF), 1e-5, `${what} dx`);
            const wantDw = accumulate ? ref.dw.map((v, k) => v + dw0[k]) : ref.dw;
            const wantDb = accumulate ? ref.db.map((v, k) => v + db0[k]) : ref.db;
            expectClose(raw.f32(pdw, outF * inF), wantDw, tol(batch), 1e-5, `${what} dW`);
            expectClose(raw.f32(pdb, outF), wantDb, tol(batch), 1e-5, `${what} db`);

            // dx == 0 (first layer), then dw == 0 and db == 0: the others are still computed.
            raw.f32(pdw, outF * inF).fill(NaN); raw.f32(pdb, outF).fill(NaN); raw.f32(pdx, batch * inF).fill(7);
            raw.exports[`dense_backward_f32${variant}`](0, pdw, pdb, pdy, px, pw, ws, 0, batch, inF, outF);
            expectClose(raw.f32(pdw, outF * inF), ref.dw, tol(batch), 1e-5, `${what} dW (dx skipped)`);
            expectClose(raw.f32(pdb, outF), ref.db, tol(batch), 1e-5, `${what} db (dx skipped)`);
            expect(raw.f32(pdx, batch * inF).every((v) => v === 7)).toBe(true);
            raw.f32(pdw, outF * inF).fill(3); raw.f32(pdb, outF).fill(3);
            raw.exports[`dense_backward_f32${variant}`](pdx, 0, 0, pdy, px, pw, ws, 0, batch, inF, outF);
            expectClose(raw.f32(pdx, batch * inF), ref.dx, tol(outF), 1e-5, `${what} dx (dW, db skipped)`);
            expect(raw.f32(pdw, outF * inF).every((v) => v === 3) && raw.f32(pdb, outF).every((v) => v === 3)).toBe(true);
            for (const p of [px, pw, pdy, pdx, pdw, pdb, ws]) raw.free(p);
          }
        }
      });
    }

    it('fast and naive kernels agree on a training-sized layer (batch 100, 784 -> 1024)', () => {
      const batch = 100, inF = 784, outF = 1024;
      const x = testValues(batch * inF, 1), w = testValues(outF * inF, 2, -0.05, 0.05);
      const b = testValues(outF, 3), dy = testValues(batch * outF, 4);
      const px = raw.putF32(x), pw = raw.putF32(w), pb = raw.putF32(b), pdy = raw.putF32(dy);
      const out = (n: number) => [raw.alloc(n * 4), raw.alloc(n * 4)];
      const [y1, y2] = out(batch * outF), [dx1, dx2] = out(batch * inF), [dw1, dw2] = out(outF * inF), [db1, db2] = out(outF);
      const ws = wsFor(batch, inF, outF);
      raw.exports.dense_forward_f32(y1, px, pw, pb, ws, batch, inF, outF);
      raw.exports.dense_forward_f32_naive(y2, px, pw, pb, ws, batch, inF, outF);
      expectClose(raw.f32(y1, batch * outF), raw.f32(y2, batch * outF), tol(inF) * 0.05, 1e-5, `${build} y`);
      raw.exports.dense_backward_f32(dx1, dw1, db1, pdy, px, pw, ws, 0, batch, inF, outF);
      raw.exports.dense_backward_f32_naive(dx2, dw2, db2, pdy, px, pw, ws, 0, batch, inF, outF);
      expectClose(raw.f32(dx1, batch * inF), raw.f32(dx2, batch * inF), tol(outF) * 0.05, 1e-5, `${build} dx`);
      expectClose(raw.f32(dw1, outF * inF), raw.f32(dw2, outF * inF), tol(batch), 1e-5, `${build} dW`);
      expectClose(raw.f32(db1, outF), raw.f32(db2, outF), tol(batch), 1e-5, `${build} db`);
      for (const p of [px, pw, pb, pdy, y1, y2, dx1, dx2, dw1, dw2, db1, db2, ws]) raw.free(p);
    });
  });
}

// ---- blocks of units (what one thread of src/kernels/linalg.ts computes) ---------------------------

const BLOCK_SHAPES: [number, number, number][] = [ // [batch, inF, outF]
  [1, 7, 13], [2, 3, 17], [5, 16, 33], [9, 31, 40], [17, 33, 9], [100, 64, 127],
];

for (const build of BUILDS) {
  describe(`dense unit blocks (${build})`, () => {
    let raw: RawKernels;
    beforeAll(async () => { raw = await loadRaw(build); });

    /**
     * Unit blocks [u0, u1) that cover [0, outF), cut at awkward places, single units among them
     * (a one-unit block of dW is a one-row product, the GEMV path, which keeps the GEMM's order).
     */
    const blocksOf = (outF: number): [number, number][] => {
      const cuts = [0, ...[3, 8, 16, 21].filter((c) => c < outF), outF];
      return cuts.slice(1).map((e, i) => [cuts[i], e]);
    };

    it('dense_forward_units_f32 on blocks of units gives the bits of dense_forward_f32, and leaves other columns alone', () => {
      let seed = 3000;
      for (const [batch, inF, outF] of BLOCK_SHAPES) for (const withBias of [true, false]) {
        const x = testValues(batch * inF, seed++), w = testValues(outF * inF, seed++), b = testValues(outF, seed++);
        const px = raw.putF32(x), pw = raw.putF32(w), pb = withBias ? raw.putF32(b) : 0;
        const y1 = raw.putF32(new Float32Array(batch * outF).fill(NaN)), y2 = raw.putF32(new Float32Array(batch * outF).fill(NaN));
        const ws = raw.alloc(raw.exports.dense_workspace_bytes(batch, inF, outF) >>> 0);
        raw.exports.dense_forward_f32(y1, px, pw, pb, ws, batch, inF, outF);
        const what = `${build} units ${batch}x${inF}x${outF} bias=${withBias}`;
        for (const [u0, u1] of blocksOf(outF)) {
          raw.exports.dense_forward_units_f32(y2 + 4 * u0, px, pw + 4 * u0 * inF, pb ? pb + 4 * u0 : 0, ws, batch, inF, u1 - u0, outF);
          // Columns from u1 on are still NaN.
          for (let n = 0; n < batch; n++) for (let o = u1; o < outF; o++) if (!Number.isNaN(raw.f32(y2, batch * outF)[n * outF + o])) throw new Error(`${what}: column ${o} written early`);
        }
        expect(Array.from(raw.f32(y2, batch * outF)), what).toEqual(Array.from(raw.f32(y1, batch * outF)));
        expectClose(raw.f32(y1, batch * outF), refForward(x, w, withBias ? b : null, batch, inF, outF), tol(inF), 1e-5, what);
        for (const p of [px, pw, y1, y2, ws]) raw.free(p);
        if (pb) raw.free(pb);
      }
    });

    for (const variant of ['', '_naive']) {
      it(`dense_backward_bias_f32${variant}: column sums with a leading dimension, accumulate on/off`, () => {
        let seed = 4000;
        for (const [batch, , outF] of [...BLOCK_SHAPES, [0, 1, 5] as [number, number, number]]) for (const acc of [false, true]) {
          const ldy = outF + 3;
          const dy = testValues(batch * ldy, seed++), db0 = testValues(outF, seed++);
          const pdy = raw.putF32(dy.length ? dy : [0]), pdb = raw.putF32(acc ? db0 : new Float32Array(outF).fill(NaN));
          raw.exports[`dense_backward_bias_f32${variant}`](pdb, pdy, acc ? 1 : 0, batch, outF, ldy);
          const want = new Float64Array(outF);
          for (let o = 0; o < outF; o++) {
            want[o] = acc ? db0[o] : 0;
            for (let n = 0; n < batch; n++) want[o] += dy[n * ldy + o];
          }
          expectClose(raw.f32(pdb, outF), want, tol(batch), 1e-5, `${build} bias${variant} ${batch}x${outF} acc=${acc}`);
          raw.free(pdy); raw.free(pdb);
        }
      });
    }

    it('dense_backward_weights_f32 on blocks of units gives the bits of dense_backward_f32 (dW and db)', () => {
      let seed = 5000;
      for (const [batch, inF, outF] of BLOCK_SHAPES) for (const acc of [false, true]) {
        const x = testValues(batch * inF, seed++), w = testValues(outF * inF, seed++), dy = testValues(batch * outF, seed++);
        const dw0 = testValues(outF * inF, seed++), db0 = testValues(outF, seed++);
        const px = raw.putF32(x), pw = raw.putF32(w), pdy = raw.putF32(dy);
        const dw1 = raw.putF32(dw0), db1 = raw.putF32(db0), dw2 = raw.putF32(dw0), db2 = raw.putF32(db0);
        const ws = raw.alloc(raw.exports.dense_workspace_bytes(batch, inF, outF) >>> 0);
        raw.exports.dense_backward_f32(0, dw1, db1, pdy, px, pw, ws, acc ? 1 : 0, batch, inF, outF);
        for (const [u0, u1] of blocksOf(outF)) {
          raw.exports.dense_backward_weights_f32(dw2 + 4 * u0 * inF, db2 + 4 * u0, pdy + 4 * u0, px, ws, acc ? 1 : 0, batch, inF, u1 - u0, outF);
        }
        const what = `${build} weights ${batch}x${inF}x${outF} acc=${acc}`;
        expect(Array.from(raw.f32(dw2, outF * inF)), `${what} dW`).toEqual(Array.from(raw.f32(dw1, outF * inF)));
        expect(Array.from(raw.f32(db2, outF)), `${what} db`).toEqual(Array.from(raw.f32(db1, outF)));
        const ref = refBackward(dy, x, w, batch, inF, outF);
        expectClose(raw.f32(dw2, outF * inF), acc ? ref.dw.map((v, k) => v + dw0[k]) : ref.dw, tol(batch), 1e-5, `${what} dW ref`);
        // db == 0 skips the bias; batch == 0 zeroes dW unless accumulating.
        raw.f32(db2, outF).fill(9);
        raw.exports.dense_backward_weights_f32(dw2, 0, pdy, px, ws, 0, batch, inF, outF, outF);
        expect(raw.f32(db2, outF).every((v) => v === 9)).toBe(true);
        raw.exports.dense_backward_weights_f32(dw2, db2, pdy, px, ws, 0, 0, inF, outF, outF);
        expect(raw.f32(dw2, outF * inF).every((v) => v === 0) && raw.f32(db2, outF).every((v) => v === 0)).toBe(true);
        for (const p of [px, pw, pdy, dw1, db1, dw2, db2, ws]) raw.free(p);
      }
    });
  });
}
