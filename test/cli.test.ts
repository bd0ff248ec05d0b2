// The command line: `thinnet train` on a small subset prints a test error; usage errors; --save.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { main } from '../src/cli';
import * as tn from '../src/index.node';
import { moments } from './helpers/stats';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'thinnet-cli-')); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });
afterEach(() => { vi.restoreAllMocks(); });

function capture() {
  const out: string[] = [], err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { out.push(a.join(' ')); });
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => { err.push(a.join(' ')); });
  return { out, err };
}

describe('thinnet CLI', () => {
  test('train on a small subset runs, prints a test error and saves the model', async () => {
    const { out, err } = capture();
    const path = join(dir, 'cli.tnet');
    const code = await main(['train', '--train-size', '2000', '--test-size', '500', '--epochs', '2', '--hidden', '256,64',
      '--keep-input', '0.9', '--keep-hidden', '0.6', '--lr', '1', '--momentum', '0.5', '--momentum-final', '0.9',
      '--momentum-epochs', '2', '--lr-decay', '0.9', '--momentum-form', 'paper', '--max-norm', '3', '--batch', '50', '--seed', '3', '--threads', '1',
      '--quiet', '--save', path]);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/2000 training \/ 500 test examples/);
    expect(text).toMatch(/epoch 2\/2 .*test error \d+\.\d\d%/);
    const m = /test error: (\d+\.\d+)%/.exec(text);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(25);
    expect(existsSync(path)).toBe(true);
    await tn.ready({ threads: 1 });
    const model = await tn.loadModel(path);
    expect(model.config.layers.map((l) => l.type)).toEqual(['dropout', 'dense', 'dropout', 'dense', 'dropout', 'dense']);
    model.dispose();
    await tn.close();
  }, 120_000);

  test('--l1, --l2 and --kl-sparsity become the layers\' penalties (Table 9), saved with the model', async () => {
    const { out } = capture();
    const path = join(dir, 'penalties.tnet');
    const code = await main(['train', '--train-size', '500', '--test-size', '200', '--epochs', '1', '--hidden', '32,16',
      '--activation', 'sigmoid', '--l1', '1e-5', '--l2', '1e-4', '--kl-sparsity', '0.05,0.1', '--lr', '1', '--threads', '1', '--quiet', '--save', path]);
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/L1 0\.00001, L2 0\.0001, KL sparsity ρ=0\.05 β=0\.1/);
    await tn.ready({ threads: 1 });
    const model = await tn.loadModel(path);
    const dense = model.config.layers.filter((l) => l.type === 'dense') as tn.layers.DenseSpec[];
    expect(dense.map((l) => l.kernelRegularizer)).toEqual([{ l1: 1e-5, l2: 1e-4 }, { l1: 1e-5, l2: 1e-4 }, { l1: 1e-5, l2: 1e-4 }]);
    expect(dense.map((l) => l.activityRegularizer)).toEqual([{ klSparsity: { target: 0.05, weight: 0.1 } }, { klSparsity: { target: 0.05, weight: 0.1 } }, undefined]);
    model.dispose();
    await tn.close();
  }, 60_000);

  test('--noise gaussian builds Gaussian dropout layers (§10) in place of the Bernoulli ones', async () => {
    const { out } = capture();
    const path = join(dir, 'gaussian.tnet');
    const code = await main(['train', '--train-size', '500', '--test-size', '200', '--epochs', '1', '--hidden', '32',
      '--noise', 'gaussian', '--keep-input', '0.8', '--lr', '1', '--threads', '1', '--quiet', '--save', path]);
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/Gaussian dropout p=0\.8 \(input\), 0\.5 \(hidden\)/);
    await tn.ready({ threads: 1 });
    const model = await tn.loadModel(path);
    expect(model.config.layers.map((l) => l.type)).toEqual(['gaussianDropout', 'dense', 'gaussianDropout', 'dense']);
    model.dispose();
    await tn.close();
  }, 60_000);

  test('--no-dropout, adam, sigmoid', async () => {
    const { out } = capture();
    const code = await main(['train', '--train-size', '500', '--test-size', '200', '--epochs', '1', '--hidden', '32',
      '--no-dropout', '--optimizer', 'adam', '--lr', '0.003', '--activation', 'sigmoid', '--threads', '1', '--quiet']);
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/no dropout/);
    expect(out.join('\n')).toMatch(/test error: \d+\.\d+%/);
  }, 60_000);

  test('--checkpoint + --resume: an interrupted run ends exactly as an uninterrupted one', async () => {
    const flags = (epochs: number, ckpt: string) => ['train', '--train-size', '600', '--test-size', '200', '--epochs', String(epochs),
      '--hidden', '48', '--lr', '0.5', '--lr-decay', '0.9', '--momentum', '0.5', '--momentum-final', '0.9', '--momentum-epochs', '3',
      '--batch', '50', '--seed', '4', '--threads', '1', '--quiet', '--checkpoint', ckpt, '--resume'];
    const { out, err } = capture();
    const whole = join(dir, 'whole.tnet'), parts = join(dir, 'parts.tnet');
    expect(await main(flags(3, whole))).toBe(0);                 // no checkpoint yet: starts fresh
    expect(await main(flags(1, parts))).toBe(0);                 // "interrupted" after epoch 1
    expect(await main(flags(3, parts))).toBe(0);                 // resumes at epoch 1, runs 2 and 3
    expect(err).toEqual([]);
    const text = out.join('\n');
    expect(text).toMatch(/resumed from .*parts\.tnet at epoch 1 \(step 12\)/);
    const errors = [...text.matchAll(/test error: (\d+\.\d+)%/g)].map((m) => m[1]);
    expect(errors).toHaveLength(3);
    expect(errors[2]).toBe(errors[0]);
    await tn.ready({ threads: 1 });
    const [a, b] = [await tn.loadModel(whole), await tn.loadModel(parts)];
    expect(b.epoch).toBe(3);
    expect(Buffer.from(b.parameters().buffer).equals(Buffer.from(a.parameters().buffer))).toBe(true);
    a.dispose(); b.dispose();
    await tn.close();
    // a checkpoint of another network is refused
    expect(await main([...flags(4, parts), '--hidden', '64'])).toBe(2);
    expect(err.join('\n')).toMatch(/--resume: .*parts\.tnet holds a different network than these flags describe/);
    expect(await main(['train', '--resume'])).toBe(2);
    expect(err.join('\n')).toMatch(/--resume needs --checkpoint PATH/);
  }, 120_000);

  test('--init normal:σ draws every kernel from N(0, σ²) (the paper-era initialization)', async () => {
    capture();
    const path = join(dir, 'init.tnet');
    expect(await main(['train', '--train-size', '200', '--test-size', '100', '--epochs', '0', '--hidden', '300,200',
      '--init', 'normal:0.2', '--threads', '1', '--quiet', '--save', path])).toBe(0);
    await tn.ready({ threads: 1 });
    const model = await tn.loadModel(path);
    for (const { kernel } of model.getWeights()) {
      const { mean, variance } = moments(kernel), n = kernel.length, std = Math.sqrt(variance);
      expect(Math.abs(mean)).toBeLessThan(5 * 0.2 / Math.sqrt(n));
      expect(Math.abs(std - 0.2)).toBeLessThan(5 * 0.2 / Math.sqrt(2 * n));
    }
    model.dispose();
    await tn.close();
    const { err } = capture();
    expect(await main(['train', '--init', 'normal:-1'])).toBe(2);
    expect(err.join('\n')).toMatch(/--init: normal:σ needs a finite σ ≥ 0, got '-1'/);
  }, 60_000);

  test('--lr-warmup ramps the rate linearly from --lr-warmup-from', async () => {
    const { out } = capture();
    expect(await main(['train', '--train-size', '300', '--test-size', '100', '--epochs', '3', '--hidden', '16', '--lr', '1',
      '--lr-decay', '1', '--lr-warmup', '2', '--lr-warmup-from', '0.2', '--threads', '1', '--quiet'])).toBe(0);
    const rates = out.join('\n').match(/epoch \d\/3 .*?lr ([\d.]+)/g)!.map((l) => Number(/lr ([\d.]+)/.exec(l)![1]));
    expect(rates).toEqual([0.2, 0.6, 1]);
  }, 60_000);

  test('--conv trains a conv net with dropout in all layers or in the FC layers only; --validation holds out the last N', async () => {
    const path = join(dir, 'conv.tnet');
    const run = async (extra: string[]) => {
      const { out, err } = capture();
      const code = await main(['train', '--conv', '4,8', '--hidden', '32', '--pool', '3', '--train-size', '600', '--validation', '300',
        '--test-size', '200', '--epochs', '1', '--lr', '0.5', '--max-norm', '4', '--keep-input', '0.9', '--threads', '1', '--quiet', ...extra]);
      expect(err).toEqual([]);
      expect(code).toBe(0);
      vi.restoreAllMocks();
      return out.join('\n');
    };
    const all = await run(['--save', path]);
    expect(all).toMatch(/conv 5×5×4 → 5×5×8 \(pool 3×3\/2\) → 32 → 10 relu, dropout p=0.9 \(input\), 0.75 \(feature maps\), 0.5 \(hidden\)/);
    expect(all).toMatch(/600 training \/ 300 validation \/ 200 test examples/);
    expect(all).toMatch(/epoch 1\/1 .*val error \d+\.\d\d%/);
    expect(all).toMatch(/validation error: \d+\.\d+%[^]*test error: \d+\.\d+%/);
    await tn.ready({ threads: 1 });
    const model = await tn.loadModel(path);
    expect(model.config.inputShape).toEqual([28, 28, 1]);
    expect(model.config.layers.map((l) => l.type)).toEqual(['dropout', 'conv2d', 'maxPool2d', 'dropout', 'conv2d', 'maxPool2d', 'dropout',
      'flatten', 'dense', 'dropout', 'dense']);
    expect(model.config.layers[1]).toMatchObject({ filters: 4, kernelSize: [5, 5], padding: 'same', maxNorm: 4 });
    expect(model.config.layers[2]).toMatchObject({ poolSize: [3, 3], strides: [2, 2] });
    model.dispose();
    await tn.close();
    const fc = await run(['--dropout-layers', 'fc', '--save', path]);
    expect(fc).toMatch(/dropout p=0.5 in the FC layers only/);
    await tn.ready({ threads: 1 });
    const m2 = await tn.loadModel(path);
    expect(m2.config.layers.map((l) => l.type)).toEqual(['conv2d', 'maxPool2d', 'conv2d', 'maxPool2d', 'flatten', 'dense', 'dropout', 'dense']);
    m2.dispose();
    await tn.close();
  }, 120_000);

  test('usage errors exit with code 2 and a clear message', async () => {
    const { err } = capture();
    expect(await main(['train', '--hidden', 'abc'])).toBe(2);
    expect(err.join('\n')).toMatch(/--hidden: expected hidden layer sizes like 1024,1024/);
    expect(await main(['train', '--keep-hidden', '1.5'])).toBe(2);
    expect(err.join('\n')).toMatch(/--keep-hidden must be in \(0, 1\], got '1.5'/);
    expect(await main(['train', '--conv', '8,x'])).toBe(2);
    expect(err.join('\n')).toMatch(/--conv: expected filter counts like 32,64/);
    expect(await main(['train', '--pool', '4'])).toBe(2);
    expect(err.join('\n')).toMatch(/--pool must be 2 or 3, got '4'/);
    expect(await main(['train', '--dropout-layers', 'some'])).toBe(2);
    expect(err.join('\n')).toMatch(/--dropout-layers: all or fc/);
    expect(await main(['fly'])).toBe(2);
    expect(err.join('\n')).toMatch(/unknown command 'fly'/);
    expect(await main(['train', '--bogus'])).toBe(2);
    expect(err.join('\n')).toMatch(/bogus/);
    const { out } = capture();
    expect(await main(['help'])).toBe(0);
    expect(out.join('\n')).toMatch(/--keep-input/);
    expect(out.join('\n')).toMatch(/Exit status: 0 done, 2 usage error/);
  });

  /** An MNIST-format directory with `train` training and `test` test images (28×28, IDX files). */
  function idxDir(name: string, train: number, test: number): string {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    const idx = (dims: number[]) => {
      const head = Buffer.alloc(4 + 4 * dims.length);
      head.writeUInt32BE(0x0800 + dims.length, 0);
      dims.forEach((n, i) => head.writeUInt32BE(n, 4 + 4 * i));
      return Buffer.concat([head, Buffer.alloc(dims.reduce((a, b) => a * b, 1))]);
    };
    for (const [prefix, n] of [['train', train], ['t10k', test]] as const) {
      writeFileSync(join(d, `${prefix}-images-idx3-ubyte`), idx([n, 28, 28]));
      writeFileSync(join(d, `${prefix}-labels-idx1-ubyte`), idx([n]));
    }
    return d;
  }

  test('every usage error exits with the one usage code, 2, and names the flag and what it accepts', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--hidden', ''], /--hidden: expected hidden layer sizes like 1024,1024 \(positive integers separated by commas\), got ''/],
      [['--hidden', '1024,,10'], /--hidden: expected hidden layer sizes/],
      [['--hidden', '-5'], /--hidden: expected hidden layer sizes .*got '-5'/],
      [['--hidden', String(2 ** 24 + 1)], /--hidden: 16777217 units is too many for one layer; a layer has at most 2\^24 = 16777216 units/],
      [['--conv', '20000000'], /--conv: 20000000 filters is too many for one layer; a layer has at most 2\^24/],
      [['--lr', '-1'], /--lr must be > 0, got '-1'/],
      [['--lr=-1'], /--lr must be > 0, got '-1'/],
      [['--lr', '0'], /--lr must be > 0, got '0'/],
      [['--momentum', '-0.5'], /--momentum must be in \[0, 1\), got '-0.5'/],
      [['--seed', '-3'], /--seed must be an integer in \[0, 2\^32\), got '-3'/],
      [['--weight-decay', '-.5'], /--weight-decay must be ≥ 0, got '-.5'/],
      [['--train-size', '0'], /--train-size must be an integer ≥ 1, got '0'/],
      [['--test-size', '0'], /--test-size must be an integer ≥ 1, got '0'/],
      [['--subset-seed', '3'], /--subset-seed needs --train-size N/],
      [['--subset-seed', '1.5', '--train-size', '10'], /--subset-seed must be an integer in \[0, 2\^32\), got '1.5'/],
      [['--threads', '100'], /--threads must be an integer in \[1, 64\], got '100'/],
      [['--epochs', '1.5'], /--epochs must be an integer ≥ 0, got '1.5'/],
      [['--init', 'foo'], /--init must be one of 'glorotUniform', 'glorotNormal', 'heUniform', 'heNormal' or normal:σ, got 'foo'/],
      [['--conv', '4,4,4,4,4,4'], /the network these flags describe is invalid: .*layer 14 \(maxPool2d\): the 2×2 window is larger than its 1×1 input/],
      [['--save', join(dir, 'no-such-dir', 'm.tnet')], /--save: the directory .*no-such-dir does not exist/],
      [['--save', dir], /--save: .* is a directory; give a file path/],
      [['--checkpoint', join(dir, 'no-such-dir', 'c.tnet')], /--checkpoint: the directory .*no-such-dir does not exist/],
      [['--data-dir', join(dir, 'nowhere')], /--data-dir: .*nowhere is not a directory \(it does not exist\)/],
      [['--l2', '-1'], /--l2 must be ≥ 0, got '-1'/],
      [['--noise', 'uniform'], /--noise: bernoulli or gaussian, got 'uniform'/],
      [['--kl-sparsity', '0.05,0.1'], /--kl-sparsity needs --activation sigmoid/],
      [['--kl-sparsity', '1.5,0.1', '--activation', 'sigmoid'], /--kl-sparsity: ρ,β with ρ in \(0, 1\) and β > 0/],
      [['--kl-sparsity', '0.05', '--activation', 'sigmoid'], /--kl-sparsity: ρ,β/],
      [['--lr'], /Option '--lr <value>' argument missing/],
      [['--save', '-x'], /argument is ambiguous/],
      [['--unknown-flag'], /Unknown option '--unknown-flag'/],
    ];
    for (const [flags, re] of cases) {
      const { out, err } = capture();
      expect(await main(['train', ...flags]), flags.join(' ')).toBe(2);
      expect(err.join('\n'), flags.join(' ')).toMatch(re);
      expect(out, flags.join(' ')).toEqual([]); // nothing ran: no data loaded, no training line
      vi.restoreAllMocks();
    }
    const { err } = capture();
    expect(await main(['compare', '--plain-lr', '-1'])).toBe(2);
    expect(err.join('\n')).toMatch(/--plain-lr must be > 0, got '-1'/);
  });

  test('--init, --save and --checkpoint are checked before the data is read (an empty --data-dir is never reached)', async () => {
    const empty = join(dir, 'empty-data');
    mkdirSync(empty, { recursive: true });
    for (const [flags, re] of [
      [['--init', 'bogus'], /--init must be one of/],
      [['--save', join(dir, 'missing', 'x.tnet')], /--save: the directory .*missing does not exist/],
      [['--checkpoint', join(dir, 'missing', 'x.tnet'), '--resume'], /--checkpoint: the directory .*missing does not exist/],
      [['--hidden', '8', '--save', empty], /--save: .*empty-data is a directory/],
    ] as Array<[string[], RegExp]>) {
      const { err } = capture();
      expect(await main(['train', '--data-dir', empty, '--threads', '1', '--quiet', ...flags])).toBe(2);
      expect(err.join('\n')).toMatch(re);
      expect(err.join('\n')).not.toMatch(/loadMnist|none of/);
      vi.restoreAllMocks();
    }
    const { err } = capture(); // the same directory with a valid --save reaches the data, and says what is missing there
    expect(await main(['train', '--data-dir', empty, '--threads', '1', '--quiet', '--save', join(dir, 'ok.tnet')])).toBe(1);
    expect(err.join('\n')).toMatch(/none of train-images-idx3-ubyte.* found in .*empty-data/);
  });

  test.skipIf(process.getuid?.() === 0)('--save in a directory that cannot be written is a usage error before training', async () => {
    const ro = join(dir, 'read-only');
    mkdirSync(ro, { recursive: true });
    chmodSync(ro, 0o555);
    const { err } = capture();
    expect(await main(['train', '--save', join(ro, 'm.tnet')])).toBe(2);
    expect(err.join('\n')).toMatch(/--save: cannot write in .*read-only \(permission denied\)/);
    chmodSync(ro, 0o755);
  });

  test('zero training or test examples name where they came from, not "inputShape [0]"', async () => {
    for (const [name, train, test, re] of [
      ['no-train', 0, 5, /no training examples: the training set in --data-dir .*no-train is empty/],
      ['no-test', 5, 0, /no test examples: the test set in --data-dir .*no-test is empty/],
    ] as const) {
      const { err } = capture();
      expect(await main(['train', '--data-dir', idxDir(name, train, test), '--hidden', '8', '--epochs', '1', '--threads', '1', '--quiet'])).toBe(2);
      expect(err.join('\n')).toMatch(re);
      expect(err.join('\n')).not.toMatch(/inputShape/);
      vi.restoreAllMocks();
    }
    const { out } = capture(); // the same directory layout with examples trains
    expect(await main(['train', '--data-dir', idxDir('some', 20, 5), '--hidden', '8', '--epochs', '1', '--batch', '10', '--threads', '1', '--quiet'])).toBe(0);
    expect(out.join('\n')).toMatch(/20 training \/ 5 test examples/);
    await tn.close();
  }, 60_000);

  test('the built bin (dist/cli.js) runs as a program', () => {
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    if (!existsSync(cli)) return; // built by `npm run build` (pretest)
    const r = spawnSync(process.execPath, [cli, 'train', '--train-size', '300', '--test-size', '100', '--epochs', '1',
      '--hidden', '16', '--threads', '1'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/test error: \d+\.\d+%/);
    const bad = spawnSync(process.execPath, [cli, 'train', '--lr', '-1'], { encoding: 'utf8', timeout: 60_000 });
    expect(bad.status).toBe(2); // the process's exit status, not only main()'s return value
    expect(bad.stderr).toMatch(/thinnet: --lr must be > 0, got '-1'/);
    expect(bad.stdout).toBe('');
  }, 60_000);
});
