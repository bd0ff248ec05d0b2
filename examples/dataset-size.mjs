// examples/dataset-size: the paper's Fig. 10 — MNIST test error against the size of the
// training set, with and without dropout.
//
//   npm run build
//   node examples/dataset-size.mjs                       # scaled-down default (below)
//   node examples/dataset-size.mjs --paper               # the paper's 784-1024-1024-2048-10 (long)
//   node examples/dataset-size.mjs --quick --threads 1   # smoke run, a few seconds
//
// Paper: training sets of 100, 500, 1k, 5k, 10k and 50k images (random subsets; here the first N
// images), a 784-1024-1024-2048-10 net: no gain from dropout at 100 and 500 images (both overfit;
// dropout does not help), then a gain that grows and then shrinks as the set gets larger.
// Default here: 784-512-512-10 ReLU and the same number of weight updates for every size
// (--updates 5000 at batch 100: 10 epochs of 50k images, 5,000 of 100), because 12 trainings of
// the paper's 4.0M-weight net do not fit a 2-core machine in reasonable time; --paper sets the
// paper's architecture (--updates stays a flag). With dropout: p = 0.8 input, 0.5 hidden; both nets
// max-norm 3, He init, SGD with the recipe of examples/lib/common.mjs, lr 3 with dropout and lr 1
// without (App. A: dropout nets want a larger rate; at lr 3 a plain net is unstable, src/cli.ts).
//
// Flags: --sizes 100,500,1000,5000,10000,50000  --hidden 512,512  --updates 5000  --lr 3
//        --plain-lr 1  --test-size 10000  --paper  --threads N  --seed N (1)  --out DIR  --quick
// --quick: sizes 100, 500, 1000; 784-128-10; 200 updates; 1,000 test images.
// Writes DIR/dataset-size.svg (test error vs training-set size, log x axis, both nets).
import { join } from 'node:path';
import { figuresDir, flags, list, mlp, mnist, num, pct, posInt, sgdRecipe, start, table, tn } from './lib/common.mjs';
import { lineChart, writeSvg } from './lib/svg.mjs';

const v = flags(import.meta.url, {
  sizes: { type: 'string' }, hidden: { type: 'string' }, updates: { type: 'string' }, lr: { type: 'string' },
  'plain-lr': { type: 'string' }, 'test-size': { type: 'string' }, paper: { type: 'boolean', default: false },
});
const q = v.quick;
const sizes = list(v, 'sizes', q ? [100, 500, 1000] : [100, 500, 1000, 5000, 10000, 50000], (x) => posInt(x) && x <= 60000);
const hidden = list(v, 'hidden', v.paper ? [1024, 1024, 2048] : q ? [128] : [512, 512], posInt);
const updates = num(v, 'updates', q ? 200 : 5000, posInt);
const lr = num(v, 'lr', 3, (x) => x > 0);
const plainLr = num(v, 'plain-lr', 1, (x) => x > 0);
const testSize = num(v, 'test-size', q ? 1000 : 10000, posInt);
const seed = num(v, 'seed', 1, (x) => Number.isInteger(x) && x >= 0);
const batch = 100;

const info = await start(v);
const t0 = performance.now();
const all = await mnist(Math.max(...sizes), testSize);
const test = all.test;

const rows = [];
for (const n of sizes) {
  const train = tn.data.subset(all.train, n);
  const epochs = Math.ceil(updates / Math.ceil(n / batch));
  const res = {};
  for (const dropout of [false, true]) {
    const model = mlp({ hidden, keepInput: dropout ? 0.8 : 1, keepHidden: dropout ? 0.5 : 1, maxNorm: 3, seed });
    model.compile({ optimizer: sgdRecipe({ lr: dropout ? lr : plainLr, epochs }), loss: 'softmaxCrossEntropy' });
    const h = await model.fit(train.x, train.y, { epochs, batchSize: batch });
    if (!h.loss.every(Number.isFinite)) throw new Error(`${n} images, ${dropout ? 'dropout' : 'plain'}: training diverged`);
    res[dropout ? 'drop' : 'plain'] = model.evaluate(test.x, test.y).error;
    res[dropout ? 'dropTrain' : 'plainTrain'] = model.evaluate(train.x, train.y).error;
    model.dispose();
  }
  rows.push({ n, epochs, ...res });
}

const label = q ? 'QUICK smoke run, not a reproduction' : v.paper ? "paper's architecture" : 'scaled-down default';
console.log(`\nFig. 10 — training-set size (${label}): 784-${hidden.join('-')}-10 ReLU, ${updates} updates of batch ${batch} per run, ` +
  `${test.y.length} test images, lr ${lr} (dropout) / ${plainLr} (plain); ${info.backend}, ${info.threads} thread(s)\n`);
console.log(table(['training images', 'epochs', 'test error % without dropout', 'test error % with dropout', 'gain (points)', 'train error % without / with'],
  rows.map((r) => [r.n, r.epochs, pct(r.plain), pct(r.drop), (100 * (r.plain - r.drop)).toFixed(2), `${pct(r.plainTrain)} / ${pct(r.dropTrain)}`])));
console.log('\nPaper (784-1024-1024-2048-10): no gain at 100 and 500 images; the gain grows, then shrinks with more data.');

const file = join(figuresDir(v), 'dataset-size.svg');
writeSvg(file, lineChart({
  title: `Fig. 10: test error vs training-set size (784-${hidden.join('-')}-10)`, xLabel: 'training images (log scale)', yLabel: 'test error %',
  xLog: true, yMin: 0,
  series: [{ name: 'without dropout', points: rows.map((r) => [r.n, 100 * r.plain]) }, { name: 'with dropout', points: rows.map((r) => [r.n, 100 * r.drop]) }],
}));
console.log(`\nwrote ${file}  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
await tn.close();
