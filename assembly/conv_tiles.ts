// The pieces the convolution kernels share (assembly/conv.ts, assembly/winograd.ts): the register
// tiles over rows of taps, the zero-padded frame, and small helpers. Not module exports.

/** Rows of the register tile: output positions (forward, patch gradients) or filters (dw). 4 in
 *  both builds: V8 issues all of an iteration's loads before its arithmetic, so a tile holds its
 *  accumulators and every loaded vector at once, and 5 x 8 (10 accumulators, 2 B vectors, 5
 *  broadcasts) exceeds the 15 allocatable xmm registers and spills (measured: half the speed of
 *  4 x 8 in the relaxed build). gemm.ts affords 5 x 8 by loading a packed A panel as a vector. */
export const MR: i32 = 4;
/** Columns of the register tile (two f32x4): filters (forward) or taps (dw, patch gradients). */
export const NR: i32 = 8;

// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}

// @ts-ignore: decorator
@inline export function imin(a: i32, b: i32): i32 { return a < b ? a : b; }
// @ts-ignore: decorator
@inline export function imax(a: i32, b: i32): i32 { return a > b ? a : b; }
// @ts-ignore: decorator
@inline export function umax(a: usize, b: usize): usize { return a > b ? a : b; }
// @ts-ignore: decorator
@inline export function roundUp(x: i32, m: i32): i32 { return (x + m - 1) / m * m; }
// @ts-ignore: decorator
@inline export function align16(p: usize): usize { return (p + 15) & ~(<usize>15); }
// @ts-ignore: decorator
@inline export function bytes(floats: i32): usize { return <usize>floats << 2; }

/**
 * Copies example xn [H, W, C] into the zero-padded frame xp [Hp, Wp, C]: frame row r, column j
 * holds x[r - PT, j - PL] (0 outside the input), followed by NR zero floats.
 */
export function padFrame(xp: usize, xn: usize, H: i32, W: i32, C: i32, Hp: i32, Wp: i32, PT: i32, PL: i32): void {
  const rowB = bytes(Wp * C);
  const cols = imin(W, Wp - PL); // input columns inside the frame
  const leftB = bytes(PL * C), copyB = bytes(cols * C);
  const rightB = rowB - leftB - copyB;
  const srcRowB = bytes(W * C);
  let d = xp;
  for (let r = 0; r < Hp; r++) {
    const ih = r - PT;
    if (ih < 0 || ih >= H) {
      memory.fill(d, 0, rowB);
    } else {
      if (leftB) memory.fill(d, 0, leftB);
      memory.copy(d + leftB, xn + <usize>ih * srcRowB, copyB);
      if (rightB) memory.fill(d + leftB + copyB, 0, rightB);
    }
    d += rowB;
  }
  memory.fill(d, 0, bytes(NR));
}


// ---- register tiles -----------------------------------------------------------------------------
//
// Both tiles (this one and conv.ts's filter-gradient tile) keep 4 x 8 sums in 8 f32x4 accumulators and take one k step per loop iteration: two
// vector loads of 8 "B" values and 4 broadcast loads of "A" values (load-port work: the multiply-
// add pipes do only arithmetic), 14 xmm registers in all. The tile goes to `t` (rows ldt bytes
// apart): overwritten, or added to when addT != 0. The sums are formed from 0 (or from `init`)
// and the stored values added last, so a partial tile computed into scratch and copied out with
// the same additions (copyTile) gets the same bits as a whole one.

// Rows x packed B: T[i][j] (+)= init[j] + sum over nRuns runs and k < runB/4 of
//   A_i[run*runStep + 4k] * PB[k'][j]     (k' counts every step; PB advances 32 bytes a step)
// with A_i starting at r_i (byte addresses). Forward: rows are output positions, a run is one
// kh's KW*C taps, runStep one input row. Patch gradients: rows are dy's rows, one run of F.
// @ts-ignore: decorator
@inline export function rowsTileBody(r0: usize, r1: usize, r2: usize, r3: usize, runB: usize, nRuns: i32,
                              runStep: usize, pb: usize, t: usize, ldt: usize, init: usize, addT: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  if (init) { c00 = v128.load(init); c01 = v128.load(init, 16); }
  let c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
  // Only the four read pointers, pb and the run's end live through the loop.
  const skip = runStep - runB;
  for (let run = 0; run < nRuns; run++) {
    const end = r0 + runB;
    while (r0 < end) {
      const b0 = v128.load(pb), b1 = v128.load(pb, 16);
      let a = v128.load32_splat(r0);
      c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
      a = v128.load32_splat(r1);
      c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
      a = v128.load32_splat(r2);
      c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
      a = v128.load32_splat(r3);
      c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
      r0 += 4; r1 += 4; r2 += 4; r3 += 4;
      pb += 32;
    }
    r0 += skip; r1 += skip; r2 += skip; r3 += skip;
  }
  storeTile(t, ldt, addT, c00, c01, c10, c11, c20, c21, c30, c31);
}

// @ts-ignore: decorator
@inline export function storeTile(t: usize, ldt: usize, addT: i32, c00: v128, c01: v128, c10: v128, c11: v128,
                           c20: v128, c21: v128, c30: v128, c31: v128): void {
  const t1 = t + ldt, t2 = t1 + ldt, t3 = t2 + ldt;
  if (addT) {
    c00 = f32x4.add(c00, v128.load(t));  c01 = f32x4.add(c01, v128.load(t, 16));
    c10 = f32x4.add(c10, v128.load(t1)); c11 = f32x4.add(c11, v128.load(t1, 16));
    c20 = f32x4.add(c20, v128.load(t2)); c21 = f32x4.add(c21, v128.load(t2, 16));
    c30 = f32x4.add(c30, v128.load(t3)); c31 = f32x4.add(c31, v128.load(t3, 16));
  }
  v128.store(t, c00);  v128.store(t, c01, 16);
  v128.store(t1, c10); v128.store(t1, c11, 16);
  v128.store(t2, c20); v128.store(t2, c21, 16);
  v128.store(t3, c30); v128.store(t3, c31, 16);
}

export function rowsTile(r0: usize, r1: usize, r2: usize, r3: usize, runB: usize, nRuns: i32, runStep: usize,
                  pb: usize, t: usize, ldt: usize, init: usize, addT: i32): void {
  rowsTileBody(r0, r1, r2, r3, runB, nRuns, runStep, pb, t, ldt, init, addT);
}

/** d[i*lddB + 4j] (+)= t[i*32 + 4j] for i < rows, j < cols: a partial tile out of scratch. */
export function copyTile(d: usize, lddB: usize, t: usize, rows: i32, cols: i32, add: bool): void {
  for (let i = 0; i < rows; i++) {
    const dr = d + <usize>i * lddB, tr = t + (<usize>i << 5);
    for (let j = 0; j < cols; j++) {
      const o = <usize>j << 2;
      const v = load<f32>(tr + o);
      store<f32>(dr + o, add ? load<f32>(dr + o) + v : v);
    }
  }
}

