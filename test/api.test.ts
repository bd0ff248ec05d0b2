// The public op API: loading, tensors, memory, dropout ops and their errors.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';
import { refMask } from './helpers/rng-ref';
import { expectClose, expectSame, testValues } from './helpers/wasm';
import { moments } from './helpers/stats';

beforeAll(async () => { await tn.ready({ threads: 1 }); });
afterAll(async () => { await tn.close(); });

describe('loading', () => {
  test('ready() reports the build and thread count, and is idempotent', async () => {
    const info = await tn.ready({ threads: 1 });
    expect(['simd', 'relaxed']).toContain(info.backend);
    expect(info.threads).toBe(1);
    expect(info.features.simd).toBe(true);
    expect(await tn.ready()).toEqual(info);
    await expect(tn.ready({ threads: 2 })).rejects.toThrow(/already loaded with other options/);
  });

  test('bad options are clear errors', async () => {
    await tn.close();
    await expect(tn.ready({ threads: 0 })).rejects.toThrow(/threads must be/);
    await expect(tn.ready({ backend: 'gpu' as any })).rejects.toThrow(/backend must be/);
    await tn.ready({ threads: 1 });
  });
});

describe('tensors and memory', () => {
  test('tensor, shape, toArray, dispose', () => {
    const t = tn.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.size).toBe(6);
    expect(Array.from(t.toArray())).toEqual([1, 2, 3, 4, 5, 6]);
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expect(() => t.toArray()).toThrow(/disposed/);
    t.dispose(); // twice is fine
  });

  test('bad tensor arguments are clear errors', () => {
    expect(() => tn.tensor([1, 2, 3], [2, 2])).toThrow(/shape \[2, 2\] holds 4 values but 3 were given/);
    expect(() => tn.tensor([1, 2], [2, NaN])).toThrow(/not a non-negative integer/);
    expect(() => tn.tensor([1, 2], [2, -1])).toThrow(/not a non-negative integer/);
    expect(() => tn.tensor(5 as any)).toThrow(/values must be/);
  });

  test('tensors survive memory growth: views are re-derived', () => {
    const values = testValues(1000, 42);
    const a = tn.tensor(values, [1000]);
    const before = tn.memoryInfo().memoryBytes;
    const big = Array.from({ length: 6 }, () => tn.zeros([4 << 20])); // 96 MB forces memory.grow
    expect(tn.memoryInfo().memoryBytes).toBeGreaterThan(before);
    expectSame(a.toArray(), values, 'after growth');
    const y = tn.dropout(a, { keep: 0.5, seed: 1, convention: 'inverted' }); // kernels still see the data
    expectSame(y.toArray(), Float32Array.from(values, (v, i) => (refMask(32768, 1, 0, 0, 0, 1000)[i] ? v * 2 : 0)), 'dropout after growth');
    big.forEach((t) => t.dispose());
    a.dispose(); y.dispose();
  });

  test('scope disposes temporaries and keeps what it returns', () => {
    const before = tn.memoryInfo().allocatedBytes;
    const kept = tn.scope(() => {
      const x = tn.tensor(testValues(100), [100]);
      const y = tn.dropout(x, { keep: 0.5, seed: 3 });
      return tn.dropoutBackward(y, y);
    });
    expect(kept.isDisposed).toBe(false);
    kept.dispose();
    expect(tn.memoryInfo().allocatedBytes).toBe(before);
    expect(() => tn.scope(() => { tn.zeros([10]); throw new Error('boom'); })).toThrow('boom');
    expect(tn.memoryInfo().allocatedBytes).toBe(before);
  });

  test('10,000 forward+backward dropout steps leave allocated bytes and memory size flat', () => {
    const x = tn.tensor(testValues(4096), [64, 64]);
    const step = (s: number) => tn.scope(() => {
      const y = tn.dropout(x, { keep: 0.5, seed: 1, step: s });
      const dx1 = tn.dropoutBackward(y, y);
      const dx2 = tn.dropoutBackward(y, { keep: 0.5, seed: 1, step: s });
      const g = tn.gaussianDropout(x, { keep: 0.5, seed: 1, step: s });
      tn.gaussianDropoutBackward(g, g);
      return dx1.size + dx2.size;
    });
    step(0);
    const start = tn.memoryInfo();
    for (let s = 1; s <= 10_000; s++) step(s);
    const end = tn.memoryInfo();
    expect(end.allocatedBytes).toBe(start.allocatedBytes);
    expect(end.allocations).toBe(start.allocations);
    expect(end.memoryBytes).toBe(start.memoryBytes);
    x.dispose();
  });
});

describe('dropout ops', () => {
  const n = 1000;
  const xs = testValues(n, 11);

  test('paper (default) and inverted conventions, training and evaluation', () => {
    const x = tn.tensor(xs, [10, 100]);
    const r = refMask(Math.round(0.8 * 65536), 5, 2, 7, 0, n);
    const p = Math.round(0.8 * 65536) / 65536;
    const inv = tn.dropout(x, { keep: 0.8, seed: 5, stream: 2, step: 7, convention: 'inverted' });
    expect(inv.shape).toEqual([10, 100]);
    expectClose(inv.toArray(), Array.from(xs, (v, i) => r[i] * v / p), 0, 1.2e-7, 'inverted');
    expectSame(tn.dropoutMask(inv), r, 'mask');
    const paper = tn.dropout(x, { keep: 0.8, seed: 5, stream: 2, step: 7 }); // the default
    expectSame(paper.toArray(), Float32Array.from(xs, (v, i) => r[i] * v), 'paper');
    const evalPaper = tn.dropout(x, { keep: 0.8, seed: 5, convention: 'paper', training: false });
    expectClose(evalPaper.toArray(), Array.from(xs, (v) => v * p), 0, 1.2e-7, 'paper eval');
    const evalInv = tn.dropout(x, { keep: 0.8, seed: 5, convention: 'inverted', training: false });
    expectSame(evalInv.toArray(), xs, 'inverted eval is the identity');
    const one = tn.dropout(x, { keep: 1, seed: 5 });
    expectSame(one.toArray(), xs, 'p = 1 is the identity');
    for (const t of [x, inv, paper, evalPaper, evalInv, one]) t.dispose();
  });

  test('both conventions agree in expectation: mean of many training passes matches evaluation', () => {
    const x = tn.tensor(new Float32Array(4096).fill(1), [4096]);
    for (const convention of ['paper', 'inverted'] as const) {
      let sum = 0;
      for (let s = 0; s < 50; s++) tn.scope(() => { for (const v of tn.dropout(x, { keep: 0.5, seed: 9, step: s, convention }).toArray()) sum += v; });
      const evalMean = tn.scope(() => tn.dropout(x, { keep: 0.5, seed: 9, convention, training: false }).toArray()[0]);
      const mean = sum / (50 * 4096);
      expect(Math.abs(mean - evalMean)).toBeLessThan(5 * Math.sqrt(0.25 / (50 * 4096)) * (convention === 'inverted' ? 2 : 1));
    }
    x.dispose();
  });

  test('backward from the stored mask equals backward recomputed from the counter', () => {
    const x = tn.tensor(xs, [n]);
    const dy = tn.tensor(testValues(n, 12), [n]);
    for (const convention of ['paper', 'inverted'] as const) {
      const opts = { keep: 0.3, seed: 8, step: 2, stream: 1, convention };
      const y = tn.dropout(x, opts);
      const a = tn.dropoutBackward(dy, y), b = tn.dropoutBackward(dy, opts);
      expectSame(a.toArray(), b.toArray(), convention);
      const r = tn.dropoutMask(y);
      const scale = convention === 'inverted' ? Math.fround(65536 / Math.round(0.3 * 65536)) : 1;
      expectClose(a.toArray(), Array.from(dy.toArray(), (v, i) => r[i] * v * scale), 0, 6e-8, 'dx');
      [y, a, b].forEach((t) => t.dispose());
    }
    x.dispose(); dy.dispose();
  });

  test('applyMask with a caller-supplied mask', () => {
    const x = tn.tensor([1, 2, 3, 4], [2, 2]);
    const y = tn.applyMask(x, [1, 0, 1, 0], { scale: 2 });
    expect(Array.from(y.toArray())).toEqual([2, 0, 6, 0]);
    expect(() => tn.applyMask(x, [1, 0, 1])).toThrow(/mask has 3 values but x has 4/);
    x.dispose(); y.dispose();
  });

  test('gaussian dropout: mean 1, variance (1-p)/p, identity at evaluation, backward = r*dy', () => {
    const m = 1 << 18;
    const ones = tn.tensor(new Float32Array(m).fill(1), [m]);
    const y = tn.gaussianDropout(ones, { keep: 0.5, seed: 3 });
    const r = y.toArray();
    const { mean, variance } = moments(r);
    expect(Math.abs(mean - 1)).toBeLessThan(5 * Math.sqrt(1 / m));
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
    const dy = tn.tensor(testValues(m, 2), [m]);
    const dx = tn.gaussianDropoutBackward(dy, y);
    const dx2 = tn.gaussianDropoutBackward(dy, { keep: 0.5, seed: 3 });
    expectClose(dx.toArray(), Array.from(dy.toArray(), (v, i) => v * r[i]), 0, 6e-8, 'gaussian backward');
    expectSame(dx.toArray(), dx2.toArray(), 'recomputed');
    const e = tn.gaussianDropout(ones, { keep: 0.5, seed: 3, training: false });
    expectSame(e.toArray(), ones.toArray(), 'eval');
    [ones, y, dy, dx, dx2, e].forEach((t) => t.dispose());
  });

  test('bad arguments are clear errors, never a trap', () => {
    const x = tn.tensor([1, 2, 3], [3]);
    for (const keep of [0, -0.1, 1.5, NaN, Infinity, '0.5', undefined]) {
      expect(() => tn.dropout(x, { keep: keep as any, seed: 1 }), String(keep)).toThrow(/keep \(the retention probability p\) must be a number in \(0, 1\]/);
      expect(() => tn.gaussianDropout(x, { keep: keep as any, seed: 1 })).toThrow(/keep/);
    }
    expect(() => tn.dropout(x, { keep: 1e-7, seed: 1 })).toThrow(/below 2\^-16/);
    for (const seed of [-1, 1.5, 2 ** 32, NaN, undefined]) {
      expect(() => tn.dropout(x, { keep: 0.5, seed: seed as any })).toThrow(/seed must be an integer in \[0, 2\^32\)/);
    }
    expect(() => tn.dropout(x, { keep: 0.5, seed: 1, step: -3 })).toThrow(/step must be/);
    expect(() => tn.dropout(x, { keep: 0.5, seed: 1, convention: 'keras' as any })).toThrow(/convention must be one of 'paper', 'inverted'/);
    expect(() => tn.dropout([1, 2, 3] as any, { keep: 0.5, seed: 1 })).toThrow(/x must be a thinnet Tensor/);
    expect(() => tn.dropout(x, null as any)).toThrow(/options must be an object/);
    const y = tn.dropout(x, { keep: 0.5, seed: 1 });
    const wrong = tn.tensor([1, 2], [2]);
    expect(() => tn.dropoutBackward(wrong, y)).toThrow(/dy has shape \[2\] but the forward output has shape \[3\]/);
    expect(() => tn.dropoutBackward(x, x)).toThrow(/not the output of a training-mode thinnet.dropout/);
    y.dispose();
    expect(() => tn.dropoutBackward(x, y)).toThrow(/disposed/);
    x.dispose(); wrong.dispose();
    expect(() => tn.dropout(x, { keep: 0.5, seed: 1 })).toThrow(/disposed/);
  });
});
