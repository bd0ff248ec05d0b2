// The drawing pad (pointer events: mouse, pen and touch) and the MNIST-style preprocessing of
// what was drawn: crop to the ink's bounding box, scale it (area-averaged, so anti-aliased) to
// fit a 20×20 box keeping its aspect ratio, and place it in a 28×28 image so that its centre of
// mass is at the centre — what LeCun et al. did to make MNIST.

export const SIZE = 28;
const BOX = 20;

export class DrawPad {
  private readonly ctx: CanvasRenderingContext2D;
  private last: { x: number; y: number } | undefined;
  private drawn = false;

  /** `onStroke` runs when a stroke ends (pointer up), with the canvas holding all strokes so far. */
  constructor(readonly canvas: HTMLCanvasElement, private readonly onStroke: () => void, readonly lineWidth = 22) {
    this.ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    this.clear();
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    canvas.addEventListener('pointerup', (e) => this.up(e));
    canvas.addEventListener('pointercancel', (e) => this.up(e));
  }

  get empty(): boolean {
    return !this.drawn;
  }

  clear(): void {
    const c = this.ctx;
    c.fillStyle = '#000';
    c.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.drawn = false;
    this.last = undefined;
  }

  /** Pointer position in canvas pixels (the canvas may be shown smaller or larger by CSS). */
  private at(e: PointerEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: (e.clientX - r.left) * (this.canvas.width / r.width), y: (e.clientY - r.top) * (this.canvas.height / r.height) };
  }

  private down(e: PointerEvent): void {
    if (e.button !== 0) return;
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    this.last = this.at(e);
    this.segment(this.last, this.last);
  }

  private move(e: PointerEvent): void {
    if (!this.last) return;
    e.preventDefault();
    const p = this.at(e);
    this.segment(this.last, p);
    this.last = p;
  }

  private up(e: PointerEvent): void {
    if (!this.last) return;
    this.last = undefined;
    if (this.canvas.hasPointerCapture(e.pointerId)) this.canvas.releasePointerCapture(e.pointerId);
    this.onStroke();
  }

  private segment(a: { x: number; y: number }, b: { x: number; y: number }): void {
    const c = this.ctx;
    c.strokeStyle = '#fff';
    c.lineWidth = this.lineWidth;
    c.lineCap = 'round';
    c.lineJoin = 'round';
    c.beginPath();
    c.moveTo(a.x, a.y);
    c.lineTo(b.x, b.y);
    c.stroke();
    this.drawn = true;
  }

  /** The drawing as a 28×28 MNIST-style image in [0, 1] (row-major), or undefined if blank. */
  toMnist(): Float32Array | undefined {
    const { width: W, height: H } = this.canvas;
    const rgba = this.ctx.getImageData(0, 0, W, H).data;
    const ink = new Float32Array(W * H);
    let x0 = W, y0 = H, x1 = -1, y1 = -1;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const v = rgba[4 * (y * W + x)] / 255;
        if (v > 0) {
          ink[y * W + x] = v;
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          if (y > y1) y1 = y;
        }
      }
    }
    if (x1 < 0) return undefined;
    return mnistFromInk(ink, W, x0, y0, x1 - x0 + 1, y1 - y0 + 1);
  }
}

/** Area-weighted resampling of `n` samples (stride `stride`) into `m` samples. */
function resample(src: Float32Array, offset: number, stride: number, n: number, m: number, dst: Float32Array, dOffset: number, dStride: number): void {
  const step = n / m;
  for (let j = 0; j < m; j++) {
    const a = j * step, b = (j + 1) * step;
    let sum = 0;
    for (let i = Math.floor(a); i < Math.min(n, Math.ceil(b)); i++) {
      const overlap = Math.min(b, i + 1) - Math.max(a, i);
      if (overlap > 0) sum += overlap * src[offset + i * stride];
    }
    dst[dOffset + j * dStride] = sum / step;
  }
}

/** The box (x0, y0, w, h) of a W-wide ink image, fit into 20×20 and centred by mass in 28×28. */
export function mnistFromInk(ink: Float32Array, W: number, x0: number, y0: number, w: number, h: number): Float32Array {
  const s = BOX / Math.max(w, h);
  const tw = Math.max(1, Math.round(w * s)), th = Math.max(1, Math.round(h * s));
  // Separable: rows first (h rows of w → tw), then columns (tw columns of h → th).
  const rows = new Float32Array(h * tw);
  for (let y = 0; y < h; y++) resample(ink, (y0 + y) * W + x0, 1, w, tw, rows, y * tw, 1);
  const small = new Float32Array(th * tw);
  for (let x = 0; x < tw; x++) resample(rows, x, tw, h, th, small, x, tw);
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = small[y * tw + x];
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  const cx = mass > 0 ? mx / mass : tw / 2, cy = mass > 0 ? my / mass : th / 2;
  const clamp = (v: number, hi: number) => Math.max(0, Math.min(hi, v));
  const ox = clamp(Math.round(SIZE / 2 - cx), SIZE - tw), oy = clamp(Math.round(SIZE / 2 - cy), SIZE - th);
  const out = new Float32Array(SIZE * SIZE);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) out[(oy + y) * SIZE + ox + x] = Math.min(1, small[y * tw + x]);
  }
  return out;
}

/** Draws a 28×28 image in [0, 1] (white ink on black) onto a canvas, scaled up. */
export function showImage(canvas: HTMLCanvasElement, pixels: Float32Array | undefined): void {
  const c = canvas.getContext('2d')!;
  const img = c.createImageData(SIZE, SIZE);
  for (let i = 0; i < SIZE * SIZE; i++) {
    const v = Math.round(255 * (pixels ? pixels[i] : 0));
    img.data.set([v, v, v, 255], 4 * i);
  }
  canvas.width = SIZE;
  canvas.height = SIZE;
  c.putImageData(img, 0, 0);
}
