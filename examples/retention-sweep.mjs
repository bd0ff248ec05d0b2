// examples/retention-sweep: the paper's Fig. 9 — the effect of the retention probability p of the
// hidden units (no input dropout) on MNIST test and training error:
//   (a) the number of hidden units n fixed, p swept over 0.1 … 0.9;
//   (b) p·n fixed: each hidden layer has n = round(pn / p) units, so the expected number of units
//       kept is the same for every p.
//
//   npm run build
//   node examples/retention-sweep.mjs                       # scaled-down default (below)
//   node examples/retention-sweep.mjs --paper               # the paper's sizes (very long)
//   node examples/retention-sweep.mjs --quick --threads 1   # smoke run, a few seconds
//
// Paper: (a) 784-2048-2048-2048-10, (b) pn = 256, 256, 512, trained on the full 60k MNIST set;
// test error flat for 0.4 ≤ p ≤ 0.8 in (a); in (b) the error at p = 0.1 falls from 2.7% (a) to
// 1.7%, best near p ≈ 0.6. Those nets are large: (a) has 10.0M weights for every p, and (b) at
// p = 0.1 has 2560-2560-5120 hidden units, 21.7M weights (7× the 3 × 1024 net that
// examples/mnist-table.mjs trains for hours per row). Eighteen of them do not fit a 2-core
// machine, so the default is scaled down: two hidden ReLU layers instead of three, (a) n = 256,
// (b) pn = 64, 64 (so (b) spans 640 units at p = 0.1 to 71 at p = 0.9), 10,000 training images,
// 20 epochs; the full 10k test set. The shape of the curves, not the paper's absolute errors, is
// what the small version can show.
// Every net: max-norm 3, ReLU, He init, batch 100, SGD with the recipe of examples/lib/common.mjs
// (Hinton et al. 2012's damped momentum 0.5 → 0.95, learning rate lr decaying to 3%), lr 1 by default; training
// error is measured on the training set with weight scaling (as the test error).
//
// Flags: --ps 0.1,0.2,…,0.9  --which a|b|both (both)  --hidden 256,256 (a)  --pn 64,64 (b)
//        --train-size 10000  --test-size 10000  --epochs 20  --lr 1  --max-norm 3
//        --paper (= --hidden 2048,2048,2048 --pn 256,256,512 --train-size 60000; --epochs stays a flag)
//        --threads N  --seed N (1)  --out DIR (runs/figures)  --quick
// --quick: p ∈ {0.2, 0.5, 0.8}, one hidden layer, (a) n = 128, (b) pn = 32, 5,000 training / 1,000 test
// images, 8 epochs.
// Writes DIR/retention-sweep-a.svg and DIR/retention-sweep-b.svg (test and training error vs p).
import { join } from 'node:path';
import { figuresDir, flags, list, mlp, mnist, num, pct, posInt, prob, sgdRecipe, start, table, tn } from './lib/common.mjs';
import { lineChart, writeSvg } from './lib/svg.mjs';

const v = flags(import.meta.url, {
  ps: { type: 'string' }, which: { type: 'string', default: 'both' }, hidden: { type: 'string' }, pn: { type: 'string' },
  'train-size': { type: 'string' }, 'test-size': { type: 'string' }, epochs: { type: 'string' }, lr: { type: 'string' },
  'max-norm': { type: 'string' }, paper: { type: 'boolean', default: false },
});
const q = v.quick, paper = v.paper;
if (!['a', 'b', 'both'].includes(v.which)) throw new Error(`--which: a, b or both, got '${v.which}'`);
const ps = list(v, 'ps', q ? [0.2, 0.5, 0.8] : [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], prob);
const hidden = list(v, 'hidden', paper ? [2048, 2048, 2048] : q ? [128] : [256, 256], posInt);
const pn = list(v, 'pn', paper ? [256, 256, 512] : q ? [32] : [64, 64], (x) => x > 0);
const trainSize = num(v, 'train-size', paper ? 60000 : q ? 5000 : 10000, posInt);
const testSize = num(v, 'test-size', q ? 1000 : 10000, posInt);
const epochs = num(v, 'epochs', q ? 8 : 20, posInt);
const lr = num(v, 'lr', 1, (x) => x > 0);
const maxNorm = num(v, 'max-norm', 3, (x) => x > 0);
const seed = num(v, 'seed', 1, (x) => Number.isInteger(x) && x >= 0);

const info = await start(v);
const t0 = performance.now();
const { train, test } = await mnist(trainSize, testSize);

async function run(units, p) {
  const model = mlp({ hidden: units, keepInput: 1, keepHidden: p, maxNorm, seed });
  model.compile({ optimizer: sgdRecipe({ lr, epochs }), loss: 'softmaxCrossEntropy' });
  const h = await model.fit(train.x, train.y, { epochs, batchSize: 100 });
  if (!h.loss.every(Number.isFinite)) throw new Error(`p = ${p}: training diverged`);
  const r = { test: model.evaluate(test.x, test.y).error, train: model.evaluate(train.x, train.y).error };
  model.dispose();
  return r;
}

const label = q ? 'QUICK smoke run, not a reproduction' : paper ? "paper's sizes" : 'scaled-down default';
console.log(`\nFig. 9 — retention probability sweep (${label}): ${train.y.length} training / ${test.y.length} test images, ${epochs} epochs, ` +
  `lr ${lr}, max-norm ${maxNorm}, no input dropout; ${info.backend}, ${info.threads} thread(s)`);
const dir = figuresDir(v);
const written = [];
for (const part of v.which === 'both' ? ['a', 'b'] : [v.which]) {
  const rows = [];
  for (const p of ps) {
    const units = part === 'a' ? hidden : pn.map((x) => Math.max(1, Math.round(x / p)));
    const r = await run(units, p);
    rows.push({ p, units, ...r });
  }
  console.log(part === 'a' ? `\n(a) n fixed: 784-${hidden.join('-')}-10\n` : `\n(b) p·n fixed: pn = ${pn.join(', ')}\n`);
  console.log(table(['p', 'hidden units', 'test error %', 'training error %'], rows.map((r) => [r.p, r.units.join('-'), pct(r.test), pct(r.train)])));
  const file = join(dir, `retention-sweep-${part}.svg`);
  writeSvg(file, lineChart({
    title: part === 'a' ? `Fig. 9a: n fixed (784-${hidden.join('-')}-10)` : `Fig. 9b: p·n fixed (pn = ${pn.join(', ')})`,
    xLabel: 'retention probability p of the hidden units', yLabel: 'classification error %', yMin: 0,
    series: [{ name: 'test error', points: rows.map((r) => [r.p, 100 * r.test]) }, { name: 'training error', points: rows.map((r) => [r.p, 100 * r.train]) }],
  }));
  written.push(file);
}
console.log(`\nPaper (784-2048-2048-2048-10 / pn = 256, 256, 512, 60k images): (a) test error flat for 0.4 ≤ p ≤ 0.8, worse toward 0 and 1; ` +
  '(b) at p = 0.1 the error falls from 2.7% to 1.7%, best near p ≈ 0.6.');
console.log(`\nwrote ${written.join(', ')}  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
await tn.close();
