// Minimal SVG charts for the example scripts: a line chart (with optional ±σ bands and
// dashed reference lines) and a histogram (overlaid bars). Plain strings, no dependencies.
import { writeFileSync } from 'node:fs';

const W = 640, H = 400, M = { left: 70, right: 20, top: 40, bottom: 55 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(+v.toPrecision(4)));

/** About n "nice" tick values covering [lo, hi]. */
export function ticks(lo, hi, n = 5) {
  if (!(hi > lo)) { hi = lo + 1; }
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

function frame(title, xLabel, yLabel, xs, ys, xScale, yScale, xTickLabels) {
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 12}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
    `<rect x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#444"/>`,
  ];
  for (const v of xs) {
    const x = xScale(v);
    parts.push(`<line x1="${x}" y1="${H - M.bottom}" x2="${x}" y2="${H - M.bottom + 5}" stroke="#444"/>`,
      `<text x="${x}" y="${H - M.bottom + 18}" text-anchor="middle">${esc(xTickLabels ? xTickLabels(v) : fmt(v))}</text>`);
  }
  for (const v of ys) {
    const y = yScale(v);
    parts.push(`<line x1="${M.left}" y1="${y}" x2="${W - M.right}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${M.left - 6}" y="${y + 4}" text-anchor="end">${esc(fmt(v))}</text>`);
  }
  return parts;
}

function legend(names) {
  return names.map((n, i) => `<g><rect x="${W - M.right - 190}" y="${M.top + 8 + 18 * i}" width="14" height="3" fill="${COLORS[i % COLORS.length]}"/>` +
    `<text x="${W - M.right - 170}" y="${M.top + 13 + 18 * i}">${esc(n)}</text></g>`);
}

/**
 * series: [{ name, points: [[x, y], ...], band?: [[x, lo, hi], ...], dashed? }]. xLog: log10 x axis.
 * Returns the SVG text.
 */
export function lineChart({ title = '', xLabel = '', yLabel = '', series, xLog = false, yMin }) {
  const all = series.flatMap((s) => [...s.points, ...(s.band ?? []).flatMap(([x, lo, hi]) => [[x, lo], [x, hi]])]);
  if (all.length === 0) throw new Error('svg.lineChart: no points');
  const tx = (x) => (xLog ? Math.log10(x) : x);
  let x0 = Math.min(...all.map((p) => tx(p[0]))), x1 = Math.max(...all.map((p) => tx(p[0])));
  let y0 = yMin ?? Math.min(...all.map((p) => p[1])), y1 = Math.max(...all.map((p) => p[1]));
  if (x1 === x0) { x0 -= 0.5; x1 += 0.5; }
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const pad = (y1 - y0) * 0.05;
  y0 -= yMin === undefined ? pad : 0; y1 += pad;
  const xScale = (x) => M.left + ((tx(x) - x0) / (x1 - x0)) * (W - M.left - M.right);
  const yScale = (y) => H - M.bottom - ((y - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const xt = xLog ? ticks(Math.ceil(x0), Math.floor(x1), Math.max(1, Math.floor(x1) - Math.ceil(x0))).map((e) => 10 ** e) : ticks(x0, x1);
  const parts = frame(title, xLabel, yLabel, xt, ticks(y0, y1), xScale, yScale);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    if (s.band && s.band.length) {
      const up = s.band.map(([x, , hi]) => `${xScale(x).toFixed(1)},${yScale(hi).toFixed(1)}`);
      const down = s.band.slice().reverse().map(([x, lo]) => `${xScale(x).toFixed(1)},${yScale(lo).toFixed(1)}`);
      parts.push(`<polygon points="${[...up, ...down].join(' ')}" fill="${c}" fill-opacity="0.18" stroke="none"/>`);
    }
    const pts = s.points.map(([x, y]) => `${xScale(x).toFixed(1)},${yScale(y).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (s.points.length <= 30 && !s.dashed) for (const [x, y] of s.points) parts.push(`<circle cx="${xScale(x).toFixed(1)}" cy="${yScale(y).toFixed(1)}" r="3" fill="${c}"/>`);
  });
  parts.push(...legend(series.map((s) => s.name)), '</svg>');
  return parts.join('\n');
}

/**
 * A histogram: bins with edges [e0, e1, ..., eB] and one count array (length B) per series,
 * drawn as overlaid translucent bars. logY: log10(1 + count) heights.
 */
export function histogram({ title = '', xLabel = '', yLabel = 'count', edges, series, logY = false }) {
  const B = edges.length - 1;
  for (const s of series) if (s.counts.length !== B) throw new Error(`svg.histogram: ${s.name} has ${s.counts.length} counts for ${B} bins`);
  const h = (c) => (logY ? Math.log10(1 + c) : c);
  const x0 = edges[0], x1 = edges[B];
  const y1 = Math.max(1e-12, ...series.flatMap((s) => s.counts.map(h))) * 1.05;
  const xScale = (x) => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const yScale = (y) => H - M.bottom - (y / y1) * (H - M.top - M.bottom);
  const parts = frame(title, xLabel, logY ? `log10(1 + ${yLabel})` : yLabel, ticks(x0, x1), ticks(0, y1), xScale, yScale);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    for (let b = 0; b < B; b++) {
      const xa = xScale(edges[b]), xb = xScale(edges[b + 1]), y = yScale(h(s.counts[b]));
      parts.push(`<rect x="${xa.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(0.5, xb - xa).toFixed(1)}" height="${(H - M.bottom - y).toFixed(1)}" fill="${c}" fill-opacity="0.45"/>`);
    }
  });
  parts.push(...legend(series.map((s) => s.name)), '</svg>');
  return parts.join('\n');
}

/** Counts of values in `bins` equal bins over [0, hi) (values ≥ hi in the last bin), and the bin edges. */
export function binCounts(values, bins, hi = 1) {
  const counts = new Array(bins).fill(0);
  for (const a of values) counts[Math.min(bins - 1, Math.floor((a / hi) * bins))]++;
  return counts;
}
export const binEdges = (bins, hi = 1) => Array.from({ length: bins + 1 }, (_, i) => (hi * i) / bins);

export function writeSvg(path, text) {
  writeFileSync(path, text);
}
