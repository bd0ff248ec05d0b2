// examples/regularizers-table: the paper's Table 9 — dropout against the other
// regularizers on MNIST, the same 784-1024-1024-2048-10 net for every row. Paper (test error %):
// L2 1.62, L2 + L1 1.60, L2 + KL-sparsity 1.55, max-norm 1.35, dropout + L2 1.25, dropout +
// max-norm 1.05.
//
//   npm run build
//   node --experimental-wasm-relaxed-simd examples/regularizers-table.mjs --checkpoint-dir runs/regularizers
//   node examples/regularizers-table.mjs --quick --threads 1   # smoke run: 784-64-64-128-10, tiny grids (~20 s)
//   node examples/regularizers-table.mjs --dry-run             # every command, and the estimated compute
//
// Rows (every one `thinnet train`; ReLU, He-uniform init unless said otherwise):
//   L2                  no dropout, no max-norm, --l2 λ₂ (λ₂·Σw² on every layer's weights, not the biases)
//   L2 + L1             the L2 row's lr and λ₂, plus --l1 λ₁
//   L2 (sigmoid)        a control row, not in the paper: the L2 row with sigmoid hidden units
//                       (Glorot-uniform init) and its own lr and λ₂
//   L2 + KL-sparsity    the control's lr and λ₂, plus --kl-sparsity ρ,β on every hidden layer
//   max-norm            no dropout, --max-norm c
//   dropout + L2        p = 0.8 input / 0.5 hidden, no max-norm, --l2 λ₂
//   dropout + max-norm  p = 0.8 input / 0.5 hidden, --max-norm c
// KL-sparsity and the units: β·Σ_j KL(ρ ‖ ρ̂_j) compares each unit's mean activation ρ̂_j over
// the batch with a target rate ρ, which needs activations in (0, 1); thinnet (CLI and layers)
// allows it only on sigmoid units. The paper's Table 9 nets are ReLU and it does not say how it
// applied KL sparsity to them, so here the KL row is a sigmoid net, and the "L2 (sigmoid)" control
// row (the same net, L2 only, chosen the same way) shows how much of that row's difference from
// the L2 row comes from the units rather than from the penalty.
//
// Protocol (as gaussian-table; every choice on held-out data, the test set read once per reported
// number): the last 10,000 training images are the validation set, the first --train-size 50,000
// of the other 50,000 the training set. Each row's settings are chosen by pilot runs (seed 1,
// --pilot-epochs 10 epochs = 1,000 updates on the first --pilot-size 10,000 images) on validation
// error alone, over these grids (the product of a row's lists):
//   L2, max-norm:               lr ∈ --plain-lrs 0.03,0.1,0.3,1
//   L2 (sigmoid):               lr ∈ --sigmoid-lrs 0.1,0.3,1,3 (lower: small sigmoid nets stalled at ≥ 3)
//   dropout + L2 / + max-norm:  lr ∈ --lrs 0.3,1,3,10 (App. A: dropout wants 10–100× the rate)
//   λ₂ ∈ --l2s 1e-5,1e-4,1e-3   c ∈ --max-norms 2,3,4 (App. A: 3–4; B.1: 2)
//   L2 + L1: λ₁ ∈ --l1s 1e-6,1e-5,1e-4   L2 + KL: ρ ∈ --kl-rhos 0.05,0.2 × β ∈ --kl-betas 1e-4,1e-3,1e-2
// (69 pilots). The chosen setting then trains --epochs epochs, and the last epoch's validation and
// test errors are reported (no early stopping). The CLI prints a test error at the end of every
// run; the pilots' are cached in results.json but never used or shown. All rows: batch 100, the
// damped momentum form of Hinton et al. 2012 ramped 0.5 → 0.95 over the first 20% of the epochs,
// the learning rate decaying exponentially to 3% of its start by the last epoch, one seed.
//
// Budget: --epochs 50 (25,000 updates; the paper does not say how long the Table 9 nets trained,
// its other MNIST nets ran 10⁶ updates). At ~65 GFLOP/s on both cores (6·3.97M FLOP per training
// image): a main run ≈ 16 min, the seven ≈ 1.8 h, the 69 pilots (40 s each) ≈ 0.8 h — ≈ 2.6 h in
// all on an otherwise idle machine (--epochs 100: ≈ 4.4 h; --dry-run prints the estimate for the
// flags given). Every run is checkpointed every 5 epochs and resumed by rerunning the same command;
// finished runs are cached in <checkpoint-dir>/results.json. --rows picks rows (keys: l2, l2-l1,
// l2-sigmoid, l2-kl, maxnorm, dropout-l2, dropout-maxnorm); a staged row (l2-l1, l2-kl) runs its
// base row's pilots too.
//
// Flags: --epochs 50  --train-size 50000  --pilot-epochs 10  --pilot-size 10000  --hidden 1024,1024,2048
//        the grids above  --rows LIST  --test-size N (all 10,000)  --checkpoint-dir DIR  --dry-run
//        --threads N  --seed N (1)  --quick
// --quick: 784-64-64-128-10, 4 epochs on 5,000 images (pilots 2 epochs on 1,000), one lr per row
// (0.3 plain, 1 sigmoid, 3 dropout) and two values of each strength, 1,000 test images.
import { flags, list, num, posInt, table } from './lib/common.mjs';
import { cli, trials } from './lib/trials.mjs';

const v = flags(import.meta.url, {
  epochs: { type: 'string' }, 'train-size': { type: 'string' }, 'pilot-epochs': { type: 'string' }, 'pilot-size': { type: 'string' },
  hidden: { type: 'string' }, lrs: { type: 'string' }, 'plain-lrs': { type: 'string' }, 'sigmoid-lrs': { type: 'string' },
  l2s: { type: 'string' }, l1s: { type: 'string' }, 'kl-rhos': { type: 'string' }, 'kl-betas': { type: 'string' },
  'max-norms': { type: 'string' }, rows: { type: 'string' }, 'test-size': { type: 'string' },
  'checkpoint-dir': { type: 'string' }, 'dry-run': { type: 'boolean', default: false },
});
const q = v.quick;
const VALIDATION = 10000, BATCH = 100, GFLOPS = 65;
const pos = (x) => x > 0;
const hidden = list(v, 'hidden', q ? [64, 64, 128] : [1024, 1024, 2048], posInt);
const epochs = num(v, 'epochs', q ? 4 : 50, posInt);
const trainSize = num(v, 'train-size', q ? 5000 : 50000, (x) => posInt(x) && x <= 60000 - VALIDATION);
const pilotEpochs = num(v, 'pilot-epochs', q ? 2 : 10, posInt);
const pilotSize = num(v, 'pilot-size', q ? 1000 : 10000, (x) => posInt(x) && x <= 60000 - VALIDATION);
const testSize = num(v, 'test-size', q ? 1000 : undefined, (x) => posInt(x) && x <= 10000);
const seed = num(v, 'seed', 1, (x) => Number.isInteger(x) && x >= 0);
const G = {
  lrs: list(v, 'lrs', q ? [3] : [0.3, 1, 3, 10], pos),
  plainLrs: list(v, 'plain-lrs', q ? [0.3] : [0.03, 0.1, 0.3, 1], pos),
  sigmoidLrs: list(v, 'sigmoid-lrs', q ? [1] : [0.1, 0.3, 1, 3], pos),
  l2s: list(v, 'l2s', q ? [1e-5, 1e-3] : [1e-5, 1e-4, 1e-3], pos),
  l1s: list(v, 'l1s', q ? [1e-6, 1e-4] : [1e-6, 1e-5, 1e-4], pos),
  rhos: list(v, 'kl-rhos', q ? [0.1] : [0.05, 0.2], (x) => x > 0 && x < 1),
  betas: list(v, 'kl-betas', q ? [1e-4, 1e-2] : [1e-4, 1e-3, 1e-2], pos),
  maxNorms: list(v, 'max-norms', q ? [2, 4] : [2, 3, 4], pos),
};

/** Every combination of the lists, as objects, in order (the last key varying fastest). */
const cross = (lists) => Object.entries(lists).reduce((acc, [k, xs]) => acc.flatMap((a) => xs.map((x) => ({ ...a, [k]: x }))), [{}]);
const DROPOUT = ['--keep-input', '0.8', '--keep-hidden', '0.5'];
// own: the row's grid, as lists (all combinations); base: a staged row's grid is added to its base row's choice
const ROWS = [
  { key: 'l2', label: 'L2', units: 'relu', paper: '1.62', own: { lr: G.plainLrs, l2: G.l2s } },
  { key: 'l2-l1', label: 'L2 + L1', units: 'relu', paper: '1.60', base: 'l2', own: { l1: G.l1s } },
  { key: 'l2-sigmoid', label: 'L2, sigmoid units (control for the KL row; not in the paper)', units: 'sigmoid', paper: '—', own: { lr: G.sigmoidLrs, l2: G.l2s } },
  { key: 'l2-kl', label: 'L2 + KL-sparsity (sigmoid units)', units: 'sigmoid', paper: '1.55', base: 'l2-sigmoid', own: { rho: G.rhos, beta: G.betas } },
  { key: 'maxnorm', label: 'max-norm', units: 'relu', paper: '1.35', own: { lr: G.plainLrs, c: G.maxNorms } },
  { key: 'dropout-l2', label: 'dropout + L2', units: 'relu', paper: '1.25', dropout: true, own: { lr: G.lrs, l2: G.l2s } },
  { key: 'dropout-maxnorm', label: 'dropout + max-norm', units: 'relu', paper: '1.05', dropout: true, own: { lr: G.lrs, c: G.maxNorms } },
];
const byKey = Object.fromEntries(ROWS.map((r) => [r.key, r]));
const wanted = v.rows === undefined ? ROWS.map((r) => r.key) : String(v.rows).split(',').map((s) => s.trim()).filter(Boolean);
for (const k of wanted) if (!byKey[k]) throw new Error(`--rows: unknown row '${k}' (rows: ${ROWS.map((r) => r.key).join(', ')})`);

const { trial, checkpoint } = trials(v['checkpoint-dir'], { dryRun: v['dry-run'], record: 'regularizers-table' });
const net = `784-${hidden.join('-')}-10`;
const W = [784, ...hidden, 10].reduce((a, n, i, s) => (i === 0 ? 0 : a + s[i - 1] * n + n), 0);
let flop = 0; // the estimate --dry-run prints: 6·W per training image, 2·W per evaluated image

/** A setting's words: lr 0.1, λ₂ 1e-4, ... */
const describe = (s) => [s.lr !== undefined && `lr ${s.lr}`, s.l2 !== undefined && `λ₂ ${s.l2}`, s.l1 !== undefined && `λ₁ ${s.l1}`,
  s.rho !== undefined && `ρ ${s.rho}, β ${s.beta}`, s.c !== undefined && `c ${s.c}`].filter(Boolean).join(', ');
const SYMBOL = { lr: 'lr', l2: 'λ₂', l1: 'λ₁', rho: 'ρ', beta: 'β', c: 'c' };
/** The values of a row's own grid that its choice took at an end of their list (a wider grid might do better). */
const atEdge = (row, s) => Object.entries(row.own)
  .filter(([k, xs]) => xs.length > 1 && (s[k] === Math.min(...xs) || s[k] === Math.max(...xs))).map(([k]) => SYMBOL[k]);
/** A setting in a file name: lr0.1-l2_0.0001-... */
const tag = (s) => Object.entries(s).map(([k, x]) => `${k}${k === 'l2' || k === 'l1' ? '_' : ''}${x}`).join('-');

function command(row, s, { n, E, name, pilot = false }) {
  const args = ['--experimental-wasm-relaxed-simd', cli, 'train',
    '--hidden', hidden.join(','), '--activation', row.units, '--init', row.units === 'sigmoid' ? 'glorotUniform' : 'heUniform',
    ...(row.dropout ? DROPOUT : ['--no-dropout']), '--max-norm', String(s.c ?? 0),
    ...(s.l2 !== undefined ? ['--l2', String(s.l2)] : []), ...(s.l1 !== undefined ? ['--l1', String(s.l1)] : []),
    ...(s.rho !== undefined ? ['--kl-sparsity', `${s.rho},${s.beta}`] : []),
    '--validation', String(VALIDATION), '--train-size', String(n), '--epochs', String(E), '--batch', String(BATCH),
    '--lr', String(s.lr), '--lr-decay', Math.pow(0.03, 1 / E).toPrecision(9), '--momentum', '0.5', '--momentum-final', '0.95',
    '--momentum-epochs', String(Math.max(1, Math.round(E / 5))), '--momentum-form', 'paper',
    // validation ~10 times during a main run (its progress in the log), once at a pilot's end
    '--eval-every', String(pilot ? E : Math.max(1, Math.floor(E / 10))), '--seed', String(seed), '--quiet'];
  if (testSize) args.push('--test-size', String(testSize));
  if (v.threads) args.push('--threads', v.threads);
  args.push(...checkpoint(name, 5));
  const evals = Math.ceil(E / (pilot ? E : Math.max(1, Math.floor(E / 10)))) + 1; // during training, and the final validation pass
  flop += 6 * W * n * E + 2 * W * (VALIDATION * evals + (testSize ?? 10000));
  return args;
}

const choices = {};
/** A row's setting: its grid's lowest validation error in the pilots (a staged row's grid is built on its base's choice). */
async function choose(row) {
  if (choices[row.key]) return choices[row.key];
  const base = row.base ? (await choose(byKey[row.base])).setting : undefined;
  const grid = cross(row.own).map((x) => ({ ...base, ...x }));
  const pilots = [];
  if (grid.length > 1) {
    for (const s of grid) {
      const name = `pilot-${row.key}-${hidden.join('-')}-n${pilotSize}-e${pilotEpochs}-${tag(s)}-s${seed}`;
      const r = await trial(name, command(row, s, { n: pilotSize, E: pilotEpochs, name, pilot: true }));
      if (r) pilots.push({ setting: s, val: r.val });
    }
  }
  const setting = pilots.length ? pilots.reduce((a, b) => (b.val < a.val ? b : a)).setting : grid[0];
  return (choices[row.key] = { setting, pilots, grid });
}

const results = [];
for (const key of wanted) {
  const row = byKey[key];
  const c = await choose(row);
  const name = `${row.key}-${hidden.join('-')}-n${trainSize}-e${epochs}-${tag(c.setting)}${testSize ? `-t${testSize}` : ''}-s${seed}`;
  const r = await trial(name, command(row, c.setting, { n: trainSize, E: epochs, name }));
  if (r) results.push({ row, ...c, r });
}

if (v['dry-run']) {
  console.log('(the main runs, and the grids of the staged rows, are shown with the first setting of each grid; the pilots choose)');
  console.log(`\nestimated compute (every run above, cached ones included): ${(flop / 1e12).toFixed(1)} TFLOP ≈ ${(flop / (GFLOPS * 1e9) / 3600).toFixed(1)} h at ${GFLOPS} GFLOP/s`);
} else {
  const label = q ? 'QUICK smoke run, not a reproduction' : hidden.join(',') === '1024,1024,2048' ? "the paper's net" : "not the paper's net";
  console.log(`\nTable 9 — regularizers (${label}): MNIST ${net}, ${trainSize} training images, ${epochs} epochs of batch ${BATCH}, ` +
    `${VALIDATION} held out for validation, ${testSize ?? 10000} test images; settings chosen on validation error (pilots: ${pilotEpochs} epochs on ${pilotSize} images)\n`);
  console.log(table(['method', 'hidden units', 'paper test %', 'thinnet test %', 'validation %', 'setting (chosen on validation)', 'pilots', 'wall (min)'],
    results.map(({ row, setting, pilots, r }) => [row.label, row.units === 'sigmoid' ? 'sigmoid' : 'ReLU', row.paper, r.test.toFixed(2), r.val.toFixed(2),
      describe(setting) + (pilots.length && atEdge(row, setting).length ? ` (grid edge: ${atEdge(row, setting).join(', ')})` : ''), pilots.length ? `${pilots.length} (validation % ${Math.min(...pilots.map((p) => p.val)).toFixed(2)}–${Math.max(...pilots.map((p) => p.val)).toFixed(2)})` : 'none (one setting)',
      r.minutes.toFixed(1)])));
  console.log('\npilot validation errors % (the grid of each row, in order):');
  for (const row of ROWS) {
    const pilots = choices[row.key]?.pilots ?? [];
    if (pilots.length) console.log(`  ${row.label}: ${pilots.map((p) => `${describe(p.setting)}: ${p.val.toFixed(2)}`).join('; ')}`);
  }
  console.log('\ncommands:');
  for (const x of results) console.log(`  ${x.r.command}`);
}
