// examples/conv-mnist: the paper's conv-net finding (§6.1.2, Tables 3–5) on MNIST with thinnet:
// the same conv net trained three ways — no dropout, dropout in the fully connected layers only,
// dropout in all layers (input and feature maps too, the paper's p per layer, max-norm) — on a
// training subset small enough to overfit and on the full training set, printed beside the
// paper's SVHN / CIFAR-10 / CIFAR-100 rows.
//
//   npm run build
//   node --experimental-wasm-relaxed-simd examples/conv-mnist.mjs --checkpoint-dir runs/conv
//   node examples/conv-mnist.mjs --quick          # a smoke run: 1,000 images, 2 epochs, 1 learning rate
//   node examples/conv-mnist.mjs --dry-run        # print every command
//
// Protocol (every choice on held-out data, the test set read once per reported number):
// the last 10,000 training images are the validation set; a run trains on the first
// --sizes images of the other 50,000. For each (size, variant) the learning rate is chosen from
// --lrs by pilot runs of --pilot-epochs epochs, on validation error; the chosen rate then trains
// --epochs epochs, and the final epoch's validation and test errors are reported (no early
// stopping, as the paper on MNIST). With --seeds (e.g. 1,2,3) every chosen setting is trained
// once per seed (initialization and dropout masks; the pilots use the first seed) and the table
// gives the mean ± standard deviation over the seeds, each seed's errors beside it. Every run is
// `thinnet train` (printed), checkpointed every 5 epochs and resumed by rerunning the same command; finished runs are cached in
// <checkpoint-dir>/results.json, so an interrupted script continues where it stopped.
//
// The net (MNIST-sized version of the paper's App. B.2 net: 5×5 convs, overlapping 3×3 stride-2
// max-pooling, two fully connected layers, ReLU, max-norm c = 4):
//   input 28×28×1 → conv 5×5×32 → pool → conv 5×5×64 → pool → FC 1024 → FC 1024 → 10
// dropout retention p (paper: 0.9, 0.75, 0.75, 0.5, 0.5, 0.5 from input to top):
//   all layers: 0.9 on the input, 0.75 on each pooled feature map, 0.5 on each FC layer's output
//   FC only:    0.5 on each FC layer's output
// SGD, batch 100, the damped momentum form of Hinton et al. 2012 (arXiv:1207.0580; `--momentum-form
// paper`) with momentum 0.5 → 0.95 over 10 epochs (5 in pilots),
// the learning rate decaying exponentially to 3% of its start by the last epoch.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cli, trials } from './lib/trials.mjs';

const PAPER = { // test error %: [no dropout, dropout in FC layers, dropout in all layers]
  SVHN: [3.95, 3.02, 2.55], 'CIFAR-10': [14.98, 14.32, 12.61], 'CIFAR-100': [43.48, 41.26, 37.20],
};
const VARIANTS = {
  none: { label: 'no dropout', col: 0, flags: ['--no-dropout'] },
  fc: { label: 'dropout in the FC layers', col: 1, flags: ['--dropout-layers', 'fc'] },
  all: { label: 'dropout in all layers', col: 2, flags: ['--dropout-layers', 'all'] },
};

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,50000' }, epochs: { type: 'string', default: '60,20' },
    variants: { type: 'string', default: 'none,fc,all' }, lrs: { type: 'string', default: '0.1,0.3,1' },
    'pilot-epochs': { type: 'string', default: '5' }, 'pilot-size': { type: 'string' },
    threads: { type: 'string' }, seed: { type: 'string' }, seeds: { type: 'string', default: '1' }, 'checkpoint-dir': { type: 'string' },
    quick: { type: 'boolean', default: false }, 'dry-run': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n'));
  process.exit(0);
}
if (values.quick) Object.assign(values, { sizes: '1000', epochs: '2', lrs: '0.3', variants: 'none,all' });
const ints = (s, name) => {
  const xs = String(s).split(',').map(Number);
  if (!xs.every((x) => Number.isInteger(x) && x > 0)) throw new Error(`--${name}: positive integers, got ${s}`);
  return xs;
};
const sizes = ints(values.sizes, 'sizes');
const epochsList = ints(values.epochs, 'epochs');
if (epochsList.length !== sizes.length) throw new Error('--epochs needs one count per --sizes entry');
const variants = values.variants.split(',');
for (const v of variants) if (!VARIANTS[v]) throw new Error(`--variants: none, fc, all; got ${v}`);
const lrs = values.lrs.split(',').map(Number);
const seeds = ints(values.seed ?? values.seeds, 'seeds'); // --seed N: one seed (the older flag)
/** Trial names: seed 1's are those of the one-seed script, so its recorded results still apply. */
const seedTag = (seed) => (seed === 1 ? '' : `-s${seed}`);
const { trial, checkpoint } = trials(values['checkpoint-dir'], { dryRun: values['dry-run'], record: 'conv-mnist' });

function command(variant, size, epochs, lr, seed, name) {
  const rate = Math.pow(0.03, 1 / epochs).toFixed(6);
  const args = ['--experimental-wasm-relaxed-simd', cli, 'train',
    '--conv', '32,64', '--kernel', '5', '--pool', '3', '--hidden', '1024,1024', '--activation', 'relu', '--init', 'heUniform',
    '--keep-input', '0.9', '--keep-conv', '0.75', '--keep-hidden', '0.5', '--max-norm', '4',
    '--validation', '10000', '--train-size', String(size), '--epochs', String(epochs), '--batch', '100',
    '--lr', String(lr), '--lr-decay', rate, '--momentum', '0.5', '--momentum-final', '0.95',
    '--momentum-epochs', String(Math.min(10, epochs)), '--momentum-form', 'paper',
    '--eval-every', String(Math.max(1, Math.floor(epochs / 10))), '--seed', String(seed), '--quiet', ...VARIANTS[variant].flags];
  if (values.threads) args.push('--threads', values.threads);
  args.push(...checkpoint(name));
  return args;
}

const rows = [];
for (let si = 0; si < sizes.length; si++) {
  const size = sizes[si], epochs = epochsList[si];
  const pilotSize = Number(values['pilot-size'] ?? size), pilotEpochs = Number(values['pilot-epochs']);
  for (const v of variants) {
    let lr = lrs[0];
    const pilots = [];
    if (lrs.length > 1) {
      for (const rate of lrs) {
        const name = `pilot-${v}-n${pilotSize}-e${pilotEpochs}-lr${rate}${seedTag(seeds[0])}`;
        const r = await trial(name, command(v, pilotSize, pilotEpochs, rate, seeds[0], name));
        if (r) pilots.push({ lr: rate, val: r.val });
      }
      if (pilots.length) lr = pilots.reduce((a, b) => (b.val < a.val ? b : a)).lr;
    }
    const runs = [];
    for (const seed of seeds) {
      const name = `${v}-n${size}-e${epochs}-lr${lr}${seedTag(seed)}`;
      const r = await trial(name, command(v, size, epochs, lr, seed, name));
      if (r) runs.push({ seed, ...r });
    }
    if (runs.length === seeds.length) {
      rows.push({ v, size, epochs, lr, pilots, runs, val: stats(runs.map((r) => r.val)), test: stats(runs.map((r) => r.test)),
        minutes: runs.reduce((a, r) => a + r.minutes, 0) });
    }
  }
}

if (!values['dry-run']) {
  const many = seeds.length > 1;
  const fmt = (st) => (many ? `${st.mean.toFixed(2)} ± ${st.sd.toFixed(2)}` : st.mean.toFixed(2));
  console.log(`\n| training images | method | SVHN (paper) | CIFAR-10 (paper) | CIFAR-100 (paper) | thinnet MNIST validation %${many ? ' (mean ± sd)' : ''} | thinnet MNIST test %${many ? ' (mean ± sd)' : ''} |${many ? ` test per seed (${seeds.join(', ')}) |` : ''} epochs | lr (chosen on validation) | wall (min${many ? ', all seeds' : ''}) |`);
  console.log(`|---|---|---|---|---|---|---|${many ? '---|' : ''}---|---|---|`);
  for (const r of rows) {
    const c = VARIANTS[r.v].col;
    const pilots = r.pilots.length ? ` (of ${r.pilots.map((p) => `${p.lr}: ${p.val.toFixed(2)}`).join(', ')})` : '';
    console.log(`| ${r.size} | ${VARIANTS[r.v].label} | ${PAPER.SVHN[c]} | ${PAPER['CIFAR-10'][c]} | ${PAPER['CIFAR-100'][c]} | ` +
      `${fmt(r.val)} | ${fmt(r.test)} |${many ? ` ${r.runs.map((x) => x.test.toFixed(2)).join(', ')} |` : ''} ${r.epochs} | ${r.lr}${pilots} | ${r.minutes.toFixed(1)} |`);
  }
  console.log('\ncommands:');
  for (const r of rows) for (const x of r.runs) console.log(`  ${x.command}`);
  for (const size of sizes) {
    for (const which of ['val', 'test']) {
      const err = (v) => rows.find((r) => r.size === size && r.v === v)?.[which].mean;
      if ([err('none'), err('fc'), err('all')].every((e) => e !== undefined)) {
        const ok = err('all') < err('fc') && err('fc') < err('none');
        console.log(`${size} images, ${which === 'val' ? 'validation' : 'test'}${many ? ' (means)' : ''}: the paper's ordering (all layers < FC only < none) ` +
          `${ok ? 'holds' : 'does NOT hold'}: ${[err('all'), err('fc'), err('none')].map((e) => e.toFixed(2)).join(' / ')} %`);
      }
    }
  }
}

/** Mean and sample standard deviation (0 for one value). */
function stats(xs) {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd };
}
