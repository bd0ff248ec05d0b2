// Matrix products (src/kernels/linalg.ts): matMul against a float64 reference (every transpose
// combination, M = 1, awkward sizes, accumulate), its errors, the threaded gemm / denseForward /
// denseBackward bit-identical at 1, 2 and 3 threads, and no memory growth over many calls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tn from '../src/index.node';
import { runtime } from '../src/wasm/runtime';
import { denseBackward, denseForward, gemm, MIN_MACS_PER_THREAD, type GemmOp } from '../src/kernels/linalg';
import { splitRange } from '../src/threads/split';
import { expectClose, expectSame, testValues } from './helpers/wasm';

afterAll(async () => { await tn.close(); });

/** float64 op(A)·op(B) for A, B stored row-major with the given shapes. */
function refMatMul(A: ArrayLike<number>, aShape: number[], B: ArrayLike<number>, bShape: number[], tA: boolean, tB: boolean) {
  const M = tA ? aShape[1] : aShape[0], K = tA ? aShape[0] : aShape[1];
  const N = tB ? bShape[0] : bShape[1];
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = 0;
    for (let k = 0; k < K; k++) {
      const a = tA ? A[k * aShape[1] + i] : A[i * aShape[1] + k];
      const b = tB ? B[j * bShape[1] + k] : B[k * bShape[1] + j];
      s += a * b;
    }
    out[i * N + j] = s;
  }
  return out;
}

const tol = (K: number) => 1e-6 + 2.5e-7 * K;

describe('matMul', () => {
  for (const threads of [1, 2]) {
    describe(`${threads} thread(s)`, () => {
      beforeAll(async () => { await tn.close(); await tn.ready({ threads }); });

      it('matches a float64 reference for every transpose combination at awkward sizes and M = 1', () => {
        const sizes: [number, number, number][] = [ // [M, K, N]
          [1, 1, 1], [1, 7, 3], [1, 784, 1024], [2, 3, 5], [3, 17, 9], [5, 8, 33], [7, 127, 4], [9, 1, 16],
          [17, 33, 31], [33, 5, 127], [64, 64, 64], [101, 263, 97], [131, 67, 517], [1, 397, 1031],
        ];
        let seed = 1;
        for (const [M, K, N] of sizes) for (const tA of [false, true]) for (const tB of [false, true]) {
          const aShape = tA ? [K, M] : [M, K], bShape = tB ? [N, K] : [K, N];
          const A = testValues(M * K, seed++), B = testValues(K * N, seed++);
          tn.scope(() => {
            const c = tn.matMul(tn.tensor(A, aShape), tn.tensor(B, bShape), { transposeA: tA, transposeB: tB });
            expect(c.shape).toEqual([M, N]);
            expectClose(c.toArray(), refMatMul(A, aShape, B, bShape, tA, tB), tol(K), 1e-5,
              `matMul M=${M} K=${K} N=${N} tA=${tA} tB=${tB}`);
          });
        }
      });

      it('accumulateInto adds the product into the given tensor and returns it', () => {
        let seed = 500;
        for (const [M, K, N] of [[1, 9, 7], [4, 5, 3], [37, 41, 43], [100, 784, 64]] as const) {
          for (const tA of [false, true]) for (const tB of [false, true]) {
            const aShape = tA ? [K, M] : [M, K], bShape = tB ? [N, K] : [K, N];
            const A = testValues(M * K, seed++), B = testValues(K * N, seed++), C0 = testValues(M * N, seed++);
            tn.scope(() => {
              const c = tn.tensor(C0, [M, N]);
              const r = tn.matMul(tn.tensor(A, aShape), tn.tensor(B, bShape), { transposeA: tA, transposeB: tB, accumulateInto: c });
              expect(r).toBe(c);
              const ref = refMatMul(A, aShape, B, bShape, tA, tB).map((v, i) => v + C0[i]);
              expectClose(c.toArray(), ref, tol(K), 1e-5, `accumulate M=${M} K=${K} N=${N} tA=${tA} tB=${tB}`);
            });
          }
        }
      });

      it('tf-style positional transposes, empty dimensions and K = 0', () => {
        tn.scope(() => {
          const a = tn.tensor([1, 2, 3, 4, 5, 6], [3, 2]), b = tn.tensor([1, 0, 0, 1, 1, 1], [3, 2]);
          expect(Array.from(tn.matMul(a, b, true, false).toArray())).toEqual([6, 8, 8, 10]); // aᵀ·b
          expect(tn.matMul(tn.zeros([0, 4]), tn.zeros([4, 3])).shape).toEqual([0, 3]);
          expect(tn.matMul(tn.zeros([2, 4]), tn.zeros([4, 0])).shape).toEqual([2, 0]);
          const e = tn.matMul(tn.tensor([], [2, 0]), tn.tensor([], [0, 3]));
          expect(Array.from(e.toArray())).toEqual([0, 0, 0, 0, 0, 0]);
        });
      });
    });
  }

  describe('errors', () => {
    beforeAll(async () => { await tn.close(); await tn.ready({ threads: 1 }); });

    it('names both shapes on an inner-dimension mismatch, and rejects wrong ranks and bad options', () => {
      tn.scope(() => {
        const a = tn.zeros([2, 3]), b = tn.zeros([4, 5]), v = tn.zeros([3]), t3 = tn.zeros([2, 3, 4]);
        expect(() => tn.matMul(a, b)).toThrow(/inner dimensions do not match: a has shape \[2, 3\], so K = 3, but b has shape \[4, 5\], so K = 4/);
        expect(() => tn.matMul(a, b, { transposeA: true, transposeB: true }))
          .toThrow(/a has shape \[2, 3\] \(transposed\), so K = 2, but b has shape \[4, 5\] \(transposed\), so K = 5/);
        expect(() => tn.matMul(v, b)).toThrow(/a must be a 2-D tensor \(a matrix\), got shape \[3\]/);
        expect(() => tn.matMul(a, t3)).toThrow(/b must be a 2-D tensor \(a matrix\), got shape \[2, 3, 4\]/);
        expect(() => tn.matMul(a, [1, 2] as any)).toThrow(/b must be a thinnet Tensor/);
        expect(() => tn.matMul(a, tn.zeros([3, 2]), { transposeA: 'yes' as any })).toThrow(/transposeA must be a boolean/);
        expect(() => tn.matMul(a, tn.zeros([3, 2]), { accumulateInto: tn.zeros([2, 3]) }))
          .toThrow(/accumulateInto has shape \[2, 3\] but the product of a \[2, 3\] and b \[3, 2\] has shape \[2, 2\]/);
        const sq = tn.zeros([3, 3]);
        expect(() => tn.matMul(sq, tn.zeros([3, 3]), { accumulateInto: sq })).toThrow(/must not be a or b/);
        const gone = tn.zeros([3, 3]);
        gone.dispose();
        expect(() => tn.matMul(gone, sq)).toThrow(/disposed/);
      });
      expect(() => gemm(runtime(), 'tt' as GemmOp, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1)).toThrow(/op must be/);
    });
  });
});

describe('splitRange (the one range splitter)', () => {
  it('cuts at multiples of the alignment, never below minChunk, never leaves a single last row', () => {
    const rows = (n: number, parts: number, align: number, noSingle: boolean) => splitRange(n, parts, { align, noSingle });
    expect(rows(100, 2, 5, true)).toEqual([[0, 50], [50, 50]]);
    expect(rows(1024, 2, 8, false)).toEqual([[0, 512], [512, 512]]);
    expect(rows(16, 3, 5, true)).toEqual([[0, 10], [10, 6]]);
    expect(rows(21, 2, 10, true)).toEqual([[0, 21]]); // 20 + 1 merged
    expect(rows(9, 2, 4, true)).toEqual([[0, 9]]); // 8 + 1 merged
    expect(rows(9, 2, 8, false)).toEqual([[0, 9]]); // one range of 9 rather than 8 + 1
    expect(rows(3, 3, 8, false)).toEqual([[0, 3]]);
    expect(splitRange(0, 4)).toEqual([[0, 0]]);
    // elementwise (align 32) with a minimum per thread
    expect(splitRange(1000, 2, { minChunk: 1 << 16 })).toEqual([[0, 1000]]);
    expect(splitRange(1 << 17, 2, { minChunk: 1 << 16 })).toEqual([[0, 65536], [65536, 65536]]);
    expect(splitRange(100, 3)).toEqual([[0, 64], [64, 36]]);
  });
});

// ---- threaded products: bit-identical at 1, 2 and 3 threads ----------------------------------

interface GemmCase { op: GemmOp; M: number; N: number; K: number; acc: boolean; pad: number }
const GEMM_CASES: GemmCase[] = [
  { op: 'nn', M: 131, N: 517, K: 67, acc: false, pad: 0 },  // columns
  { op: 'nt', M: 37, N: 1031, K: 263, acc: true, pad: 3 },
  { op: 'tn', M: 517, N: 131, K: 67, acc: false, pad: 5 },  // rows
  { op: 'nn', M: 1031, N: 37, K: 97, acc: true, pad: 0 },
  { op: 'nt', M: 1, N: 1031, K: 397, acc: false, pad: 1 },  // GEMV, columns
  { op: 'nn', M: 1, N: 1031, K: 397, acc: true, pad: 0 },
  { op: 'tn', M: 1, N: 1027, K: 401, acc: false, pad: 2 },
  { op: 'nn', M: 11, N: 7, K: 30011, acc: false, pad: 0 },  // rows, a one-row remainder merged
  { op: 'tn', M: 16, N: 9, K: 20011, acc: true, pad: 1 },
  { op: 'nt', M: 100, N: 1024, K: 784, acc: false, pad: 0 }, // the paper's first layer
];

interface DenseCase { batch: number; inF: number; outF: number; bias: boolean; acc: boolean; dx: boolean }
const DENSE_CASES: DenseCase[] = [
  { batch: 100, inF: 784, outF: 1024, bias: true, acc: false, dx: false },
  { batch: 100, inF: 1024, outF: 1024, bias: true, acc: true, dx: true },
  { batch: 37, inF: 263, outF: 517, bias: false, acc: false, dx: true },
  { batch: 301, inF: 199, outF: 67, bias: true, acc: true, dx: true },   // batch >= outF: rows
  { batch: 1, inF: 397, outF: 1031, bias: true, acc: false, dx: true },  // one example
  { batch: 23, inF: 1021, outF: 13, bias: true, acc: false, dx: true },
  { batch: 3, inF: 5, outF: 7, bias: true, acc: true, dx: true },        // below the threshold
];

function refDense(x: Float32Array, w: Float32Array, b: Float32Array | null, dy: Float32Array, c: DenseCase) {
  const { batch, inF, outF } = c;
  const y = new Float64Array(batch * outF), dx = new Float64Array(batch * inF), dw = new Float64Array(outF * inF), db = new Float64Array(outF);
  for (let n = 0; n < batch; n++) for (let o = 0; o < outF; o++) {
    let s = b ? b[o] : 0;
    const g = dy[n * outF + o];
    db[o] += g;
    for (let i = 0; i < inF; i++) {
      s += x[n * inF + i] * w[o * inF + i];
      dx[n * inF + i] += g * w[o * inF + i];
      dw[o * inF + i] += g * x[n * inF + i];
    }
    y[n * outF + o] = s;
  }
  return { y, dx, dw, db };
}

function runProducts() {
  const rt = runtime();
  const h = rt.heap;
  const put = (v: Float32Array) => { const p = h.alloc(v.length * 4); h.f32(p, v.length).set(v); return p; };
  const gemms = GEMM_CASES.map((c, idx) => {
    const { op, M, N, K, pad } = c;
    const aRows = op === 'tn' ? K : M, aCols = (op === 'tn' ? M : K), bRows = op === 'nt' ? N : K, bCols = op === 'nt' ? K : N;
    const lda = aCols + pad, ldb = bCols + pad, ldc = N + pad;
    const A = testValues(aRows * lda, 10 * idx + 1), B = testValues(bRows * ldb, 10 * idx + 2);
    const C0 = testValues(M * ldc, 10 * idx + 3);
    const pa = put(A), pb = put(B), pc = put(C0);
    gemm(rt, op, pc, pa, pb, c.acc, M, N, K, lda, ldb, ldc);
    const C = h.f32(pc, M * ldc).slice();
    h.free(pa); h.free(pb); h.free(pc);
    // float64 check of the product region; the padding must be untouched.
    const ref = Float64Array.from(C0);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        s += (op === 'tn' ? A[k * lda + i] : A[i * lda + k]) * (op === 'nt' ? B[j * ldb + k] : B[k * ldb + j]);
      }
      ref[i * ldc + j] = (c.acc ? C0[i * ldc + j] : 0) + s;
    }
    expectClose(C, ref, tol(K), 1e-5, `gemm ${op} ${M}x${N}x${K} with ${rt.threads} threads`);
    return C;
  });
  const dense = DENSE_CASES.map((c, idx) => {
    const { batch, inF, outF } = c;
    const x = testValues(batch * inF, 100 + 10 * idx), w = testValues(outF * inF, 101 + 10 * idx, -0.1, 0.1);
    const b = testValues(outF, 102 + 10 * idx), dy = testValues(batch * outF, 103 + 10 * idx);
    const dw0 = testValues(outF * inF, 104 + 10 * idx), db0 = testValues(outF, 105 + 10 * idx);
    const px = put(x), pw = put(w), pb = c.bias ? put(b) : 0, pdy = put(dy);
    const py = put(new Float32Array(batch * outF).fill(NaN));
    const pdx = c.dx ? put(new Float32Array(batch * inF).fill(NaN)) : 0;
    const pdw = put(c.acc ? dw0 : new Float32Array(outF * inF).fill(NaN));
    const pdb = put(c.acc ? db0 : new Float32Array(outF).fill(NaN));
    denseForward(rt, py, px, pw, pb, batch, inF, outF);
    denseBackward(rt, pdx, pdw, pdb, pdy, px, pw, c.acc, batch, inF, outF);
    const out = {
      y: h.f32(py, batch * outF).slice(), dx: pdx ? h.f32(pdx, batch * inF).slice() : new Float32Array(0),
      dw: h.f32(pdw, outF * inF).slice(), db: h.f32(pdb, outF).slice(),
    };
    // The same outputs from the kernels called directly, on this thread (the one-thread truth).
    const k = rt.kernels;
    const ws = h.alloc(k.dense_workspace_bytes(batch, inF, outF) >>> 0);
    const qy = h.alloc(batch * outF * 4), qdx = c.dx ? h.alloc(batch * inF * 4) : 0;
    const qdw = put(c.acc ? dw0 : new Float32Array(outF * inF)), qdb = put(c.acc ? db0 : new Float32Array(outF));
    k.dense_forward_f32(qy, px, pw, pb, ws, batch, inF, outF);
    k.dense_backward_f32(qdx, qdw, qdb, pdy, px, pw, ws, c.acc ? 1 : 0, batch, inF, outF);
    const what = `dense ${batch}x${inF}x${outF} with ${rt.threads} threads`;
    expectSame(out.y, h.f32(qy, batch * outF), `${what}: y vs dense_forward_f32`);
    if (c.dx) expectSame(out.dx, h.f32(qdx, batch * inF), `${what}: dx vs dense_backward_f32`);
    expectSame(out.dw, h.f32(qdw, outF * inF), `${what}: dW vs dense_backward_f32`);
    expectSame(out.db, h.f32(qdb, outF), `${what}: db vs dense_backward_f32`);
    // And loosely against float64.
    const ref = refDense(x, w, c.bias ? b : null, dy, c);
    expectClose(out.y, ref.y, tol(inF), 1e-5, `${what} y`);
    if (c.dx) expectClose(out.dx, ref.dx, tol(outF), 1e-5, `${what} dx`);
    expectClose(out.dw, c.acc ? ref.dw.map((v, i) => v + dw0[i]) : ref.dw, tol(batch), 1e-5, `${what} dW`);
    expectClose(out.db, c.acc ? ref.db.map((v, i) => v + db0[i]) : ref.db, tol(batch), 1e-5, `${what} db`);
    for (const p of [px, pw, pb, pdy, py, pdx, pdw, pdb, ws, qy, qdx, qdw, qdb]) if (p) h.free(p);
    return out;
  });
  return { gemms, dense };
}

describe('threaded gemm, denseForward, denseBackward', () => {
  it('split products really split (the cases are above the per-thread threshold)', () => {
    expect(100 * 1024 * 784).toBeGreaterThan(3 * MIN_MACS_PER_THREAD);
    expect(131 * 517 * 67).toBeGreaterThan(3 * MIN_MACS_PER_THREAD);
  });

  it('are bit-identical at 1, 2 and 3 threads (and to the kernels called directly)', async () => {
    const results = [];
    for (const threads of [1, 2, 3]) {
      await tn.close();
      await tn.ready({ threads });
      results.push({ threads, ...runProducts() });
    }
    for (const r of results.slice(1)) {
      r.gemms.forEach((C, i) => expectSame(C, results[0].gemms[i], `gemm case ${i} with ${r.threads} threads`));
      r.dense.forEach((d, i) => {
        for (const key of ['y', 'dx', 'dw', 'db'] as const) expectSame(d[key], results[0].dense[i][key], `dense case ${i} ${key} with ${r.threads} threads`);
      });
    }
  });

  it('a product on the pool uses several threads (the workers hold their part of C)', async () => {
    await tn.close();
    await tn.ready({ threads: 2 });
    const rt = runtime();
    const calls: number[] = [];
    const run = rt.pool!.run.bind(rt.pool!);
    rt.pool!.run = (jobs) => { calls.push(jobs.length); run(jobs); };
    try {
      tn.scope(() => { tn.matMul(tn.zeros([100, 784]), tn.zeros([784, 1024])); });
      tn.scope(() => { tn.matMul(tn.zeros([4, 4]), tn.zeros([4, 4])); });
    } finally {
      rt.pool!.run = run;
    }
    expect(calls).toEqual([2]);
  });
});

describe('memory', () => {
  for (const threads of [1, 2]) {
    it(`many products allocate nothing after the first (${threads} thread(s))`, async () => {
      await tn.close();
      await tn.ready({ threads });
      const rt = runtime();
      const h = rt.heap;
      const batch = 100, inF = 300, outF = 200;
      const px = h.alloc(batch * inF * 4), pw = h.alloc(outF * inF * 4), pb = h.alloc(outF * 4), py = h.alloc(batch * outF * 4);
      const pdx = h.alloc(batch * inF * 4), pdw = h.alloc(outF * inF * 4), pdb = h.alloc(outF * 4);
      h.f32(px, batch * inF).set(testValues(batch * inF, 1)); h.f32(pw, outF * inF).set(testValues(outF * inF, 2));
      h.f32(pb, outF).fill(0.5);
      const a = tn.tensor(testValues(64 * 96, 3), [64, 96]), b = tn.tensor(testValues(96 * 80, 4), [96, 80]);
      const acc = tn.zeros([64, 80]);
      const round = () => {
        tn.scope(() => { tn.matMul(a, b); tn.matMul(a, b, { transposeB: false }); tn.matMul(b, a, { transposeA: true, transposeB: true }); });
        tn.matMul(a, b, { accumulateInto: acc });
        denseForward(rt, py, px, pw, pb, batch, inF, outF);
        denseBackward(rt, pdx, pdw, pdb, py, px, pw, 0, batch, inF, outF);
      };
      round();
      const before = { bytes: h.allocatedBytes, count: h.allocationCount, memory: h.memoryBytes };
      for (let i = 0; i < 300; i++) round();
      expect({ bytes: h.allocatedBytes, count: h.allocationCount, memory: h.memoryBytes }).toEqual(before);
      for (const p of [px, pw, pb, py, pdx, pdw, pdb]) h.free(p);
      a.dispose(); b.dispose(); acc.dispose();
      rt.releaseWorkspaces();
      expect(h.allocationCount).toBe(0);
    });
  }
});
