// examples/mc-vs-scaling: the paper's Fig. 11 — test error of Monte-Carlo model averaging over k
// thinned networks against the weight-scaling approximation, k = 1…K.
//
//   npm run build
//   node examples/mc-vs-scaling.mjs --model runs/table2/row4.tnet   # a trained model (e.g. a
//                                                   # checkpoint of examples/mnist-table.mjs)
//   node examples/mc-vs-scaling.mjs                 # trains a dropout net first (see below)
//   node examples/mc-vs-scaling.mjs --quick --threads 1   # smoke run, a few seconds
//
// Method (the author's): S stochastic passes over the test set are run once and their class
// probabilities stored; for each k the error of the average of k of them is measured over R
// random draws of k of the S, and the mean ± standard deviation over the draws is reported. The
// paper stored 1000 passes and drew 100 times for k = 1…200; here S = 200 by default (memory:
// S × test-size × 10 float32 = 80 MB at S = 200 on the full test set), K = 100, R = 100. A draw
// is a random permutation of the S passes, and its prefixes of length 1…K are the k-subsets of
// that draw: each k's R subsets are independent and uniform, computed in one running sum.
// Pass t uses model.predict(x, { sample: t }), the masks of predict({ mc }).
//
// Without --model a dropout net is trained first (default 784-1024-1024-10 ReLU, p = 0.8 input /
// 0.5 hidden, max-norm 3, 20 epochs on the 60k training images, SGD with the recipe of
// examples/lib/common.mjs; --hidden/--epochs/--train-size/--lr change it, --save keeps it).
//
// Flags: --model PATH  --samples S (200)  --kmax K (100)  --draws R (100)  --test-size N (10000)
//        --hidden 1024,1024  --epochs 20  --train-size 60000  --lr 3  --save PATH
//        --threads N  --seed N (1)  --out DIR (runs/figures)  --quick
// --quick: 784-256-10, 10,000 training images, 10 epochs, lr 1, 1,000 test images, S = 30, K = 20, R = 20.
// Writes DIR/mc-vs-scaling.svg (MC error mean ± σ against k, weight scaling as a dashed line).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { errorRate, figuresDir, flags, list, mlp, mnist, num, pct, posInt, sgdRecipe, start, table, tn } from './lib/common.mjs';
import { lineChart, writeSvg } from './lib/svg.mjs';

const v = flags(import.meta.url, {
  model: { type: 'string' }, samples: { type: 'string' }, kmax: { type: 'string' }, draws: { type: 'string' },
  'test-size': { type: 'string' }, hidden: { type: 'string' }, epochs: { type: 'string' }, 'train-size': { type: 'string' },
  lr: { type: 'string' }, save: { type: 'string' },
});
const q = v.quick;
const S = num(v, 'samples', q ? 30 : 200, posInt);
const K = num(v, 'kmax', q ? 20 : 100, posInt);
const R = num(v, 'draws', q ? 20 : 100, posInt);
const testSize = num(v, 'test-size', q ? 1000 : 10000, posInt);
const seed = num(v, 'seed', 1, (x) => Number.isInteger(x) && x >= 0);
if (K > S) throw new Error(`--kmax ${K} is more than --samples ${S}: k passes are drawn from the S stored ones`);

const info = await start(v);
const t0 = performance.now();
const { train, test } = await mnist(num(v, 'train-size', q ? 10000 : 60000, posInt), testSize);
let model, source;
if (v.model) {
  if (!existsSync(v.model)) throw new Error(`--model: ${v.model} does not exist`);
  model = await tn.loadModel(v.model);
  source = `${v.model} (${model.summary().split('\n')[0]}; trained ${model.epoch} epochs)`;
} else {
  const hidden = list(v, 'hidden', q ? [256] : [1024, 1024], posInt);
  const epochs = num(v, 'epochs', q ? 10 : 20, posInt);
  const lr = num(v, 'lr', q ? 1 : 3, (x) => x > 0);
  model = mlp({ hidden, seed });
  model.compile({ optimizer: sgdRecipe({ lr, epochs }), loss: 'softmaxCrossEntropy' });
  await model.fit(train.x, train.y, { epochs, batchSize: 100 });
  source = `trained here: 784-${hidden.join('-')}-10 ReLU, dropout 0.8/0.5, max-norm 3, ${epochs} epochs on ${train.y.length} images, lr ${lr}`;
  if (v.save) await model.save(v.save);
}
if (!model.config.layers.some((l) => l.type === 'dropout' || l.type === 'gaussianDropout')) throw new Error('the model has no dropout layer: every thinned network is the same network');
const C = model.outputSize;
const N = test.y.length;

const wsError = errorRate(model.predict(test.x), test.y, C);
// S stochastic passes, stored (S × N × C float32)
const passes = new Float32Array(S * N * C);
for (let t = 0; t < S; t++) passes.set(model.predict(test.x, { sample: t }), t * N * C);

// R draws; draw r: a seeded permutation of the S passes, prefix sums give k = 1…K
let s = (seed * 2654435761) >>> 0;
const rnd = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
const errs = Array.from({ length: K }, () => new Float64Array(R));
const sum = new Float32Array(N * C);
const perm = Int32Array.from({ length: S }, (_, i) => i);
for (let r = 0; r < R; r++) {
  for (let i = S - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); const tmp = perm[i]; perm[i] = perm[j]; perm[j] = tmp; }
  sum.fill(0);
  for (let k = 1; k <= K; k++) {
    const p = passes.subarray(perm[k - 1] * N * C, (perm[k - 1] + 1) * N * C);
    for (let i = 0; i < N * C; i++) sum[i] += p[i];
    errs[k - 1][r] = errorRate(sum, test.y, C); // argmax of the sum = argmax of the mean
  }
}
const stats = errs.map((e) => {
  const m = e.reduce((a, b) => a + b, 0) / e.length;
  const sd = Math.sqrt(e.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, e.length - 1));
  return { m, sd };
});

const shown = [...new Set([1, 2, 3, 5, 10, 20, 30, 50, 75, 100, 150, 200, K].filter((k) => k <= K))].sort((a, b) => a - b);
console.log(`\nFig. 11 — Monte-Carlo averaging vs weight scaling (${q ? 'QUICK smoke run, not a reproduction' : 'run'}): model ${source}; ` +
  `${N} test images; S = ${S} stored passes, R = ${R} draws per k; ${info.backend}, ${info.threads} thread(s)\n`);
console.log(table(['k', 'MC test error % (mean)', 'σ over draws', 'weight scaling %'],
  shown.map((k) => [k, pct(stats[k - 1].m), pct(stats[k - 1].sd), pct(wsError)])));
const cross = stats.findIndex((st) => st.m <= wsError);
console.log(`\nMC mean error reaches the weight-scaling error at k = ${cross < 0 ? `(not within k ≤ ${K})` : cross + 1}. ` +
  `Paper: MC matches weight scaling near k ≈ 50 and is slightly better beyond, within one standard deviation.`);

const dir = figuresDir(v);
const file = join(dir, 'mc-vs-scaling.svg');
writeSvg(file, lineChart({
  title: 'Fig. 11: Monte-Carlo model averaging vs weight scaling', xLabel: 'number of sampled networks k', yLabel: 'test error %',
  series: [
    { name: 'MC averaging (mean ± σ)', points: stats.map((st, i) => [i + 1, 100 * st.m]), band: stats.map((st, i) => [i + 1, 100 * (st.m - st.sd), 100 * (st.m + st.sd)]) },
    { name: 'weight scaling', points: [[1, 100 * wsError], [K, 100 * wsError]], dashed: true },
  ],
}));
console.log(`\nwrote ${file}  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
model.dispose();
await tn.close();
