// bench/int8: int8 inference (model.quantize()) against float32 on the paper's MNIST net
// (784-1024-1024-10, ReLU), one thread: batch 1 latency and batch 100 throughput through
// model.predict, float and int8 interleaved round by round (medians; other processes on these
// cores lower every figure, so the load average is printed), then test error of a trained
// model float / int8 dynamic / int8 calibrated (1,000 training images), if one is given.
//
//   npm run build && node --experimental-wasm-relaxed-simd bench/int8.mjs [--model FILE.tnet] [--backend simd|relaxed] [--quick]
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import * as tn from '../dist/index.node.js';

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const quick = process.argv.includes('--quick');
const file = arg('--model');
const backend = arg('--backend', 'relaxed');
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length & 1 ? s[m] : (s[m - 1] + s[m]) / 2; };

const info = await tn.ready({ threads: 1, backend });
console.log(`bench/int8: 784-1024-1024-10 ReLU, ${info.backend} build, 1 thread; node ${process.version}; load average at start ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);

const model = file ? await tn.loadModel(file) : tn.sequential({ inputShape: [784], seed: 7, layers: [
  tn.layers.dense({ units: 1024, activation: 'relu' }), tn.layers.dense({ units: 1024, activation: 'relu' }), tn.layers.dense({ units: 10 }),
]});
const float = model.foldDropout();
const int8 = model.quantize();

const x = new Float32Array(100 * 784);
let s = 12345;
for (let i = 0; i < x.length; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; x[i] = (s >>> 8) / 2 ** 24; }
const x1 = x.subarray(0, 784);

// round-robin: per round, 20 batch-1 calls of each model, then one batch-100 call of each
const rounds = quick ? 15 : 60;
const t = { f1: [], q1: [], f100: [], q100: [] };
for (let r = -3; r < rounds; r++) { // 3 warm-up rounds
  const time = (fn, reps) => { const a = performance.now(); for (let i = 0; i < reps; i++) fn(); return (performance.now() - a) / reps; };
  const f1 = time(() => float.predict(x1), 20), q1 = time(() => int8.predict(x1), 20);
  const f100 = time(() => float.predict(x), 1), q100 = time(() => int8.predict(x), 1);
  if (r >= 0) { t.f1.push(f1); t.q1.push(q1); t.f100.push(f100); t.q100.push(q100); }
}
const row = (name, b1, b100) => console.log(`${name.padEnd(26)} ${median(b1).toFixed(4).padStart(9)} ms ${(100e3 / median(b100)).toFixed(0).padStart(9)} ex/s`);
console.log(`\n${''.padEnd(26)} ${'batch 1'.padStart(12)} ${'batch 100'.padStart(14)}   (medians of ${rounds} interleaved rounds)`);
row('float32 (predict)', t.f1, t.f100);
row('int8 dynamic (predict)', t.q1, t.q100);
console.log(`int8 / float32: batch-1 latency ${(median(t.q1) / median(t.f1)).toFixed(2)}x, batch-100 throughput ${(median(t.f100) / median(t.q100)).toFixed(2)}x` +
  ` (per-round median ${median(t.f100.map((v, i) => v / t.q100[i])).toFixed(2)}x)`);
console.log(`goals: batch 100 >= 2x float32 (${median(t.f100) / median(t.q100) >= 2 ? 'met' : 'MISSED'}), batch 1 <= 0.08 ms (${median(t.q1) <= 0.08 ? 'met' : 'MISSED'})`);

if (file) {
  const { train, test } = await tn.data.loadMnist();
  const calibrated = model.quantize({ calibration: train.x.subarray(0, 1000 * 784) });
  const e = (m) => (100 * m.evaluate(test.x, test.y).error);
  const ef = e(float), ed = e(int8), ec = e(calibrated);
  console.log(`\ntest error (10,000 MNIST test images) of ${file}:`);
  console.log(`  float32 ${ef.toFixed(2)}%   int8 dynamic ${ed.toFixed(2)}% (${(ed - ef >= 0 ? '+' : '') + (ed - ef).toFixed(2)})   int8 calibrated ${ec.toFixed(2)}% (${(ec - ef >= 0 ? '+' : '') + (ec - ef).toFixed(2)})   goal: loss <= 0.05 points`);
  console.log(`  model file: float ${model.toBytes().length} bytes, int8 ${int8.toBytes().length} bytes`);
}
console.log(`load average at end ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
