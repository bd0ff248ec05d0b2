// examples/dataset-size: the paper's Fig. 10 — MNIST test error against the size of the
// training set, with and without dropout.
//
//   npm run build
//   node --experimental-wasm-relaxed-simd examples/dataset-size.mjs --checkpoint-dir runs/dataset-size
//   node examples/dataset-size.mjs --quick --threads 1   # smoke run: 3 small sizes, a 784-128-10 net
//   node examples/dataset-size.mjs --dry-run             # print every command
//
// Paper (§7.4): training sets of 100, 500, 1k, 5k, 10k and 50k images chosen at random from the
// MNIST training set, the same 784-1024-1024-2048-10 net for all, dropout p = 0.8 on the input and
// 0.5 on the hidden layers, against the same net without dropout: no gain at 100 and 500 images
// (both overfit), then a gain that grows and then shrinks as the set gets larger.
//
// Protocol here (every choice on held-out data, the test set read once per reported number): the
// last 10,000 training images are the validation set; each training set is a seeded random subset
// of the other 50,000 (`thinnet train --subset-seed`, the same seed for both nets, so they see the
// same images). Both nets: ReLU, He-uniform init, batch 100, the momentum form of Hinton et al.
// 2012 ramped 0.5 → 0.95 over the first 20% of the epochs, the learning rate decaying
// exponentially to 3% of its start by the last epoch. With dropout: max-norm 3; without: no
// dropout and no max-norm (the paper's baseline: a standard net). The paper does not say how long
// each size was trained: every run here gets the same number of weight updates (--updates, of
// batch 100), which under-trains the 50k set relative to the paper. The learning rate of each net
// is chosen from its grid (--lrs with dropout, --plain-lrs without) by pilot runs (--pilot-updates
// updates on a --pilot-size subset) on validation error, and then used at every size. Every run
// is one `thinnet train` child (printed with --dry-run), checkpointed and resumed by rerunning the
// same command; finished runs are cached in <checkpoint-dir>/results.json.
//
// Flags: --sizes 100,500,1000,5000,10000,50000  --hidden 1024,1024,2048  --updates 5000
//        --lrs 0.3,1,3  --plain-lrs 0.03,0.1,0.3,1  --pilot-size 5000  --pilot-updates 1000
//        --test-size N (all 10,000)  --checkpoint-dir DIR  --dry-run  --threads N  --seed N (1)
//        --out DIR  --quick
// --quick: sizes 100, 500, 1000; 784-128-10; 200 updates; lr 3 / 1 (no pilots); 1,000 test images.
// Writes DIR/dataset-size.svg (test error vs training-set size, log x axis, both nets).
import { join } from 'node:path';
import { figuresDir, flags, list, num, posInt, table } from './lib/common.mjs';
import { lineChart, writeSvg } from './lib/svg.mjs';
import { cli, trials } from './lib/trials.mjs';

const v = flags(import.meta.url, {
  sizes: { type: 'string' }, hidden: { type: 'string' }, updates: { type: 'string' }, lrs: { type: 'string' },
  'plain-lrs': { type: 'string' }, 'pilot-size': { type: 'string' }, 'pilot-updates': { type: 'string' },
  'test-size': { type: 'string' }, 'checkpoint-dir': { type: 'string' }, 'dry-run': { type: 'boolean', default: false },
});
const q = v.quick;
const VALIDATION = 10000;
const sizes = list(v, 'sizes', q ? [100, 500, 1000] : [100, 500, 1000, 5000, 10000, 50000], (x) => posInt(x) && x <= 60000 - VALIDATION);
const hidden = list(v, 'hidden', q ? [128] : [1024, 1024, 2048], posInt);
const updates = num(v, 'updates', q ? 200 : 5000, posInt);
const lrs = list(v, 'lrs', q ? [3] : [0.3, 1, 3], (x) => x > 0);
const plainLrs = list(v, 'plain-lrs', q ? [1] : [0.03, 0.1, 0.3, 1], (x) => x > 0);
const pilotSize = num(v, 'pilot-size', 5000, (x) => posInt(x) && x <= 60000 - VALIDATION);
const pilotUpdates = num(v, 'pilot-updates', 1000, posInt);
const testSize = num(v, 'test-size', q ? 1000 : undefined, posInt);
const seed = num(v, 'seed', 1, (x) => Number.isInteger(x) && x >= 0);
const batch = 100;
const { trial, checkpoint } = trials(v['checkpoint-dir'], { dryRun: v['dry-run'], record: 'dataset-size' });
const t0 = performance.now();

/** Epochs that give `updates` updates of batch 100 on n images (the last batch of an epoch may be short). */
const epochsFor = (n) => Math.ceil(updates / Math.ceil(n / batch));

function command(dropout, n, E, lr, name) {
  const args = ['--experimental-wasm-relaxed-simd', cli, 'train',
    '--hidden', hidden.join(','), '--activation', 'relu', '--init', 'heUniform',
    ...(dropout ? ['--keep-input', '0.8', '--keep-hidden', '0.5', '--max-norm', '3'] : ['--no-dropout', '--max-norm', '0']),
    '--validation', String(VALIDATION), '--train-size', String(n), '--subset-seed', String(seed),
    '--epochs', String(E), '--batch', String(batch),
    '--lr', String(lr), '--lr-decay', Math.pow(0.03, 1 / E).toPrecision(9), '--momentum', '0.5', '--momentum-final', '0.95',
    '--momentum-epochs', String(Math.max(1, Math.round(E / 5))), '--momentum-form', 'paper',
    '--eval-every', String(Math.max(1, Math.floor(E / 10))), '--seed', String(seed), '--quiet'];
  if (testSize) args.push('--test-size', String(testSize));
  if (v.threads) args.push('--threads', v.threads);
  // a checkpoint (model + velocity: 32 MB for the paper's net) every ~10% of the run, not every
  // 5 epochs of 1 update each at 100 images
  args.push(...checkpoint(name, Math.max(5, Math.ceil(E / 10))));
  return args;
}

const net = `784-${hidden.join('-')}-10`;
/** The learning rate of one net: the grid's best on validation after the pilots (or its only value). */
async function chooseLr(dropout, grid) {
  if (grid.length === 1) return { lr: grid[0], pilots: [] };
  const pilots = [];
  const E = Math.ceil(pilotUpdates / Math.ceil(pilotSize / batch));
  for (const lr of grid) {
    const name = `pilot-${dropout ? 'dropout' : 'plain'}-${net}-n${pilotSize}-u${pilotUpdates}-lr${lr}-s${seed}`;
    const r = await trial(name, command(dropout, pilotSize, E, lr, name));
    if (r) pilots.push({ lr, val: r.val });
  }
  return { lr: pilots.length ? pilots.reduce((a, b) => (b.val < a.val ? b : a)).lr : grid[0], pilots };
}

const chosen = { plain: await chooseLr(false, plainLrs), drop: await chooseLr(true, lrs) };
const rows = [];
for (const n of sizes) {
  const E = epochsFor(n);
  const res = {};
  for (const [key, dropout] of [['plain', false], ['drop', true]]) {
    const { lr } = chosen[key];
    const name = `${key === 'drop' ? 'dropout' : 'plain'}-${net}-n${n}-u${updates}-lr${lr}-s${seed}`;
    res[key] = await trial(name, command(dropout, n, E, lr, name));
  }
  if (res.plain && res.drop) rows.push({ n, epochs: E, ...res });
}

if (!v['dry-run']) {
  const label = q ? 'QUICK smoke run, not a reproduction' : net === '784-1024-1024-2048-10' ? "the paper's net" : 'not the paper\'s net';
  const grid = (c) => (c.pilots.length ? `${c.lr} (validation % of the pilots: ${c.pilots.map((p) => `${p.lr}: ${p.val.toFixed(2)}`).join(', ')})` : String(c.lr));
  console.log(`\nFig. 10 — training-set size (${label}): ${net} ReLU, ${updates} updates of batch ${batch} per run, random subsets ` +
    `(seed ${seed}) of 50,000 images, ${VALIDATION} held out for validation, ${testSize ?? 10000} test images\n` +
    `learning rates (chosen on validation): without dropout ${grid(chosen.plain)}; with dropout ${grid(chosen.drop)}\n`);
  console.log(table(['training images', 'epochs', 'test error % without dropout', 'test error % with dropout', 'gain (points)', 'validation % without / with', 'wall (min) without / with'],
    rows.map((r) => [r.n, r.epochs, r.plain.test.toFixed(2), r.drop.test.toFixed(2), (r.plain.test - r.drop.test).toFixed(2),
      `${r.plain.val.toFixed(2)} / ${r.drop.val.toFixed(2)}`, `${r.plain.minutes.toFixed(1)} / ${r.drop.minutes.toFixed(1)}`])));
  console.log('\nPaper (784-1024-1024-2048-10): no gain at 100 and 500 images; the gain grows, then shrinks with more data.');
  console.log('\ncommands:');
  for (const r of rows) for (const x of [r.plain, r.drop]) console.log(`  ${x.command}`);
  if (rows.length) {
    const file = join(figuresDir(v), 'dataset-size.svg');
    writeSvg(file, lineChart({
      title: `Fig. 10: test error vs training-set size (${net})`, xLabel: 'training images (log scale)', yLabel: 'test error %',
      xLog: true, yMin: 0,
      series: [{ name: 'without dropout', points: rows.map((r) => [r.n, r.plain.test]) }, { name: 'with dropout', points: rows.map((r) => [r.n, r.drop.test]) }],
    }));
    console.log(`\nwrote ${file}  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
}
