// Convolution geometry and float64 references (NHWC), shared by the conv kernel tests
// (test/conv-kernels.test.ts, test/winograd.test.ts).

// ---- geometry -----------------------------------------------------------------------------------

export interface Geo {
  batch: number; H: number; W: number; C: number; F: number; KH: number; KW: number;
  SH: number; SW: number; PT: number; PL: number; OH: number; OW: number;
}

/** TensorFlow's 'same' (out = ceil(in / stride), the odd padding at the bottom/right) or 'valid'. */
export function geo(batch: number, H: number, W: number, C: number, F: number, KH: number, KW: number,
             SH: number, SW: number, padding: 'same' | 'valid'): Geo {
  if (padding === 'valid') {
    return { batch, H, W, C, F, KH, KW, SH, SW, PT: 0, PL: 0, OH: Math.floor((H - KH) / SH) + 1, OW: Math.floor((W - KW) / SW) + 1 };
  }
  const OH = Math.ceil(H / SH), OW = Math.ceil(W / SW);
  const PT = Math.floor(Math.max((OH - 1) * SH + KH - H, 0) / 2), PL = Math.floor(Math.max((OW - 1) * SW + KW - W, 0) / 2);
  return { batch, H, W, C, F, KH, KW, SH, SW, PT, PL, OH, OW };
}

export const name = (g: Geo) => `b${g.batch} ${g.H}x${g.W}x${g.C}->${g.F} k${g.KH}x${g.KW} s${g.SH},${g.SW} p${g.PT},${g.PL} o${g.OH}x${g.OW}`;
export const args = (g: Geo) => [g.batch, g.H, g.W, g.C, g.F, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, g.OH, g.OW];

// ---- float64 reference --------------------------------------------------------------------------

/** Calls fn(n, oh, ow, kh, kw, ih, iw) for every in-range tap. */
export function forTaps(g: Geo, fn: (n: number, oh: number, ow: number, kh: number, kw: number, ih: number, iw: number) => void) {
  for (let n = 0; n < g.batch; n++) for (let oh = 0; oh < g.OH; oh++) for (let ow = 0; ow < g.OW; ow++) {
    for (let kh = 0; kh < g.KH; kh++) {
      const ih = oh * g.SH - g.PT + kh;
      if (ih < 0 || ih >= g.H) continue;
      for (let kw = 0; kw < g.KW; kw++) {
        const iw = ow * g.SW - g.PL + kw;
        if (iw >= 0 && iw < g.W) fn(n, oh, ow, kh, kw, ih, iw);
      }
    }
  }
}

export function refForward(g: Geo, x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null): Float64Array {
  const { C, F, H, W, KH, KW, OH, OW } = g;
  const y = new Float64Array(g.batch * OH * OW * F);
  if (b) for (let p = 0; p < g.batch * OH * OW; p++) for (let f = 0; f < F; f++) y[p * F + f] = b[f];
  forTaps(g, (n, oh, ow, kh, kw, ih, iw) => {
    const yo = ((n * OH + oh) * OW + ow) * F, xo = ((n * H + ih) * W + iw) * C;
    for (let f = 0; f < F; f++) {
      const wo = ((f * KH + kh) * KW + kw) * C;
      let s = 0;
      for (let c = 0; c < C; c++) s += w[wo + c] * x[xo + c];
      y[yo + f] += s;
    }
  });
  return y;
}

/** dx, dw, db of loss = sum(y ⊙ dy); dy has rows of stride ldy (>= F). */
export function refBackward(g: Geo, dy: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>, ldy = g.F) {
  const { C, F, H, W, KH, KW, OH, OW } = g;
  const dx = new Float64Array(g.batch * H * W * C), dw = new Float64Array(F * KH * KW * C), db = new Float64Array(F);
  for (let p = 0; p < g.batch * OH * OW; p++) for (let f = 0; f < F; f++) db[f] += dy[p * ldy + f];
  forTaps(g, (n, oh, ow, kh, kw, ih, iw) => {
    const yo = ((n * OH + oh) * OW + ow) * ldy, xo = ((n * H + ih) * W + iw) * C;
    for (let f = 0; f < F; f++) {
      const gy = dy[yo + f], wo = ((f * KH + kh) * KW + kw) * C;
      for (let c = 0; c < C; c++) {
        dx[xo + c] += gy * w[wo + c];
        dw[wo + c] += gy * x[xo + c];
      }
    }
  });
  return { dx, dw, db };
}

export const sizes = (g: Geo) => ({
  x: g.batch * g.H * g.W * g.C, w: g.F * g.KH * g.KW * g.C, y: g.batch * g.OH * g.OW * g.F,
  K: g.KH * g.KW * g.C, P: g.batch * g.OH * g.OW,
});
// Float32 sums of `terms` products of values in [-1, 1): error grows like terms * 2^-24 at worst.
export const tol = (terms: number) => 1e-6 + 2.5e-7 * terms;
