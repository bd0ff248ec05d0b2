// examples/gaussian-table: the paper's Table 10 (§10) — Bernoulli dropout vs Gaussian dropout
// (multiplicative noise r ~ N(1, (1 − p)/p), no test-time scaling) on MNIST, 784-1024-1024-10
// ReLU nets, several seeds, mean ± standard deviation of the test error. Paper: Bernoulli 1.08 ±
// 0.04, Gaussian 0.95 ± 0.04.
//
//   npm run build
//   node --experimental-wasm-relaxed-simd examples/gaussian-table.mjs --checkpoint-dir runs/gaussian
//   node examples/gaussian-table.mjs --quick       # a smoke run: 1,000 images, 2 epochs, 1 seed, 1 learning rate
//   node examples/gaussian-table.mjs --dry-run     # print every command
//
// Protocol (every choice on held-out data, the test set read once per reported number): the last
// 10,000 training images are the validation set, the first --train-size of the other 50,000 the
// training set. For each noise the learning rate is chosen from --lrs by pilot runs (seed 1,
// --pilot-epochs epochs on --pilot-size images) on validation error; the chosen rate then trains
// --epochs epochs for each of --seeds, and the final epoch's validation and test errors are
// reported (no early stopping). Both nets: retention p = 0.8 on the input and 0.5 on the hidden
// layers (the same p gives Gaussian σ² = 0.25 and 1), max-norm 3, He-uniform init, batch 100, the
// momentum form of Hinton et al. 2012 (0.5 → 0.95 over 10 epochs), the learning rate decaying
// exponentially to 3% of its start. Every run is `thinnet train` (printed), checkpointed every
// 5 epochs and resumed by rerunning the same command; finished runs are cached in
// <checkpoint-dir>/results.json.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cli, trials } from './lib/trials.mjs';

const PAPER = { bernoulli: '1.08 ± 0.04', gaussian: '0.95 ± 0.04' };
const NOISES = { bernoulli: 'Bernoulli dropout', gaussian: 'Gaussian dropout' };

const { values } = parseArgs({
  options: {
    'train-size': { type: 'string', default: '50000' }, epochs: { type: 'string', default: '50' },
    seeds: { type: 'string', default: '1,2,3' }, lrs: { type: 'string', default: '0.3,1,3,10' },
    'pilot-epochs': { type: 'string', default: '5' }, 'pilot-size': { type: 'string', default: '10000' },
    threads: { type: 'string' }, 'checkpoint-dir': { type: 'string' },
    quick: { type: 'boolean', default: false }, 'dry-run': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n'));
  process.exit(0);
}
if (values.quick) Object.assign(values, { 'train-size': '1000', epochs: '2', seeds: '1', lrs: '1' });
const ints = (s, name) => {
  const xs = String(s).split(',').map(Number);
  if (!xs.every((x) => Number.isInteger(x) && x > 0)) throw new Error(`--${name}: positive integers, got ${s}`);
  return xs;
};
const [size] = ints(values['train-size'], 'train-size'), [epochs] = ints(values.epochs, 'epochs');
const seeds = ints(values.seeds, 'seeds');
const lrs = values.lrs.split(',').map(Number);
if (!lrs.every((x) => x > 0)) throw new Error(`--lrs: positive numbers, got ${values.lrs}`);
const { trial, checkpoint } = trials(values['checkpoint-dir'], { dryRun: values['dry-run'], record: 'gaussian-table' });

function command(noise, n, E, lr, seed, name) {
  const args = ['--experimental-wasm-relaxed-simd', cli, 'train',
    '--hidden', '1024,1024', '--activation', 'relu', '--init', 'heUniform', '--noise', noise,
    '--keep-input', '0.8', '--keep-hidden', '0.5', '--max-norm', '3',
    '--validation', '10000', '--train-size', String(n), '--epochs', String(E), '--batch', '100',
    '--lr', String(lr), '--lr-decay', Math.pow(0.03, 1 / E).toFixed(6), '--momentum', '0.5', '--momentum-final', '0.95',
    '--momentum-epochs', String(Math.min(10, E)), '--momentum-form', 'paper',
    '--eval-every', String(Math.max(1, Math.floor(E / 10))), '--seed', String(seed), '--quiet'];
  if (values.threads) args.push('--threads', values.threads);
  args.push(...checkpoint(name));
  return args;
}

const stats = (xs) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : NaN;
  return { m, sd };
};

const rows = [];
for (const noise of Object.keys(NOISES)) {
  let lr = lrs[0];
  const pilots = [];
  if (lrs.length > 1) {
    const pilotSize = Number(values['pilot-size']), pilotEpochs = Number(values['pilot-epochs']);
    for (const rate of lrs) {
      const name = `pilot-${noise}-n${pilotSize}-e${pilotEpochs}-lr${rate}`;
      const r = await trial(name, command(noise, pilotSize, pilotEpochs, rate, 1, name));
      if (r) pilots.push({ lr: rate, val: r.val });
    }
    if (pilots.length) lr = pilots.reduce((a, b) => (b.val < a.val ? b : a)).lr;
  }
  const runs = [];
  for (const seed of seeds) {
    const name = `${noise}-n${size}-e${epochs}-lr${lr}-s${seed}`;
    const r = await trial(name, command(noise, size, epochs, lr, seed, name));
    if (r) runs.push({ seed, ...r });
  }
  if (runs.length) rows.push({ noise, lr, pilots, runs });
}

if (!values['dry-run']) {
  console.log(`\nTable 10 — MNIST 784-1024-1024-10 ReLU, ${size} training images, ${epochs} epochs, seeds ${seeds.join(', ')}${values.quick ? ' (QUICK smoke run, not a reproduction)' : ''}\n`);
  console.log('| noise | paper test % | thinnet test % (mean ± sd) | validation % (mean ± sd) | test % per seed | lr (chosen on validation) | wall (min, all seeds) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const t = stats(r.runs.map((x) => x.test)), v = stats(r.runs.map((x) => x.val));
    const pm = (s) => `${s.m.toFixed(2)}${Number.isNaN(s.sd) ? '' : ` ± ${s.sd.toFixed(2)}`}`;
    const pilots = r.pilots.length ? ` (of ${r.pilots.map((p) => `${p.lr}: ${p.val.toFixed(2)}`).join(', ')})` : '';
    console.log(`| ${NOISES[r.noise]} | ${PAPER[r.noise]} | ${pm(t)} | ${pm(v)} | ${r.runs.map((x) => x.test.toFixed(2)).join(', ')} | ` +
      `${r.lr}${pilots} | ${r.runs.reduce((a, x) => a + x.minutes, 0).toFixed(1)} |`);
  }
  console.log('\ncommands:');
  for (const r of rows) for (const x of r.runs) console.log(`  ${x.command}`);
}
