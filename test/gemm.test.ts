// GEMM kernels (assembly/gemm.ts) against a float64 reference: every kernel, fast and naive, in
// both builds, at tile-edge and prime sizes, accumulate on and off, leading dimensions wider
// than the matrices, unaligned pointers, the M = 1 (GEMV) path, and one layer-sized shape. Then
// the order contract, bit for bit: the fast kernels against gemm_*_f32_blocked_naive (the
// contract one element at a time), and a single row (M = 1) against the same row inside
// products of several rows.
import { describe, it, expect, beforeAll } from 'vitest';
import { BUILDS, loadRaw, expectClose, testValues, type RawKernels } from './helpers/wasm';

/** Throws at the first element whose float32 bits differ (so +0 and -0 differ, as NaN payloads would). */
function expectBits(got: Uint32Array, want: Uint32Array, what: string): void {
  if (got.length !== want.length) throw new Error(`${what}: length ${got.length} != ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) {
      const f = (u: number) => new Float32Array(new Uint32Array([u]).buffer)[0];
      throw new Error(`${what}: element ${i} has bits ${got[i].toString(16)} (${f(got[i])}), want ${want[i].toString(16)} (${f(want[i])})`);
    }
  }
}

type Op = 'nn' | 'nt' | 'tn';
const OPS: Op[] = ['nn', 'nt', 'tn'];
const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 127];

interface Case {
  op: Op; M: number; N: number; K: number;
  lda: number; ldb: number; ldc: number;
  accumulate: boolean;
}

/** Stored shapes [rows, cols] of A and B for op (before leading-dimension padding). */
function storedShape(op: Op, M: number, N: number, K: number) {
  return {
    aRows: op === 'tn' ? K : M, aCols: op === 'tn' ? M : K,
    bRows: op === 'nt' ? N : K, bCols: op === 'nt' ? K : N,
  };
}

/** float64 reference: C[i*ldc + j] (+)= sum_k op(A)[i,k] op(B)[k,j]; returns the whole C array. */
function refGemm(c: Case, A: Float32Array, B: Float32Array, C0: Float32Array): Float64Array {
  const { op, M, N, K, lda, ldb, ldc } = c;
  const out = Float64Array.from(C0);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const a = op === 'tn' ? A[k * lda + i] : A[i * lda + k];
        const b = op === 'nt' ? B[j * ldb + k] : B[k * ldb + j];
        s += a * b;
      }
      out[i * ldc + j] = (c.accumulate ? C0[i * ldc + j] : 0) + s;
    }
  }
  return out;
}

const CANARY = 12345.678;

/**
 * Runs one case on kernel `name` of raw and compares with the reference, including the padding
 * of C between rows (must be untouched) and a canary after the workspace. Pointers are offset by
 * `skew` bytes from 16-byte alignment.
 */
function runCase(raw: RawKernels, name: string, c: Case, seed: number, skew = 0): void {
  const { op, M, N, K, lda, ldb, ldc } = c;
  const s = storedShape(op, M, N, K);
  const aLen = (s.aRows - 1) * lda + s.aCols, bLen = (s.bRows - 1) * ldb + s.bCols;
  const cLen = (M - 1) * ldc + N + (ldc - N); // include the last row's padding
  const A = testValues(aLen, seed), B = testValues(bLen, seed + 1);
  // C: with accumulate, random values; without, NaN in the product region (must not be read).
  const C0 = testValues(cLen, seed + 2);
  const Cin = Float32Array.from(C0);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) if (!c.accumulate) Cin[i * ldc + j] = NaN;
  const wsBytes = raw.exports.gemm_workspace_bytes(M, N, K) >>> 0;
  const pa = raw.alloc(aLen * 4 + 16) + skew, pb = raw.alloc(bLen * 4 + 16) + skew;
  const pc = raw.alloc(cLen * 4 + 16) + skew, pw = raw.alloc(wsBytes + 64 + 16) + skew;
  try {
    raw.f32(pa, aLen).set(A); raw.f32(pb, bLen).set(B); raw.f32(pc, cLen).set(Cin);
    raw.f32(pw + wsBytes, 16).fill(CANARY);
    raw.exports[name](pc, pa, pb, pw, c.accumulate ? 1 : 0, M, N, K, lda, ldb, ldc);
    const got = Array.from(raw.f32(pc, cLen));
    const ref = refGemm(c, A, B, c.accumulate ? C0 : C0);
    // Padding columns keep their (non-NaN) initial values.
    for (let i = 0; i < M; i++) for (let j = N; j < ldc && i * ldc + j < cLen; j++) ref[i * ldc + j] = C0[i * ldc + j];
    const what = `${raw.name} ${name} M=${M} N=${N} K=${K} lda=${lda} ldb=${ldb} ldc=${ldc} acc=${c.accumulate} skew=${skew}`;
    // Blocked float32 sums of K products of values in [-1, 1): error grows like K * 2^-24 at worst.
    expectClose(got, ref, 1e-6 + 2.5e-7 * K, 1e-5, what);
    const canary = raw.f32(pw + wsBytes, 16);
    for (let i = 0; i < 16; i++) if (canary[i] !== Math.fround(CANARY)) throw new Error(`${what}: workspace overrun`);
  } finally {
    raw.free(pa - skew); raw.free(pb - skew); raw.free(pc - skew); raw.free(pw - skew);
  }
}

function tight(op: Op, M: number, N: number, K: number, accumulate: boolean): Case {
  const s = storedShape(op, M, N, K);
  return { op, M, N, K, lda: s.aCols, ldb: s.bCols, ldc: N, accumulate };
}

for (const build of BUILDS) {
  describe(`gemm (${build})`, () => {
    let raw: RawKernels;
    beforeAll(async () => { raw = await loadRaw(build); });

    it('exports the kernels, their naive siblings, the workspace size and the peak probe', () => {
      for (const op of OPS) {
        expect(typeof raw.exports[`gemm_${op}_f32`]).toBe('function');
        expect(typeof raw.exports[`gemm_${op}_f32_naive`]).toBe('function');
        expect(typeof raw.exports[`gemm_${op}_f32_blocked_naive`]).toBe('function');
      }
      expect(raw.exports.gemm_workspace_bytes(100, 1024, 784) >>> 0).toBeGreaterThan(0);
      expect(Number.isFinite(raw.exports.gemm_peak_f32(10))).toBe(true);
    });

    for (const op of OPS) {
      for (const variant of ['', '_naive', '_blocked_naive']) {
        const name = `gemm_${op}_f32${variant}`;

        it(`${name}: every (M, N, K) over {${SIZES.join(',')}}, accumulate on/off`, () => {
          let seed = 1;
          for (const M of SIZES) for (const N of SIZES) for (const K of SIZES) {
            const accumulate = ((M + N + K) & 1) === 1;
            runCase(raw, name, tight(op, M, N, K, accumulate), seed++);
          }
        });

        it(`${name}: both accumulate modes at sizes crossing the K, M and N blocks`, () => {
          let seed = 7000;
          const shapes: [number, number, number][] = [
            [33, 17, 513], [161, 9, 31], [7, 2051, 5], [165, 33, 1030], [100, 40, 784], [41, 24, 1025],
          ];
          for (const [M, N, K] of shapes) for (const acc of [false, true]) {
            runCase(raw, name, tight(op, M, N, K, acc), seed++);
          }
        });

        it(`${name}: leading dimensions larger than the widths, unaligned pointers`, () => {
          let seed = 9000;
          const shapes: [number, number, number][] = [
            [1, 1, 1], [1, 17, 9], [5, 8, 3], [9, 15, 17], [16, 33, 31], [31, 9, 127], [127, 5, 16],
            [1, 127, 33], [4, 8, 520],
          ];
          for (const [M, N, K] of shapes) for (const acc of [false, true]) for (const skew of [0, 4]) {
            const s = storedShape(op, M, N, K);
            runCase(raw, name, {
              op, M, N, K, lda: s.aCols + 3, ldb: s.bCols + 5, ldc: N + 7, accumulate: acc,
            }, seed++, skew);
          }
        });
      }

      it(`gemm_${op}_f32: M = 1 (GEMV path) at edge sizes and (1, 784, 1024)`, () => {
        let seed = 11000;
        for (const N of SIZES) for (const K of SIZES) for (const acc of [false, true]) {
          runCase(raw, `gemm_${op}_f32`, tight(op, 1, N, K, acc), seed++);
        }
        for (const acc of [false, true]) {
          runCase(raw, `gemm_${op}_f32`, tight(op, 1, 1024, 784, acc), seed++);
          const s = storedShape(op, 1, 1000, 36);
          runCase(raw, `gemm_${op}_f32`, { op, M: 1, N: 1000, K: 36, lda: s.aCols + 2, ldb: s.bCols + 3, ldc: 1003, accumulate: acc }, seed++, 4);
        }
      });

      it(`gemm_${op}_f32: (M, K, N) = (100, 784, 1024)`, () => {
        runCase(raw, `gemm_${op}_f32`, tight(op, 100, 1024, 784, true), 12345);
      });

      for (const variant of ['', '_naive', '_blocked_naive']) {
        it(`gemm_${op}_f32${variant}: M or N = 0 leaves C alone; K = 0 is the empty product`, () => {
          const pc = raw.putF32([1, 2, 3, 4, 5, 6]);
          const ws = raw.alloc(64);
          const f = raw.exports[`gemm_${op}_f32${variant}`];
          for (const [M, N] of [[0, 2], [2, 0]]) f(pc, pc, pc, ws, 0, M, N, 3, 3, 3, 3);
          expect(Array.from(raw.f32(pc, 6))).toEqual([1, 2, 3, 4, 5, 6]);
          f(pc, pc, pc, ws, 1, 2, 2, 0, 3, 3, 3); // C += 0
          expect(Array.from(raw.f32(pc, 6))).toEqual([1, 2, 3, 4, 5, 6]);
          f(pc, pc, pc, ws, 0, 2, 2, 0, 3, 3, 3); // C = 0 on the 2 x 2 block, ldc 3
          expect(Array.from(raw.f32(pc, 6))).toEqual([0, 0, 3, 0, 0, 6]);
          raw.free(pc); raw.free(ws);
        });
      }
    }

    // ---- the order contract, bit for bit -------------------------------------------------------

    for (const op of OPS) {
      it(`gemm_${op}_f32 has the bits of gemm_${op}_f32_blocked_naive: every (M, N, K) over {${SIZES.join(',')}}`, () => {
        let seed = 40000;
        for (const M of SIZES) for (const N of SIZES) for (const K of SIZES) {
          const accumulate = ((M + N + K) & 1) === 1;
          const c = tight(op, M, N, K, accumulate);
          const s = storedShape(op, M, N, K);
          const A = testValues((s.aRows - 1) * c.lda + s.aCols, seed++), B = testValues((s.bRows - 1) * c.ldb + s.bCols, seed++);
          const C0 = testValues(M * N, seed++);
          const pa = raw.putF32(A), pb = raw.putF32(B), pc = raw.putF32(C0), pn = raw.putF32(C0);
          const ws = raw.alloc(raw.exports.gemm_workspace_bytes(M, N, K) >>> 0);
          raw.exports[`gemm_${op}_f32`](pc, pa, pb, ws, accumulate ? 1 : 0, M, N, K, c.lda, c.ldb, c.ldc);
          raw.exports[`gemm_${op}_f32_blocked_naive`](pn, pa, pb, 0, accumulate ? 1 : 0, M, N, K, c.lda, c.ldb, c.ldc);
          expectBits(raw.u32(pc, M * N), raw.u32(pn, M * N), `${build} ${op} M=${M} N=${N} K=${K} acc=${accumulate}`);
          for (const p of [pa, pb, pc, pn, ws]) raw.free(p);
        }
      });

      // K around the block edges (KC = 384: 1, 2 and 3 blocks, and 9 for 3136), odd N.
      const INV_K = [1, 3, 7, 16, 17, 383, 384, 385, 768, 769, 784, 1024, 3136];
      const INV_N = [1, 3, 5, 8, 13, 1000];
      it(`gemm_${op}_f32: a single row (M = 1) has the bits of that row in M = 7 and M = MR + 1 products`, () => {
        const MR = raw.exports.gemm_tile_rows();
        const MA = 7; // A is made for 7 rows; the MR + 1 product uses its first rows
        let seed = 50000, n = 0;
        for (const K of INV_K) for (const N of INV_N) {
          n++;
          const pad = n % 3 === 0 ? 3 : 0; // leading dimensions wider than the matrices
          const skew = n % 2 ? 4 : 0;      // pointers off 16-byte alignment
          const s = storedShape(op, MA, N, K);
          const lda = s.aCols + pad, ldb = s.bCols + pad, ldc = N + pad;
          const aLen = (s.aRows - 1) * lda + s.aCols, bLen = (s.bRows - 1) * ldb + s.bCols;
          const A = testValues(aLen, seed++), B = testValues(bLen, seed++), C0 = testValues(MA * ldc, seed++);
          const pa = raw.alloc(aLen * 4 + 16) + skew, pb = raw.alloc(bLen * 4 + 16) + skew;
          const pc = raw.alloc(MA * ldc * 4 + 16) + skew, p1 = raw.alloc(ldc * 4 + 16) + skew;
          const wsM = raw.alloc(raw.exports.gemm_workspace_bytes(MA, N, K) >>> 0);
          const ws1Bytes = raw.exports.gemm_workspace_bytes(1, N, K) >>> 0;
          const ws1 = raw.alloc(ws1Bytes + 64 + 16) + skew;
          try {
            raw.f32(pa, aLen).set(A); raw.f32(pb, bLen).set(B);
            for (const M of [MA, MR + 1]) for (const acc of [0, 1]) {
              const Cin = Float32Array.from(C0.subarray(0, M * ldc));
              if (!acc) Cin.fill(NaN); // never read
              raw.f32(pc, M * ldc).set(Cin);
              raw.exports[`gemm_${op}_f32`](pc, pa, pb, wsM, acc, M, N, K, lda, ldb, ldc);
              for (const i of new Set([0, 3, M - 1])) {
                const what = `${build} ${op} row ${i} of M=${M} N=${N} K=${K} acc=${acc} pad=${pad} skew=${skew}`;
                const ai = op === 'tn' ? pa + 4 * i : pa + 4 * i * lda; // row i of op(A)
                const want = raw.u32(pc + 4 * i * ldc, N).slice();
                raw.f32(p1, N).set(Cin.subarray(i * ldc, i * ldc + N));
                raw.f32(ws1 + ws1Bytes, 16).fill(CANARY);
                raw.exports[`gemm_${op}_f32`](p1, ai, pb, ws1, acc, 1, N, K, lda, ldb, ldc);
                expectBits(raw.u32(p1, N), want, what);
                if (raw.f32(ws1 + ws1Bytes, 16).some((v) => v !== Math.fround(CANARY))) throw new Error(`${what}: workspace overrun`);
                raw.f32(p1, N).set(Cin.subarray(i * ldc, i * ldc + N));
                raw.exports[`gemm_${op}_f32_blocked_naive`](p1, ai, pb, 0, acc, 1, N, K, lda, ldb, ldc);
                expectBits(raw.u32(p1, N), want, `${what} (blocked_naive)`);
              }
            }
          } finally {
            for (const p of [pa, pb, pc, p1, ws1]) raw.free(p - skew);
            raw.free(wsM);
          }
        }
      });
    }

    it('row ranges of C computed separately (offset C and A pointers) equal the whole product', () => {
      // What a thread pool does: rows [0, 37) and [37, 100) of C = A·Bᵀ in two calls.
      const M = 100, N = 65, K = 70;
      const A = testValues(M * K, 3), B = testValues(N * K, 4);
      const pa = raw.putF32(A), pb = raw.putF32(B);
      const pc1 = raw.alloc(M * N * 4), pc2 = raw.alloc(M * N * 4);
      const ws = raw.alloc(raw.exports.gemm_workspace_bytes(M, N, K) >>> 0);
      raw.exports.gemm_nt_f32(pc1, pa, pb, ws, 0, M, N, K, K, K, N);
      raw.exports.gemm_nt_f32(pc2, pa, pb, ws, 0, 37, N, K, K, K, N);
      raw.exports.gemm_nt_f32(pc2 + 37 * N * 4, pa + 37 * K * 4, pb, ws, 0, M - 37, N, K, K, K, N);
      expect(Array.from(raw.f32(pc2, M * N))).toEqual(Array.from(raw.f32(pc1, M * N)));
      for (const p of [pa, pb, pc1, pc2, ws]) raw.free(p);
    });
  });
}

// ---- tile geometry and the transpose (used by src/kernels/linalg.ts) -------------------------------

for (const build of BUILDS) {
  describe(`gemm helpers (${build})`, () => {
    let raw: RawKernels;
    beforeAll(async () => { raw = await loadRaw(build); });

    it('gemm_tile_rows / gemm_tile_cols report the register tile of the build', () => {
      expect(raw.exports.gemm_tile_rows()).toBe(build === 'relaxed' ? 5 : 4);
      expect(raw.exports.gemm_tile_cols()).toBe(8);
    });

    it('transpose_f32 at edge sizes with padded leading dimensions', () => {
      let seed = 20000;
      for (const rows of SIZES) for (const cols of SIZES) for (const pad of [0, 3]) {
        const ldx = cols + pad, ldy = rows + pad;
        const X = testValues(rows * ldx, seed++);
        const Y0 = testValues(cols * ldy, seed++);
        const px = raw.putF32(X), py = raw.putF32(Y0);
        raw.exports.transpose_f32(py, px, rows, cols, ldx, ldy);
        const want = Float32Array.from(Y0);
        for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) want[j * ldy + i] = X[i * ldx + j];
        expect(Array.from(raw.f32(py, cols * ldy)), `${build} transpose ${rows}x${cols} pad ${pad}`).toEqual(Array.from(want));
        raw.free(px); raw.free(py);
      }
    });
  });
}
