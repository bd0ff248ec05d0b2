// Convolution and max-pooling kernels (assembly/conv.ts, assembly/pool.ts), one thread, at the
// LeNet shapes of the dropout paper's convolutional nets (batch 100, NHWC), in the same run as
// this machine's f32x4 peak and TensorFlow.js's wasm backend (XNNPACK):
//
//   node --experimental-wasm-relaxed-simd bench/conv-kernels.mjs [--quick]
//
// For each shape: ms per batch-100 call, GFLOP/s (2 flops per multiply-add of the definition)
// and % of the peak of the build's own multiply-add chains (gemm_peak_f32, measured at the start
// and at the end of the run; the larger is used) for forward, backward_data and backward_filter;
// the naive kernels once for scale; Winograd F(2x2, 5x5) (assembly/winograd.ts) for every pass of
// the 5x5 layers with C and F multiples of 4, timed round-robin with the direct kernels (its
// column: ms, and direct ms / Winograd ms); and im2col + gemm_nt_f32 (the alternative to the direct
// method, when the build exports conv2d_im2col_f32) for the forward pass. Max-pooling in ms. Every
// figure is the median of several timed runs after a warm-up ('best': the %peak of the fastest
// run, steadier when other processes share the cores); thinnet's contenders of one row
// (both builds, and im2col) are timed round-robin so that they share the machine's conditions.
// tfjs (wasm backend, XNNPACK; its conv2dTranspose for backward_data, nothing public for the
// filter gradient) is timed on its own. THINNET_BUILD_DIR=dir benchmarks builds elsewhere.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { loadavg, cpus } from 'node:os';
import { loadTfjsWasm } from './peers.mjs';

const quick = process.argv.includes('--quick');
const buildDir = process.env.THINNET_BUILD_DIR ?? fileURLToPath(new URL('../build/', import.meta.url));

// ---- timing ------------------------------------------------------------------------------------

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length & 1 ? s[m] : (s[m - 1] + s[m]) / 2; };

function timeIt(fn, { minRuns = 5, maxRuns = 31, budget = quick ? 0.15 : 0.6 } = {}) {
  fn();
  const t0 = performance.now(); fn(); const first = (performance.now() - t0) / 1e3;
  const runs = Math.max(minRuns, Math.min(maxRuns, Math.ceil(budget / Math.max(first, 1e-6))));
  const times = [];
  for (let r = 0; r < runs; r++) { const t = performance.now(); fn(); times.push((performance.now() - t) / 1e3); }
  return median(times);
}

/** Seconds of one call (the naive kernels, for scale: seconds per call at batch 100). */
function timeOnce(fn) { const t = performance.now(); fn(); return (performance.now() - t) / 1e3; }

/** Median seconds per call of each of fns, round-robin after a warm-up round. */
function timeInterleaved(fns, { minRuns = 7, maxRuns = 41, budget = quick ? 0.4 : 2 } = {}) {
  for (const fn of fns) fn();
  const t0 = performance.now(); for (const fn of fns) fn(); const round = (performance.now() - t0) / 1e3;
  const runs = Math.max(minRuns, Math.min(maxRuns, Math.ceil(budget / Math.max(round, 1e-6))));
  const times = fns.map(() => []);
  for (let r = 0; r < runs; r++) fns.forEach((fn, i) => { const t = performance.now(); fn(); times[i].push((performance.now() - t) / 1e3); });
  return times.map((ts) => ({ median: median(ts), best: Math.min(...ts) }));
}

// ---- thinnet -----------------------------------------------------------------------------------

async function loadThinnet(name) {
  const bytes = readFileSync(`${buildDir}/${name}.wasm`);
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const x = instance.exports;
  const memory = x.memory;
  // Bump allocation in pages grown here (the module's own allocator never hands these out).
  const alloc = (bytes) => memory.grow(Math.ceil((bytes + 64) / 65536)) * 65536;
  return { name, x, memory, alloc, f32: (p, n) => new Float32Array(memory.buffer, p, n) };
}

function fill(arr, seed, scale = 1) {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < arr.length; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; arr[i] = (s / 4294967296 - 0.5) * scale; }
  return arr;
}

function peakGflops(t) {
  const iters = 2_000_000; // 96 flops per iteration
  const s = timeIt(() => t.x.gemm_peak_f32(iters), { minRuns: 7, budget: 0.3 });
  return (iters * 96) / s / 1e9;
}

/** Buffers and closures for one conv geometry on build t. */
function convCase(t, g) {
  const { batch, H, W, C, F, KH, KW, SH, SW, PT, PL, OH, OW } = g;
  const nx = batch * H * W * C, nw = F * KH * KW * C, ny = batch * OH * OW * F;
  const px = t.alloc(nx * 4), pw = t.alloc(nw * 4), pb = t.alloc(F * 4), py = t.alloc(ny * 4);
  const pdx = t.alloc(nx * 4), pdw = t.alloc(nw * 4), pdb = t.alloc(F * 4), pdy = t.alloc(ny * 4);
  fill(t.f32(px, nx), 1); fill(t.f32(pw, nw), 2, 0.1); fill(t.f32(pb, F), 3); fill(t.f32(pdy, ny), 4);
  const wsDirect = t.x.conv2d_workspace_bytes(H, W, C, F, KH, KW, OH, OW);
  const wsWino = t.x.conv2d_winograd_workspace_bytes ? t.x.conv2d_winograd_workspace_bytes(H, W, C, F, OH, OW) : 0;
  const ws = t.alloc(Math.max(wsDirect, wsWino));
  const geo = [batch, H, W, C, F, KH, KW, SH, SW, PT, PL, OH, OW];
  const run = (suffix) => ({
    fwd: () => t.x[`conv2d_forward_f32${suffix}`](py, px, pw, pb, ws, ...geo),
    data: () => t.x[`conv2d_backward_data_f32${suffix}`](pdx, pdy, pw, ws, ...geo),
    filter: () => t.x[`conv2d_backward_filter_f32${suffix}`](pdw, pdb, pdy, px, ws, 0, ...geo, F),
  });
  const c = { fast: run(''), naive: run('_naive'), wsBytes: wsDirect, wsWino };
  // Winograd F(2x2, 5x5) (assembly/winograd.ts) where it applies (5x5, stride 1, C and F multiples of 4).
  if (wsWino && KH === 5 && KW === 5 && SH === 1 && SW === 1 && C % 4 === 0 && F % 4 === 0) {
    c.wino = {
      fwd: () => t.x.conv2d_winograd_forward_f32(py, px, pw, pb, ws, ...geo),
      data: () => t.x.conv2d_winograd_backward_data_f32(pdx, pdy, pw, ws, ...geo),
      filter: () => t.x.conv2d_winograd_backward_filter_f32(pdw, pdb, pdy, px, ws, 0, ...geo, F),
    };
  }
  // im2col + gemm_nt_f32 for the forward pass, examples in chunks of ~1 MB of patch matrix.
  if (t.x.conv2d_im2col_f32) {
    const K = KH * KW * C, P = OH * OW;
    const chunk = Math.max(1, Math.min(batch, Math.floor((1 << 18) / (P * K))));
    const pcols = t.alloc(chunk * P * K * 4);
    const gws = t.alloc(t.x.gemm_workspace_bytes(chunk * P, F, K));
    c.im2col = () => {
      for (let n0 = 0; n0 < batch; n0 += chunk) {
        const m = Math.min(chunk, batch - n0);
        t.x.conv2d_im2col_f32(pcols, px + 4 * n0 * H * W * C, m, H, W, C, KH, KW, SH, SW, PT, PL, OH, OW);
        const yc = py + 4 * n0 * P * F;
        for (let r = 0; r < m * P; r++) t.x.memory_copy(yc + 4 * r * F, pb, 4 * F); // bias rows
        t.x.gemm_nt_f32(yc, pcols, pw, gws, 1, m * P, F, K, K, K, F);
      }
    };
  }
  return c;
}

function poolCase(t, p) {
  const { batch, H, W, C, PH, PW, SH, SW, PT, PL, OH, OW } = p;
  const nx = batch * H * W * C, ny = batch * OH * OW * C;
  const px = t.alloc(nx * 4), py = t.alloc(ny * 4), pa = t.alloc(ny * 4), pdx = t.alloc(nx * 4), pdy = t.alloc(ny * 4);
  fill(t.f32(px, nx), 5); fill(t.f32(pdy, ny), 6);
  const geo = [batch, H, W, C, PH, PW, SH, SW, PT, PL, OH, OW];
  t.x.maxpool2d_forward_f32(py, pa, px, ...geo);
  return {
    fwd: () => t.x.maxpool2d_forward_f32(py, pa, px, ...geo),
    bwd: () => t.x.maxpool2d_backward_f32(pdx, pdy, pa, batch, H, W, C, OH, OW),
    fwdNaive: () => t.x.maxpool2d_forward_f32_naive(py, pa, px, ...geo),
    bwdNaive: () => t.x.maxpool2d_backward_f32_naive(pdx, pdy, pa, batch, H, W, C, OH, OW),
  };
}

// ---- tfjs (wasm backend, one thread) -------------------------------------------------------------

function tfjsConv(tf, g) {
  const { batch, H, W, C, F, KH, KW, SH, SW } = g;
  const pad = g.OH === Math.ceil(H / SH) ? 'same' : 'valid';
  const x = tf.tensor4d(fill(new Float32Array(batch * H * W * C), 1), [batch, H, W, C]);
  const w = tf.tensor4d(fill(new Float32Array(KH * KW * C * F), 2, 0.1), [KH, KW, C, F]);
  const b = tf.tensor1d(fill(new Float32Array(F), 3));
  const y = tf.conv2d(x, w, [SH, SW], pad);
  const dy = tf.tensor4d(fill(new Float32Array(y.size), 4), y.shape);
  y.dispose();
  const once = (f) => () => { const r = f(); r.dataSync(); r.dispose(); };
  return {
    fwd: once(() => tf.add(tf.conv2d(x, w, [SH, SW], pad), b)),
    data: once(() => tf.conv2dTranspose(dy, w, [batch, H, W, C], [SH, SW], pad)),
    dispose: () => { x.dispose(); w.dispose(); b.dispose(); dy.dispose(); },
  };
}

function tfjsPool(tf, p) {
  const x = tf.tensor4d(fill(new Float32Array(p.batch * p.H * p.W * p.C), 5), [p.batch, p.H, p.W, p.C]);
  return {
    fwd: () => { const r = tf.maxPool(x, [p.PH, p.PW], [p.SH, p.SW], p.pad); r.dataSync(); r.dispose(); },
    dispose: () => x.dispose(),
  };
}

// ---- run ---------------------------------------------------------------------------------------

const same = (batch, H, W, C, F, K) => ({ batch, H, W, C, F, KH: K, KW: K, SH: 1, SW: 1, PT: (K - 1) >> 1, PL: (K - 1) >> 1, OH: H, OW: W });
const CONVS = [
  ['28x28x1 -> 32, 5x5 same', same(100, 28, 28, 1, 32, 5)],
  ['14x14x32 -> 64, 5x5 same', same(100, 14, 14, 32, 64, 5)],
  // examples/conv-mnist's second layer (after the 3x3 stride-2 pool of 28x28: 13x13)
  ['13x13x32 -> 64, 5x5 same', same(100, 13, 13, 32, 64, 5)],
  // 'valid' with an odd output: the last Winograd tiles stick out, and the input gradient stays direct
  ['11x11x32 -> 64, 5x5 valid', { batch: 100, H: 11, W: 11, C: 32, F: 64, KH: 5, KW: 5, SH: 1, SW: 1, PT: 0, PL: 0, OH: 7, OW: 7 }],
];
// Pooling after each conv (2x2 stride 2 as in LeNet; 3x3 stride 2 as in the paper's CIFAR nets,
// 'same' in TensorFlow's sense: out = ceil(in / 2), padding 0 top / 1 bottom at 28 and 14).
const POOLS = [
  ['28x28x32, 2x2 s2', { batch: 100, H: 28, W: 28, C: 32, PH: 2, PW: 2, SH: 2, SW: 2, PT: 0, PL: 0, OH: 14, OW: 14, pad: 'valid' }],
  ['14x14x64, 2x2 s2', { batch: 100, H: 14, W: 14, C: 64, PH: 2, PW: 2, SH: 2, SW: 2, PT: 0, PL: 0, OH: 7, OW: 7, pad: 'valid' }],
  ['28x28x32, 3x3 s2', { batch: 100, H: 28, W: 28, C: 32, PH: 3, PW: 3, SH: 2, SW: 2, PT: 0, PL: 0, OH: 14, OW: 14, pad: 'same' }],
  ['14x14x64, 3x3 s2', { batch: 100, H: 14, W: 14, C: 64, PH: 3, PW: 3, SH: 2, SW: 2, PT: 0, PL: 0, OH: 7, OW: 7, pad: 'same' }],
];

const builds = [await loadThinnet('simd'), await loadThinnet('relaxed')];
const peer = await loadTfjsWasm();
const tf = peer?.tf;
console.log(`thinnet conv2d / maxpool2d, one thread, batch 100 NHWC, node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, builds from ${buildDir}`);
if (peer) console.log(peer.desc);
console.log(`load average at start ${loadavg().map((x) => x.toFixed(2)).join(' ')} (other processes on these cores lower every figure)`);
const peaks = {};
for (const t of builds) peaks[t.name] = peakGflops(t);

const rows = [];
const f = (x, w = 7, d = 1) => (x === undefined ? '-' : x.toFixed(d)).padStart(w);
const pct = (x, peak) => (x === undefined ? '-' : `${Math.round(100 * x / peak)}%`).padStart(5);
rows.push(() => `${'shape'.padEnd(26)} ${'pass'.padEnd(7)} ${'build'.padEnd(8)} ${'ms'.padStart(7)} ${'GFLOP/s'.padStart(7)} ${'%peak'.padStart(5)} ${'best'.padStart(5)}` +
  `   ${'naive ms'.padStart(8)}   ${'im2col ms'.padStart(9)} ${'GFLOP/s'.padStart(7)} ${'%peak'.padStart(5)}   ${'tfjs ms'.padStart(7)} ${'tfjs/thinnet'.padStart(12)}` +
  `   ${'Winograd ms'.padStart(11)} ${'direct/Winograd'.padStart(15)}`);
for (const [label, g] of CONVS) {
  // The usual count, 2 * outputs * KH*KW*C (taps in the padding included: the kernels compute them).
  const flops = 2 * g.batch * g.OH * g.OW * g.F * g.KH * g.KW * g.C;
  const cases = builds.map((t) => convCase(t, g));
  const peerCase = tf ? tfjsConv(tf, g) : null;
  for (const pass of ['fwd', 'data', 'filter']) {
    const contenders = cases.map((c) => c.fast[pass]);
    const im2col = pass === 'fwd' ? cases.map((c) => c.im2col).filter(Boolean) : [];
    contenders.push(...im2col);
    const wino = cases.map((c) => c.wino?.[pass]).filter(Boolean);
    contenders.push(...wino);
    const res = timeInterleaved(contenders);
    const secs = res.map((r) => r.median);
    // tfjs on its own (its conv2dTranspose takes a second per call here).
    const tfS = peerCase?.[pass] ? timeIt(peerCase[pass], { minRuns: 3, budget: quick ? 0.5 : 2 }) : undefined;
    builds.forEach((t, i) => {
      const s = secs[i];
      const naive = timeOnce(cases[i].naive[pass]);
      const ii = im2col.length ? builds.length + i : -1;
      const im = ii >= 0 ? secs[ii] : undefined;
      const wi = wino.length ? builds.length + im2col.length + i : -1;
      const wn = wi >= 0 ? secs[wi] : undefined;
      const G = flops / s / 1e9, Gi = im ? flops / im / 1e9 : undefined;
      const Gb = flops / res[i].best / 1e9;
      rows.push(() => `${label.padEnd(26)} ${pass.padEnd(7)} ${t.name.padEnd(8)} ${f(s * 1e3, 7, 2)} ${f(G)} ${pct(G, peaks[t.name])} ${pct(Gb, peaks[t.name])}` +
        `   ${f(naive * 1e3, 8, 0)}   ${f(im ? im * 1e3 : undefined, 9, 2)} ${f(Gi)} ${pct(Gi, peaks[t.name])}` +
        `   ${f(tfS ? tfS * 1e3 : undefined, 7, 2)} ${(tfS ? `${(tfS / s).toFixed(2)}x` : '-').padStart(12)}` +
        `   ${f(wn ? wn * 1e3 : undefined, 11, 2)} ${(wn ? `${(s / wn).toFixed(2)}x` : '-').padStart(15)}`);
    });
  }
  peerCase?.dispose();
  rows.push(() => `${''.padEnd(26)} workspace ${builds.map((t, i) => `${t.name} ${(cases[i].wsBytes / 1024).toFixed(0)} KB`).join(', ')}` +
    (cases[0].wino ? `; Winograd ${(cases[0].wsWino / 1024).toFixed(0)} KB` : ''));
}
rows.push(() => '');
rows.push(() => `${'max-pool'.padEnd(26)} ${'pass'.padEnd(7)} ${'build'.padEnd(8)} ${'ms'.padStart(7)} ${'naive ms'.padStart(10)} ${'tfjs ms'.padStart(9)}`);
for (const [label, p] of POOLS) {
  const cases = builds.map((t) => poolCase(t, p));
  const peerCase = tf ? tfjsPool(tf, p) : null;
  for (const pass of ['fwd', 'bwd']) {
    const contenders = cases.map((c) => c[pass]);
    if (peerCase && pass === 'fwd') contenders.push(peerCase.fwd);
    const secs = timeInterleaved(contenders, { budget: quick ? 0.2 : 0.6 }).map((r) => r.median);
    builds.forEach((t, i) => {
      const naive = timeIt(pass === 'fwd' ? cases[i].fwdNaive : cases[i].bwdNaive, { minRuns: 3, budget: 0.1 });
      const tfS = peerCase && pass === 'fwd' ? secs[secs.length - 1] : undefined;
      rows.push(() => `${label.padEnd(26)} ${pass.padEnd(7)} ${t.name.padEnd(8)} ${f(secs[i] * 1e3, 7, 2)} ${f(naive * 1e3, 10, 2)} ${f(tfS ? tfS * 1e3 : undefined, 9, 2)}`);
    });
  }
  peerCase?.dispose();
}

const first = { ...peaks };
for (const t of builds) peaks[t.name] = Math.max(peaks[t.name], peakGflops(t));
for (const t of builds) {
  console.log(`peak ${t.name.padEnd(8)} ${peaks[t.name].toFixed(1)} GFLOP/s (${t.name === 'relaxed' ? 'relaxed_madd' : 'f32x4 mul+add'} chains;` +
    ` ${first[t.name].toFixed(1)} at the start of the run)`);
}
console.log('');
for (const row of rows) console.log(row());
console.log(`load average at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
