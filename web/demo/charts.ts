// Hand-drawn canvas charts (no chart library): line charts with axes and a legend, the grid of
// first-layer weight images, and the bar chart of the class probabilities.

export interface Series {
  label: string;
  color: string;
  points: Array<[number, number]>;
  /** Drawn lighter (a previous run kept for comparison). */
  faded?: boolean;
}

const FONT = '12px system-ui, sans-serif';

/** Sizes a canvas to its CSS box × devicePixelRatio; returns the CSS size and a scaled context. */
function fit(canvas: HTMLCanvasElement): { c: CanvasRenderingContext2D; w: number; h: number } {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const c = canvas.getContext('2d')!;
  c.setTransform(dpr, 0, 0, dpr, 0, 0);
  c.clearRect(0, 0, w, h);
  return { c, w, h };
}

/** About `count` round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => span / s <= count) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) out.push(Math.abs(v) < 1e-12 ? 0 : v);
  return out;
}

export class LineChart {
  private series: Series[] = [];
  private pending = false;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly options: { xLabel: string; format: (y: number) => string; yMin?: number; minXMax?: number },
  ) {
    new ResizeObserver(() => this.request()).observe(canvas);
  }

  set(series: Series[]): void {
    this.series = series;
    this.request();
  }

  /** Redraws on the next animation frame (many updates per frame cost one draw). */
  request(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  draw(): void {
    const { c, w, h } = fit(this.canvas);
    const pts = this.series.flatMap((s) => s.points);
    const left = 48, right = 10, top = 22, bottom = 30;
    const pw = w - left - right, ph = h - top - bottom;
    let xMax = Math.max(this.options.minXMax ?? 1, ...pts.map((p) => p[0]));
    let yLo = this.options.yMin ?? Math.min(...pts.map((p) => p[1]));
    let yHi = Math.max(...pts.map((p) => p[1]));
    if (!pts.length) { yLo = this.options.yMin ?? 0; yHi = 1; }
    if (!(yHi > yLo)) yHi = yLo + 1;
    yHi += 0.05 * (yHi - yLo);
    const X = (x: number) => left + (x / xMax) * pw;
    const Y = (y: number) => top + ph - ((y - yLo) / (yHi - yLo)) * ph;
    c.font = FONT;
    c.strokeStyle = '#ddd';
    c.fillStyle = '#555';
    c.lineWidth = 1;
    c.textAlign = 'right';
    c.textBaseline = 'middle';
    for (const t of ticks(yLo, yHi, 5)) {
      c.beginPath(); c.moveTo(left, Y(t)); c.lineTo(left + pw, Y(t)); c.stroke();
      c.fillText(this.options.format(t), left - 6, Y(t));
    }
    c.textAlign = 'center';
    c.textBaseline = 'top';
    for (const t of ticks(0, xMax, 6)) c.fillText(String(+t.toFixed(3)), X(t), top + ph + 6);
    c.fillText(this.options.xLabel, left + pw / 2, top + ph + 17);
    c.strokeStyle = '#888';
    c.strokeRect(left, top, pw, ph);
    // Faded series first, so the current run is on top.
    for (const s of [...this.series].sort((a, b) => Number(!a.faded) - Number(!b.faded))) {
      if (!s.points.length) continue;
      c.strokeStyle = s.color;
      c.globalAlpha = s.faded ? 0.4 : 1;
      c.lineWidth = 1.5;
      c.beginPath();
      s.points.forEach(([x, y], i) => (i ? c.lineTo(X(x), Y(y)) : c.moveTo(X(x), Y(y))));
      c.stroke();
      if (s.points.length < 40) {
        c.fillStyle = s.color;
        for (const [x, y] of s.points) { c.beginPath(); c.arc(X(x), Y(y), 2.5, 0, 2 * Math.PI); c.fill(); }
      }
      c.globalAlpha = 1;
    }
    // Legend, top right.
    c.textAlign = 'right';
    c.textBaseline = 'middle';
    let lx = left + pw;
    for (const s of [...this.series].reverse()) {
      const text = s.label;
      c.fillStyle = '#333';
      c.globalAlpha = s.faded ? 0.6 : 1;
      c.fillText(text, lx, 10);
      lx -= c.measureText(text).width + 6;
      c.fillStyle = s.color;
      c.fillRect(lx - 10, 7, 10, 6);
      lx -= 22;
      c.globalAlpha = 1;
    }
  }
}

/**
 * The first-layer weights as images: `units` rows of 784, each drawn 28×28 and normalized on its
 * own (grey = 0, white = its largest positive weight, black = its most negative).
 */
export function drawWeights(canvas: HTMLCanvasElement, weights: Float32Array, units: number, side = 28, columns = 8): void {
  // small conv filters (5×5) are drawn with square cells of `cell` pixels, about as large as a 28×28 row
  const cell = Math.max(1, Math.floor(28 / side)), size = side * cell, gap = 1;
  const rows = Math.ceil(units / columns);
  canvas.width = columns * (size + gap) + gap;
  canvas.height = rows * (size + gap) + gap;
  const c = canvas.getContext('2d')!;
  const img = c.createImageData(canvas.width, canvas.height);
  img.data.fill(255);
  for (let u = 0; u < units; u++) {
    const w = weights.subarray(u * side * side, (u + 1) * side * side);
    let m = 0;
    for (const v of w) m = Math.max(m, Math.abs(v));
    const ox = gap + (u % columns) * (size + gap), oy = gap + Math.floor(u / columns) * (size + gap);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const g = Math.round(255 * (0.5 + (m > 0 ? 0.5 * w[Math.floor(y / cell) * side + Math.floor(x / cell)] / m : 0)));
        const at = 4 * ((oy + y) * canvas.width + ox + x);
        img.data[at] = img.data[at + 1] = img.data[at + 2] = g;
      }
    }
  }
  c.putImageData(img, 0, 0);
}

/**
 * Class probabilities: a bar per class for weight scaling, and the Monte-Carlo mean as a dot with
 * a ±1 standard deviation whisker.
 */
export function drawBars(canvas: HTMLCanvasElement, probs: Float32Array | undefined, mean?: Float32Array, std?: Float32Array): void {
  const { c, w, h } = fit(canvas);
  const left = 34, bottom = 20, top = 8, right = 6;
  const pw = w - left - right, ph = h - top - bottom;
  const slot = pw / 10;
  const Y = (p: number) => top + ph - Math.max(0, Math.min(1, p)) * ph;
  c.font = FONT;
  c.fillStyle = '#555';
  c.strokeStyle = '#ddd';
  c.textAlign = 'right';
  c.textBaseline = 'middle';
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    c.beginPath(); c.moveTo(left, Y(t)); c.lineTo(left + pw, Y(t)); c.stroke();
    c.fillText(t.toFixed(2), left - 4, Y(t));
  }
  c.textAlign = 'center';
  c.textBaseline = 'top';
  let best = -1;
  if (probs) for (let k = 0; k < 10; k++) if (best < 0 || probs[k] > probs[best]) best = k;
  for (let k = 0; k < 10; k++) {
    const x = left + k * slot;
    c.fillStyle = '#333';
    c.fillText(String(k), x + slot / 2, top + ph + 4);
    if (!probs) continue;
    c.fillStyle = k === best ? '#1f6feb' : '#9db8e8';
    c.fillRect(x + slot * 0.2, Y(probs[k]), slot * 0.6, top + ph - Y(probs[k]));
    if (mean && std) {
      const cx = x + slot / 2;
      c.strokeStyle = '#c2410c';
      c.fillStyle = '#c2410c';
      c.lineWidth = 1.5;
      c.beginPath(); c.moveTo(cx, Y(mean[k] - std[k])); c.lineTo(cx, Y(mean[k] + std[k])); c.stroke();
      c.beginPath(); c.moveTo(cx - 4, Y(mean[k] + std[k])); c.lineTo(cx + 4, Y(mean[k] + std[k])); c.stroke();
      c.beginPath(); c.moveTo(cx - 4, Y(mean[k] - std[k])); c.lineTo(cx + 4, Y(mean[k] - std[k])); c.stroke();
      c.beginPath(); c.arc(cx, Y(mean[k]), 3, 0, 2 * Math.PI); c.fill();
    }
  }
}
