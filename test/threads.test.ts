// The worker pool: bit-identical results for any thread count, errors in workers, clean exit.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test, vi } from 'vitest';
import * as tn from '../src/index.node';
import { runtime } from '../src/wasm/runtime';
import { WaitClock } from '../src/threads/pool';
import { expectSame, testValues } from './helpers/wasm';

const child = fileURLToPath(new URL('./fixtures/threads-child.mjs', import.meta.url));

afterAll(async () => { await tn.close(); });

function run(threads: number, n: number) {
  return tn.scope(() => {
    const x = tn.tensor(testValues(n, 77), [n]);
    const y = tn.dropout(x, { keep: 0.7, seed: 123, step: 9, stream: 2 });
    const dxMask = tn.dropoutBackward(x, y);
    const dxRe = tn.dropoutBackward(x, { keep: 0.7, seed: 123, step: 9, stream: 2, convention: 'inverted' });
    const g = tn.gaussianDropout(x, { keep: 0.6, seed: 5, step: 2 });
    const dg = tn.gaussianDropoutBackward(x, g);
    const e = tn.dropout(x, { keep: 0.7, seed: 1, convention: 'paper', training: false });
    return { threads, y: y.toArray(), mask: tn.dropoutMask(y), dxMask: dxMask.toArray(), dxRe: dxRe.toArray(),
      g: g.toArray(), dg: dg.toArray(), e: e.toArray() };
  });
}

describe('worker pool', () => {
  test('1, 2 and 3 threads give bit-identical masks and outputs', async () => {
    const n = (1 << 19) + 37; // big enough to split, not a multiple of 32
    const results = [];
    for (const threads of [1, 2, 3]) {
      await tn.close();
      const info = await tn.ready({ threads });
      expect(info.threads).toBe(threads);
      expect(info.backend.endsWith('threads')).toBe(threads > 1);
      results.push(run(threads, n));
    }
    for (const r of results.slice(1)) {
      for (const key of ['y', 'mask', 'dxMask', 'dxRe', 'g', 'dg', 'e'] as const) {
        expectSame(r[key], results[0][key], `${key} with ${r.threads} threads`);
      }
    }
  });

  test('a kernel that traps in a worker is an error on the caller, and the pool keeps working', async () => {
    await tn.close();
    await tn.ready({ threads: 2 });
    const rt = runtime();
    const a = tn.tensor(testValues(64), [64]), b = tn.zeros([64]);
    expect(() => rt.pool!.run([
      { kernel: 'scale_f32', args: [b.ptr, a.ptr, 2, 64] },
      { kernel: 'scale_f32', args: [0xfffffff0, a.ptr, 2, 64] }, // out of bounds
    ])).toThrow(/kernel scale_f32 failed in worker 0: .*out of bounds/);
    rt.pool!.run([
      { kernel: 'scale_f32', args: [b.ptr, a.ptr, 2, 32] },
      { kernel: 'scale_f32', args: [b.ptr + 128, a.ptr + 128, 2, 32] },
    ]);
    expectSame(b.toArray(), a.toArray().map((v) => v * 2), 'after the error');
    a.dispose(); b.dispose();
  });

  test('close() is idempotent and a closed runtime refuses work with a clear error', async () => {
    await tn.close();
    await tn.ready({ threads: 2 });
    const x = tn.tensor([1, 2, 3], [3]);
    await tn.close();
    await tn.close();
    expect(() => tn.dropout(x, { keep: 0.5, seed: 1 })).toThrow(/not loaded|closed/);
    await tn.ready({ threads: 2 });
    expect(() => tn.dropout(x, { keep: 0.5, seed: 1 })).toThrow(/runtime that was closed/);
  });

  test('running out of wasm memory is a clear error, and memory stays usable', async () => {
    await tn.close();
    await tn.ready({ threads: 2, maxMemoryMB: 64 });
    expect(() => tn.zeros([32 << 20])).toThrow(/out of WebAssembly memory allocating 128.0 MB.*raise maxMemoryMB/);
    const t = tn.tensor([1, 2, 3], [3]);
    expect(Array.from(t.toArray())).toEqual([1, 2, 3]);
    t.dispose();
  });

  test('a process with a live pool exits by itself, with the same results as one thread', () => {
    const out = (threads: number) => JSON.parse(execFileSync(process.execPath, [child, String(threads)], { timeout: 30_000, encoding: 'utf8' }));
    const one = out(1), two = out(2);
    expect(two.threads).toBe(2);
    expect(two.backend).toMatch(/threads$/);
    expect(two.digest).toBe(one.digest);
  });
});

describe('a single row is batch-invariant', () => {
  // model.predict(row) takes the one-row (GEMV) kernels, a batch the packed GEMM, split over the
  // pool by columns or rows; the order contract of assembly/gemm.ts makes every row the same bits.
  const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
  const nets: Array<[string, number, tn.LayerSpec[]]> = [
    ['784-1024-1024-10 (the paper\'s MNIST net)', 784, [
      tn.layers.dropout({ keep: 0.8 }), tn.layers.dense({ units: 1024, activation: 'relu' }),
      tn.layers.dropout({ keep: 0.5 }), tn.layers.dense({ units: 1024, activation: 'relu' }),
      tn.layers.dropout({ keep: 0.5 }), tn.layers.dense({ units: 10, activation: 'softmax' })]],
    ['385-13-7-3 (odd widths)', 385, [
      tn.layers.dense({ units: 13, activation: 'tanh' }), tn.layers.dropout({ keep: 0.5 }),
      tn.layers.dense({ units: 7, activation: 'relu' }), tn.layers.dense({ units: 3 })]],
  ];
  for (const threads of [1, 2]) {
    for (const [name, inputs, layers] of nets) {
      test(`${name}, ${threads} thread${threads > 1 ? 's' : ''}: predict(row) has the bits of that row of predict(batch)`, async () => {
        await tn.close();
        expect((await tn.ready({ threads })).threads).toBe(threads);
        const model = tn.sequential({ inputShape: [inputs], seed: 5, layers });
        try {
          // 37 rows (columns split over the pool) and 1001 (the 10-wide last layer by rows)
          for (const rows of [37, 1001]) {
            const x = testValues(rows * inputs, rows);
            const all = model.predict(x, { batchSize: rows });
            const C = model.outputSize;
            for (const r of [0, 1, 17, rows - 1]) {
              const one = model.predict(x.subarray(r * inputs, (r + 1) * inputs));
              expect(bits(one), `row ${r} of ${rows}`).toEqual(bits(all.subarray(r * C, (r + 1) * C)));
            }
          }
        } finally {
          model.dispose();
        }
      });
    }
  }
});

describe('the lazy pool (Node)', () => {
  test('ready() spawns no worker; a small prediction does not wait for one; the workers come after it', () => {
    const out = execFileSync(process.execPath, [fileURLToPath(new URL('./fixtures/lazy-pool-child.mjs', import.meta.url))],
      { encoding: 'utf8', timeout: 60_000 });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    expect(r.afterReady).toBe(0);
    expect(r.afterFirst).toEqual({ spawned: 0, running: 1 }); // spawned on a later turn, not inside predict
    expect(r.runningLater).toBe(2);
    expect(r.same).toBe(true);
  });
});

describe('waiting for workers survives a suspended process', () => {
  test('a jump of the clock (SIGSTOP, sleep) counts as at most two slices; steady waiting expires after the timeout', () => {
    let now = 1_000_000;
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      const clock = new WaitClock(100);
      now += 100; expect(clock.expired()).toBe(false);
      now += 10 * 60_000; // ten minutes suspended: counted as 200 ms
      expect(clock.expired()).toBe(false);
      now -= 5_000; // a clock stepped back counts as nothing
      expect(clock.expired()).toBe(false);
      // then 120 s of 100 ms slices (the default timeout) expire it, not before
      let slices = 0;
      while (!clock.expired()) { now += 100; slices++; if (slices > 2000) break; }
      expect(slices).toBeGreaterThan(1190);
      expect(slices).toBeLessThanOrEqual(1200);
    } finally {
      spy.mockRestore();
    }
  });
});
