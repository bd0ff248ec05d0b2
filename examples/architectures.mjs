// examples/architectures: the paper's Fig. 4 (§6.1.1) — MNIST test error against the number of
// weight updates for nets of 2 to 4 hidden layers of 1024 to 2048 units, each trained with and
// without dropout, all with the same hyperparameters (§6.1.1 says p and every other
// hyperparameter were the same for all the architectures, none tuned per architecture; that text
// is the paper's, not in PAPER.md, which gives the caption's ranges).
//
//   npm run build
//   node --experimental-wasm-relaxed-simd examples/architectures.mjs --checkpoint-dir runs/architectures
//   node examples/architectures.mjs --quick --threads 1   # smoke run: six small nets, 200 updates each (~10 s)
//   node examples/architectures.mjs --dry-run             # every command, and the estimated compute
//
// The nets (--nets; UNITSxLAYERS or a dash-separated list of hidden sizes): 1024x2, 2048x2,
// 1024x3, 2048x3, 1024x4, 2048x4 — every combination of the caption's 2–4 layers and 1024–2048
// units (the figure's legend is not in PAPER.md). Each net is trained twice,
// with dropout (p = 0.8 on the input, 0.5 on the hidden layers, max-norm 3 as in the repository's
// other MNIST scripts; B.1 used c = 2 for Table 2) and without (no dropout and no max-norm: a
// standard net, as in dataset-size). Common to all: ReLU, He-uniform init, batch 100, all 60,000
// training images, the damped momentum form of Hinton et al. 2012 ramped 0.5 → 0.95 over the first
// 20% of the epochs, the learning rate decaying exponentially to 3% of its start by the last epoch.
//
// What is plotted, and what is chosen where: Fig. 4 is the paper's plot of the test error during
// training, so the main runs have no validation split and the CLI evaluates the test set after
// every epoch (`--eval-every 1`; the `test error x%` of each epoch line is parsed and cached with
// the run). That curve is the figure and nothing else: no setting is chosen from it, and the
// reported number is the last epoch's (no early stopping). The one free choice, the learning
// rate, is made on held-out data and, as in the paper, once per family rather than per net: for
// each family (with / without dropout) every net is trained from each rate of its grid (--lrs
// 1,3,10 with dropout, --plain-lrs 0.03,0.1,0.3 without; App. A: dropout nets want 10–100× the
// rate of a standard net; gaussian-table's pilots put 3 at the top of 0.3,1,3 for a
// 784-1024-1024-10 dropout net, so this grid goes one step higher) for --pilot-updates 1000
// updates on the first --pilot-size 10,000 training images, with the last 10,000 held out
// (`--validation 10000`), and the rate with the lowest validation error averaged over the nets is
// used for every net of the family. (The paper states no learning rate for MNIST; the author's
// deepnet config used 1.0 with dropout.) The main runs then train on all 60,000 images (B.1: the
// settings chosen on validation, then training on the whole training set).
//
// Budget: --epochs 25 (15,000 updates per net; the paper ran its MNIST nets for up to 10⁶
// updates, so these curves are the start of the paper's). At ~65 GFLOP/s on both cores
// (6·weights FLOP per training image, 2·weights per evaluated image) the twelve main runs are
// ~27.9 TFLOP per epoch of training + 1.6 of test evaluation, ≈ 7.6 min per epoch of all twelve:
// ≈ 3.2 h for 25 epochs, plus ≈ 0.7 h of pilots (6 rates × 6 nets × 1,000 updates) — ≈ 3.8 h on an
// otherwise idle machine (--dry-run prints the estimate for the flags given). Every run is one
// `thinnet train` child, checkpointed every 5 epochs and resumed by rerunning the same command;
// finished runs (with their curves) are cached in <checkpoint-dir>/results.json, each child's
// output in <checkpoint-dir>/<run>.log (so a resumed run keeps the epochs before the interruption);
// the checkpoints (model + velocity) of the twelve main runs take ≈ 0.6 GB.
//
// Flags: --nets LIST  --epochs 25  --lrs 1,3,10  --plain-lrs 0.03,0.1,0.3  --pilot-size 10000
//        --pilot-updates 1000  --train-size 60000  --test-size N (all 10,000)  --checkpoint-dir DIR
//        --dry-run  --threads N  --seed N (1)  --out DIR (runs/figures)  --quick
// --quick: nets 64x2, 128x2, 64x3, 128x3, 64x4, 128x4; 4 epochs of 5,000 images (200 updates); lr 3 /
// 0.3 (no pilots); 1,000 test images. Writes DIR/architectures.svg (test error vs weight updates,
// one line per net and family: with dropout solid, without dashed, the same colour per net).
import { join } from 'node:path';
import { figuresDir, flags, list, num, posInt, table } from './lib/common.mjs';
import { lineChart, writeSvg } from './lib/svg.mjs';
import { cli, epochCurve, trials } from './lib/trials.mjs';

const v = flags(import.meta.url, {
  nets: { type: 'string' }, epochs: { type: 'string' }, lrs: { type: 'string' }, 'plain-lrs': { type: 'string' },
  'pilot-size': { type: 'string' }, 'pilot-updates': { type: 'string' }, 'train-size': { type: 'string' },
  'test-size': { type: 'string' }, 'checkpoint-dir': { type: 'string' }, 'dry-run': { type: 'boolean', default: false },
});
const q = v.quick;
const VALIDATION = 10000, BATCH = 100, GFLOPS = 65;

/** --nets: UNITSxLAYERS (1024x3) or hidden sizes joined by '-' (1024-1024-2048), comma-separated. */
function parseNets(s) {
  return String(s).split(',').filter((t) => t.trim() !== '').map((t) => {
    const m = /^\s*(\d+)x(\d+)\s*$/.exec(t);
    const hidden = m ? Array(Number(m[2])).fill(Number(m[1])) : t.trim().split('-').map(Number);
    if (hidden.length === 0 || !hidden.every(posInt)) throw new Error(`--nets: expected UNITSxLAYERS or sizes like 1024-1024-2048, got '${t}'`);
    return hidden;
  });
}
const nets = parseNets(v.nets ?? (q ? '64x2,128x2,64x3,128x3,64x4,128x4' : '1024x2,2048x2,1024x3,2048x3,1024x4,2048x4'));
const epochs = num(v, 'epochs', q ? 4 : 25, posInt);
const lrs = list(v, 'lrs', q ? [3] : [1, 3, 10], (x) => x > 0);
const plainLrs = list(v, 'plain-lrs', q ? [0.3] : [0.03, 0.1, 0.3], (x) => x > 0);
const pilotSize = num(v, 'pilot-size', 10000, (x) => posInt(x) && x <= 60000 - VALIDATION);
const pilotUpdates = num(v, 'pilot-updates', 1000, posInt);
const trainSize = num(v, 'train-size', q ? 5000 : 60000, (x) => posInt(x) && x <= 60000);
const testSize = num(v, 'test-size', q ? 1000 : undefined, (x) => posInt(x) && x <= 10000);
const seed = num(v, 'seed', 1, (x) => Number.isInteger(x) && x >= 0);
const { trial, checkpoint } = trials(v['checkpoint-dir'], { dryRun: v['dry-run'], record: 'architectures' });
const t0 = performance.now();

const FAMILIES = [
  { key: 'dropout', label: 'dropout', flags: ['--keep-input', '0.8', '--keep-hidden', '0.5', '--max-norm', '3'], grid: lrs },
  { key: 'plain', label: 'no dropout', flags: ['--no-dropout', '--max-norm', '0'], grid: plainLrs },
];
const netName = (h) => (h.every((u) => u === h[0]) ? `${h.length}×${h[0]}` : h.join('-'));
const netTag = (h) => h.join('-');
/** Weights (and biases) of 784-h-10. */
const weights = (h) => [784, ...h, 10].reduce((a, n, i, s) => (i === 0 ? 0 : a + s[i - 1] * n + n), 0);
/** Paper numbers for these nets with dropout (PAPER.md; Fig. 4 itself is a plot without numbers there). */
const PAPER = {
  '1024-1024-1024': '1.06 (Table 2: ReLU, max-norm c = 2, 10⁶ updates)',
  '1024-1024-2048': '1.05 (Table 9: dropout + max-norm)',
};

const epochsFor = (n, updates) => Math.ceil(updates / Math.ceil(n / BATCH));
let flop = 0; // the estimate --dry-run prints: 6·W per training image, 2·W per evaluated image

function command(fam, hidden, { n, E, lr, pilot, name }) {
  const args = ['--experimental-wasm-relaxed-simd', cli, 'train',
    '--hidden', hidden.join(','), '--activation', 'relu', '--init', 'heUniform', ...fam.flags,
    ...(pilot ? ['--validation', String(VALIDATION)] : []), '--train-size', String(n),
    '--epochs', String(E), '--batch', String(BATCH),
    '--lr', String(lr), '--lr-decay', Math.pow(0.03, 1 / E).toPrecision(9), '--momentum', '0.5', '--momentum-final', '0.95',
    '--momentum-epochs', String(Math.max(1, Math.round(E / 5))), '--momentum-form', 'paper',
    // main runs: the test set after every epoch (the figure); pilots: validation only at the end
    '--eval-every', pilot ? String(E) : '1', '--seed', String(seed), '--quiet'];
  if (testSize) args.push('--test-size', String(testSize));
  if (v.threads) args.push('--threads', v.threads);
  args.push(...checkpoint(name, 5));
  const W = weights(hidden), tests = testSize ?? 10000;
  flop += 6 * W * n * E + 2 * W * (pilot ? 2 * VALIDATION + tests : tests * E);
  return args;
}

/** A family's learning rate: the grid's lowest validation error averaged over the nets (or its only value). */
async function chooseLr(fam) {
  if (fam.grid.length === 1) return { lr: fam.grid[0], pilots: [] };
  const E = epochsFor(pilotSize, pilotUpdates), pilots = [];
  for (const lr of fam.grid) {
    const vals = [];
    for (const hidden of nets) {
      const name = `pilot-${fam.key}-${netTag(hidden)}-n${pilotSize}-u${pilotUpdates}-lr${lr}-s${seed}`;
      const r = await trial(name, command(fam, hidden, { n: pilotSize, E, lr, pilot: true, name }));
      if (r) vals.push(r.val);
    }
    if (vals.length) pilots.push({ lr, vals, mean: vals.reduce((a, b) => a + b, 0) / vals.length });
  }
  return { lr: pilots.length ? pilots.reduce((a, b) => (b.mean < a.mean ? b : a)).lr : fam.grid[0], pilots };
}

const chosen = {};
for (const fam of FAMILIES) chosen[fam.key] = await chooseLr(fam);
const runs = {}; // runs[family][net tag]
const updatesPerEpoch = Math.ceil(trainSize / BATCH);
for (const fam of FAMILIES) {
  runs[fam.key] = {};
  for (const hidden of nets) {
    const { lr } = chosen[fam.key];
    const name = `${fam.key}-${netTag(hidden)}-n${trainSize}-e${epochs}-lr${lr}${testSize ? `-t${testSize}` : ''}-s${seed}`;
    const r = await trial(name, command(fam, hidden, { n: trainSize, E: epochs, lr, pilot: false, name }),
      { parse: (out) => ({ curve: epochCurve(out, 'test') }) });
    if (r) runs[fam.key][netTag(hidden)] = r;
  }
}

if (v['dry-run']) {
  const hours = flop / (GFLOPS * 1e9) / 3600;
  if (lrs.length > 1 || plainLrs.length > 1) console.log('(the main runs are shown with the first rate of each grid; the pilots choose the rate they run with)');
  console.log(`\nestimated compute (every run above, cached ones included): ${(flop / 1e12).toFixed(1)} TFLOP ≈ ${hours.toFixed(1)} h at ${GFLOPS} GFLOP/s`);
} else {
  const label = q ? 'QUICK smoke run, not a reproduction' : 'the paper\'s range of nets, a shortened run';
  const grid = (c) => (c.pilots.length
    ? `${c.lr}${c.lr === Math.min(...c.pilots.map((p) => p.lr)) || c.lr === Math.max(...c.pilots.map((p) => p.lr)) ? ', an end of the grid,' : ''} ` +
      `(validation % averaged over the ${nets.length} nets, per rate: ${c.pilots.map((p) => `${p.lr}: ${p.mean.toFixed(2)}`).join(', ')})`
    : `${c.lr} (fixed, no pilots)`);
  console.log(`\nFig. 4 — architectures (${label}): MNIST, ${trainSize} training images, ${epochs} epochs = ${epochs * updatesPerEpoch} updates ` +
    `of batch ${BATCH} per net, test error on ${testSize ?? 10000} test images after every epoch (the figure; nothing is chosen from it)\n` +
    `learning rates (one per family, chosen on a validation split): with dropout ${grid(chosen.dropout)}; without dropout ${grid(chosen.plain)}\n`);
  const done = nets.filter((h) => runs.dropout[netTag(h)] && runs.plain[netTag(h)]);
  console.log(table(['net', 'weights', 'test error % with dropout (last epoch)', 'test error % without dropout (last epoch)', 'gain (points)', 'paper, with dropout', 'wall (min) with / without'],
    done.map((h) => {
      const d = runs.dropout[netTag(h)], p = runs.plain[netTag(h)];
      return [`784-${h.join('-')}-10`, (weights(h) / 1e6).toFixed(2) + 'M', d.test.toFixed(2), p.test.toFixed(2), (p.test - d.test).toFixed(2),
        PAPER[netTag(h)] ?? '—', `${d.minutes.toFixed(1)} / ${p.minutes.toFixed(1)}`];
    })));
  // the figure in numbers: the curve at (about) five evenly spaced epochs
  const at = [...new Set([1, 2, 3, 4, 5].map((k) => Math.max(1, Math.round((k * epochs) / 5))))];
  console.log(`\nTest error % during training (the curves of the figure, at ${at.map((e) => `${e * updatesPerEpoch} updates`).join(', ')}):\n`);
  const rowsAt = [];
  for (const fam of FAMILIES) {
    for (const h of done) {
      const c = new Map(runs[fam.key][netTag(h)].curve ?? []);
      rowsAt.push([`784-${h.join('-')}-10`, fam.label, ...at.map((e) => (c.has(e) ? c.get(e).toFixed(2) : '—'))]);
    }
  }
  console.log(table(['net', 'family', ...at.map((e) => `epoch ${e}`)], rowsAt));
  console.log('\nPaper (Fig. 4): the nets with and without dropout form two separate clusters of curves; dropout lowers the test error of every architecture.');
  console.log('\ncommands:');
  for (const fam of FAMILIES) for (const h of done) console.log(`  ${runs[fam.key][netTag(h)].command}`);
  const series = [];
  for (const fam of FAMILIES) {
    for (const h of done) {
      const curve = runs[fam.key][netTag(h)].curve ?? [];
      if (curve.length) series.push({ name: `${netName(h)} ${fam.label}`, points: curve.map(([e, err]) => [e * updatesPerEpoch, err]), dashed: fam.key === 'plain' });
    }
  }
  if (series.length) {
    const file = join(figuresDir(v), 'architectures.svg');
    writeSvg(file, lineChart({
      title: "Fig. 4: MNIST test error during training (solid: dropout, dashed: none)",
      xLabel: `weight updates (batch ${BATCH})`, yLabel: 'test error %', series,
    }));
    console.log(`\nwrote ${file}  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
}
