// bench/conv-profile: where a training step of bench/conv.mjs's net (bench/nets.mjs) spends its
// time, per kernel, at a given thread count — every job the runtime hands to its threads
// (Runtime.run) timed on the calling thread; "direct" is what runs outside Runtime.run (at one
// thread the dense layer's GEMMs and small kernels call wasm directly). One process per thread
// count (tn.ready takes it once):
//
//   npm run build && node --experimental-wasm-relaxed-simd bench/conv-profile.mjs 1
//   node --experimental-wasm-relaxed-simd bench/conv-profile.mjs 2
//
// Prints ms per step and calls per step of each kernel (×N: split into N jobs), over 2 epochs of
// 20 batches of 100 synthetic images after a warm-up epoch.
import { lenet } from './nets.mjs';

const threads = Number(process.argv[2] ?? 1);
const { Runtime } = await import('../dist/wasm/runtime.js');
const tn = await import('../dist/index.node.js');
const times = new Map();
const run = Runtime.prototype.run;
Runtime.prototype.run = function timedRun(jobs) {
  const t = performance.now();
  run.call(this, jobs);
  const k = jobs[0].kernel + (jobs.length > 1 ? ` ×${jobs.length}` : '');
  const e = times.get(k) ?? [0, 0];
  e[0] += performance.now() - t; e[1]++;
  times.set(k, e);
};
const info = await tn.ready({ threads });
const model = lenet(tn);
model.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.01, momentum: 0.9 }) });
const N = 2000, X = new Float32Array(N * 784);
let s = 1;
for (let i = 0; i < X.length; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; X[i] = s / 4294967296; }
const Y = Int32Array.from({ length: N }, (_, i) => (i * 7) % 10);
await model.fit(X, Y, { epochs: 1, batchSize: 100, shuffle: false });
times.clear();
const steps = 40, t0 = performance.now();
await model.fit(X, Y, { epochs: 2, batchSize: 100, shuffle: false });
const step = (performance.now() - t0) / steps;
console.log(`bench/conv-profile: ${info.backend}, ${info.threads} thread(s); ms per training step (batch 100), per kernel`);
let inRun = 0;
for (const [k, [ms, n]] of [...times].sort((a, b) => b[1][0] - a[1][0])) {
  inRun += ms / steps;
  console.log(`${(ms / steps).toFixed(2).padStart(8)} ms ${(n / steps).toFixed(1).padStart(5)} calls  ${k}`);
}
console.log(`${(step - inRun).toFixed(2).padStart(8)} ms        direct (outside Runtime.run)`);
console.log(`${step.toFixed(2).padStart(8)} ms        step`);
await tn.close();
