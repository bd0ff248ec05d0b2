// 2-D max pooling over NHWC tensors (channels last), and its backward pass.
//
// Layouts (row-major; pointers are byte addresses, 4-byte aligned, 16 is best):
//   x       [batch, H, W, C]     f32 inputs
//   y       [batch, OH, OW, C]   f32 outputs
//   argmax  [batch, OH, OW, C]   i32: for each output, the index within its example of the
//                                input element that won, (h*W + w)*C + c
// Window PH x PW, strides SH, SW, padding PT (top) and PL (left); the output size implies the
// bottom and right padding. Output (oh, ow) takes the max over the taps
// x[oh*SH - PT + ph, ow*SW - PL + pw, c], ph < PH, pw < PW; taps outside the input are ignored
// (as -inf), and the caller guarantees each window holds at least one input tap.
//
// Threading: split by examples (offset x, y, argmax, dx, dy by whole examples and pass a
// smaller batch); nothing depends on batch.

// ---- forward --------------------------------------------------------------------------------

/**
 * Forward: y[n, oh, ow, c] = max over the window's in-range taps, argmax[n, oh, ow, c] = index
 * of the winner within the example ((h*W + w)*C + c). Ties go to the first tap in row-major
 * window order (a later tap wins only if strictly greater), so a NaN wins only as the first tap.
 * y and argmax overwritten; argmax == 0 skips it (inference). y, argmax must not overlap x.
 * SIMD over channels, four at a time.
 */
export function maxpool2d_forward_f32(y: usize, argmax: usize, x: usize, batch: i32, H: i32, W: i32, C: i32,
                                      PH: i32, PW: i32, SH: i32, SW: i32, PT: i32, PL: i32,
                                      OH: i32, OW: i32): void {
  if (batch <= 0 || C <= 0 || OH <= 0 || OW <= 0) return;
  const C4 = C & ~3;
  const lane = i32x4(0, 1, 2, 3);
  const exB = <usize>(H * W * C) << 2, outB = <usize>(OH * OW * C) << 2;
  const pixB = <usize>C << 2;
  for (let n = 0; n < batch; n++) {
    const xn = x + <usize>n * exB;
    let yp = y + <usize>n * outB;
    let ap = argmax ? argmax + <usize>n * outB : 0;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * SH - PT;
      const ph0 = max<i32>(0, -h0), ph1 = min<i32>(PH, H - h0);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = ow * SW - PL;
        const pw0 = max<i32>(0, -w0), pw1 = min<i32>(PW, W - w0);
        const e0 = ((h0 + ph0) * W + w0 + pw0) * C; // first in-range tap, channel 0
        let c = 0;
        for (; c < C4; c += 4) {
          const o = <usize>c << 2;
          let best = v128.load(xn + (<usize>e0 << 2) + o);
          let idx = i32x4.add(i32x4.splat(e0 + c), lane);
          for (let ph = ph0; ph < ph1; ph++) {
            const er = ((h0 + ph) * W + w0) * C + c;
            for (let pw = ph == ph0 ? pw0 + 1 : pw0; pw < pw1; pw++) {
              const e = er + pw * C;
              const v = v128.load(xn + (<usize>e << 2));
              const m = f32x4.gt(v, best);
              best = v128.bitselect(v, best, m);
              idx = v128.bitselect(i32x4.add(i32x4.splat(e), lane), idx, m);
            }
          }
          v128.store(yp + o, best);
          if (ap) v128.store(ap + o, idx);
        }
        for (; c < C; c++) {
          let best = load<f32>(xn + (<usize>(e0 + c) << 2));
          let idx = e0 + c;
          for (let ph = ph0; ph < ph1; ph++) {
            const er = ((h0 + ph) * W + w0) * C + c;
            for (let pw = ph == ph0 ? pw0 + 1 : pw0; pw < pw1; pw++) {
              const e = er + pw * C;
              const v = load<f32>(xn + (<usize>e << 2));
              if (v > best) { best = v; idx = e; }
            }
          }
          store<f32>(yp + (<usize>c << 2), best);
          if (ap) store<i32>(ap + (<usize>c << 2), idx);
        }
        yp += pixB;
        if (ap) ap += pixB;
      }
    }
  }
}

/** Naive sibling of maxpool2d_forward_f32 (same contract): every tap of every window, in order. */
export function maxpool2d_forward_f32_naive(y: usize, argmax: usize, x: usize, batch: i32, H: i32, W: i32, C: i32,
                                            PH: i32, PW: i32, SH: i32, SW: i32, PT: i32, PL: i32,
                                            OH: i32, OW: i32): void {
  for (let n = 0; n < batch; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let c = 0; c < C; c++) {
          let found = false;
          let best: f32 = 0;
          let idx = 0;
          for (let ph = 0; ph < PH; ph++) {
            const h = oh * SH - PT + ph;
            if (h < 0 || h >= H) continue;
            for (let pw = 0; pw < PW; pw++) {
              const w = ow * SW - PL + pw;
              if (w < 0 || w >= W) continue;
              const e = (h * W + w) * C + c;
              const v = load<f32>(x + (<usize>(n * H * W * C + e) << 2));
              if (!found || v > best) { best = v; idx = e; found = true; }
            }
          }
          const o = <usize>(((n * OH + oh) * OW + ow) * C + c) << 2;
          store<f32>(y + o, best);
          if (argmax) store<i32>(argmax + o, idx);
        }
      }
    }
  }
}

// ---- backward -------------------------------------------------------------------------------

/**
 * Backward: dx [batch, H, W, C] overwritten: 0, then dx[n, argmax[n, oh, ow, c]] += dy[n, oh, ow,
 * c] for every output in order (overlapping windows, e.g. 3x3 stride 2, add up). dy and argmax
 * [batch, OH, OW, C] as the forward pass wrote it. dx must not overlap dy or argmax.
 */
export function maxpool2d_backward_f32(dx: usize, dy: usize, argmax: usize, batch: i32, H: i32, W: i32, C: i32,
                                       OH: i32, OW: i32): void {
  if (batch <= 0 || H <= 0 || W <= 0 || C <= 0) return;
  const exB = <usize>(H * W * C) << 2;
  memory.fill(dx, 0, <usize>batch * exB);
  const m = OH * OW * C;
  if (m <= 0) return;
  const m4 = m & ~3;
  for (let n = 0; n < batch; n++) {
    const dxn = dx + <usize>n * exB;
    const dyn = dy + (<usize>(n * m) << 2), an = argmax + (<usize>(n * m) << 2);
    let i = 0;
    for (; i < m4; i += 4) { // four at a time (the adds stay in order: windows may overlap)
      const o = <usize>i << 2;
      const g = v128.load(dyn + o), a = v128.load(an + o);
      let d = dxn + (<usize>i32x4.extract_lane(a, 0) << 2);
      store<f32>(d, load<f32>(d) + f32x4.extract_lane(g, 0));
      d = dxn + (<usize>i32x4.extract_lane(a, 1) << 2);
      store<f32>(d, load<f32>(d) + f32x4.extract_lane(g, 1));
      d = dxn + (<usize>i32x4.extract_lane(a, 2) << 2);
      store<f32>(d, load<f32>(d) + f32x4.extract_lane(g, 2));
      d = dxn + (<usize>i32x4.extract_lane(a, 3) << 2);
      store<f32>(d, load<f32>(d) + f32x4.extract_lane(g, 3));
    }
    for (; i < m; i++) {
      const o = <usize>i << 2;
      const d = dxn + (<usize>load<i32>(an + o) << 2);
      store<f32>(d, load<f32>(d) + load<f32>(dyn + o));
    }
  }
}

/** Naive sibling of maxpool2d_backward_f32 (same contract). */
export function maxpool2d_backward_f32_naive(dx: usize, dy: usize, argmax: usize, batch: i32, H: i32, W: i32, C: i32,
                                             OH: i32, OW: i32): void {
  for (let i = 0; i < batch * H * W * C; i++) store<f32>(dx + (<usize>i << 2), 0);
  for (let n = 0; n < batch; n++) {
    for (let i = 0; i < OH * OW * C; i++) {
      const o = <usize>(n * OH * OW * C + i) << 2;
      const d = dx + (<usize>(n * H * W * C + load<i32>(argmax + o)) << 2);
      store<f32>(d, load<f32>(d) + load<f32>(dy + o));
    }
  }
}
