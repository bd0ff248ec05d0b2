// SGEMM throughput: thinnet's packed kernels and naive siblings vs TensorFlow.js's wasm backend
// (XNNPACK), single thread, in the same run, as fractions of this machine's measured f32x4 peak.
//
//   node --experimental-wasm-relaxed-simd bench/gemm.mjs [--quick]
//
// The peak is gemm_peak_f32 (12 independent accumulator chains: mul+add in the simd build,
// relaxed multiply-add in the relaxed build), measured at the start and at the end (the larger is
// used). Every
// figure is the median of several timed runs after a warm-up (the packed kernels of both builds
// and tfjs measured round-robin, so they share the machine's conditions), printed in GFLOP/s, as a fraction
// of the peak of its build (tfjs, whose XNNPACK kernels use plain SIMD: of the simd peak), and as
// a ratio to tfjs. The wasm builds are loaded directly (no wrapper); buffers are carved from
// memory grown for the purpose. THINNET_BUILD_DIR=dir benchmarks builds elsewhere.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { loadavg, cpus } from 'node:os';
import { loadTfjsWasm } from './peers.mjs';

const quick = process.argv.includes('--quick');
const buildDir = process.env.THINNET_BUILD_DIR ?? fileURLToPath(new URL('../build/', import.meta.url));

// ---- timing ------------------------------------------------------------------------------------

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length & 1 ? s[m] : (s[m - 1] + s[m]) / 2; };

/** Median seconds per call of fn: one warm-up call, then at least `minRuns` runs and ~budget s. */
function timeIt(fn, { minRuns = 5, maxRuns = 31, budget = quick ? 0.15 : 0.6 } = {}) {
  fn();
  const t0 = performance.now(); fn(); const first = (performance.now() - t0) / 1e3;
  const runs = Math.max(minRuns, Math.min(maxRuns, Math.ceil(budget / Math.max(first, 1e-6))));
  const times = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now(); fn(); times.push((performance.now() - t) / 1e3);
  }
  return median(times);
}

/**
 * Median seconds per call of each of fns, measured round-robin (one call of each per round, after
 * a warm-up round) so that every contender sees the same machine conditions.
 */
function timeInterleaved(fns, { minRuns = 7, maxRuns = 41, budget = quick ? 0.3 : 1.5 } = {}) {
  for (const fn of fns) fn();
  const t0 = performance.now(); for (const fn of fns) fn(); const round = (performance.now() - t0) / 1e3;
  const runs = Math.max(minRuns, Math.min(maxRuns, Math.ceil(budget / Math.max(round, 1e-6))));
  const times = fns.map(() => []);
  for (let r = 0; r < runs; r++) {
    fns.forEach((fn, i) => { const t = performance.now(); fn(); times[i].push((performance.now() - t) / 1e3); });
  }
  return times.map(median);
}

// ---- thinnet -----------------------------------------------------------------------------------

async function loadThinnet(name) {
  const bytes = readFileSync(`${buildDir}/${name}.wasm`);
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const x = instance.exports;
  const memory = x.memory;
  // Bump allocation in pages grown here (the module's own allocator never hands these out).
  const pages = (bytes) => Math.ceil(bytes / 65536);
  const alloc = (bytes) => { const p = memory.grow(pages(bytes + 64)) * 65536; return p; };
  return { name, x, memory, alloc, f32: (p, n) => new Float32Array(memory.buffer, p, n) };
}

function fill(arr, seed) {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < arr.length; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; arr[i] = s / 4294967296 - 0.5; }
  return arr;
}

/** Operand storage sizes for op in nn/nt/tn with product shape (M, K, N). */
function storage(op, M, K, N) {
  const A = op === 'tn' ? [K, M] : [M, K];
  const B = op === 'nt' ? [N, K] : [K, N];
  return { A, B };
}

function thinnetCase(t, op, M, K, N) {
  const { A, B } = storage(op, M, K, N);
  const pa = t.alloc(A[0] * A[1] * 4), pb = t.alloc(B[0] * B[1] * 4), pc = t.alloc(M * N * 4);
  const wsBytes = t.x.gemm_workspace_bytes(M, N, K);
  const ws = t.alloc(wsBytes);
  fill(t.f32(pa, A[0] * A[1]), 1); fill(t.f32(pb, B[0] * B[1]), 2);
  const lda = A[1], ldb = B[1], ldc = N;
  const fast = t.x[`gemm_${op}_f32`], naive = t.x[`gemm_${op}_f32_naive`];
  return {
    fast: () => fast(pc, pa, pb, ws, 0, M, N, K, lda, ldb, ldc),
    naive: () => naive(pc, pa, pb, ws, 0, M, N, K, lda, ldb, ldc),
  };
}

function peakGflops(t) {
  const iters = 2_000_000; // 96 flops per iteration
  const s = timeIt(() => t.x.gemm_peak_f32(iters), { minRuns: 7, budget: 0.3 });
  return (iters * 96) / s / 1e9;
}

// ---- tfjs (wasm backend, one thread) -----------------------------------------------------------

function tfjsCase(tf, op, M, K, N) {
  const { A, B } = storage(op, M, K, N);
  const a = tf.tensor2d(fill(new Float32Array(A[0] * A[1]), 1), A);
  const b = tf.tensor2d(fill(new Float32Array(B[0] * B[1]), 2), B);
  const run = () => { const c = tf.matMul(a, b, op === 'tn', op === 'nt'); c.dataSync(); c.dispose(); };
  return { run, dispose: () => { a.dispose(); b.dispose(); } };
}

// ---- run ---------------------------------------------------------------------------------------

const SHAPES = [
  // [op, M, K, N]: C[M,N] = op(A)[M,K] · op(B)[K,N]
  ['nn', 1, 784, 1024],
  ['nt', 1, 784, 1024],
  ['nn', 100, 784, 1024],
  ['nn', 100, 1024, 1024],
  ['nn', 1024, 1024, 1024],
  ['tn', 784, 100, 1024],
  ['nt', 100, 1024, 784],
];

const builds = [await loadThinnet('simd'), await loadThinnet('relaxed')];
const peer = await loadTfjsWasm();
if (peer) console.log(peer.desc);
const tf = peer?.tf;

console.log(`thinnet SGEMM, one thread, node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, builds from ${buildDir}`);
console.log(`load average at start ${loadavg().map((x) => x.toFixed(2)).join(' ')} (other processes on these cores lower every figure)`);
const peaks = {};
for (const t of builds) peaks[t.name] = peakGflops(t);
const f = (x, w = 6, d = 1) => (x === undefined ? '-' : x.toFixed(d)).padStart(w);
const pct = (x, peak) => (x === undefined ? '-' : `${Math.round(100 * x / peak)}%`).padStart(5);
const ratio = (x, y) => (y === undefined ? '-' : `${(x / y).toFixed(2)}x`).padStart(7);
const rows = [];
rows.push(() => `${'op'.padEnd(3)} ${'M'.padStart(5)} ${'K'.padStart(5)} ${'N'.padStart(5)} ${'build'.padEnd(8)}` +
  ` ${'naive'.padStart(6)} ${'%peak'.padStart(5)} ${'packed'.padStart(6)} ${'%peak'.padStart(5)}` +
  ` ${'tfjs'.padStart(6)} ${'%peak'.padStart(5)} ${'naive/tfjs'.padStart(10)} ${'packed/tfjs'.padStart(11)}   (GFLOP/s)`);
for (const [op, M, K, N] of SHAPES) {
  const flops = 2 * M * K * N;
  const cases = builds.map((t) => thinnetCase(t, op, M, K, N));
  // Packed kernels of both builds and tfjs, interleaved; the naive kernels on their own.
  const contenders = cases.map((c) => c.fast);
  const tfCase = tf ? tfjsCase(tf, op, M, K, N) : null;
  if (tfCase) contenders.push(tfCase.run);
  const secs = timeInterleaved(contenders);
  tfCase?.dispose();
  const tfG = tf ? flops / secs[builds.length] / 1e9 : undefined;
  builds.forEach((t, i) => {
    const fast = flops / secs[i] / 1e9;
    const naive = flops / timeIt(cases[i].naive, { minRuns: flops > 1e9 ? 1 : 3, budget: quick ? 0.1 : 0.5 }) / 1e9;
    rows.push(() => `${op.padEnd(3)} ${String(M).padStart(5)} ${String(K).padStart(5)} ${String(N).padStart(5)} ${t.name.padEnd(8)}` +
      ` ${f(naive)} ${pct(naive, peaks[t.name])} ${f(fast)} ${pct(fast, peaks[t.name])}` +
      ` ${f(tfG)} ${pct(tfG, peaks.simd)} ${ratio(naive, tfG).padStart(10)} ${ratio(fast, tfG).padStart(11)}`);
  });
}

// The peak again at the end: %peak uses the larger of the two measurements (the machine's
// ceiling; other processes on the cores can only lower a measurement).
const first = { ...peaks };
for (const t of builds) peaks[t.name] = Math.max(peaks[t.name], peakGflops(t));
for (const t of builds) {
  console.log(`peak ${t.name.padEnd(8)} ${peaks[t.name].toFixed(1)} GFLOP/s (${t.name === 'relaxed' ? 'relaxed_madd' : 'f32x4 mul+add'} chains;` +
    ` ${first[t.name].toFixed(1)} at the start of the run)`);
}
console.log('');
for (const row of rows) console.log(row());
console.log(`load average at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
