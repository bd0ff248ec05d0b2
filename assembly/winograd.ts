// Winograd's minimal filtering F(2x2, 5x5) for stride-1 5x5 convolutions (NHWC, the contracts of
// assembly/conv.ts): each 2x2 block of outputs of a (channel, filter) pair costs 36 multiplies
// instead of 100, so the three passes of a 5x5 layer with many channels do ~2.8x fewer
// multiply-adds than the direct kernels (the method of Lavin & Gray 2016, "Fast Algorithms for
// Convolutional Neural Networks"; the matrices below are derived for the points 0, 1, -1, 2, -2
// and infinity by transposing Toom-Cook polynomial multiplication; test/winograd.test.ts checks
// every pass against float64 references).
//
// Per output tile (2x2), input tile d (6x6, one channel) and filter g (5x5):
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A        (.) element-wise
//
//   B^T = [ 4  0 -5  0  1  0 ]   G = [  1/4     0     0     0    0  ]   A^T = [ 1  1  1  1  1  0 ]
//         [ 0 -4 -4  1  1  0 ]       [ -1/6  -1/6  -1/6  -1/6 -1/6 ]         [ 0  1 -1  2 -2  1 ]
//         [ 0  4 -4 -1  1  0 ]       [ -1/6   1/6  -1/6   1/6 -1/6 ]
//         [ 0 -2 -1  2  1  0 ]       [ 1/24  1/12   1/6   1/3  2/3 ]
//         [ 0  2 -1 -2  1  0 ]       [ 1/24 -1/12   1/6  -1/3  2/3 ]
//         [ 0  4  0 -5  0  1 ]       [    0     0     0     0    1 ]
//
// Summed over channels, each of the 36 positions xi of the transformed tile is a matrix product:
//   M[xi] [tiles, F] = V[xi] [tiles, C] . U[xi] [C, F],  V = B^T d B of every tile, U = G g G^T
// run on conv_tiles.ts's 4 x 8 register tile (the forward kernel's), and the output transform
// Y = A^T M A adds the bias. The input gradient at stride 1 is the same computation on dy (padded)
// with the filters turned around (as conv.ts's transposedConv). The filter gradient is the
// gradient of the forward computation: dU[xi] [C, F] = sum over tiles of V[xi]^T . (A dY A^T)[xi],
// then dg = G^T dU G.
//
// Rounding differs from the direct kernels (the transforms add terms of larger magnitude: relative
// errors ~1e-6 instead of ~1e-7, measured by the test); the operations that produce an element
// depend only on the geometry, never on batch, the batch split or the block of filters, so any
// thread split gives the bits of one call. Channels and filters are the SIMD lanes: C and F must
// be multiples of 4 (other geometries, and any that is not 5x5 at stride 1, run the kernels of
// conv.ts instead, so every export here accepts every geometry).
//
// Workspace: conv2d_winograd_workspace_bytes(H, W, C, F, OH, OW) bytes per thread. No kernel allocates.

import { dense_backward_bias_f32 } from "./dense";
import { conv2d_backward_data_f32, conv2d_backward_filter_f32, conv2d_forward_f32 } from "./conv";
import { MR, NR, imin, umax, roundUp, align16, bytes, padFrame, rowsTile, storeTile, madd } from "./conv_tiles";

/** Output tiles per block: a block's transformed inputs V [36][TB][C] and products [36][TB][F]
 *  stay in L2 (147 KB + 295 KB at C = 32, F = 64). A multiple of MR. */
const TB: i32 = 32;
/** Tiles per block of the filter gradient (the sum runs over the block's tiles). */
const TBF: i32 = 64;
/** Positions of a transformed tile. */
const XI: i32 = 36;
/** Bytes between two positions' matrices beyond their size: one cache line, so that the 36
 *  matrices of a block (4-16 KB each, a multiple of 4 KB) do not map to one set of L1 — a tile's
 *  transform touches all 36 at once (measured: 37 -> ms). */
const XI_SKEW: usize = 64;

/** True when the Winograd kernels apply: 5x5, stride 1, no negative padding, C and F multiples of 4. */
// @ts-ignore: decorator
@inline function fits(C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32): bool {
  return KH == 5 && KW == 5 && SH == 1 && SW == 1 && PT >= 0 && PL >= 0 && C > 0 && F > 0 && (C & 3) == 0 && (F & 3) == 0;
}

/** Tiles of an output of OH x OW (2 x 2 each, the last row or column may stick out). */
// @ts-ignore: decorator
@inline function tilesOf(OH: i32, OW: i32): i32 { return ((OH + 1) >> 1) * ((OW + 1) >> 1); }

/** Bytes of one pass's workspace where the input of Hi x Wi x Ci gives outputs Ho x Wo x Co. */
function passBytes(Ci: i32, Co: i32, Ho: i32, Wo: i32, filterPass: bool): usize {
  const Cop = roundUp(Co, NR);
  const Hq = ((Ho + 1) >> 1) * 2 + 4, Wq = ((Wo + 1) >> 1) * 2 + 4;
  const frame = bytes(Hq * Wq * Ci + NR);
  const u = bytes(XI * Ci * Cop);
  const tb = filterPass ? TBF : TB;
  const v = bytes(XI * tb * Ci) + <usize>XI * XI_SKEW, m = bytes(XI * tb * Cop) + <usize>XI * XI_SKEW;
  const extra: usize = filterPass ? 0 : bytes(Cop); // the padded bias
  return u + frame + v + m + extra + bytes(XI * 4 + MR * NR) + 16 * 8;
}

/**
 * Bytes of per-thread workspace sufficient for the three Winograd kernels (and for the conv.ts
 * kernels they hand other geometries to) at this geometry: x [H, W, C] -> y [OH, OW, F].
 */
export function conv2d_winograd_workspace_bytes(H: i32, W: i32, C: i32, F: i32, OH: i32, OW: i32): usize {
  if (H <= 0 || W <= 0 || C <= 0 || F <= 0 || OH <= 0 || OW <= 0) return 64;
  const fwd = passBytes(C, F, OH, OW, false);
  const data = passBytes(F, C, H, W, false);
  const filt = passBytes(C, F, OH, OW, true);
  return umax(umax(fwd, data), filt);
}

// ---- transforms ---------------------------------------------------------------------------------

/** Six vectors d_k = src + k*srcStep -> B^T d at dst + i*dstStep (4 lanes: channels). */
function inputRows(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const d0 = v128.load(src), d1 = v128.load(src + srcStep), d2 = v128.load(src + 2 * srcStep);
  const d3 = v128.load(src + 3 * srcStep), d4 = v128.load(src + 4 * srcStep), d5 = v128.load(src + 5 * srcStep);
  const four = f32x4.splat(4), five = f32x4.splat(5), two = f32x4.splat(2);
  const s12 = f32x4.add(d1, d2), s34 = f32x4.add(d3, d4);
  const m12 = f32x4.sub(d1, d2), m43 = f32x4.sub(d4, d3);
  const m42 = f32x4.sub(d4, d2), m31 = f32x4.sub(d3, d1);
  // 4d0 - 5d2 + d4;  (d3 + d4) - 4(d1 + d2);  (d4 - d3) + 4(d1 - d2)
  v128.store(dst, f32x4.add(f32x4.sub(f32x4.mul(four, d0), f32x4.mul(five, d2)), d4));
  v128.store(dst + dstStep, f32x4.sub(s34, f32x4.mul(four, s12)));
  v128.store(dst + 2 * dstStep, f32x4.add(m43, f32x4.mul(four, m12)));
  // (d4 - d2) + 2(d3 - d1);  (d4 - d2) - 2(d3 - d1);  4d1 - 5d3 + d5
  v128.store(dst + 3 * dstStep, f32x4.add(m42, f32x4.mul(two, m31)));
  v128.store(dst + 4 * dstStep, f32x4.sub(m42, f32x4.mul(two, m31)));
  v128.store(dst + 5 * dstStep, f32x4.add(f32x4.sub(f32x4.mul(four, d1), f32x4.mul(five, d3)), d5));
}

/** V[xi][.][c..c+3] = B^T d B of the 6 x 6 input tile at `src` (rows rowB bytes apart, pixels
 *  pixB apart), every channel group of 4; xi = 6i + j lands at v + xi*xiB. tmp: 36 vectors. */
function inputTile(v: usize, xiB: usize, src: usize, rowB: usize, C: i32, tmp: usize): void {
  const pixB = bytes(C);
  for (let c = 0; c < C; c += 4) {
    const s = src + bytes(c);
    for (let j = 0; j < 6; j++) inputRows(s + <usize>j * pixB, rowB, tmp + (<usize>j << 4), 96);  // tmp[i][j] = (B^T d)[i][j]
    for (let i = 0; i < 6; i++) inputRows(tmp + <usize>i * 96, 16, v + bytes(c) + <usize>(6 * i) * xiB, xiB);
  }
}

/** Two vectors y0 = m0+m1+m2+m3+m4, y1 = m1-m2+2(m3-m4)+m5 of six m_k = src + k*step: A^T m. */
// @ts-ignore: decorator
@inline function outputPair(src: usize, step: usize, dst: usize, dstStep: usize): void {
  const m0 = v128.load(src), m1 = v128.load(src + step), m2 = v128.load(src + 2 * step);
  const m3 = v128.load(src + 3 * step), m4 = v128.load(src + 4 * step), m5 = v128.load(src + 5 * step);
  const s12 = f32x4.add(m1, m2), s34 = f32x4.add(m3, m4);
  v128.store(dst, f32x4.add(f32x4.add(m0, s12), s34));
  v128.store(dst + dstStep, f32x4.add(f32x4.add(f32x4.sub(m1, m2), f32x4.mul(f32x4.splat(2), f32x4.sub(m3, m4))), m5));
}

/** One tile's outputs: Y = A^T M A (+ bias) for every filter group of 4, M[xi] at m + xi*xiB;
 *  the rows x cols (<= 2 x 2) that exist go to y (pixels pixB apart, rows rowB apart). */
function outputTile(y: usize, rowB: usize, pixB: usize, rows: i32, cols: i32, m: usize, xiB: usize, F: i32,
                    bias: usize, tmp: usize): void {
  for (let f = 0; f < F; f += 4) {
    const s = m + bytes(f);
    // tmp[a][j] = (A^T M)[a][j], a < 2, j < 6
    for (let j = 0; j < 6; j++) outputPair(s + <usize>j * xiB, 6 * xiB, tmp + (<usize>j << 4), 96);
    // tmp[2 + a][b] = (A^T M A)[a][b]
    outputPair(tmp, 16, tmp + 192, 16);
    outputPair(tmp + 96, 16, tmp + 224, 16);
    const b4 = bias ? v128.load(bias + bytes(f)) : f32x4.splat(0);
    const d = y + bytes(f);
    v128.store(d, f32x4.add(v128.load(tmp + 192), b4));
    if (cols > 1) v128.store(d + pixB, f32x4.add(v128.load(tmp + 208), b4));
    if (rows > 1) {
      v128.store(d + rowB, f32x4.add(v128.load(tmp + 224), b4));
      if (cols > 1) v128.store(d + rowB + pixB, f32x4.add(v128.load(tmp + 240), b4));
    }
  }
}

/** (G g)[i] for a column g0..g4 (scalars): six values to out[i*step]. */
// @ts-ignore: decorator
@inline function filterColumn(g0: f32, g1: f32, g2: f32, g3: f32, g4: f32, out: usize, step: usize): void {
  const sixth: f32 = 1.0 / 6.0, twentyFourth: f32 = 1.0 / 24.0;
  const even = g0 + g2 + g4, odd = g1 + g3;
  const e4 = g0 + g2 * 4 + g4 * 16, o2 = g1 * 2 + g3 * 8;
  store<f32>(out, g0 * 0.25);
  store<f32>(out + step, -(even + odd) * sixth);
  store<f32>(out + 2 * step, -(even - odd) * sixth);
  store<f32>(out + 3 * step, (e4 + o2) * twentyFourth);
  store<f32>(out + 4 * step, (e4 - o2) * twentyFourth);
  store<f32>(out + 5 * step, g4);
}

/**
 * U[xi][q][i][j] = (G g G^T)[xi] of the filter from input channel i to output channel o = 8q + j
 * (0 for o >= Co: panels of 8 outputs, the B operand of rowsTile). The tap (kh, kw) of that
 * filter is at w + 4*(base + o*so + i*si + kh*skh + kw*skw) (strides in floats, may be negative).
 * tmp: 30 floats.
 */
function filterTransform(u: usize, w: usize, base: i32, so: i32, si: i32, skh: i32, skw: i32, Ci: i32, Co: i32, tmp: usize): void {
  const Cop = roundUp(Co, NR);
  const xiB = bytes(Ci * Cop);
  memory.fill(u, 0, <usize>XI * xiB);
  for (let o = 0; o < Co; o++) {
    const q = o / NR, j = o % NR;
    for (let i = 0; i < Ci; i++) {
      const g = base + o * so + i * si;
      // tmp[a][kw] = (G g)[a][kw]: columns of g
      for (let kw = 0; kw < 5; kw++) {
        const c = w + bytes(g + kw * skw);
        filterColumn(load<f32>(c), load<f32>(c + bytes(skh)), load<f32>(c + bytes(2 * skh)), load<f32>(c + bytes(3 * skh)),
                     load<f32>(c + bytes(4 * skh)), tmp + bytes(kw), 20);
      }
      // U[a][b] = (tmp G^T)[a][b]: rows of tmp
      const d = u + bytes((q * Ci + i) * NR + j);
      for (let a = 0; a < 6; a++) {
        const r = tmp + bytes(5 * a);
        filterColumn(load<f32>(r), load<f32>(r, 4), load<f32>(r, 8), load<f32>(r, 12), load<f32>(r, 16), d + <usize>(6 * a) * xiB, xiB);
      }
    }
  }
}

// ---- forward and input gradient -----------------------------------------------------------------

/**
 * Forward (the contract of conv2d_forward_f32 with KH = KW = 5, SH = SW = 1): y [batch, OH, OW, F]
 * = conv(x [batch, H, W, C], w [F, 5, 5, C]) + b (b = 0: no bias), padding PT rows above and PL
 * columns left. workspace: conv2d_winograd_workspace_bytes. Other geometries (any kernel size,
 * stride, or C, F not multiples of 4) run conv2d_forward_f32 (the workspace suffices for it only if
 * sized with conv2d_workspace_bytes as well: callers take the larger). Split by examples across threads.
 */
export function conv2d_winograd_forward_f32(y: usize, x: usize, w: usize, b: usize, workspace: usize,
                                            batch: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32,
                                            SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32): void {
  if (!fits(C, F, KH, KW, SH, SW, PT, PL) || H <= 0 || W <= 0) {
    conv2d_forward_f32(y, x, w, b, workspace, batch, H, W, C, F, KH, KW, SH, SW, PT, PL, OH, OW);
    return;
  }
  if (batch <= 0 || OH <= 0 || OW <= 0) return;
  const Fp = roundUp(F, NR);
  const u = align16(workspace);
  const pbias = align16(u + bytes(XI * C * Fp));
  const rest = align16(pbias + bytes(Fp));
  // w[f, kh, kw, c]: output channel f (stride 25C), input channel c (stride 1)
  filterTransform(u, w, 0, 25 * C, 1, 5 * C, C, C, F, rest);
  if (b) memory.copy(pbias, b, bytes(F));
  winogradTiles(y, x, u, b ? pbias : 0, rest, batch, H, W, C, F, PT, PL, OH, OW);
}

/**
 * Input gradient (the contract of conv2d_backward_data_f32 with KH = KW = 5, SH = SW = 1): dx
 * [batch, H, W, C] = the convolution of dy [batch, OH, OW, F], zero-padded by 4 - PT rows above
 * and 4 - PL columns left, with the filters turned around, w'[c, kh, kw, f] = w[f, 4-kh, 4-kw, c].
 * Other geometries (or PT, PL > 4) run conv2d_backward_data_f32. Split by examples across threads.
 */
export function conv2d_winograd_backward_data_f32(dx: usize, dy: usize, w: usize, workspace: usize,
                                                  batch: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32,
                                                  SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32): void {
  if (!fits(C, F, KH, KW, SH, SW, PT, PL) || PT > 4 || PL > 4 || OH <= 0 || OW <= 0) {
    conv2d_backward_data_f32(dx, dy, w, workspace, batch, H, W, C, F, KH, KW, SH, SW, PT, PL, OH, OW);
    return;
  }
  if (batch <= 0 || H <= 0 || W <= 0) return;
  const Cp = roundUp(C, NR);
  const u = align16(workspace);
  const rest = align16(u + bytes(XI * F * Cp));
  // tap (kh, kw) from input channel f to output channel c: w[f, 4-kh, 4-kw, c]
  filterTransform(u, w, 24 * C, 1, 25 * C, -5 * C, -C, F, C, rest);
  winogradTiles(dx, dy, u, 0, rest, batch, OH, OW, F, C, 4 - PT, 4 - PL, H, W);
}

/**
 * V[xi][i][.] = the input transform of tiles t0 + i, i < nb, of the batch x [batch, Hi, Wi, Ci]
 * (P tiles per example, TW per row; padded PT, PL), at v (xi matrices vXiB bytes apart, rows Ci
 * floats). `frame` holds example framedN's padded copy (2*ceil(Ho/2)+4 rows, TW*2+4 columns);
 * returns the example it holds afterwards.
 */
function inputTiles(v: usize, vXiB: usize, frame: usize, x: usize, framedN: i32, t0: i32, nb: i32, P: i32, TW: i32,
                    Hi: i32, Wi: i32, Ci: i32, PT: i32, PL: i32, tmp: usize): i32 {
  const Hq = 2 * (P / TW) + 4, Wq = 2 * TW + 4;
  const rowQB = bytes(Wq * Ci), pixB = bytes(Ci);
  for (let i = 0; i < nb; i++) {
    const t = t0 + i, n = t / P, tp = t % P;
    if (n != framedN) { padFrame(frame, x + bytes(n * Hi * Wi * Ci), Hi, Wi, Ci, Hq, Wq, PT, PL); framedN = n; }
    const th = tp / TW, tw = tp % TW;
    inputTile(v + <usize>i * pixB, vXiB, frame + <usize>(2 * th) * rowQB + <usize>(2 * tw) * pixB, rowQB, Ci, tmp);
  }
  return framedN;
}

/** y [batch, Ho, Wo, Co] = x [batch, Hi, Wi, Ci] (padded PT, PL) convolved with the transformed
 *  filters u (+ the padded bias, or 0). ws: the rest of the workspace. */
function winogradTiles(y: usize, x: usize, u: usize, bias: usize, ws: usize, batch: i32, Hi: i32, Wi: i32, Ci: i32,
                       Co: i32, PT: i32, PL: i32, Ho: i32, Wo: i32): void {
  const Cop = roundUp(Co, NR);
  const TH = (Ho + 1) >> 1, TW = (Wo + 1) >> 1, P = TH * TW;
  const Hq = 2 * TH + 4, Wq = 2 * TW + 4;
  const frame = align16(ws);
  const vXiB = bytes(TB * Ci) + XI_SKEW, mXiB = bytes(TB * Cop) + XI_SKEW;
  const v = align16(frame + bytes(Hq * Wq * Ci + NR));
  const m = v + <usize>XI * vXiB;
  const tmp = m + <usize>XI * mXiB;
  const rowYB = bytes(Wo * Co), pixYB = bytes(Co);
  const panels = Cop / NR;
  const runB = bytes(Ci), ldmB = bytes(Cop);
  const total = batch * P;
  let framedN = -1;
  for (let t0 = 0; t0 < total; t0 += TB) {
    const nb = imin(TB, total - t0);
    framedN = inputTiles(v, vXiB, frame, x, framedN, t0, nb, P, TW, Hi, Wi, Ci, PT, PL, tmp);
    // M[xi] = V[xi] . U[xi]: rows of 4 tiles (a partial tile repeats its last row; M has room for TB rows).
    for (let xi = 0; xi < XI; xi++) {
      const vx = v + <usize>xi * vXiB, mx = m + <usize>xi * mXiB;
      for (let q = 0; q < panels; q++) {
        const pb = u + bytes((xi * panels + q) * Ci * NR);
        for (let i0 = 0; i0 < nb; i0 += MR) {
          const last = imin(MR, nb - i0) - 1;
          const r0 = vx + <usize>i0 * runB;
          rowsTile(r0, r0 + <usize>imin(1, last) * runB, r0 + <usize>imin(2, last) * runB, r0 + <usize>imin(3, last) * runB,
                   runB, 1, 0, pb, mx + <usize>i0 * ldmB + bytes(q * NR), ldmB, 0, 0);
        }
      }
    }
    for (let i = 0; i < nb; i++) {
      const t = t0 + i, n = t / P, tp = t % P;
      const th = tp / TW, tw = tp % TW;
      const out = y + bytes(n * Ho * Wo * Co) + <usize>(2 * th) * rowYB + <usize>(2 * tw) * pixYB;
      outputTile(out, rowYB, pixYB, imin(2, Ho - 2 * th), imin(2, Wo - 2 * tw), m + <usize>i * ldmB, mXiB, Co, bias, tmp);
    }
  }
}

// ---- filter gradient ----------------------------------------------------------------------------

/** Six vectors A x of two x0, x1 (A = (A^T)^T: rows [1, p] for p = 0, 1, -1, 2, -2, and [0, 1]). */
// @ts-ignore: decorator
@inline function gradPair(x0: v128, x1: v128, dst: usize, step: usize): void {
  const t = f32x4.mul(f32x4.splat(2), x1);
  v128.store(dst, x0);
  v128.store(dst + step, f32x4.add(x0, x1));
  v128.store(dst + 2 * step, f32x4.sub(x0, x1));
  v128.store(dst + 3 * step, f32x4.add(x0, t));
  v128.store(dst + 4 * step, f32x4.sub(x0, t));
  v128.store(dst + 5 * step, x1);
}

/** Mb[xi] = (A dY A^T)[xi] of one tile's 2 x 2 output gradient (rows x cols of it exist; the rest
 *  count as 0), every filter group of 4, to mb + xi*xiB; dy pixels pixB apart, rows rowB apart. */
function gradTile(mb: usize, xiB: usize, dy: usize, rowB: usize, pixB: usize, rows: i32, cols: i32, F: i32, Fp: i32, tmp: usize): void {
  const zero = f32x4.splat(0);
  for (let f = 0; f < F; f += 4) {
    const s = dy + bytes(f);
    const y00 = v128.load(s), y01 = cols > 1 ? v128.load(s + pixB) : zero;
    const y10 = rows > 1 ? v128.load(s + rowB) : zero, y11 = rows > 1 && cols > 1 ? v128.load(s + rowB + pixB) : zero;
    gradPair(y00, y10, tmp, 32);       // tmp[i][0] = (A dY)[i][0]
    gradPair(y01, y11, tmp + 16, 32);  // tmp[i][1]
    for (let i = 0; i < 6; i++) gradPair(v128.load(tmp + <usize>i * 32), v128.load(tmp + <usize>i * 32 + 16), mb + bytes(f) + <usize>(6 * i) * xiB, xiB);
  }
  for (let f = F; f < Fp; f += 4) { // padded filters: zero, so the padded columns of dU stay finite
    for (let xi = 0; xi < XI; xi++) v128.store(mb + bytes(f) + <usize>xi * xiB, zero);
  }
}

// T[i][j] (+)= sum over k < n of A[k*aStepB + 4i] * B[k*bStepB + 4j], i < 4, j < 8: V[xi]^T . Mb[xi]
// over the tiles of a block (A: 4 channels, B: 8 filters).
function tnTile(a: usize, aStepB: usize, b: usize, bStepB: usize, n: i32, t: usize, ldt: usize, addT: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
  for (let k = 0; k < n; k++) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    let s = v128.load32_splat(a);
    c00 = madd(s, b0, c00); c01 = madd(s, b1, c01);
    s = v128.load32_splat(a, 4);
    c10 = madd(s, b0, c10); c11 = madd(s, b1, c11);
    s = v128.load32_splat(a, 8);
    c20 = madd(s, b0, c20); c21 = madd(s, b1, c21);
    s = v128.load32_splat(a, 12);
    c30 = madd(s, b0, c30); c31 = madd(s, b1, c31);
    a += aStepB; b += bStepB;
  }
  storeTile(t, ldt, addT, c00, c01, c10, c11, c20, c21, c30, c31);
}

/** (G^T u)[k] of a column u0..u5 (scalars): five values to out[k*step] (dg = G^T dU G). */
// @ts-ignore: decorator
@inline function gradColumn(u0: f32, u1: f32, u2: f32, u3: f32, u4: f32, u5: f32, out: usize, step: usize): void {
  const sixth: f32 = 1.0 / 6.0, twelfth: f32 = 1.0 / 12.0, third: f32 = 1.0 / 3.0, twentyFourth: f32 = 1.0 / 24.0;
  const s12 = u1 + u2, d21 = u2 - u1, s34 = u3 + u4, d34 = u3 - u4;
  store<f32>(out, u0 * 0.25 - s12 * sixth + s34 * twentyFourth);
  store<f32>(out + step, d21 * sixth + d34 * twelfth);
  store<f32>(out + 2 * step, (s34 - s12) * sixth);
  store<f32>(out + 3 * step, d21 * sixth + d34 * third);
  store<f32>(out + 4 * step, -s12 * sixth + s34 * (third * 2) + u5);
}

/**
 * dU [36][C][Fp] = the sum over every tile of `batch` examples of V[xi]^T . (A dY A^T)[xi]
 * (overwritten; Fp = F rounded up to NR, its padded columns 0). dy holds F filters of ldy per
 * pixel. The sum runs over blocks of TBF tiles in order. ws: the pass's workspace after dU.
 */
function filterSums(du: usize, dy: usize, x: usize, ws: usize, batch: i32, H: i32, W: i32, C: i32, F: i32,
                    PT: i32, PL: i32, OH: i32, OW: i32, ldy: i32): void {
  const Fp = roundUp(F, NR);
  const TH = (OH + 1) >> 1, TW = (OW + 1) >> 1, P = TH * TW;
  const Hq = 2 * TH + 4, Wq = 2 * TW + 4;
  const frame = align16(ws);
  const vXiB = bytes(TBF * C) + XI_SKEW, mXiB = bytes(TBF * Fp) + XI_SKEW, duXiB = bytes(C * Fp);
  const v = align16(frame + bytes(Hq * Wq * C + NR));
  const mb = v + <usize>XI * vXiB;
  const tmp = mb + <usize>XI * mXiB;
  const pixB = bytes(C);
  const rowYB = bytes(OW * ldy), pixYB = bytes(ldy);
  const total = batch * P;
  let framedN = -1;
  for (let t0 = 0; t0 < total; t0 += TBF) {
    const nb = imin(TBF, total - t0);
    framedN = inputTiles(v, vXiB, frame, x, framedN, t0, nb, P, TW, H, W, C, PT, PL, tmp);
    for (let i = 0; i < nb; i++) {
      const t = t0 + i, n = t / P, tp = t % P;
      const th = tp / TW, tw = tp % TW;
      const g = dy + <usize>n * <usize>(OH * OW) * pixYB + <usize>(2 * th) * rowYB + <usize>(2 * tw) * pixYB;
      gradTile(mb + bytes(i * Fp), mXiB, g, rowYB, pixYB, imin(2, OH - 2 * th), imin(2, OW - 2 * tw), F, Fp, tmp);
    }
    const add = t0 > 0 ? 1 : 0;
    for (let xi = 0; xi < XI; xi++) {
      const vx = v + <usize>xi * vXiB, mx = mb + <usize>xi * mXiB, dx = du + <usize>xi * duXiB;
      for (let c0 = 0; c0 < C; c0 += MR) {
        for (let f0 = 0; f0 < Fp; f0 += NR) {
          tnTile(vx + bytes(c0), pixB, mx + bytes(f0), bytes(Fp), nb, dx + bytes(c0 * Fp + f0), bytes(Fp), add);
        }
      }
    }
  }
}

/** One element of dU: du0's, or du0's + du1's (du1 = du0 + delta; delta 0: du0 alone). */
// @ts-ignore: decorator
@inline function duAt(p: usize, delta: usize): f32 {
  return delta ? load<f32>(p) + load<f32>(p + delta) : load<f32>(p);
}

/**
 * dw[f, kh, kw, c] (+)= (G^T dU[., c, f] G)[kh][kw] for filters f0 <= f < f1 (dw at filter 0,
 * 25C floats per filter), where dU = du0 (du1 = 0) or du0 + du1 element-wise, both [36][C][Fp].
 * tmp: 64 floats.
 */
function filterOutput(dw: usize, du0: usize, du1: usize, C: i32, Fp: i32, f0: i32, f1: i32, accumulate: i32, tmp: usize): void {
  const K = 25 * C, duXiB = bytes(C * Fp);
  const delta: usize = du1 ? du1 - du0 : 0;
  for (let f = f0; f < f1; f++) {
    for (let c = 0; c < C; c++) {
      const s = du0 + bytes(c * Fp + f);
      // tmp[k][j] = (G^T dU)[k][j]: columns of dU
      for (let j = 0; j < 6; j++) {
        const col = s + <usize>j * duXiB;
        gradColumn(duAt(col, delta), duAt(col + 6 * duXiB, delta), duAt(col + 12 * duXiB, delta), duAt(col + 18 * duXiB, delta),
                   duAt(col + 24 * duXiB, delta), duAt(col + 30 * duXiB, delta), tmp + bytes(j), 24);
      }
      for (let k = 0; k < 5; k++) {
        const r = tmp + bytes(6 * k);
        const out = tmp + 128 + bytes(5 * k); // dg[k][l]
        gradColumn(load<f32>(r), load<f32>(r, 4), load<f32>(r, 8), load<f32>(r, 12), load<f32>(r, 16), load<f32>(r, 20), out, 4);
      }
      const d = dw + bytes(f * K + c);
      for (let k = 0; k < 25; k++) {
        const p = d + bytes(k * C);
        const g = load<f32>(tmp + 128 + bytes(k));
        store<f32>(p, accumulate ? load<f32>(p) + g : g);
      }
    }
  }
}

/**
 * Filter gradient (the contract of conv2d_backward_filter_f32 with KH = KW = 5, SH = SW = 1, for
 * a block of F filters: dw, db and dy offset to the block's first filter, ldy the layer's filter
 * count): dw [F, 5, 5, C] (+)= sum over examples and positions of dy * x's taps, db (+)= sum of dy.
 * Other geometries run conv2d_backward_filter_f32. Every element gets the same bits whatever the
 * block of filters (the sums run over blocks of TBF tiles in order). Layers split this pass by
 * examples instead: conv2d_winograd_filter_partial_f32 and conv2d_winograd_filter_reduce_f32.
 */
export function conv2d_winograd_backward_filter_f32(dw: usize, db: usize, dy: usize, x: usize, workspace: usize,
                                                    accumulate: i32, batch: i32, H: i32, W: i32, C: i32, F: i32,
                                                    KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32,
                                                    OH: i32, OW: i32, ldy: i32): void {
  if (!fits(C, F, KH, KW, SH, SW, PT, PL) || batch <= 0 || H <= 0 || W <= 0 || OH <= 0 || OW <= 0) {
    conv2d_backward_filter_f32(dw, db, dy, x, workspace, accumulate, batch, H, W, C, F, KH, KW, SH, SW, PT, PL, OH, OW, ldy);
    return;
  }
  if (db) dense_backward_bias_f32(db, dy, accumulate, batch * OH * OW, F, ldy);
  const Fp = roundUp(F, NR);
  const du = align16(workspace);
  const rest = align16(du + bytes(XI * C * Fp));
  filterSums(du, dy, x, rest, batch, H, W, C, F, PT, PL, OH, OW, ldy);
  filterOutput(dw, du, 0, C, Fp, 0, F, accumulate, rest);
}

/** Bytes of one partial sum dU of the filter gradient (conv2d_winograd_filter_partial_f32). */
export function conv2d_winograd_filter_partial_bytes(C: i32, F: i32): usize {
  return C > 0 && F > 0 ? align16(bytes(XI * C * roundUp(F, NR))) : 16;
}

/**
 * The filter gradient split by examples, first half: du = the transformed filter gradient dU of
 * `batch` examples (x and dy offset to the first; every filter of the layer, dy's rows F floats),
 * conv2d_winograd_filter_partial_bytes(C, F) bytes at du, overwritten. Only for geometries where
 * the Winograd kernels apply (5x5, stride 1, C and F multiples of 4; anything else returns at
 * once: layers check with the same rule). workspace: conv2d_winograd_workspace_bytes.
 */
export function conv2d_winograd_filter_partial_f32(du: usize, dy: usize, x: usize, workspace: usize,
                                                   batch: i32, H: i32, W: i32, C: i32, F: i32,
                                                   KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32): void {
  if (!fits(C, F, KH, KW, SH, SW, PT, PL) || H <= 0 || W <= 0 || OH <= 0 || OW <= 0) return;
  if (batch <= 0) { memory.fill(du, 0, bytes(XI * C * roundUp(F, NR))); return; }
  filterSums(du, dy, x, align16(workspace), batch, H, W, C, F, PT, PL, OH, OW, F);
}

/**
 * Second half: for filters f0 <= f < f0 + nf, dw [F, 5, 5, C] (+)= G^T (du0 + du1) G (du1 = 0:
 * du0 alone) and db (+)= the sum of dy [rows, F] (db = 0: no bias). Partial sums of fixed example
 * ranges added in a fixed order, so the bits do not depend on the number of threads or on the
 * block of filters. workspace: at least 1 KB.
 */
export function conv2d_winograd_filter_reduce_f32(dw: usize, db: usize, du0: usize, du1: usize, dy: usize, workspace: usize,
                                                  accumulate: i32, rows: i32, f0: i32, nf: i32, C: i32, F: i32): void {
  if (nf <= 0 || C <= 0 || F <= 0) return;
  if (db) dense_backward_bias_f32(db + bytes(f0), dy + bytes(f0), accumulate, rows, nf, F);
  filterOutput(dw, du0, du1, C, roundUp(F, NR), f0, f0 + nf, accumulate, align16(workspace));
}
