// 2-D convolution over NHWC tensors (channels last, as TensorFlow.js and Keras), and its two
// backward passes.
//
// Layouts (row-major f32; pointers are byte addresses, 4-byte aligned, 16 is best):
//   x  [batch, H, W, C]     inputs: an example is [H, W, C]
//   w  [F, KH, KW, C]       filters: row f (K = KH*KW*C floats) is filter f's weight vector, i.e.
//                           a dense layer's W [out, in] with in = K (max-norm per filter is
//                           max_norm_f32 over these rows)
//   b  [F]                  biases
//   y  [batch, OH, OW, F]   outputs
// and dx, dw, db, dy have the shapes of x, w, b, y.
//
// Geometry: strides SH, SW >= 1; zero padding PT rows at the top and PL columns at the left; the
// output size OH x OW implies the padding at the bottom and right. Output (oh, ow) sees the taps
//   x[oh*SH - PT + kh, ow*SW - PL + kw, c]   kh < KH, kw < KW, c < C
// and a tap outside [0, H) x [0, W) counts as 0. The padded input is the Hp x Wp frame,
// Hp = (OH-1)*SH + KH, Wp = (OW-1)*SW + KW, whose rows [PT, PT+H) and columns [PL, PL+W) hold
// the input (input rows or columns past the frame are never read).
//
// Method: direct convolution as an implicit GEMM, no patch matrix. For one output position and
// one filter row kh, the taps (kw, c) are KW*C consecutive floats of the (padded) input row
// oh*SH + kh from column ow*SW on. A 4 x 8 register tile (4 output positions x 8 filters) reads
// those runs straight from the input by broadcast loads, against the filters packed once per
// call into panels of 8 ([k][8], the B panel of gemm.ts). The backward pass for the filters is
// the same tile with the roles turned: 4 filters x 8 consecutive taps of one kh, summed over the
// output positions, reading dy and the input in place. The backward pass for the input, at
// stride 1 and C >= 8, is the forward kernel again: the convolution of dy (zero-padded by KH-1-PT
// rows, KW-1-PL columns) with the filters turned around, [C, KH, KW, F] (the col2im path below
// measured 12-17% slower at 14x14x32 -> 64); otherwise it forms the patch gradients dy · w of a
// chunk of positions (the same tile, over dy's rows) and adds each back into its window of a
// zero-padded frame (col2im). The input is copied into a zero-padded frame in the workspace only
// when the geometry pads. (Copying a band of patches first, so that short runs such as the
// 28x28x1 first layer's 5 taps become one run of K = 25, measured 15-20% slower there: the copy
// costs more than the shorter loops gain.) bench/conv-kernels.mjs measures the direct method
// against im2col + gemm_nt_f32 (conv2d_im2col_f32 below).
//
// Threading: forward and backward_data split by examples (offset x, y / dx, dy by whole examples
// and pass a smaller batch); backward_filter splits by filters (see its comment). The operations
// that produce an output element depend only on the geometry, never on batch or F, so any split
// gives the bits of one call.
//
// Workspace: conv2d_workspace_bytes(H, W, C, F, KH, KW, OH, OW) bytes of scratch per thread
// (any alignment). No kernel allocates.
//
// Geometries whose padding exceeds the kernel (PT > KH-1, PL > KW-1, or implied bottom/right
// padding > KH-1 / KW-1: some windows lie wholly in the padding), or with a stride below 1 or a
// negative padding, run the naive kernels (correct, slow, and still independent of batch and F).

import { dense_backward_bias_f32 } from "./dense";
import {
  MR, NR, madd, imin, imax, umax, roundUp, align16, bytes, padFrame, rowsTile, storeTile, copyTile,
} from "./conv_tiles";

/** Target taps per pass over the output: filter rows kh are grouped into passes of at most this
 *  many taps (and at least one row), equal in size. At 5x5x32 one pass of 800 taps (a 25 KB panel
 *  of packed filters) measured 2-4% faster than passes of 320 + 320 + 160. */
const KC: i32 = 1024;
/** Target floats of the chunk of patch gradients in conv2d_backward_data_f32 (128 KB). */
const COLS_FLOATS: i32 = 32768;


// ---- geometry and workspace ---------------------------------------------------------------------

/** True when the fast kernels handle the geometry: every window overlaps the frame
 *  [-(KH-1), H+KH-1) x [-(KW-1), W+KW-1) that the workspace is sized for. */
function framed(H: i32, W: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32): bool {
  if (SH < 1 || SW < 1 || PT < 0 || PL < 0 || PT > KH - 1 || PL > KW - 1) return false;
  const bottom = (OH - 1) * SH + KH - PT - H, right = (OW - 1) * SW + KW - PL - W;
  return bottom <= KH - 1 && right <= KW - 1;
}

/** True when the padded frame differs from the input itself (then it is built in the workspace). */
// @ts-ignore: decorator
@inline function pads(H: i32, W: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32): bool {
  return PT > 0 || PL > 0 || (OH - 1) * SH + KH > H || (OW - 1) * SW + KW > W;
}

/** Bytes of the largest padded frame a framed geometry can need, plus NR floats of slack. */
// @ts-ignore: decorator
@inline function frameBytes(H: i32, W: i32, C: i32, KH: i32, KW: i32): usize {
  return (<usize>(H + 2 * (KH - 1)) * <usize>(W + 2 * (KW - 1)) * <usize>C + <usize>NR) << 2;
}

/** Positions per chunk of patch gradients (a multiple of MR, at most the example's positions). */
function colsChunk(K: i32, P: i32): i32 {
  const ch = imax(MR, COLS_FLOATS / roundUp(K, NR) / MR * MR);
  return imin(ch, roundUp(P, MR));
}

/**
 * Bytes of per-thread workspace sufficient for conv2d_forward_f32, conv2d_backward_data_f32 and
 * conv2d_backward_filter_f32 at this geometry, for any batch, strides and padding (a padded frame
 * is at most (H + 2(KH-1)) x (W + 2(KW-1)) x C; wider padding runs the naive kernels, which need
 * none). Includes alignment slack: the workspace pointer need not be aligned. With K = KH*KW*C:
 *   forward   filters packed roundUp(F,8)*K + bias roundUp(F,8) + frame + tile
 *   data      filters packed roundUp(K,8)*F + patch gradients (~128 KB) + frame + tile, or at
 *             stride 1, C >= 8: filters packed roundUp(C,8)*K + dy frame (H+KH-1)(W+KW-1)F + tile
 *   filter    frame + tile + dy of one example packed in blocks of 4 filters OH*OW*roundUp(F,4)
 * 28x28x1 -> 32 (5x5, 'same'): 107 KB; 14x14x32 -> 64: 386 KB (both builds).
 */
export function conv2d_workspace_bytes(H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, OH: i32, OW: i32): usize {
  if (H <= 0 || W <= 0 || C <= 0 || F <= 0 || KH <= 0 || KW <= 0 || OH <= 0 || OW <= 0) return 64;
  const K = KH * KW * C;
  const frame = frameBytes(H, W, C, KH, KW);
  const tile = bytes(MR * NR);
  const fwd = bytes(roundUp(F, NR) * K) + bytes(roundUp(F, NR)) + frame + tile;
  const data = bytes(roundUp(K, NR) * F) + bytes(colsChunk(K, OH * OW) * roundUp(K, NR)) + frame + tile;
  const filt = frame + tile + bytes(OH * OW * roundUp(F, MR));
  const dataT = C >= NR ? bytes(roundUp(C, NR) * KH * KW * F) + bytes((H + KH - 1) * (W + KW - 1) * F + NR) + tile : 0;
  return umax(umax(fwd, dataT), umax(data, filt)) + 16 * 6;
}

/** d[i] = s[i], i < n (short runs: no call into memory.copy). */
// @ts-ignore: decorator
@inline function copyRun(d: usize, s: usize, n: i32): void {
  const n4 = bytes(n & ~3), nb = bytes(n);
  let o: usize = 0;
  for (; o < n4; o += 16) v128.store(d + o, v128.load(s + o));
  for (; o < nb; o += 4) store<f32>(d + o, load<f32>(s + o));
}

// ---- the filter-gradient tile (the rows tile is in conv_tiles.ts) -----------------------------

// Filter gradient: T[i][j] (+)= sum over oh < OH, ow < OW of
//   A[(oh*OW + ow)*4 + i] * B[oh*rowStepB + ow*colStepB + 4j]
// A is dy of the tile's 4 filters packed [P][4] (packDyBlocks: one 16-byte step per position, so
// the stream runs through consecutive cache lines; read in place, dy's rows F floats apart mapped
// 196 positions of a 64-filter layer onto a quarter of L1's sets and measured ~45% of peak), B the
// input at the tile's first tap.
// @ts-ignore: decorator
@inline function filterTileBody(a: usize, b: usize, rowStepB: usize, colStepB: usize, OH: i32, OW: i32,
                                t: usize, ldt: usize, addT: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
  const rowA = <usize>OW << 4;
  for (let oh = 0; oh < OH; oh++) {
    let ap = a, bp = b;
    const end = a + rowA;
    while (ap < end) {
      const b0 = v128.load(bp), b1 = v128.load(bp, 16);
      let v = v128.load32_splat(ap);
      c00 = madd(v, b0, c00); c01 = madd(v, b1, c01);
      v = v128.load32_splat(ap, 4);
      c10 = madd(v, b0, c10); c11 = madd(v, b1, c11);
      v = v128.load32_splat(ap, 8);
      c20 = madd(v, b0, c20); c21 = madd(v, b1, c21);
      v = v128.load32_splat(ap, 12);
      c30 = madd(v, b0, c30); c31 = madd(v, b1, c31);
      ap += 16; bp += colStepB;
    }
    a += rowA; b += rowStepB;
  }
  storeTile(t, ldt, addT, c00, c01, c10, c11, c20, c21, c30, c31);
}

function filterTile(a: usize, b: usize, rowStepB: usize, colStepB: usize, OH: i32, OW: i32,
                    t: usize, ldt: usize, addT: i32): void {
  filterTileBody(a, b, rowStepB, colStepB, OH, OW, t, ldt, addT);
}

/** Packs one example's dy [P, F] (rows ldyB bytes apart) into blocks of 4 filters:
 *  dp[(g*P + p)*4 + i] = dy[p, 4g + i], 0 for 4g + i >= F. */
function packDyBlocks(dp: usize, dyn: usize, ldyB: usize, F: i32, P: i32): void {
  const full = F / MR;
  for (let g = 0; g < (F + MR - 1) / MR; g++) {
    let s = dyn + bytes(g * MR), d = dp + bytes(g * P * MR);
    if (g < full) {
      for (let p = 0; p < P; p++) { v128.store(d, v128.load(s)); s += ldyB; d += 16; }
    } else {
      for (let p = 0; p < P; p++) {
        for (let i = 0; i < MR; i++) store<f32>(d + bytes(i), g * MR + i < F ? load<f32>(s + bytes(i)) : 0);
        s += ldyB; d += 16;
      }
    }
  }
}

// ---- packing ------------------------------------------------------------------------------------

/** Packs rows [F, K] into panels of 8 rows: pw[(q*K + k)*8 + j] = w[(8q + j)*K + k], 0 for
 *  8q + j >= F. Panel q is the B operand of the forward tile for filters [8q, 8q + 8). */
function packRowPanels(pw: usize, w: usize, F: i32, K: i32): void {
  const panels = (F + NR - 1) / NR;
  const rowB = bytes(K);
  for (let q = 0; q < panels; q++) {
    const d0 = pw + bytes(q * K * NR);
    for (let j = 0; j < NR; j++) {
      const f = q * NR + j;
      let d = d0 + bytes(j);
      if (f < F) {
        let s = w + <usize>f * rowB;
        for (let k = 0; k < K; k++) { store<f32>(d, load<f32>(s)); s += 4; d += 32; }
      } else {
        for (let k = 0; k < K; k++) { store<f32>(d, 0); d += 32; }
      }
    }
  }
}

/** Packs columns of w [F, K] into panels of 8: pw[(q*F + f)*8 + j] = w[f*K + 8q + j], 0 for
 *  8q + j >= K. Panel q is the B operand of the patch gradients for taps [8q, 8q + 8). */
function packColPanels(pw: usize, w: usize, F: i32, K: i32): void {
  const panels = (K + NR - 1) / NR;
  const full = K / NR;
  for (let q = 0; q < panels; q++) {
    let d = pw + bytes(q * F * NR);
    let s = w + bytes(q * NR);
    for (let f = 0; f < F; f++) {
      if (q < full) {
        v128.store(d, v128.load(s)); v128.store(d, v128.load(s, 16), 16);
      } else {
        for (let j = 0; j < NR; j++) store<f32>(d + bytes(j), q * NR + j < K ? load<f32>(s + bytes(j)) : 0);
      }
      d += 32; s += bytes(K);
    }
  }
}

// ---- forward ------------------------------------------------------------------------------------

/**
 * Forward: y[n, oh, ow, f] = b[f] + sum over kh, kw, c of w[f, kh, kw, c] * x[n, oh*SH - PT + kh,
 * ow*SW - PL + kw, c] (taps outside the input are 0). x [batch, H, W, C], w [F, KH, KW, C],
 * b [F] or 0 (no bias), y [batch, OH, OW, F] overwritten. workspace: conv2d_workspace_bytes.
 * y must not overlap x, w, b or the workspace. Split by examples across threads (offset x and y
 * by whole examples): each output's bits depend only on the geometry.
 */
export function conv2d_forward_f32(y: usize, x: usize, w: usize, b: usize, workspace: usize,
                                   batch: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32,
                                   SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32): void {
  if (batch <= 0 || F <= 0 || OH <= 0 || OW <= 0) return;
  const K = KH * KW * C;
  const P = OH * OW;
  if (K <= 0 || H <= 0 || W <= 0) { // no taps: y = b
    for (let p = 0; p < batch * P; p++) {
      const d = y + bytes(p * F);
      if (b) memory.copy(d, b, bytes(F)); else memory.fill(d, 0, bytes(F));
    }
    return;
  }
  if (!framed(H, W, KH, KW, SH, SW, PT, PL, OH, OW)) {
    conv2d_forward_f32_naive(y, x, w, b, workspace, batch, H, W, C, F, KH, KW, SH, SW, PT, PL, OH, OW);
    return;
  }
  const run = KW * C;
  const Fp = roundUp(F, NR);
  const Hp = (OH - 1) * SH + KH, Wp = (OW - 1) * SW + KW;
  const pw = align16(workspace);
  const pbias = align16(pw + bytes(Fp * K));
  const xp = align16(pbias + bytes(Fp));
  const tile = align16(xp + bytes(Hp * Wp * C + NR));
  packRowPanels(pw, w, F, K);
  if (b) {
    memory.copy(pbias, b, bytes(F));
    memory.fill(pbias + bytes(F), 0, bytes(Fp - F));
  }
  const init = b ? pbias : 0;
  const copy = pads(H, W, KH, KW, SH, SW, PT, PL, OH, OW);
  const ldxB = bytes((copy ? Wp : W) * C);
  for (let n = 0; n < batch; n++) {
    const xn = x + bytes(n * H * W * C), yn = y + bytes(n * P * F);
    if (copy) padFrame(xp, xn, H, W, C, Hp, Wp, PT, PL);
    forwardTiles(yn, copy ? xp : xn, <usize>SH * ldxB, bytes(SW * C), ldxB, pw, init, tile, run, KH, F, OH, OW);
  }
}

// One example's outputs [OH, OW, F] from a source where the run of taps of output (oh, ow) and
// filter row kh starts at xs + oh*rowB + ow*colB + kh*khB (run floats, contiguous).
function forwardTiles(yn: usize, xs: usize, rowB: usize, colB: usize, khB: usize, pw: usize, pbias: usize,
                      tile: usize, run: i32, KH: i32, F: i32, OH: i32, OW: i32): void {
  const K = KH * run, P = OH * OW;
  // Filter rows per pass: about KC taps, in equal groups.
  let g = imax(1, imin(KH, KC / run));
  const passes = (KH + g - 1) / g;
  g = (KH + passes - 1) / passes;
  const runB = bytes(run);
  const whole = khB == runB; // a group's runs are contiguous: one run
  const ldyB = bytes(F);
  const panels = (F + NR - 1) / NR;
  for (let kh0 = 0; kh0 < KH; kh0 += g) {
    const gn = imin(g, KH - kh0);
    const first = kh0 == 0;
    const x0 = xs + <usize>kh0 * khB;
    const tileB = whole ? runB * <usize>gn : runB, tileRuns = whole ? 1 : gn;
    for (let q = 0; q < panels; q++) {
      const pb = pw + bytes((q * K + kh0 * run) * NR);
      const nc = imin(NR, F - q * NR);
      const init = first && pbias ? pbias + bytes(q * NR) : 0;
      // Positions in row-major order; `cur` is where position (oh, ow)'s runs start.
      let ow = 0;
      let rowp = x0, cur = x0;
      for (let p0 = 0; p0 < P; p0 += MR) {
        const rows = imin(MR, P - p0);
        // Positions p0 .. p0+rows-1 (a partial tile repeats the last one).
        const r0 = cur;
        if (rows > 1) { if (++ow == OW) { ow = 0; rowp += rowB; } cur = rowp + <usize>ow * colB; }
        const r1 = cur;
        if (rows > 2) { if (++ow == OW) { ow = 0; rowp += rowB; } cur = rowp + <usize>ow * colB; }
        const r2 = cur;
        if (rows > 3) { if (++ow == OW) { ow = 0; rowp += rowB; } cur = rowp + <usize>ow * colB; }
        const r3 = cur;
        if (++ow == OW) { ow = 0; rowp += rowB; } // on to position p0 + MR
        cur = rowp + <usize>ow * colB;
        const out = yn + bytes(p0 * F + q * NR);
        if (rows == MR && nc == NR) {
          rowsTile(r0, r1, r2, r3, tileB, tileRuns, khB, pb, out, ldyB, init, first ? 0 : 1);
        } else {
          rowsTile(r0, r1, r2, r3, tileB, tileRuns, khB, pb, tile, 32, init, 0);
          copyTile(out, ldyB, tile, rows, nc, !first);
        }
      }
    }
  }
}

/** Naive sibling of conv2d_forward_f32 (same contract; workspace unused): the definition. */
export function conv2d_forward_f32_naive(y: usize, x: usize, w: usize, b: usize, workspace: usize,
                                         batch: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32,
                                         SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32): void {
  for (let n = 0; n < batch; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let f = 0; f < F; f++) {
          let s: f32 = b ? load<f32>(b + bytes(f)) : 0;
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * SH - PT + kh;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * SW - PL + kw;
              if (iw < 0 || iw >= W) continue;
              for (let c = 0; c < C; c++) {
                s += load<f32>(w + bytes(((f * KH + kh) * KW + kw) * C + c)) *
                     load<f32>(x + bytes(((n * H + ih) * W + iw) * C + c));
              }
            }
          }
          store<f32>(y + bytes(((n * OH + oh) * OW + ow) * F + f), s);
        }
      }
    }
  }
}

// ---- backward: data -----------------------------------------------------------------------------

/**
 * Backward for the input: dx[n, ih, iw, c] = sum over (oh, ow, kh, kw) with oh*SH - PT + kh = ih
 * and ow*SW - PL + kw = iw, and over f, of dy[n, oh, ow, f] * w[f, kh, kw, c]. dy [batch, OH, OW,
 * F], w [F, KH, KW, C], dx [batch, H, W, C] overwritten. workspace: conv2d_workspace_bytes.
 * dx must not overlap dy, w or the workspace. Split by examples across threads (offset dx and dy
 * by whole examples): each element's bits depend only on the geometry.
 * Method: at stride 1 with C >= 8, the forward kernel on dy with the filters turned around (see
 * transposedConv). Otherwise, per chunk of positions, the patch gradients G = dy · w [positions, K]
 * (4 x 8 tiles over w packed in panels of 8 taps), each then added into its window of a
 * zero-padded frame in position order (col2im); the frame's interior is dx.
 */
export function conv2d_backward_data_f32(dx: usize, dy: usize, w: usize, workspace: usize,
                                         batch: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32,
                                         SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32): void {
  if (batch <= 0 || H <= 0 || W <= 0 || C <= 0) return;
  const K = KH * KW * C;
  const P = OH * OW;
  if (K <= 0 || F <= 0 || P <= 0) { memory.fill(dx, 0, bytes(batch * H * W * C)); return; }
  if (!framed(H, W, KH, KW, SH, SW, PT, PL, OH, OW)) {
    conv2d_backward_data_f32_naive(dx, dy, w, workspace, batch, H, W, C, F, KH, KW, SH, SW, PT, PL, OH, OW);
    return;
  }
  if (SH == 1 && SW == 1 && C >= NR && transposedPays(H, W, OH, OW)) {
    transposedConv(dx, dy, w, workspace, batch, H, W, C, F, KH, KW, PT, PL, OH, OW);
    return;
  }
  const Kp = roundUp(K, NR);
  const CH = colsChunk(K, P);
  const pw = align16(workspace);
  const cols = align16(pw + bytes(Kp * F));
  const xp = align16(cols + bytes(CH * Kp));
  const Hp = (OH - 1) * SH + KH, Wp = (OW - 1) * SW + KW;
  packColPanels(pw, w, F, K);
  const copy = pads(H, W, KH, KW, SH, SW, PT, PL, OH, OW);
  const ldxB = bytes((copy ? Wp : W) * C);
  const run = KW * C, runB = bytes(run);
  const rowB = <usize>SH * ldxB, colB = bytes(SW * C);
  const ldyB = bytes(F), ldcB = bytes(Kp);
  const panels = Kp / NR;
  for (let n = 0; n < batch; n++) {
    const dxn = dx + bytes(n * H * W * C), dyn = dy + bytes(n * P * F);
    const dst = copy ? xp : dxn;
    memory.fill(dst, 0, copy ? bytes(Hp * Wp * C) : bytes(H * W * C));
    for (let p0 = 0; p0 < P; p0 += CH) {
      const pc = imin(CH, P - p0);
      // G[i, :] = dy[p0 + i, :] · w for i < pc (a partial last tile repeats its last row; G has
      // room for whole tiles).
      for (let q = 0; q < panels; q++) {
        const pb = pw + bytes(q * F * NR);
        for (let t0 = 0; t0 < pc; t0 += MR) {
          const last = imin(MR, pc - t0) - 1;
          const r0 = dyn + <usize>(p0 + t0) * ldyB;
          rowsTile(r0, r0 + <usize>imin(1, last) * ldyB, r0 + <usize>imin(2, last) * ldyB,
                   r0 + <usize>imin(3, last) * ldyB, ldyB, 1, 0, pb, cols + bytes(t0 * Kp + q * NR), ldcB, 0, 0);
        }
      }
      // Add each patch into its window, positions in order.
      let oh = p0 / OW, ow = p0 % OW;
      for (let i = 0; i < pc; i++) {
        let d = dst + <usize>oh * rowB + <usize>ow * colB;
        let s = cols + <usize>i * ldcB;
        for (let kh = 0; kh < KH; kh++) {
          addRun(d, s, run);
          d += ldxB; s += runB;
        }
        if (++ow == OW) { ow = 0; oh++; }
      }
    }
    if (copy) cropFrame(dxn, xp, H, W, C, Hp, Wp, PT, PL);
  }
}

// The transposed convolution computes H*W outputs of KH*KW*F taps, col2im OH*OW patches of the
// same size (then adds them back): at 'same' padding the counts match and the transposed one is
// faster (no scatter); at 'valid' 11x11 -> 7x7 it would do 2.5x the multiply-adds, on zeros.
// @ts-ignore: decorator
@inline function transposedPays(H: i32, W: i32, OH: i32, OW: i32): bool {
  return <i64>H * <i64>W * 4 <= <i64>OH * <i64>OW * 5;
}

// Stride 1: dx is the convolution of dy, zero-padded by KH-1-PT rows at the top and KW-1-PL
// columns at the left, with the filters turned around: w'[c, kh, kw, f] = w[f, KH-1-kh, KW-1-kw, c].
function transposedConv(dx: usize, dy: usize, w: usize, workspace: usize, batch: i32, H: i32, W: i32, C: i32,
                        F: i32, KH: i32, KW: i32, PT: i32, PL: i32, OH: i32, OW: i32): void {
  const Kt = KH * KW * F, Cp = roundUp(C, NR);
  const Hq = H + KH - 1, Wq = W + KW - 1;
  const pw = align16(workspace);
  const frame = align16(pw + bytes(Cp * Kt));
  const tile = align16(frame + bytes(Hq * Wq * F + NR));
  // Panel q, step k = (kh*KW + kw)*F + f, lane j: w[f, KH-1-kh, KW-1-kw, 8q + j].
  for (let q = 0; q < Cp / NR; q++) {
    let d = pw + bytes(q * Kt * NR);
    for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      for (let f = 0; f < F; f++) {
        const s = w + bytes(((f * KH + KH - 1 - kh) * KW + KW - 1 - kw) * C + q * NR);
        for (let j = 0; j < NR; j++) store<f32>(d + bytes(j), q * NR + j < C ? load<f32>(s + bytes(j)) : 0);
        d += 32;
      }
    }
  }
  const ldB = bytes(Wq * F);
  for (let n = 0; n < batch; n++) {
    padFrame(frame, dy + bytes(n * OH * OW * F), OH, OW, F, Hq, Wq, KH - 1 - PT, KW - 1 - PL);
    forwardTiles(dx + bytes(n * H * W * C), frame, ldB, bytes(F), ldB, pw, 0, tile, KW * F, KH, C, H, W);
  }
}

/** d[i] += s[i], i < n. */
// @ts-ignore: decorator
@inline function addRun(d: usize, s: usize, n: i32): void {
  const n4 = bytes(n & ~3), nb = bytes(n);
  let o: usize = 0;
  for (; o < n4; o += 16) v128.store(d + o, f32x4.add(v128.load(d + o), v128.load(s + o)));
  for (; o < nb; o += 4) store<f32>(d + o, load<f32>(d + o) + load<f32>(s + o));
}

/** dxn [H, W, C] = the input region of the frame xp [Hp, Wp, C] (0 where the frame ends first). */
function cropFrame(dxn: usize, xp: usize, H: i32, W: i32, C: i32, Hp: i32, Wp: i32, PT: i32, PL: i32): void {
  const rows = imin(H, Hp - PT), cols = imin(W, Wp - PL);
  const rowB = bytes(W * C), copyB = bytes(cols * C);
  for (let ih = 0; ih < H; ih++) {
    const d = dxn + <usize>ih * rowB;
    if (ih < rows) {
      memory.copy(d, xp + bytes(((ih + PT) * Wp + PL) * C), copyB);
      if (copyB < rowB) memory.fill(d + copyB, 0, rowB - copyB);
    } else {
      memory.fill(d, 0, rowB);
    }
  }
}

/** Naive sibling of conv2d_backward_data_f32 (same contract; workspace unused): the definition. */
export function conv2d_backward_data_f32_naive(dx: usize, dy: usize, w: usize, workspace: usize,
                                               batch: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32,
                                               SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32): void {
  if (batch <= 0 || H <= 0 || W <= 0 || C <= 0) return;
  memory.fill(dx, 0, bytes(batch * H * W * C));
  for (let n = 0; n < batch; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let f = 0; f < F; f++) {
          const g = load<f32>(dy + bytes(((n * OH + oh) * OW + ow) * F + f));
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * SH - PT + kh;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * SW - PL + kw;
              if (iw < 0 || iw >= W) continue;
              for (let c = 0; c < C; c++) {
                const d = dx + bytes(((n * H + ih) * W + iw) * C + c);
                store<f32>(d, load<f32>(d) + g * load<f32>(w + bytes(((f * KH + kh) * KW + kw) * C + c)));
              }
            }
          }
        }
      }
    }
  }
}

// ---- backward: filters --------------------------------------------------------------------------

/**
 * Backward for the filters of a block of F filters (what one thread computes for filters
 * [f0, f0 + F) of a layer, with dw, db and dy offset to filter f0; ldy >= F is the row stride of
 * dy in elements, the layer's filter count):
 *   dw[f, kh, kw, c] (+)= sum over n, oh, ow of dy[n, oh, ow, f] * x[n, oh*SH - PT + kh, ow*SW - PL + kw, c]
 *   db[f]            (+)= sum over n, oh, ow of dy[n, oh, ow, f]         (db == 0 skips it)
 * dy [batch, OH, OW, ldy], x [batch, H, W, C], dw [F, KH, KW, C], db [F]. accumulate != 0 adds
 * into dw and db, 0 overwrites them. workspace: conv2d_workspace_bytes. dw and db must not
 * overlap the inputs or the workspace. Every element gets the same bits whatever F (a block of
 * one filter included) and wherever the block starts: each example's sum over its positions
 * (in order, from 0) is added in, examples in order.
 */
export function conv2d_backward_filter_f32(dw: usize, db: usize, dy: usize, x: usize, workspace: usize,
                                           accumulate: i32, batch: i32, H: i32, W: i32, C: i32, F: i32,
                                           KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32,
                                           OH: i32, OW: i32, ldy: i32): void {
  const K = KH * KW * C;
  if (F <= 0 || K <= 0) return;
  const P = OH * OW;
  if (batch <= 0 || P <= 0 || H <= 0 || W <= 0) {
    if (!accumulate) {
      memory.fill(dw, 0, bytes(F * K));
      if (db) memory.fill(db, 0, bytes(F));
    }
    return;
  }
  if (!framed(H, W, KH, KW, SH, SW, PT, PL, OH, OW)) {
    conv2d_backward_filter_f32_naive(dw, db, dy, x, workspace, accumulate, batch, H, W, C, F,
                                     KH, KW, SH, SW, PT, PL, OH, OW, ldy);
    return;
  }
  if (db) dense_backward_bias_f32(db, dy, accumulate, batch * P, F, ldy);
  const run = KW * C;
  const Hp = (OH - 1) * SH + KH, Wp = (OW - 1) * SW + KW;
  // A partial panel of taps reads up to 7 floats past its run: then always from the frame,
  // which has NR floats of slack.
  const copy = pads(H, W, KH, KW, SH, SW, PT, PL, OH, OW) || run % NR != 0;
  const xp = align16(workspace);
  const tile = align16(xp + bytes(Hp * Wp * C + NR));
  const dp = align16(tile + bytes(MR * NR));
  const ldxB = bytes((copy ? Wp : W) * C);
  const ldyB = bytes(ldy);
  for (let n = 0; n < batch; n++) {
    const xn = x + bytes(n * H * W * C), dyn = dy + <usize>(n * P) * ldyB;
    if (copy) padFrame(xp, xn, H, W, C, Hp, Wp, PT, PL);
    packDyBlocks(dp, dyn, ldyB, F, P);
    filterTiles(dw, dp, P, F, copy ? xp : xn, <usize>SH * ldxB, bytes(SW * C), ldxB, run, KH, OH, OW,
                tile, accumulate != 0 || n > 0);
  }
}

// dw [F, KH*run] (+)= one example's sums, dy rows ldyB bytes apart from the block's
// first filter, the run of taps of output (oh, ow) and filter row kh at xs + oh*rowB + ow*colB +
// kh*khB (read in whole panels of 8).
function filterTiles(dw: usize, dp: usize, P: i32, F: i32, xs: usize, rowB: usize, colB: usize,
                     khB: usize, run: i32, KH: i32, OH: i32, OW: i32, tile: usize, add: bool): void {
  const ldwB = bytes(KH * run);
  const panels = (run + NR - 1) / NR;
  for (let f0 = 0; f0 < F; f0 += MR) {
    const rows = imin(MR, F - f0);
    const a = dp + bytes(f0 * P);
    for (let kh = 0; kh < KH; kh++) {
      for (let q = 0; q < panels; q++) {
        const nc = imin(NR, run - q * NR);
        const bx = xs + <usize>kh * khB + bytes(q * NR);
        const out = dw + <usize>f0 * ldwB + bytes(kh * run + q * NR);
        if (rows == MR && nc == NR) {
          filterTile(a, bx, rowB, colB, OH, OW, out, ldwB, add ? 1 : 0);
        } else {
          filterTile(a, bx, rowB, colB, OH, OW, tile, 32, 0);
          copyTile(out, ldwB, tile, rows, nc, add);
        }
      }
    }
  }
}

/** Naive sibling of conv2d_backward_filter_f32 (same contract; workspace unused): the definition. */
export function conv2d_backward_filter_f32_naive(dw: usize, db: usize, dy: usize, x: usize, workspace: usize,
                                                 accumulate: i32, batch: i32, H: i32, W: i32, C: i32, F: i32,
                                                 KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32,
                                                 OH: i32, OW: i32, ldy: i32): void {
  for (let f = 0; f < F; f++) {
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        for (let c = 0; c < C; c++) {
          let s: f32 = 0;
          for (let n = 0; n < batch; n++) {
            for (let oh = 0; oh < OH; oh++) {
              const ih = oh * SH - PT + kh;
              if (ih < 0 || ih >= H) continue;
              for (let ow = 0; ow < OW; ow++) {
                const iw = ow * SW - PL + kw;
                if (iw < 0 || iw >= W) continue;
                s += load<f32>(dy + bytes(((n * OH + oh) * OW + ow) * ldy + f)) *
                     load<f32>(x + bytes(((n * H + ih) * W + iw) * C + c));
              }
            }
          }
          const d = dw + bytes(((f * KH + kh) * KW + kw) * C + c);
          store<f32>(d, accumulate ? load<f32>(d) + s : s);
        }
      }
    }
    if (db) {
      let s: f32 = 0;
      for (let n = 0; n < batch; n++) {
        for (let p = 0; p < OH * OW; p++) s += load<f32>(dy + bytes((n * OH * OW + p) * ldy + f));
      }
      const d = db + bytes(f);
      store<f32>(d, accumulate ? load<f32>(d) + s : s);
    }
  }
}

// ---- im2col (the alternative method, measured by bench/conv-kernels.mjs) -------------------------

/**
 * The patch matrix: cols [batch*OH*OW, K] (K = KH*KW*C) overwritten, row (n, oh, ow) = the taps
 * (kh, kw, c) of that output's window (0 outside the input), so that conv2d_forward is
 * cols · wᵀ (+ b), one gemm_nt_f32. cols must not overlap x. Any geometry.
 */
export function conv2d_im2col_f32(cols: usize, x: usize, batch: i32, H: i32, W: i32, C: i32, KH: i32, KW: i32,
                                  SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32): void {
  const pixB = bytes(C), runB = bytes(KW * C);
  let d = cols;
  for (let n = 0; n < batch; n++) {
    const xn = x + bytes(n * H * W * C);
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const w0 = ow * SW - PL;
        const kw0 = imin(KW, imax(0, -w0)), kw1 = imax(kw0, imin(KW, W - w0));
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * SH - PT + kh;
          if (ih < 0 || ih >= H || kw1 == kw0) { memory.fill(d, 0, runB); d += runB; continue; }
          if (kw0) memory.fill(d, 0, <usize>kw0 * pixB);
          copyRun(d + <usize>kw0 * pixB, xn + bytes((ih * W + w0 + kw0) * C), (kw1 - kw0) * C);
          if (kw1 < KW) memory.fill(d + <usize>kw1 * pixB, 0, <usize>(KW - kw1) * pixB);
          d += runB;
        }
      }
    }
  }
}
