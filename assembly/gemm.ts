// Single-precision GEMM for the three products of backpropagation:
//
//   gemm_nn_f32: C = A·B     A [M, K] (lda),  B [K, N] (ldb)   forward with W stored [in, out],
//                                                              and dx = dy·W with W [out, in]
//   gemm_nt_f32: C = A·Bᵀ    A [M, K] (lda),  B [N, K] (ldb)   y = x·Wᵀ with W [out, in]
//   gemm_tn_f32: C = Aᵀ·B    A [K, M] (lda),  B [K, N] (ldb)   dW = dyᵀ·x
//
// C is [M, N] (ldc). Every matrix is row-major f32; a leading dimension is the distance in
// elements between the starts of two consecutive rows *as stored* (so lda >= K for nn/nt and
// lda >= M for tn; ldb >= N for nn/tn and ldb >= K for nt; ldc >= N). Leading dimensions let a
// caller run a range of rows of C (on a thread, say) by offsetting the C and A pointers.
//
// accumulate != 0: C += product. accumulate == 0: C = product (C is never read, so it may hold
// NaN or garbage). C must not overlap A, B or the workspace; A and B may overlap each other.
// Pointers need only 4-byte alignment (16 is faster).
//
// Method (Goto/BLIS): K is cut into equal blocks of at most KC, N into blocks of NC, M into
// blocks of MC. For each (N block, K block), op(B) is packed into column panels of NR floats per
// k, each panel just before its first use and reused by the later M blocks (a non-transposed B
// is packed by the first row panel's micro-kernel as it computes); for each M block,
// op(A) is packed into row panels of MR floats per k (zero-padded at the edges). A
// register-blocked micro-kernel computes each MR x NR tile of C in MR*NR/4 f32x4 accumulators
// (a broadcast of A times two vectors of B per row and k) with fused multiply-add in the
// relaxed-SIMD build (5 x 8 tile) and mul + add otherwise (4 x 8 tile). Tiles cut by the edges
// of C are computed in full into a scratch tile and copied out. M == 1 (one example at
// inference) takes packing-free GEMV paths instead, which keep the same order (below).
//
// The order contract. Every kernel here except the *_naive ones computes each element of C as
//   nb = ceil(K / KC) blocks of k, each kcBlock = ceil(K / nb) long (the last one shorter);
//   for each block in order:  s = +0;  for each k of the block in order: s = madd(op(A)[i,k], op(B)[k,j], s);
//                             C[i,j] = s (the first block, accumulate == 0), else C[i,j] = s + C[i,j]
// where madd is f32x4.relaxed_madd in the relaxed build (fused on x64 with FMA; whichever way
// the engine evaluates it, every kernel uses that same instruction) and a multiply then an add
// in the simd build; scalar leftovers go through the same vector madd one lane at a time. Nothing in it depends on M, N, the other rows
// or columns of C, the leading dimensions, alignment or how a caller splits C across threads, so
// a row of C has the same bits whether it is computed alone (M == 1), in a batch of any size, or
// as part of any row or column range. gemm_*_f32_blocked_naive compute exactly this, one
// element at a time (the reference of the tests); gemm_*_f32_naive are the plain definitions
// (one sequential sum over all of K, not the same bits).
//
// The packing buffers come from the caller: `workspace` must point to at least
// gemm_workspace_bytes(M, N, K) bytes (any alignment; 16 is best), used only during the call,
// so each thread needs its own. No kernel allocates.

// ---- blocking parameters --------------------------------------------------------------------
//
// The register tile is chosen per build so that accumulators, B vectors and A broadcasts fit the
// 15 xmm registers V8 allocates on x64 without spilling (measured, bench/gemm.mjs):
// - relaxed (one vfmadd231ps per product): 5 x 8, 10 accumulators; rows 0-3 of A come in one
//   vector load and are splatted by lane shuffles, row 4 by a broadcast load;
// - simd (mul + add, one more temporary): 4 x 8, 8 accumulators, A by broadcast loads.

/** Rows of the register tile. */
const MR: i32 = ASC_FEATURE_RELAXED_SIMD ? 5 : 4;
/** Columns of the register tile (two f32x4). */
const NR: i32 = 8;
/** K block (upper bound; K is cut into equal blocks): one A panel (MR*KC floats) and one B
 *  panel (KC*NR floats) stay in L1 (20 KB of 32 at 5 x 8). 384 rather than 512: K = 784 and
 *  1024 become 3 blocks, and the M = 100 products gain 1-2% of peak (measured, relaxed build;
 *  the simd build is unchanged within noise). */
const KC: i32 = 384;
/** M block: the packed MC x KC slice of A stays in L2. Multiple of MR. */
const MC: i32 = 160;
/** N block: the packed KC x NC slice of B (L2/L3). Multiple of NR. */
const NC: i32 = 2048;
/** Panels of B packed together (NR * PACK_GROUP = 128 columns: 8 cache lines of a row). */
const PACK_GROUP: i32 = 16;
/** Pack a non-transposed B inside the first row panel's micro-kernel (saves a pass over B). */
const FUSE_PACK_B = true;

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}

// @ts-ignore: decorator
@inline function roundUp(x: i32, m: i32): i32 {
  return (x + m - 1) / m * m;
}

// @ts-ignore: decorator
@inline function imin(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

// ---- micro-kernels --------------------------------------------------------------------------

// One MR x NR tile: T (+)= packedA(panel) · packedB(panel) over kc steps. `pa` holds MR floats
// per k, `pb` NR floats per k. `t` is the tile's top-left in C (or the scratch tile), `ldt` its
// row stride in bytes; addC != 0 adds the tile's current content, else it is overwritten.
// pack (a compile-time constant after inlining): B's rows are read at src + k*ss bytes instead,
// and written to pb on the way, so the first row panel packs the B panel the others reuse.
// One k step per loop iteration: V8 places an iteration's loads before its arithmetic, so
// unrolled steps would hold twice the loaded vectors at once and spill.

// @ts-ignore: decorator
@inline function tile4x8(kc: i32, pa: usize, pb: usize, src: usize, ss: usize,
                         t: usize, ldt: usize, addC: i32, pack: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const end = pb + (<usize>kc << 5);
  while (pb < end) {
    let b0: v128, b1: v128;
    if (pack) { // B straight from its rows, and written to the packed panel on the way
      b0 = v128.load(src); b1 = v128.load(src, 16);
      v128.store(pb, b0); v128.store(pb, b1, 16);
      src += ss;
    } else {
      b0 = v128.load(pb); b1 = v128.load(pb, 16);
    }
    let a = v128.load32_splat(pa);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    pa += 16;
    pb += 32;
  }
  const t1 = t + ldt, t2 = t1 + ldt, t3 = t2 + ldt;
  if (addC) {
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

// @ts-ignore: decorator
@inline function tile5x8(kc: i32, pa: usize, pb: usize, src: usize, ss: usize,
                         t: usize, ldt: usize, addC: i32, pack: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  const end = pb + (<usize>kc << 5);
  while (pb < end) {
    let b0: v128, b1: v128;
    if (pack) { // B straight from its rows, and written to the packed panel on the way
      b0 = v128.load(src); b1 = v128.load(src, 16);
      v128.store(pb, b0); v128.store(pb, b1, 16);
      src += ss;
    } else {
      b0 = v128.load(pb); b1 = v128.load(pb, 16);
    }
    const a03 = v128.load(pa); // rows 0..3 of this k
    let a = v128.shuffle<f32>(a03, a03, 0, 0, 0, 0);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.shuffle<f32>(a03, a03, 1, 1, 1, 1);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.shuffle<f32>(a03, a03, 2, 2, 2, 2);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.shuffle<f32>(a03, a03, 3, 3, 3, 3);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    a = v128.load32_splat(pa, 16);
    c40 = madd(a, b0, c40); c41 = madd(a, b1, c41);
    pa += 20;
    pb += 32;
  }
  const t1 = t + ldt, t2 = t1 + ldt, t3 = t2 + ldt, t4 = t3 + ldt;
  if (addC) {
    c00 = f32x4.add(c00, v128.load(t));  c01 = f32x4.add(c01, v128.load(t, 16));
    c10 = f32x4.add(c10, v128.load(t1)); c11 = f32x4.add(c11, v128.load(t1, 16));
    c20 = f32x4.add(c20, v128.load(t2)); c21 = f32x4.add(c21, v128.load(t2, 16));
    c30 = f32x4.add(c30, v128.load(t3)); c31 = f32x4.add(c31, v128.load(t3, 16));
    c40 = f32x4.add(c40, v128.load(t4)); c41 = f32x4.add(c41, v128.load(t4, 16));
  }
  v128.store(t, c00);  v128.store(t, c01, 16);
  v128.store(t1, c10); v128.store(t1, c11, 16);
  v128.store(t2, c20); v128.store(t2, c21, 16);
  v128.store(t3, c30); v128.store(t3, c31, 16);
  v128.store(t4, c40); v128.store(t4, c41, 16);
}

function microTile4x8(kc: i32, pa: usize, pb: usize, t: usize, ldt: usize, addC: i32): void {
  tile4x8(kc, pa, pb, 0, 0, t, ldt, addC, false);
}

function microTile4x8Pack(kc: i32, pa: usize, pb: usize, src: usize, ss: usize, t: usize, ldt: usize, addC: i32): void {
  tile4x8(kc, pa, pb, src, ss, t, ldt, addC, true);
}

function microTile5x8(kc: i32, pa: usize, pb: usize, t: usize, ldt: usize, addC: i32): void {
  tile5x8(kc, pa, pb, 0, 0, t, ldt, addC, false);
}

function microTile5x8Pack(kc: i32, pa: usize, pb: usize, src: usize, ss: usize, t: usize, ldt: usize, addC: i32): void {
  tile5x8(kc, pa, pb, src, ss, t, ldt, addC, true);
}

// @ts-ignore: decorator
@inline function microTile(kc: i32, pa: usize, pb: usize, t: usize, ldt: usize, addC: i32): void {
  if (MR == 5) microTile5x8(kc, pa, pb, t, ldt, addC);
  else microTile4x8(kc, pa, pb, t, ldt, addC);
}

// microTile that also packs its B panel: B[k, 0..NR) is read at src + k*ss (bytes) and written
// to pb, for the first row panel of each column panel of a non-transposed B.
// @ts-ignore: decorator
@inline function microTilePack(kc: i32, pa: usize, pb: usize, src: usize, ss: usize, t: usize, ldt: usize, addC: i32): void {
  if (MR == 5) microTile5x8Pack(kc, pa, pb, src, ss, t, ldt, addC);
  else microTile4x8Pack(kc, pa, pb, src, ss, t, ldt, addC);
}

// ---- packing --------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function transpose4(
  dst: usize, dstStride: usize, r0: v128, r1: v128, r2: v128, r3: v128,
): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(dst + dstStride, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  v128.store(dst + dstStride * 2, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  v128.store(dst + dstStride * 3, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}

// Packs a rows x cols block of a matrix X into panels of `w` columns (w = NR for B, MR for A):
// panel q holds, for each of the `rows` steps r, the w floats X[r, q*w .. q*w + w) (zero-padded).
// X[r, c] is at x + (r*rs + c*cs)*4: (rs, cs) = (ld, 1) reads along stored rows, (1, ld) along
// stored columns (a transposed operand).
//
// The packed layout is [panel][r][w]: for B, r runs over k and the panel over columns of C; for
// A, r runs over k too and the panel over rows of C.

/** Packs from storage where the panel's w entries are contiguous (cs = 1). */
function packContig(dst: usize, x: usize, ld: i32, rows: i32, cols: i32, w: i32): void {
  const ldb = <usize>ld << 2;
  const wb = <usize>w << 2;
  const w4 = <usize>(w & ~3) << 2; // bytes copied by whole vectors
  const full = cols / w;
  const panelBytes = <usize>rows * wb;
  // Row by row across all panels, so each stored row is read sequentially (whole cache lines,
  // several lines in flight) rather than w floats per row and panel.
  let s = x;
  let d = dst;
  for (let r = 0; r < rows; r++) {
    let sq = s, dq = d;
    if (w == 8) {
      for (let q = 0; q < full; q++) {
        v128.store(dq, v128.load(sq));
        v128.store(dq, v128.load(sq, 16), 16);
        sq += 32; dq += panelBytes;
      }
    } else {
      for (let q = 0; q < full; q++) {
        let o: usize = 0;
        for (; o < w4; o += 16) v128.store(dq + o, v128.load(sq + o));
        for (; o < wb; o += 4) store<f32>(dq + o, load<f32>(sq + o));
        sq += wb; dq += panelBytes;
      }
    }
    s += ldb; d += wb;
  }
  const rest = cols - full * w;
  if (rest > 0) {
    let s = x + <usize>full * wb;
    let d = dst + <usize>full * panelBytes;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < w; c++) {
        store<f32>(d + (<usize>c << 2), c < rest ? load<f32>(s + (<usize>c << 2)) : 0);
      }
      s += ldb; d += wb;
    }
  }
}

/** Packs from storage where the panel's w entries are `ld` apart and r steps are contiguous. */
function packStrided(dst: usize, x: usize, ld: i32, rows: i32, cols: i32, w: i32): void {
  const ldb = <usize>ld << 2;
  const wb = <usize>w << 2;
  const w4 = w & ~3;
  const full = cols / w;
  const panelBytes = <usize>rows * wb;
  const rows4 = rows & ~3;
  for (let q = 0; q < full; q++) {
    const s0 = x + <usize>(q * w) * ldb;
    const d0 = dst + <usize>q * panelBytes;
    // Groups of 4 stored rows x 4 steps, transposed in registers; a B panel (w == 8) reads its
    // 8 rows together.
    if (w == 8) {
      let s = s0;
      let d = d0;
      const s4 = s0 + ldb * 4;
      for (let r = 0; r < rows4; r += 4) {
        const o = <usize>r << 2;
        transpose4(d, wb, v128.load(s), v128.load(s + ldb), v128.load(s + ldb * 2), v128.load(s + ldb * 3));
        transpose4(d + 16, wb, v128.load(s4 + o), v128.load(s4 + o + ldb), v128.load(s4 + o + ldb * 2),
                   v128.load(s4 + o + ldb * 3));
        s += 16; d += wb << 2;
      }
      for (let r = rows4; r < rows; r++) {
        const dr = d0 + <usize>r * wb;
        const sr = s0 + (<usize>r << 2);
        for (let c = 0; c < 8; c++) store<f32>(dr + (<usize>c << 2), load<f32>(sr + <usize>c * ldb));
      }
      continue;
    }
    for (let g = 0; g < w4; g += 4) {
      let s = s0 + <usize>g * ldb;
      let d = d0 + (<usize>g << 2);
      for (let r = 0; r < rows4; r += 4) {
        transpose4(d, wb, v128.load(s), v128.load(s + ldb), v128.load(s + ldb * 2), v128.load(s + ldb * 3));
        s += 16; d += wb << 2;
      }
      for (let r = rows4; r < rows; r++) {
        const dr = d0 + <usize>r * wb + (<usize>g << 2);
        const sr = s0 + <usize>g * ldb + (<usize>r << 2);
        for (let c = 0; c < 4; c++) store<f32>(dr + (<usize>c << 2), load<f32>(sr + <usize>c * ldb));
      }
    }
    // Remaining stored rows of the panel (w not a multiple of 4), one float at a time.
    for (let c = w4; c < w; c++) {
      const s = s0 + <usize>c * ldb;
      const d = d0 + (<usize>c << 2);
      for (let r = 0; r < rows; r++) store<f32>(d + <usize>r * wb, load<f32>(s + (<usize>r << 2)));
    }
  }
  const rest = cols - full * w;
  if (rest > 0) {
    const s0 = x + <usize>(full * w) * ldb;
    const d0 = dst + <usize>full * panelBytes;
    for (let r = 0; r < rows; r++) {
      const d = d0 + <usize>r * wb;
      const s = s0 + (<usize>r << 2);
      for (let c = 0; c < w; c++) {
        store<f32>(d + (<usize>c << 2), c < rest ? load<f32>(s + <usize>c * ldb) : 0);
      }
    }
  }
}

// ---- driver ---------------------------------------------------------------------------------

// The K blocks: ceil(K / KC) blocks of equal size (the last one shorter), at most KC:
// 784 = 3 x 262 rather than 384 + 384 + 16. Part of the order contract (top of the file).
// @ts-ignore: decorator
@inline function kBlockSize(K: i32): i32 {
  const blocks = (K + KC - 1) / KC;
  return (K + blocks - 1) / blocks;
}

// @ts-ignore: decorator
@inline function align16(p: usize): usize {
  return (p + 15) & ~(<usize>15);
}

/**
 * Bytes of workspace the gemm_*_f32 kernels need for an [M, N] x K product (any transpose).
 * Includes alignment slack, so the workspace pointer itself need not be 16-byte aligned.
 */
export function gemm_workspace_bytes(M: i32, N: i32, K: i32): usize {
  const kc = <usize>imin(K, KC);
  const a = <usize>roundUp(imin(M, MC), MR) * kc;
  const b = <usize>roundUp(imin(N, NC), NR) * kc;
  return ((a + b + <usize>(MR * NR)) << 2) + 16 * 3;
}

// The blocked product. transA: op(A)[i, k] = A[k*lda + i] (else A[i*lda + k]); transB:
// op(B)[k, j] = B[j*ldb + k] (else B[k*ldb + j]).
// @ts-ignore: decorator
@inline function gemmBlocked(c: usize, a: usize, b: usize, ws: usize, accumulate: i32,
                             M: i32, N: i32, K: i32, lda: i32, ldb: i32, ldc: i32,
                             transA: bool, transB: bool): void {
  const kcMax = imin(K, KC);
  const kcBlock = kBlockSize(K);
  const pa = align16(ws);
  const pb = align16(pa + (<usize>(roundUp(imin(M, MC), MR) * kcMax) << 2));
  const tile = align16(pb + (<usize>(roundUp(imin(N, NC), NR) * kcMax) << 2));
  const ldcB = <usize>ldc << 2;
  const tileLd = <usize>NR << 2;
  for (let jc = 0; jc < N; jc += NC) {
    const nc = imin(NC, N - jc);
    for (let pc = 0; pc < K; pc += kcBlock) {
      const kc = imin(kcBlock, K - pc);
      const addC = (accumulate != 0 || pc > 0) ? 1 : 0;
      for (let ic = 0; ic < M; ic += MC) {
        const mc = imin(MC, M - ic);
        // Pack op(A)[ic .. ic+mc, pc .. pc+kc] into MR-row panels.
        if (transA) packContig(pa, a + ((<usize>pc * <usize>lda + <usize>ic) << 2), lda, kc, mc, MR);
        else packStrided(pa, a + ((<usize>ic * <usize>lda + <usize>pc) << 2), lda, kc, mc, MR);
        const aPanel = <usize>(MR * kc) << 2;
        const bPanel = <usize>(NR * kc) << 2;
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = imin(NR, nc - jr);
          const pbj = pb + <usize>(jr / NR) * bPanel;
          // B is packed during the first M block, each panel just before its first use (later
          // M blocks reuse it). A non-transposed B's full panels are packed by the first row
          // panel's micro-kernel as it goes; other panels in groups of PACK_GROUP (reading
          // whole cache lines of several rows keeps more loads in flight).
          const fuse = FUSE_PACK_B && !transB && ic == 0 && nr == NR && mc >= MR;
          if (ic == 0 && !fuse && (!transB || jr % (NR * PACK_GROUP) == 0)) {
            const cols = transB ? imin(NR * PACK_GROUP, nc - jr) : nr;
            if (transB) packStrided(pbj, b + ((<usize>(jc + jr) * <usize>ldb + <usize>pc) << 2), ldb, kc, cols, NR);
            else packContig(pbj, b + ((<usize>pc * <usize>ldb + <usize>(jc + jr)) << 2), ldb, kc, cols, NR);
          }
          let cij = c + ((<usize>ic * <usize>ldc + <usize>(jc + jr)) << 2);
          let pai = pa;
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = imin(MR, mc - ir);
            if (fuse && ir == 0) {
              microTilePack(kc, pai, pbj, b + ((<usize>pc * <usize>ldb + <usize>(jc + jr)) << 2), <usize>ldb << 2, cij, ldcB, addC);
            } else if (mr == MR && nr == NR) {
              microTile(kc, pai, pbj, cij, ldcB, addC);
            } else {
              microTile(kc, pai, pbj, tile, tileLd, 0);
              for (let i = 0; i < mr; i++) {
                const crow = cij + <usize>i * ldcB;
                const trow = tile + <usize>i * tileLd;
                for (let j = 0; j < nr; j++) {
                  const o = <usize>j << 2;
                  const v = load<f32>(trow + o);
                  store<f32>(crow + o, addC ? load<f32>(crow + o) + v : v);
                }
              }
            }
            pai += aPanel;
            cij += ldcB * MR;
          }
        }
      }
    }
  }
}

// ---- GEMV (M == 1) --------------------------------------------------------------------------
//
// One row of C, computed in the order contract (top of the file) without packing: bit for bit
// the row the blocked product gives it in a batch of any size. Only the order of the work on
// one element is fixed; which elements are computed together is free, and that is where these
// kernels find their vectors.

// c[0, j] (+)= sum_k a[k*aStride] * B[k*ldb + j]: one row of A times B (nn and tn with M == 1).
// Per K block, B's rows of the block are streamed row by row (sequential, prefetch-friendly),
// four rows per sweep over the block sums s[0..n), which stay in L1: s[j] starts at +0 and gets
// its updates in k order, so it is the block's madd chain; then C[j] = s[j] + C[j]. The first
// block with accumulate == 0 is summed straight into C (C = s). s lives in the workspace (its
// B-panel part holds at least NC floats), so N is cut into chunks of NC columns.
function gemvRowTimesB(c: usize, a: usize, aStride: usize, b: usize, ws: usize, accumulate: i32,
                       N: i32, K: i32, ldb: i32): void {
  const kcBlock = kBlockSize(K);
  const s = align16(ws);
  const ldbB = <usize>ldb << 2;
  for (let jc = 0; jc < N; jc += NC) {
    const n = imin(NC, N - jc);
    const cj = c + (<usize>jc << 2), bj = b + (<usize>jc << 2);
    for (let pc = 0; pc < K; pc += kcBlock) {
      const kc = imin(kcBlock, K - pc);
      const direct = pc == 0 && accumulate == 0;
      blockRowTimesB(direct ? cj : s, a + <usize>pc * aStride, aStride, bj + <usize>pc * ldbB, n, kc, ldbB);
      if (!direct) addInto(cj, s, n);
    }
  }
}

// d[0..n) = sum over the kc rows k of a[k*aStride] * B[k, 0..n) (row stride ldbB bytes), each
// element one madd chain from +0 in k order. Columns past the last multiple of 4 go one lane at
// a time through the same vector madd (a scalar a*b + s would not fuse in the relaxed build).
function blockRowTimesB(d: usize, a: usize, aStride: usize, b: usize, n: i32, kc: i32, ldbB: usize): void {
  const N4 = <usize>(n & ~3) << 2;
  const Nb = <usize>n << 2;
  let k = 0;
  let first = true;
  for (; k + 4 <= kc; k += 4) {
    const ap = a + <usize>k * aStride;
    const x0 = v128.load32_splat(ap), x1 = v128.load32_splat(ap + aStride);
    const x2 = v128.load32_splat(ap + aStride * 2), x3 = v128.load32_splat(ap + aStride * 3);
    const s0 = b + <usize>k * ldbB, s1 = s0 + ldbB, s2 = s1 + ldbB, s3 = s2 + ldbB;
    let o: usize = 0;
    for (; o < N4; o += 16) {
      let y = first ? f32x4.splat(0) : v128.load(d + o);
      y = madd(x0, v128.load(s0 + o), y);
      y = madd(x1, v128.load(s1 + o), y);
      y = madd(x2, v128.load(s2 + o), y);
      y = madd(x3, v128.load(s3 + o), y);
      v128.store(d + o, y);
    }
    for (; o < Nb; o += 4) {
      let y = first ? f32x4.splat(0) : v128.load32_zero(d + o);
      y = madd(x0, v128.load32_zero(s0 + o), y);
      y = madd(x1, v128.load32_zero(s1 + o), y);
      y = madd(x2, v128.load32_zero(s2 + o), y);
      y = madd(x3, v128.load32_zero(s3 + o), y);
      v128.store32_lane(d + o, y, 0);
    }
    first = false;
  }
  for (; k < kc; k++) {
    const x = v128.load32_splat(a + <usize>k * aStride);
    const s0 = b + <usize>k * ldbB;
    let o: usize = 0;
    for (; o < N4; o += 16) {
      const y = first ? f32x4.splat(0) : v128.load(d + o);
      v128.store(d + o, madd(x, v128.load(s0 + o), y));
    }
    for (; o < Nb; o += 4) {
      const y = first ? f32x4.splat(0) : v128.load32_zero(d + o);
      v128.store32_lane(d + o, madd(x, v128.load32_zero(s0 + o), y), 0);
    }
    first = false;
  }
}

/** c[0..n) = s[0..n) + c[0..n): a block sum added into C, as the blocked product adds its tiles. */
function addInto(c: usize, s: usize, n: i32): void {
  const N4 = <usize>(n & ~3) << 2;
  const Nb = <usize>n << 2;
  let o: usize = 0;
  for (; o < N4; o += 16) v128.store(c + o, f32x4.add(v128.load(s + o), v128.load(c + o)));
  for (; o < Nb; o += 4) store<f32>(c + o, load<f32>(s + o) + load<f32>(c + o));
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) +
         (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// c[0, j] (+)= dot(a, B[j*ldb ..]): one row of A times Bᵀ (nt with M == 1: the dense forward of
// one example). The contract makes each output a sequential madd chain per K block (no
// reassociation), so the vectors run across outputs instead of along k: a "quad" is 4
// consecutive rows of B, whose 4 x 4 blocks (4 rows x 4 consecutive k) are transposed in
// registers into 4 columns B[j..j+4, k], each multiplied by a broadcast a[k] into an accumulator
// whose lanes are the quad's 4 outputs. That is 8 shuffles per 4 multiply-adds, the price of the
// contract: the x64 machine measured issues shuffles and multiply-adds on the same two pipes.
//
// A "chain" is 8 rows (two quads sharing the broadcasts) over one K block. An accumulator
// advances one k per multiply-add latency, so two chains run in lockstep (4 accumulators).
// Usually the two are the same block of 16 consecutive rows, and all 4 quads share the
// broadcasts. But when rows are 4 KB apart (K = 1024), 16 rows read at the same k fall into one
// 8-way set of the L1 cache and evict each other (3.5x slower, measured); then chains are taken
// in the order (8 rows, block), so the two of a pair are mostly two blocks of the same rows,
// read at different k (8 rows at a k fit). Each chain's block sums are added into C, a row's
// blocks in order. Rows left over go one quad at a time; the last 1-3 rows form a quad whose missing rows
// repeat the last one (its loads stay inside B), of which only the real lanes are stored.

// Four k steps of a quad: rows at p, p + l1, p + l2, p + l3 (bytes), x0..x3 the broadcasts of
// a[k..k+4). Returns acc advanced by k, k+1, k+2, k+3 in that order.
// @ts-ignore: decorator
@inline function quadStep(acc: v128, p: usize, l1: usize, l2: usize, l3: usize,
                          x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const r0 = v128.load(p), r1 = v128.load(p + l1);
  const lo01 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), hi01 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const r2 = v128.load(p + l2), r3 = v128.load(p + l3);
  const lo23 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), hi23 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  acc = madd(x0, v128.shuffle<f32>(lo01, lo23, 0, 1, 4, 5), acc);
  acc = madd(x1, v128.shuffle<f32>(lo01, lo23, 2, 3, 6, 7), acc);
  acc = madd(x2, v128.shuffle<f32>(hi01, hi23, 0, 1, 4, 5), acc);
  acc = madd(x3, v128.shuffle<f32>(hi01, hi23, 2, 3, 6, 7), acc);
  return acc;
}

// quadStep with the broadcasts of a[k..k+4) loaded from a.
// @ts-ignore: decorator
@inline function quadStepA(acc: v128, p: usize, l1: usize, l2: usize, l3: usize, a: usize): v128 {
  return quadStep(acc, p, l1, l2, l3, v128.load32_splat(a), v128.load32_splat(a, 4),
                  v128.load32_splat(a, 8), v128.load32_splat(a, 12));
}

/** The column (B[row 0, k], .., B[row 3, k]) of a quad whose k-th entries are at p, p+l1, .. */
// @ts-ignore: decorator
@inline function quadColumn(p: usize, l1: usize, l2: usize, l3: usize): v128 {
  let v = v128.load32_zero(p);
  v = v128.load32_lane(p + l1, v, 1);
  v = v128.load32_lane(p + l2, v, 2);
  return v128.load32_lane(p + l3, v, 3);
}

/** A quad's k from byte offset o to end (the last 1-3 k of a block) into acc, column by column. */
// @ts-ignore: decorator
@inline function quadTail(acc: v128, p: usize, a: usize, l1: usize, l2: usize, l3: usize, o: usize, end: usize): v128 {
  for (; o < end; o += 4) acc = madd(v128.load32_splat(a + o), quadColumn(p + o, l1, l2, l3), acc);
  return acc;
}

/** C[0..4) = acc (set) or acc + C[0..4): a quad's block sums into C. */
// @ts-ignore: decorator
@inline function quadInto(d: usize, acc: v128, set: bool): void {
  v128.store(d, set ? acc : f32x4.add(acc, v128.load(d)));
}

// Two chains in lockstep. Chain i: rows at p_i + {0, l1, l2, l3} and p_i + l4 + {0, l1, l2, l3}
// (bytes, at its block's first k), its a at a_i, kb_i bytes of k (4 per k). The 4 sums (chain
// 0 rows 0-3 and 4-7, chain 1 rows 0-3 and 4-7) go to out[0..16). `same` (a constant): both
// chains are the same block of 16 consecutive rows (a1 == a0, kb1 == kb0), so all 4 quads share
// the broadcasts. The stores to `out` in the loop are overwritten at the end: a store stays
// ordered before the loads after it, which keeps V8 from scheduling all the loads of an
// iteration ahead of its arithmetic (it puts a basic block's loads first) and spilling.
// @ts-ignore: decorator
@inline function pairOfChains(out: usize, l1: usize, l2: usize, l3: usize, l4: usize,
                              p0: usize, a0: usize, kb0: usize, p1: usize, a1: usize, kb1: usize, same: bool): void {
  let acc00 = f32x4.splat(0), acc01 = f32x4.splat(0), acc10 = f32x4.splat(0), acc11 = f32x4.splat(0);
  const end = (kb0 < kb1 ? kb0 : kb1) & ~(<usize>15);
  let o: usize = 0;
  for (; o < end; o += 16) {
    let x0 = v128.load32_splat(a0 + o), x1 = v128.load32_splat(a0 + o, 4);
    let x2 = v128.load32_splat(a0 + o, 8), x3 = v128.load32_splat(a0 + o, 12);
    acc00 = quadStep(acc00, p0 + o, l1, l2, l3, x0, x1, x2, x3);
    v128.store(out, acc00);
    acc01 = quadStep(acc01, p0 + l4 + o, l1, l2, l3, x0, x1, x2, x3);
    v128.store(out, acc01, 16);
    if (!same) {
      x0 = v128.load32_splat(a1 + o); x1 = v128.load32_splat(a1 + o, 4);
      x2 = v128.load32_splat(a1 + o, 8); x3 = v128.load32_splat(a1 + o, 12);
    }
    acc10 = quadStep(acc10, p1 + o, l1, l2, l3, x0, x1, x2, x3);
    v128.store(out, acc10, 32);
    acc11 = quadStep(acc11, p1 + l4 + o, l1, l2, l3, x0, x1, x2, x3);
  }
  // the rest of each chain: the whole steps of the longer one (blocks differ by < 4 steps),
  // then the last 1-3 k of each
  for (let r = o; r + 16 <= kb0; r += 16) {
    acc00 = quadStepA(acc00, p0 + r, l1, l2, l3, a0 + r);
    acc01 = quadStepA(acc01, p0 + l4 + r, l1, l2, l3, a0 + r);
  }
  for (let r = o; r + 16 <= kb1; r += 16) {
    acc10 = quadStepA(acc10, p1 + r, l1, l2, l3, a1 + r);
    acc11 = quadStepA(acc11, p1 + l4 + r, l1, l2, l3, a1 + r);
  }
  const t0 = kb0 & ~(<usize>15), t1 = kb1 & ~(<usize>15);
  acc00 = quadTail(acc00, p0, a0, l1, l2, l3, t0, kb0);
  acc01 = quadTail(acc01, p0 + l4, a0, l1, l2, l3, t0, kb0);
  acc10 = quadTail(acc10, p1, a1, l1, l2, l3, t1, kb1);
  acc11 = quadTail(acc11, p1 + l4, a1, l1, l2, l3, t1, kb1);
  v128.store(out, acc00); v128.store(out, acc01, 16); v128.store(out, acc10, 32); v128.store(out, acc11, 48);
}

function chainPair(out: usize, l1: usize, l2: usize, l3: usize, l4: usize,
                   p0: usize, a0: usize, kb0: usize, p1: usize, a1: usize, kb1: usize): void {
  pairOfChains(out, l1, l2, l3, l4, p0, a0, kb0, p1, a1, kb1, false);
}

function chainPairSame(out: usize, l1: usize, l2: usize, l3: usize, l4: usize, p0: usize, a0: usize, kb0: usize, p1: usize): void {
  pairOfChains(out, l1, l2, l3, l4, p0, a0, kb0, p1, a0, kb0, true);
}

// Whether 16 consecutive rows (l1 bytes apart) read at the same k would put more than 4 lines
// into one set of a 64-set L1 (the case of K = 1024, 512, 2048: 4 KB multiples).
function rowsCrowdL1(l1: usize): bool {
  let worst = 0;
  for (let r: usize = 0; r < 16; r++) {
    const set = ((r * l1) >> 6) & 63;
    let n = 0;
    for (let q: usize = 0; q < 16; q++) if ((((q * l1) >> 6) & 63) == set) n++;
    if (n > worst) worst = n;
  }
  return worst > 4;
}

// One quad (rows at p, p + l1, p + l2, p + l3) times a, block by block (one chain at a time);
// the block sums of its first `rows` (1..4) lanes go into c[0..rows).
function quadTimesBt(c: usize, a: usize, p: usize, l1: usize, l2: usize, l3: usize, rows: i32,
                     accumulate: i32, K: i32, kcBlock: i32): void {
  for (let pc = 0; pc < K; pc += kcBlock) {
    const kc = imin(kcBlock, K - pc);
    let o = <usize>pc << 2;
    const end4 = o + (<usize>(kc & ~3) << 2), end = o + (<usize>kc << 2);
    let acc = f32x4.splat(0);
    for (; o < end4; o += 16) acc = quadStepA(acc, p + o, l1, l2, l3, a + o);
    acc = quadTail(acc, p, a, l1, l2, l3, o, end);
    const set = pc == 0 && accumulate == 0;
    if (rows == 4) {
      quadInto(c, acc, set);
    } else {
      const y0 = f32x4.extract_lane(acc, 0), y1 = f32x4.extract_lane(acc, 1), y2 = f32x4.extract_lane(acc, 2);
      store<f32>(c, set ? y0 : y0 + load<f32>(c));
      if (rows > 1) store<f32>(c, set ? y1 : y1 + load<f32>(c, 4), 4);
      if (rows > 2) store<f32>(c, set ? y2 : y2 + load<f32>(c, 8), 8);
    }
  }
}

function gemvRowTimesBt(c: usize, a: usize, b: usize, ws: usize, accumulate: i32, N: i32, K: i32, ldb: i32): void {
  const kcBlock = kBlockSize(K);
  const blocks = (K + kcBlock - 1) / kcBlock;
  const l1 = <usize>ldb << 2, l4 = l1 * 4;
  const sums = align16(ws);
  const octs = N >> 3;
  if (!rowsCrowdL1(l1)) {
    // pairs of chains = one block of 16 rows (two octs), blocks in order; an odd last oct is
    // paired with itself (computed twice, stored once)
    for (let o0 = 0; o0 < octs; o0 += 2) {
      const o1 = imin(o0 + 1, octs - 1);
      for (let blk = 0; blk < blocks; blk++) {
        const k0 = blk * kcBlock, set = blk == 0 && accumulate == 0;
        chainPairSame(sums, l1, l1 * 2, l1 * 3, l4, b + <usize>o0 * (l4 << 1) + (<usize>k0 << 2), a + (<usize>k0 << 2),
                      <usize>imin(kcBlock, K - k0) << 2, b + <usize>o1 * (l4 << 1) + (<usize>k0 << 2));
        const d0 = c + (<usize>o0 << 5);
        quadInto(d0, v128.load(sums), set); quadInto(d0 + 16, v128.load(sums, 16), set);
        if (o1 > o0) { quadInto(d0 + 32, v128.load(sums, 32), set); quadInto(d0 + 48, v128.load(sums, 48), set); }
      }
    }
  } else {
    // rows 4 KB apart: pairs of chains in the order (8 rows, block), mostly two blocks of one
    // oct, read at different k
    const chains = octs * blocks;
    let oct = 0, blk = 0; // of the next chain
    for (let g = 0; g < chains; g += 2) {
      const oct0 = oct, blk0 = blk;
      if (++blk == blocks) { blk = 0; oct++; }
      const one = g + 1 == chains; // an odd chain out: computed twice, stored once
      const oct1 = one ? oct0 : oct, blk1 = one ? blk0 : blk;
      if (!one && ++blk == blocks) { blk = 0; oct++; }
      const k0 = blk0 * kcBlock, k1 = blk1 * kcBlock;
      chainPair(sums, l1, l1 * 2, l1 * 3, l4,
                b + <usize>oct0 * (l4 << 1) + (<usize>k0 << 2), a + (<usize>k0 << 2), <usize>imin(kcBlock, K - k0) << 2,
                b + <usize>oct1 * (l4 << 1) + (<usize>k1 << 2), a + (<usize>k1 << 2), <usize>imin(kcBlock, K - k1) << 2);
      const d0 = c + (<usize>oct0 << 5), set0 = blk0 == 0 && accumulate == 0;
      quadInto(d0, v128.load(sums), set0);
      quadInto(d0 + 16, v128.load(sums, 16), set0);
      if (!one) {
        const d1 = c + (<usize>oct1 << 5), set1 = blk1 == 0 && accumulate == 0;
        quadInto(d1, v128.load(sums, 32), set1);
        quadInto(d1 + 16, v128.load(sums, 48), set1);
      }
    }
  }
  let j = N & ~7;
  if (j + 4 <= N) {
    quadTimesBt(c + (<usize>j << 2), a, b + <usize>j * l1, l1, l1 * 2, l1 * 3, 4, accumulate, K, kcBlock);
    j += 4;
  }
  const rows = N - j;
  if (rows > 0) { // the missing rows of the last quad repeat its last row
    quadTimesBt(c + (<usize>j << 2), a, b + <usize>j * l1, l1 * imin(1, rows - 1), l1 * imin(2, rows - 1),
                l1 * <usize>(rows - 1), rows, accumulate, K, kcBlock);
  }
}

// ---- exported kernels -----------------------------------------------------------------------

// K == 0: the product is the zero matrix, so C = 0 (accumulate == 0) or C is left as is.
function emptyProduct(c: usize, accumulate: i32, M: i32, N: i32, ldc: i32): void {
  if (accumulate) return;
  for (let i = 0; i < M; i++) memory.fill(c + ((<usize>i * <usize>ldc) << 2), 0, <usize>N << 2);
}

/**
 * C = A·B (accumulate == 0) or C += A·B (accumulate != 0).
 * A [M, K] row stride lda >= K; B [K, N] row stride ldb >= N; C [M, N] row stride ldc >= N.
 * workspace: gemm_workspace_bytes(M, N, K) bytes, scratch. C must not overlap A, B, workspace.
 * Any M, N, K >= 1. M or N <= 0: nothing is done. K <= 0: the empty product, C = 0 (or C += 0).
 */
export function gemm_nn_f32(c: usize, a: usize, b: usize, workspace: usize, accumulate: i32,
                            M: i32, N: i32, K: i32, lda: i32, ldb: i32, ldc: i32): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) { emptyProduct(c, accumulate, M, N, ldc); return; }
  if (M == 1) { gemvRowTimesB(c, a, 4, b, workspace, accumulate, N, K, ldb); return; }
  gemmBlocked(c, a, b, workspace, accumulate, M, N, K, lda, ldb, ldc, false, false);
}

/**
 * C = A·Bᵀ (accumulate == 0) or C += A·Bᵀ (accumulate != 0).
 * A [M, K] row stride lda >= K; B [N, K] row stride ldb >= K; C [M, N] row stride ldc >= N.
 * workspace: gemm_workspace_bytes(M, N, K) bytes, scratch. C must not overlap A, B, workspace.
 */
export function gemm_nt_f32(c: usize, a: usize, b: usize, workspace: usize, accumulate: i32,
                            M: i32, N: i32, K: i32, lda: i32, ldb: i32, ldc: i32): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) { emptyProduct(c, accumulate, M, N, ldc); return; }
  if (M == 1) { gemvRowTimesBt(c, a, b, workspace, accumulate, N, K, ldb); return; }
  gemmBlocked(c, a, b, workspace, accumulate, M, N, K, lda, ldb, ldc, false, true);
}

/**
 * C = Aᵀ·B (accumulate == 0) or C += Aᵀ·B (accumulate != 0).
 * A [K, M] row stride lda >= M; B [K, N] row stride ldb >= N; C [M, N] row stride ldc >= N.
 * workspace: gemm_workspace_bytes(M, N, K) bytes, scratch. C must not overlap A, B, workspace.
 */
export function gemm_tn_f32(c: usize, a: usize, b: usize, workspace: usize, accumulate: i32,
                            M: i32, N: i32, K: i32, lda: i32, ldb: i32, ldc: i32): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) { emptyProduct(c, accumulate, M, N, ldc); return; }
  if (M == 1) { gemvRowTimesB(c, a, <usize>lda << 2, b, workspace, accumulate, N, K, ldb); return; }
  gemmBlocked(c, a, b, workspace, accumulate, M, N, K, lda, ldb, ldc, true, false);
}

/** MR, the rows of this build's register tile (5 relaxed, 4 simd). A caller splitting the rows
 *  of C across threads cuts at multiples of it, so no thread computes a partial tile. */
export function gemm_tile_rows(): i32 {
  return MR;
}

/** NR, the columns of the register tile (8). Column splits of C cut at multiples of it. */
export function gemm_tile_cols(): i32 {
  return NR;
}

/**
 * Y = Xᵀ: X [rows, cols] with row stride ldx, Y [cols, rows] with row stride ldy (so
 * Y[j*ldy + i] = X[i*ldx + j]). In blocks of 4 x 4 transposed in registers. Y must not overlap X.
 * (For a product of two transposed operands, Aᵀ·Bᵀ, which the kernels above do not cover.)
 */
export function transpose_f32(y: usize, x: usize, rows: i32, cols: i32, ldx: i32, ldy: i32): void {
  if (rows <= 0 || cols <= 0) return;
  const ldxB = <usize>ldx << 2, ldyB = <usize>ldy << 2;
  const r4 = rows & ~3, c4 = cols & ~3;
  for (let i = 0; i < r4; i += 4) {
    const s = x + <usize>i * ldxB;
    const d = y + (<usize>i << 2);
    for (let j = 0; j < c4; j += 4) {
      const o = <usize>j << 2;
      transpose4(d + <usize>j * ldyB, ldyB, v128.load(s + o), v128.load(s + ldxB + o),
                 v128.load(s + ldxB * 2 + o), v128.load(s + ldxB * 3 + o));
    }
    for (let j = c4; j < cols; j++) {
      for (let r = 0; r < 4; r++) {
        store<f32>(d + <usize>j * ldyB + (<usize>r << 2), load<f32>(s + <usize>r * ldxB + (<usize>j << 2)));
      }
    }
  }
  for (let i = r4; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      store<f32>(y + <usize>j * ldyB + (<usize>i << 2), load<f32>(x + <usize>i * ldxB + (<usize>j << 2)));
    }
  }
}

// ---- naive siblings: the definitions ----------------------------------------------------------

/** Naive C (+)= A·B: C[i,j] = sum_k A[i*lda + k] * B[k*ldb + j]. Same contract as gemm_nn_f32. */
export function gemm_nn_f32_naive(c: usize, a: usize, b: usize, workspace: usize, accumulate: i32,
                                  M: i32, N: i32, K: i32, lda: i32, ldb: i32, ldc: i32): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s: f32 = 0;
      for (let k = 0; k < K; k++) {
        s += load<f32>(a + ((<usize>i * lda + k) << 2)) * load<f32>(b + ((<usize>k * ldb + j) << 2));
      }
      const d = c + ((<usize>i * ldc + j) << 2);
      store<f32>(d, accumulate ? load<f32>(d) + s : s);
    }
  }
}

/** Naive C (+)= A·Bᵀ: C[i,j] = sum_k A[i*lda + k] * B[j*ldb + k]. Same contract as gemm_nt_f32. */
export function gemm_nt_f32_naive(c: usize, a: usize, b: usize, workspace: usize, accumulate: i32,
                                  M: i32, N: i32, K: i32, lda: i32, ldb: i32, ldc: i32): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s: f32 = 0;
      for (let k = 0; k < K; k++) {
        s += load<f32>(a + ((<usize>i * lda + k) << 2)) * load<f32>(b + ((<usize>j * ldb + k) << 2));
      }
      const d = c + ((<usize>i * ldc + j) << 2);
      store<f32>(d, accumulate ? load<f32>(d) + s : s);
    }
  }
}

/** Naive C (+)= Aᵀ·B: C[i,j] = sum_k A[k*lda + i] * B[k*ldb + j]. Same contract as gemm_tn_f32. */
export function gemm_tn_f32_naive(c: usize, a: usize, b: usize, workspace: usize, accumulate: i32,
                                  M: i32, N: i32, K: i32, lda: i32, ldb: i32, ldc: i32): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s: f32 = 0;
      for (let k = 0; k < K; k++) {
        s += load<f32>(a + ((<usize>k * lda + i) << 2)) * load<f32>(b + ((<usize>k * ldb + j) << 2));
      }
      const d = c + ((<usize>i * ldc + j) << 2);
      store<f32>(d, accumulate ? load<f32>(d) + s : s);
    }
  }
}

// ---- the order contract, one element at a time ------------------------------------------------

// One multiply-add on floats: lane 0 of the vector madd, so that it fuses in the relaxed build
// exactly as the kernels' (a scalar a * b + s would round twice there).
// @ts-ignore: decorator
@inline function madd1(a: f32, b: f32, s: f32): f32 {
  return f32x4.extract_lane(madd(f32x4.splat(a), f32x4.splat(b), f32x4.splat(s)), 0);
}

// The reference for the bits of the fast kernels: each C element summed as the order contract
// (top of the file) says, one at a time. transA / transB as in gemmBlocked.
// @ts-ignore: decorator
@inline function gemmOrdered(c: usize, a: usize, b: usize, accumulate: i32, M: i32, N: i32, K: i32,
                             lda: i32, ldb: i32, ldc: i32, transA: bool, transB: bool): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) { emptyProduct(c, accumulate, M, N, ldc); return; }
  const kcBlock = kBlockSize(K);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      const d = c + ((<usize>i * ldc + j) << 2);
      for (let pc = 0; pc < K; pc += kcBlock) {
        const kEnd = imin(K, pc + kcBlock);
        let s: f32 = 0;
        for (let k = pc; k < kEnd; k++) {
          const x = load<f32>(a + ((transA ? <usize>k * lda + i : <usize>i * lda + k) << 2));
          const y = load<f32>(b + ((transB ? <usize>j * ldb + k : <usize>k * ldb + j) << 2));
          s = madd1(x, y, s);
        }
        store<f32>(d, pc == 0 && accumulate == 0 ? s : s + load<f32>(d));
      }
    }
  }
}

/** gemm_nn_f32's exact bits, one element at a time in the order contract (same arguments). */
export function gemm_nn_f32_blocked_naive(c: usize, a: usize, b: usize, workspace: usize, accumulate: i32,
                                          M: i32, N: i32, K: i32, lda: i32, ldb: i32, ldc: i32): void {
  gemmOrdered(c, a, b, accumulate, M, N, K, lda, ldb, ldc, false, false);
}

/** gemm_nt_f32's exact bits, one element at a time in the order contract (same arguments). */
export function gemm_nt_f32_blocked_naive(c: usize, a: usize, b: usize, workspace: usize, accumulate: i32,
                                          M: i32, N: i32, K: i32, lda: i32, ldb: i32, ldc: i32): void {
  gemmOrdered(c, a, b, accumulate, M, N, K, lda, ldb, ldc, false, true);
}

/** gemm_tn_f32's exact bits, one element at a time in the order contract (same arguments). */
export function gemm_tn_f32_blocked_naive(c: usize, a: usize, b: usize, workspace: usize, accumulate: i32,
                                          M: i32, N: i32, K: i32, lda: i32, ldb: i32, ldc: i32): void {
  gemmOrdered(c, a, b, accumulate, M, N, K, lda, ldb, ldc, true, false);
}

// ---- peak microbenchmark ----------------------------------------------------------------------

/**
 * The machine's f32x4 arithmetic ceiling, for bench/gemm.mjs: `iters` steps of 12 independent
 * accumulator chains, each step acc = acc*m + e (mul + add, or one relaxed multiply-add in the
 * relaxed build): 12 * 4 * 2 = 96 flops per step. Returns a checksum so nothing is elided.
 */
export function gemm_peak_f32(iters: i32): f32 {
  const m = f32x4.splat(0.999999), e = f32x4.splat(1e-3);
  let v0 = f32x4.splat(0.1), v1 = f32x4.splat(0.2), v2 = f32x4.splat(0.3), v3 = f32x4.splat(0.4);
  let v4 = f32x4.splat(0.5), v5 = f32x4.splat(0.6), v6 = f32x4.splat(0.7), v7 = f32x4.splat(0.8);
  let v8 = f32x4.splat(0.9), v9 = f32x4.splat(1.0), va = f32x4.splat(1.1), vb = f32x4.splat(1.2);
  for (let i = 0; i < iters; i++) {
    v0 = madd(v0, m, e); v1 = madd(v1, m, e); v2 = madd(v2, m, e); v3 = madd(v3, m, e);
    v4 = madd(v4, m, e); v5 = madd(v5, m, e); v6 = madd(v6, m, e); v7 = madd(v7, m, e);
    v8 = madd(v8, m, e); v9 = madd(v9, m, e); va = madd(va, m, e); vb = madd(vb, m, e);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(v0, v1), f32x4.add(v2, v3)),
                      f32x4.add(f32x4.add(f32x4.add(v4, v5), f32x4.add(v6, v7)),
                                f32x4.add(f32x4.add(v8, v9), f32x4.add(va, vb))));
  return hsum(s);
}
