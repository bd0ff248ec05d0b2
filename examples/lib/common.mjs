// Shared by the paper-analysis examples: flags, MNIST subsets, the MLP and the training recipe,
// error rates, Markdown tables and the figures directory.
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tn from 'thinnet';

export { tn };

/** Flags every script takes, plus its own (all strings or booleans, as node:util parseArgs). */
const COMMON = {
  quick: { type: 'boolean', default: false },
  threads: { type: 'string' },
  seed: { type: 'string', default: '1' },
  out: { type: 'string', default: 'runs/figures' },
  help: { type: 'boolean', short: 'h', default: false },
};

/**
 * Parses process.argv with the common flags and `extra`; --help prints the script's header
 * comment (its documentation) and exits.
 */
export function flags(scriptUrl, extra = {}) {
  const { values } = parseArgs({ options: { ...COMMON, ...extra }, strict: true, allowPositionals: false });
  if (values.help) {
    const text = readFileSync(fileURLToPath(scriptUrl), 'utf8').split('\n');
    const head = [];
    for (const line of text) { if (!line.startsWith('//')) break; head.push(line.replace(/^\/\/ ?/, '')); }
    console.log(head.join('\n'));
    process.exit(0);
  }
  return values;
}

/** A number flag (undefined → dflt), checked. */
export function num(values, name, dflt, check = Number.isFinite) {
  const s = values[name];
  if (s === undefined) return dflt;
  const x = Number(s);
  if (String(s).trim() === '' || !Number.isFinite(x) || !check(x)) throw new Error(`--${name}: invalid value '${s}'`);
  return x;
}

/** A comma-separated number list flag. */
export function list(values, name, dflt, check = Number.isFinite) {
  const s = values[name];
  if (s === undefined) return dflt;
  const xs = String(s).split(',').filter((t) => t.trim() !== '').map(Number);
  if (xs.length === 0 || !xs.every(check)) throw new Error(`--${name}: expected numbers like 1,2,3, got '${s}'`);
  return xs;
}

export const posInt = (x) => Number.isInteger(x) && x >= 1;
export const prob = (x) => x > 0 && x <= 1;

/** tn.ready with --threads (default: all cores). Returns the ready info. */
export async function start(values) {
  const threads = values.threads === undefined ? 'auto' : num(values, 'threads', 1, posInt);
  return tn.ready({ threads });
}

/** MNIST: the first trainSize training and testSize test examples (uint8 pixels, uint8 labels). */
export async function mnist(trainSize = 60000, testSize = 10000) {
  const { train, test } = await tn.data.loadMnist();
  return { train: tn.data.subset(train, trainSize), test: tn.data.subset(test, testSize) };
}

/** Fraction of rows whose argmax differs from the label. */
export function errorRate(probs, labels, C = 10) {
  let bad = 0;
  for (let r = 0; r < labels.length; r++) {
    let b = 0;
    for (let j = 1; j < C; j++) if (probs[r * C + j] > probs[r * C + b]) b = j;
    if (b !== labels[r]) bad++;
  }
  return bad / Math.max(labels.length, 1);
}

export const pct = (x, d = 2) => (100 * x).toFixed(d);

/** A Markdown table. */
export function table(headers, rows) {
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function figuresDir(values) {
  mkdirSync(values.out, { recursive: true });
  return values.out;
}

/**
 * The MLP of the paper's MNIST experiments: optional input dropout, hidden ReLU layers each
 * followed by dropout, a linear output (softmax fused with the loss). keep = 1 → no dropout layer.
 */
export function mlp({ inputs = 784, hidden, classes = 10, keepInput = 0.8, keepHidden = 0.5, maxNorm = 3, seed = 1 }) {
  const layers = [];
  if (keepInput < 1) layers.push(tn.layers.dropout({ keep: keepInput }));
  hidden.forEach((units, i) => {
    layers.push(tn.layers.dense({ units, activation: 'relu', kernelInitializer: 'heUniform', maxNorm }));
    const p = Array.isArray(keepHidden) ? keepHidden[i] : keepHidden;
    if (p < 1) layers.push(tn.layers.dropout({ keep: p }));
  });
  layers.push(tn.layers.dense({ units: classes, kernelInitializer: 'heUniform', maxNorm }));
  return tn.sequential({ inputShape: [inputs], seed, layers });
}

/**
 * The SGD recipe of thinnet's MNIST runs (src/cli.ts, examples/mnist-table.mjs), with the
 * schedules stretched over the run's length: the damped momentum form Δw = p·Δw − (1 − p)·ε·∇L
 * and linear ramp of Hinton et al. 2012 (arXiv:1207.0580, App. A; not the JMLR paper, which gives
 * no formula), momentum 0.5 → 0.95 over the first 20% of the epochs, and a learning rate decaying
 * exponentially from lr to lrEnd·lr at the last epoch.
 */
export function sgdRecipe({ lr, epochs, lrEnd = 0.03 }) {
  const E = Math.max(1, epochs);
  const ramp = Math.max(1, 0.2 * E);
  return tn.optimizers.sgd({
    learningRate: (e) => lr * lrEnd ** (Math.min(e, E - 1) / Math.max(1, E - 1)),
    momentum: (e) => 0.5 + 0.45 * Math.min(1, e / ramp),
    dampening: true,
  });
}
