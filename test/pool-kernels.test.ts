// Max-pooling kernels (assembly/pool.ts), NHWC: the float64 reference's backward pass against
// finite differences of its forward; then both kernels (fast and naive), both builds, against
// the reference bit for bit (a max is exact, and the backward sums run in the same order) at
// 2x2 stride 2 (even and odd sizes) and 3x3 stride 2 (overlapping windows, 'same' padding),
// C around the vector width, batch 1 and > 1; ties (the first tap in row-major window order
// wins), NaN and -Infinity inputs, argmax = 0, and a batch cut in two calls.
import { describe, it, expect, beforeAll } from 'vitest';
import { BUILDS, loadRaw, expectClose, expectSame, testValues, type RawKernels } from './helpers/wasm';

interface Pool {
  batch: number; H: number; W: number; C: number; PH: number; PW: number;
  SH: number; SW: number; PT: number; PL: number; OH: number; OW: number;
}

/** TensorFlow's 'valid' (windows inside the input) or 'same' (out = ceil(in / stride)). */
function pool(batch: number, H: number, W: number, C: number, PH: number, PW: number, SH: number, SW: number,
              padding: 'same' | 'valid'): Pool {
  if (padding === 'valid') {
    return { batch, H, W, C, PH, PW, SH, SW, PT: 0, PL: 0, OH: Math.floor((H - PH) / SH) + 1, OW: Math.floor((W - PW) / SW) + 1 };
  }
  const OH = Math.ceil(H / SH), OW = Math.ceil(W / SW);
  const PT = Math.floor(Math.max((OH - 1) * SH + PH - H, 0) / 2), PL = Math.floor(Math.max((OW - 1) * SW + PW - W, 0) / 2);
  return { batch, H, W, C, PH, PW, SH, SW, PT, PL, OH, OW };
}

const name = (p: Pool) => `b${p.batch} ${p.H}x${p.W}x${p.C} win${p.PH}x${p.PW} s${p.SH},${p.SW} p${p.PT},${p.PL} o${p.OH}x${p.OW}`;
const args = (p: Pool) => [p.batch, p.H, p.W, p.C, p.PH, p.PW, p.SH, p.SW, p.PT, p.PL, p.OH, p.OW];

const POOLS: Pool[] = [
  pool(2, 4, 4, 1, 2, 2, 2, 2, 'valid'),
  pool(1, 5, 7, 3, 2, 2, 2, 2, 'valid'),       // odd sizes: the last row / column is dropped
  pool(3, 6, 6, 4, 2, 2, 2, 2, 'valid'),
  pool(2, 5, 5, 5, 2, 2, 2, 2, 'same'),        // odd size, 'same': a window hangs over the edge
  pool(1, 8, 8, 17, 3, 3, 2, 2, 'same'),       // 3x3 stride 2 (the paper's): overlapping
  pool(2, 7, 9, 32, 3, 3, 2, 2, 'same'),
  pool(1, 9, 9, 3, 3, 3, 2, 2, 'valid'),
  pool(2, 6, 7, 5, 3, 2, 1, 3, 'valid'),       // stride 1 (heavy overlap) and 3
  { batch: 1, H: 5, W: 6, C: 7, PH: 3, PW: 3, SH: 2, SW: 2, PT: 1, PL: 1, OH: 3, OW: 3 }, // pads both sides
  pool(2, 28, 28, 32, 2, 2, 2, 2, 'valid'),
  pool(2, 14, 14, 64, 3, 3, 2, 2, 'same'),
];

// ---- reference ------------------------------------------------------------------------------------

/** y, argmax: the first in-range tap in row-major window order wins ties (later taps must be >). */
function refForward(p: Pool, x: ArrayLike<number>) {
  const { H, W, C, OH, OW } = p;
  const y = new Float64Array(p.batch * OH * OW * C), am = new Int32Array(y.length);
  for (let n = 0; n < p.batch; n++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) for (let c = 0; c < C; c++) {
    let best = NaN, idx = -1;
    for (let ph = 0; ph < p.PH; ph++) for (let pw = 0; pw < p.PW; pw++) {
      const h = oh * p.SH - p.PT + ph, w = ow * p.SW - p.PL + pw;
      if (h < 0 || h >= H || w < 0 || w >= W) continue;
      const e = (h * W + w) * C + c, v = x[n * H * W * C + e];
      if (idx < 0 || v > best) { best = v; idx = e; }
    }
    const o = ((n * OH + oh) * OW + ow) * C + c;
    y[o] = best; am[o] = idx;
  }
  return { y, am };
}

/** dx: zero, then each dy added at its winner, outputs in order, in float32 as the kernels do. */
function refBackward(p: Pool, dy: ArrayLike<number>, am: ArrayLike<number>): Float32Array {
  const ex = p.H * p.W * p.C, m = p.OH * p.OW * p.C;
  const dx = new Float32Array(p.batch * ex);
  for (let n = 0; n < p.batch; n++) for (let i = 0; i < m; i++) {
    const k = n * ex + am[n * m + i];
    dx[k] = Math.fround(dx[k] + dy[n * m + i]);
  }
  return dx;
}

describe('maxpool2d reference', () => {
  it('backward equals centered finite differences of the forward (distinct inputs), loss = sum(y * g)', () => {
    for (const p of [pool(2, 5, 5, 2, 2, 2, 2, 2, 'same'), pool(1, 6, 5, 3, 3, 3, 2, 2, 'same'), pool(1, 4, 6, 2, 3, 2, 1, 2, 'valid')]) {
      const n = p.batch * p.H * p.W * p.C;
      // Distinct values at least 1e-3 apart, so that a step of 1e-6 never changes a winner.
      const x = Array.from(testValues(n, 5)).map((v, i) => Math.round(v * 1000) * n + i).map((v) => v * 1e-3);
      const g = Array.from(testValues(p.batch * p.OH * p.OW * p.C, 6));
      const loss = () => refForward(p, x).y.reduce((s, y, k) => s + y * g[k], 0);
      const dx = new Float64Array(n);
      const { am } = refForward(p, x);
      const m = p.OH * p.OW * p.C;
      for (let b = 0; b < p.batch; b++) for (let i = 0; i < m; i++) dx[b * p.H * p.W * p.C + am[b * m + i]] += g[b * m + i];
      const h = 1e-6;
      const fd = x.map((_, k) => {
        const keep = x[k];
        x[k] = keep + h; const up = loss();
        x[k] = keep - h; const down = loss();
        x[k] = keep;
        return (up - down) / (2 * h);
      });
      expectClose(fd, dx, 1e-6, 1e-6, `dx ${name(p)}`);
    }
  });
});

// ---- wasm kernels -----------------------------------------------------------------------------------

for (const build of BUILDS) {
  describe(`maxpool2d (${build})`, () => {
    let raw: RawKernels;
    beforeAll(async () => { raw = await loadRaw(build); });

    const i32 = (ptr: number, n: number) => new Int32Array(raw.memory.buffer, ptr, n);

    /** Runs forward and backward of `variant` on x; checks both against the reference, returns y. */
    function check(p: Pool, variant: string, x: Float32Array, what: string) {
      const nx = x.length, ny = p.batch * p.OH * p.OW * p.C;
      const dy = testValues(ny, 77);
      const px = raw.putF32(x), pdy = raw.putF32(dy);
      const py = raw.putF32(new Float32Array(ny).fill(12345)), pa = raw.alloc(ny * 4), pdx = raw.putF32(new Float32Array(nx).fill(NaN));
      i32(pa, ny).fill(-7);
      raw.exports[`maxpool2d_forward_f32${variant}`](py, pa, px, ...args(p));
      const ref = refForward(p, x);
      expectSame(raw.f32(py, ny), ref.y, `${what} y`);
      expectSame(i32(pa, ny), ref.am, `${what} argmax`);
      raw.exports[`maxpool2d_backward_f32${variant}`](pdx, pdy, pa, p.batch, p.H, p.W, p.C, p.OH, p.OW);
      expectSame(raw.f32(pdx, nx), refBackward(p, dy, ref.am), `${what} dx`);
      // argmax == 0: y alone.
      raw.f32(py, ny).fill(0);
      raw.exports[`maxpool2d_forward_f32${variant}`](py, 0, px, ...args(p));
      expectSame(raw.f32(py, ny), ref.y, `${what} y (argmax skipped)`);
      for (const q of [px, pdy, py, pa, pdx]) raw.free(q);
    }

    for (const variant of ['', '_naive']) {
      it(`maxpool2d_forward_f32${variant} / maxpool2d_backward_f32${variant}: every geometry`, () => {
        let seed = 10;
        for (const p of POOLS) {
          const x = testValues(p.batch * p.H * p.W * p.C, seed++);
          check(p, variant, x, `${build}${variant} ${name(p)}`);
        }
      });

      it(`maxpool2d${variant}: ties go to the first tap in window order; overlapping windows add up`, () => {
        let seed = 50;
        for (const p of POOLS) {
          // Values from {-1, 0, 1}: most windows hold ties, and 3x3 stride 2 winners repeat.
          const x = testValues(p.batch * p.H * p.W * p.C, seed++).map((v) => Math.round(v));
          check(p, variant, x, `${build}${variant} ties ${name(p)}`);
        }
        // All equal: every output's winner is its window's first in-range tap.
        const p = pool(1, 5, 5, 5, 3, 3, 2, 2, 'same');
        const px = raw.putF32(new Float32Array(125).fill(2)), py = raw.alloc(9 * 5 * 4), pa = raw.alloc(9 * 5 * 4);
        raw.exports[`maxpool2d_forward_f32${variant}`](py, pa, px, ...args(p));
        for (let oh = 0; oh < 3; oh++) for (let ow = 0; ow < 3; ow++) for (let c = 0; c < 5; c++) {
          const h = Math.max(0, oh * 2 - p.PT), w = Math.max(0, ow * 2 - p.PL);
          expect(i32(pa, 45)[(oh * 3 + ow) * 5 + c]).toBe((h * 5 + w) * 5 + c);
        }
        for (const q of [px, py, pa]) raw.free(q);
      });

      it(`maxpool2d_forward_f32${variant}: -Infinity and NaN (a NaN wins only as the first tap)`, () => {
        const p = pool(1, 4, 4, 5, 2, 2, 2, 2, 'valid');
        const x = testValues(80, 9);
        for (let c = 0; c < 5; c++) {
          x[c] = -Infinity;                   // window (0,0): first tap -inf, loses
          x[(0 * 4 + 2) * 5 + c] = NaN;        // window (0,1): NaN first: stays
          x[(1 * 4 + 3) * 5 + c] = NaN;        // window (0,1) last tap: ignored after the first NaN
          x[(2 * 4 + 1) * 5 + c] = NaN;        // window (1,0): NaN later: ignored
        }
        check(p, variant, x, `${build}${variant} nan`);
        const px = raw.putF32(x), py = raw.alloc(20 * 4);
        raw.exports[`maxpool2d_forward_f32${variant}`](py, 0, px, ...args(p));
        const y = raw.f32(py, 20);
        for (let c = 0; c < 5; c++) {
          expect(Number.isFinite(y[c])).toBe(true);
          expect(Number.isNaN(y[5 + c])).toBe(true);
          expect(Number.isNaN(y[10 + c])).toBe(false);
        }
        raw.free(px); raw.free(py);
      });
    }

    it('batch 5 in one call = 2 + 3 in two calls (offset by whole examples), bit for bit', () => {
      for (const p of [pool(5, 9, 9, 17, 3, 3, 2, 2, 'same'), pool(5, 6, 6, 4, 2, 2, 2, 2, 'valid')]) {
        const ex = p.H * p.W * p.C, m = p.OH * p.OW * p.C;
        const px = raw.putF32(testValues(p.batch * ex, 3)), pdy = raw.putF32(testValues(p.batch * m, 4));
        const y1 = raw.alloc(p.batch * m * 4), a1 = raw.alloc(p.batch * m * 4), dx1 = raw.alloc(p.batch * ex * 4);
        const y2 = raw.alloc(p.batch * m * 4), a2 = raw.alloc(p.batch * m * 4), dx2 = raw.alloc(p.batch * ex * 4);
        raw.exports.maxpool2d_forward_f32(y1, a1, px, ...args(p));
        raw.exports.maxpool2d_backward_f32(dx1, pdy, a1, p.batch, p.H, p.W, p.C, p.OH, p.OW);
        for (const [n0, n1] of [[0, 2], [2, 5]]) {
          const q = { ...p, batch: n1 - n0 };
          raw.exports.maxpool2d_forward_f32(y2 + 4 * n0 * m, a2 + 4 * n0 * m, px + 4 * n0 * ex, ...args(q));
          raw.exports.maxpool2d_backward_f32(dx2 + 4 * n0 * ex, pdy + 4 * n0 * m, a2 + 4 * n0 * m, q.batch, p.H, p.W, p.C, p.OH, p.OW);
        }
        expectSame(raw.f32(y2, p.batch * m), raw.f32(y1, p.batch * m), `${build} y ${name(p)}`);
        expectSame(i32(a2, p.batch * m), i32(a1, p.batch * m), `${build} argmax ${name(p)}`);
        expectSame(raw.f32(dx2, p.batch * ex), raw.f32(dx1, p.batch * ex), `${build} dx ${name(p)}`);
        for (const q of [px, pdy, y1, a1, dx1, y2, a2, dx2]) raw.free(q);
      }
    });
  });
}
