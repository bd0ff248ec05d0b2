// examples/rbm: the paper's §8 — RBMs with 256 binary hidden units on MNIST, trained by CD-1 with
// and without dropout of the hidden units (p = 0.5, a new mask per training case). Fig. 12: the
// features (each hidden unit's weights) — with dropout they are coarser, and fewer units are dead.
// Fig. 13: the hidden activations σ(b + W v) on the test images — with dropout the activations
// are sparser (more mass near 0) and each unit's mean activation lower.
//
//   npm run build
//   node examples/rbm.mjs                       # 60k images, 50 epochs per model (the paper's budget in AUDIT.md)
//   node examples/rbm.mjs --quick --threads 1   # smoke run, a few seconds
//
// The model is tn.rbm (src/model/rbm.ts): visible units = pixels / 255 used as probabilities,
// CD-1 with h0 sampled and the reconstruction and h1 as probabilities, momentum 0.5 → 0.9 over 5
// epochs, L2 weight decay 2e-4, batch 100, initial weights N(0, 0.01²) — the recipe of Hinton's
// "practical guide" (the paper gives no RBM hyperparameters). The learning rate (default 0.05) is
// the same for both models.
//
// Flags: --hidden 256  --keep 0.5  --epochs 50  --lr 0.05  --batch 100  --train-size 60000
//        --test-size 10000  --units-shown 100  --bins 50  --threads N  --seed N (1)  --out DIR  --quick
// --quick: 5,000 training / 1,000 test images, 3 epochs, 64 units shown.
// Writes DIR/rbm-features-plain.png and DIR/rbm-features-dropout.png (Fig. 12: the first units'
// weights as 28×28 tiles, each scaled to its own ±max, mid gray = 0), DIR/rbm-activations.svg and
// DIR/rbm-mean-activations.svg (Fig. 13: histograms of the activations and of each unit's mean).
import { join } from 'node:path';
import { figuresDir, flags, num, posInt, prob, start, table, tn, mnist } from './lib/common.mjs';
import { writeTilesPng } from './lib/png.mjs';
import { binCounts, binEdges, histogram, writeSvg } from './lib/svg.mjs';

const v = flags(import.meta.url, {
  hidden: { type: 'string' }, keep: { type: 'string' }, epochs: { type: 'string' }, lr: { type: 'string' }, batch: { type: 'string' },
  'train-size': { type: 'string' }, 'test-size': { type: 'string' }, 'units-shown': { type: 'string' }, bins: { type: 'string' },
});
const q = v.quick;
const H = num(v, 'hidden', 256, posInt);
const keep = num(v, 'keep', 0.5, prob);
const epochs = num(v, 'epochs', q ? 3 : 50, posInt);
const lr = num(v, 'lr', 0.05, (x) => x > 0);
const batch = num(v, 'batch', 100, posInt);
const shownUnits = Math.min(H, num(v, 'units-shown', q ? 64 : 100, posInt));
const bins = num(v, 'bins', 50, posInt);
const seed = num(v, 'seed', 1, (x) => Number.isInteger(x) && x >= 0);

const info = await start(v);
const t0 = performance.now();
const { train, test } = await mnist(num(v, 'train-size', q ? 5000 : 60000, posInt), num(v, 'test-size', q ? 1000 : 10000, posInt));
const D = 784;

const results = [];
for (const p of [1, keep]) {
  const t = performance.now();
  const m = tn.rbm({ visible: D, hidden: H, keep: p, seed });
  const h = await m.fit(train.x, { epochs, batchSize: batch, learningRate: lr });
  const act = m.hiddenProbabilities(test.x); // N × H
  const rec = m.reconstruct(test.x);
  let err = 0;
  for (let i = 0; i < rec.length; i++) { const d = rec[i] - test.x[i] / 255; err += d * d; }
  const N = test.y.length;
  const unitMean = new Float64Array(H);
  let sum = 0, low = 0;
  for (let i = 0; i < act.length; i++) { sum += act[i]; if (act[i] < 0.1) low++; unitMean[i % H] += act[i] / N; }
  // a unit is dead when it is (nearly) never on: mean activation below 1% over the test images
  const dead = unitMean.filter((u) => u < 0.01).length;
  const weights = m.getWeights().weights; // [H, 784]: row j = unit j's filter
  const tiles = Array.from({ length: shownUnits }, (_, u) => weights.subarray(u * D, (u + 1) * D));
  const dropout = p < 1;
  results.push({ name: dropout ? `dropout RBM (p = ${p})` : 'RBM (no dropout)', tag: dropout ? 'dropout' : 'plain',
    trainRec: h.reconstructionError[h.reconstructionError.length - 1], testRec: err / N, mean: sum / act.length, low: low / act.length,
    dead, act, unitMean, tiles, seconds: (performance.now() - t) / 1000 });
  m.dispose();
}

const label = q ? 'QUICK smoke run, not a reproduction' : 'run';
console.log(`\n§8 — RBMs 784-${H} (CD-1) on MNIST (${label}): ${train.y.length} training / ${test.y.length} test images, ` +
  `${epochs} epochs, lr ${lr}, batch ${batch}; ${info.backend}, ${info.threads} thread(s)\n`);
console.log(table(['model', 'train recon. error (Σ per image, last epoch)', 'test recon. error', 'mean activation σ(b+Wv)', 'activations < 0.1', 'dead units (mean < 0.01)', 'seconds'],
  results.map((r) => [r.name, r.trainRec.toFixed(2), r.testRec.toFixed(2), r.mean.toFixed(3), `${(100 * r.low).toFixed(1)}%`, `${r.dead} / ${H}`, r.seconds.toFixed(0)])));
console.log('\nPaper (Figs. 12–13, no numbers): dropout RBM features coarser, fewer dead units; activations sparser.');

const dir = figuresDir(v);
const files = [];
for (const r of results) {
  const f = join(dir, `rbm-features-${r.tag}.png`);
  writeTilesPng(f, r.tiles, 28, 28);
  files.push(f);
}
const hist = (values) => binCounts(values, bins);
const edges = binEdges(bins);
const fa = join(dir, 'rbm-activations.svg');
writeSvg(fa, histogram({ title: `Fig. 13b: hidden activations σ(b + Wv) on ${test.y.length} test images`, xLabel: 'activation', yLabel: 'count', logY: true,
  edges, series: results.map((r) => ({ name: r.name, counts: hist(r.act) })) }));
const fm = join(dir, 'rbm-mean-activations.svg');
writeSvg(fm, histogram({ title: 'Fig. 13a: mean activation of each hidden unit', xLabel: 'mean activation over the test images', yLabel: 'units',
  edges, series: results.map((r) => ({ name: r.name, counts: hist(r.unitMean) })) }));
files.push(fa, fm);
console.log(`\nwrote ${files.join(', ')}  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
await tn.close();
