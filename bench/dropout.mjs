// bench/dropout: thinnet's dropout kernels vs tf.dropout on the TensorFlow.js wasm backend vs
// wasm memory.copy, all measured in this one run. Prints medians after warm-up and the ratios
// the core issue tracks. Run: npm run bench:dropout   (builds first: npm run build)
//
//   forward     y = r*x/p and the 1-bit mask        bytes moved: 4n read + 4n write + n/8 mask
//   backward    dx = r*dy/p from the stored mask    bytes moved: 4n + 4n + n/8
//   recompute   dx from the counter, no mask        bytes moved: 4n + 4n
//   memcpy      wasm memory.copy of 4n bytes        bytes moved: 4n + 4n (one thread)
import * as tn from '../dist/index.node.js';
import { runtime } from '../dist/wasm/runtime.js';
import { loadTfjsWasm } from './peers.mjs';

const SIZES = [1 << 20, 1 << 24];
const KEEP16 = 32768; // p = 0.5
const SCALE = 2;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** Median seconds per call: warm-up calls, then at least minRuns timed calls or `budget` seconds. */
function timeIt(fn, { warm = 3, minRuns = 9, budget = 1.5 } = {}) {
  for (let i = 0; i < warm; i++) fn(i);
  const times = [];
  const start = performance.now();
  for (let i = 0; times.length < minRuns || (performance.now() - start) / 1000 < budget; i++) {
    const t0 = performance.now();
    fn(i);
    times.push((performance.now() - t0) / 1000);
    if (times.length >= 200) break;
  }
  return median(times);
}

const rows = [];
const gbs = (bytes, s) => bytes / s / 1e9;

for (const threads of [1, 2]) {
  await tn.close();
  const info = await tn.ready({ threads });
  const rt = runtime();
  const k = rt.kernels;
  for (const n of SIZES) {
    const x = rt.heap.alloc(4 * n), y = rt.heap.alloc(4 * n), dx = rt.heap.alloc(4 * n), mask = rt.heap.alloc(n / 8);
    rt.heap.f32(x, n).fill(1.25);
    const fwd = timeIt((i) => rt.runSplit('dropout_forward_f32', n, (s, c) => [y + 4 * s, mask + s / 8, x + 4 * s, KEEP16, SCALE, 1, 0, i, s, c]));
    const bwd = timeIt(() => rt.runSplit('dropout_backward_f32', n, (s, c) => [dx + 4 * s, y + 4 * s, mask + s / 8, SCALE, c]));
    const rec = timeIt((i) => rt.runSplit('dropout_backward_recompute_f32', n, (s, c) => [dx + 4 * s, y + 4 * s, KEEP16, SCALE, 1, 0, i, s, c]));
    const copy = timeIt(() => k.memory_copy(y, x, 4 * n));
    rt.heap.free(x); rt.heap.free(y); rt.heap.free(dx); rt.heap.free(mask);
    // The public op, allocating its output and mask each call as a user would.
    const xt = tn.tensor(new Float32Array(n).fill(1.25), [n]);
    const op = timeIt((i) => tn.dropout(xt, { keep: 0.5, seed: 1, step: i }).dispose());
    xt.dispose();
    rows.push({ threads, build: info.backend, n, fwd, bwd, rec, copy, op });
  }
}
await tn.close();

const peer = await loadTfjsWasm({ singleThread: false });
const tf = peer?.tf;
const tfTimes = new Map();
if (tf) {
  for (const n of SIZES) {
    const xt = tf.fill([n], 1.25);
    const dy = tf.fill([n], 0.5);
    const fwd = timeIt(() => tf.tidy(() => tf.dropout(xt, 0.5).dataSync()), { warm: 1, minRuns: n > 1e6 ? 3 : 7, budget: 1 });
    // tf.dropout's gradient multiplies dy by its (scaled) mask tensor.
    const maskT = tf.tidy(() => tf.dropout(tf.onesLike(xt), 0.5));
    const bwd = timeIt(() => tf.tidy(() => tf.mul(dy, maskT).dataSync()), { warm: 2, minRuns: 7, budget: 1 });
    tfTimes.set(n, { fwd, bwd });
    tf.dispose([xt, dy, maskT]);
  }
}

const ms = (s) => (s * 1e3).toFixed(2).padStart(8);
console.log(`\nthinnet dropout bench — node ${process.version}, ${rows[0].build} / ${rows[rows.length - 1].build}; medians in ms (GB/s)`);
console.log('threads        n   forward (GB/s)   backward (GB/s)  recompute (GB/s)    memcpy (GB/s)   op fwd');
for (const r of rows) {
  const moved = 8 * r.n + r.n / 8;
  console.log(`${String(r.threads).padStart(7)} ${String(r.n).padStart(9)} ${ms(r.fwd)} (${gbs(moved, r.fwd).toFixed(1).padStart(5)}) ${ms(r.bwd)} (${gbs(moved, r.bwd).toFixed(1).padStart(5)}) ` +
    `${ms(r.rec)} (${gbs(8 * r.n, r.rec).toFixed(1).padStart(5)}) ${ms(r.copy)} (${gbs(8 * r.n, r.copy).toFixed(1).padStart(5)}) ${ms(r.op)}`);
}
if (tf) {
  console.log('\ntf.dropout (tfjs-backend-wasm 4.22, its own default threading)');
  for (const [n, t] of tfTimes) console.log(`        ${String(n).padStart(9)} forward ${ms(t.fwd)}   backward (dy*mask) ${ms(t.bwd)}`);
}
console.log('\nratios');
for (const n of SIZES) {
  const one = rows.find((r) => r.threads === 1 && r.n === n), two = rows.find((r) => r.threads === 2 && r.n === n);
  const moved = 8 * n + n / 8;
  const bw = gbs(moved, one.fwd) / gbs(8 * n, one.copy);
  let line = `n=${String(n).padStart(9)}  forward bandwidth / memcpy (1 thread): ${(bw * 100).toFixed(0)}%` +
    `   2 threads / 1 thread: forward ${(one.fwd / two.fwd).toFixed(2)}x, backward ${(one.bwd / two.bwd).toFixed(2)}x, recompute ${(one.rec / two.rec).toFixed(2)}x`;
  const t = tfTimes.get(n);
  if (t) line += `\n             vs tf.dropout: op forward ${(t.fwd / one.op).toFixed(0)}x (1 thread), ${(t.fwd / two.op).toFixed(0)}x (2 threads); backward ${(t.bwd / one.bwd).toFixed(1)}x (1 thread)`;
  console.log(line);
}
