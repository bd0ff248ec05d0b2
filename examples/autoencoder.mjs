// examples/autoencoder: the paper's Figs. 7 and 8 — autoencoders with one hidden layer of 256
// ReLUs on MNIST, trained with and without dropout on the hidden units (p = 0.5), mean squared
// error. Fig. 7: the features (encoder weights) — with dropout they look like strokes, edges and
// spots; without, they are less meaningful. Fig. 8: the hidden activations — the mean activation
// is ≈ 2.0 without dropout and ≈ 0.7 with, and with dropout the histogram of activations has a
// sharp peak at zero (sparser codes). The paper reports similar reconstruction errors for both.
//
//   npm run build
//   node examples/autoencoder.mjs                       # 60k images, 20 epochs per model
//   node examples/autoencoder.mjs --quick --threads 1   # smoke run, a few seconds
//
// Nets: 784 → 256 ReLU (→ dropout p = 0.5, the dropout net only) → 784 linear outputs; inputs and
// targets are the pixels scaled to [0, 1]; loss 'meanSquaredError' (per image the mean over the
// 784 pixels of (x̂ − x)²; the table also gives the per-image sum, 784× that). The paper does not
// give the optimizer or the output unit: Adam (lr 1e-3, batch 100) and a linear output here. The
// hidden activations are model.activations(x, { layer: 0 }) on the test images (they come
// before the dropout layer, so evaluation and training mode agree).
//
// Flags: --hidden 256  --keep 0.5  --epochs 20  --lr 0.001  --batch 100  --train-size 60000
//        --test-size 10000  --units-shown 100  --bins 60  --threads N  --seed N (1)  --out DIR  --quick
// --quick: 5,000 training / 1,000 test images, 3 epochs, 64 units shown.
// Writes DIR/autoencoder-weights-plain.png and DIR/autoencoder-weights-dropout.png (Fig. 7: the
// first units' incoming weights as 28×28 tiles, each scaled to its own ±max, mid gray = 0),
// DIR/autoencoder-activations.svg and DIR/autoencoder-mean-activations.svg (Fig. 8: histograms
// of the activations and of each unit's mean activation, both nets).
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
const epochs = num(v, 'epochs', q ? 3 : 20, posInt);
const lr = num(v, 'lr', 1e-3, (x) => x > 0);
const batch = num(v, 'batch', 100, posInt);
const shownUnits = Math.min(H, num(v, 'units-shown', q ? 64 : 100, posInt));
const bins = num(v, 'bins', 60, posInt);
const seed = num(v, 'seed', 1, (x) => Number.isInteger(x) && x >= 0);

const info = await start(v);
const t0 = performance.now();
const { train, test } = await mnist(num(v, 'train-size', q ? 5000 : 60000, posInt), num(v, 'test-size', q ? 1000 : 10000, posInt));
const scale = (u8) => Float32Array.from(u8, (p) => p / 255);
const xTrain = scale(train.x), xTest = scale(test.x);
const D = 784;

const results = [];
for (const dropout of [false, true]) {
  const layers = [tn.layers.dense({ units: H, activation: 'relu', kernelInitializer: 'heUniform' })];
  if (dropout) layers.push(tn.layers.dropout({ keep }));
  layers.push(tn.layers.dense({ units: D }));
  const model = tn.sequential({ inputShape: [D], seed, layers });
  model.compile({ optimizer: tn.optimizers.adam({ learningRate: lr }), loss: 'meanSquaredError' });
  const h = await model.fit(xTrain, xTrain, { epochs, batchSize: batch }); // y === x: one block in wasm
  if (!h.loss.every(Number.isFinite)) throw new Error(`${dropout ? 'dropout' : 'plain'} autoencoder: training diverged`);
  const recon = model.evaluate(xTest, xTest).loss;
  const act = model.activations(xTest, { layer: 0 }); // N × H, before the dropout layer
  const N = test.y.length;
  let sum = 0, zeros = 0, max = 0;
  const unitMean = new Float64Array(H);
  for (let i = 0; i < act.length; i++) {
    const a = act[i];
    sum += a; if (a === 0) zeros++; if (a > max) max = a;
    unitMean[i % H] += a / N;
  }
  const dead = unitMean.filter((m) => m === 0).length;
  const kernel = model.getWeights()[0].kernel; // [H, 784]: row u = unit u's incoming weights
  const tiles = Array.from({ length: shownUnits }, (_, u) => kernel.subarray(u * D, (u + 1) * D));
  results.push({ name: dropout ? `with dropout (p = ${keep})` : 'without dropout', tag: dropout ? 'dropout' : 'plain', recon, trainLoss: h.loss[h.loss.length - 1],
    mean: sum / act.length, zeros: zeros / act.length, max, dead, act, unitMean, tiles });
  model.dispose();
}

const label = q ? 'QUICK smoke run, not a reproduction' : 'run';
console.log(`\nFigs. 7–8 — autoencoders 784-${H}-784 on MNIST (${label}): ${train.y.length} training / ${test.y.length} test images, ` +
  `${epochs} epochs, Adam lr ${lr}, batch ${batch}; ${info.backend}, ${info.threads} thread(s)\n`);
console.log(table(['model', 'test reconstruction MSE (mean per pixel)', 'per image Σ (x̂ − x)²', 'mean hidden activation', 'activations exactly 0', 'dead units', 'max activation'],
  results.map((r) => [r.name, r.recon.toFixed(5), (r.recon * D).toFixed(2), r.mean.toFixed(3), `${(100 * r.zeros).toFixed(1)}%`, `${r.dead} / ${H}`, r.max.toFixed(2)])));
console.log('\nPaper: mean hidden activation ≈ 2.0 without dropout, ≈ 0.7 with; with dropout a sharp peak at zero; similar reconstruction error.');

const dir = figuresDir(v);
const files = [];
for (const r of results) {
  const f = join(dir, `autoencoder-weights-${r.tag}.png`);
  writeTilesPng(f, r.tiles, 28, 28);
  files.push(f);
}
const hist = (values, hi) => binCounts(values, bins, hi);
const edges = (hi) => binEdges(bins, hi);
const hiAct = Math.max(...results.map((r) => r.max)) || 1;
const fa = join(dir, 'autoencoder-activations.svg');
writeSvg(fa, histogram({ title: `Fig. 8b: hidden activations on ${test.y.length} test images`, xLabel: 'activation', yLabel: 'count', logY: true,
  edges: edges(hiAct), series: results.map((r) => ({ name: r.name, counts: hist(r.act, hiAct) })) }));
const hiMean = Math.max(...results.flatMap((r) => Array.from(r.unitMean))) || 1;
const fm = join(dir, 'autoencoder-mean-activations.svg');
writeSvg(fm, histogram({ title: 'Fig. 8a: mean activation of each hidden unit', xLabel: 'mean activation over the test images', yLabel: 'units',
  edges: edges(hiMean), series: results.map((r) => ({ name: r.name, counts: hist(r.unitMean, hiMean) })) }));
files.push(fa, fm);
console.log(`\nwrote ${files.join(', ')}  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
await tn.close();
