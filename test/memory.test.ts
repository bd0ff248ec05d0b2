// Memory (issue 18): training, prediction and Monte-Carlo prediction allocate their per-batch
// buffers once and reuse them (the heap's cumulative alloc() count stays flat from batch to batch,
// on one thread and on two), MC summaries stream over the samples, and a data set already in wasm
// memory (WasmArray) is read in place, with the same results bit for bit as the JavaScript arrays.
// Not timed and not memory-limited: the numbers are bench/memory.mjs's.
import { afterEach, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';
import { runtime } from '../src/wasm/runtime';
import { blobs } from './helpers/data';

afterEach(async () => { await tn.close(); });

const heap = () => runtime().heap;

/**
 * Runs every pass once on a throwaway model: the runtime's per-thread GEMM workspaces are made
 * (and grown to this net's size) by whichever model first needs them, and are then shared by all
 * models; counting after this measures what each model call itself allocates.
 */
async function warmUp(features: number, batchSize: number) {
  const { x, y } = pixels(batchSize, features);
  const m = mlp(features);
  m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.05 }) });
  await m.fit(x, y, { epochs: 1, batchSize });
  m.predictWithUncertainty(x, { samples: 2, batchSize });
  m.evaluate(x, y, { batchSize });
  m.dispose();
}

/** The dropout MLP of the paper's shape, small: every layer kind that allocates per-batch state. */
const mlp = (inputs: number, seed = 1) => tn.sequential({
  inputShape: [inputs], seed, layers: [
    tn.layers.dropout({ keep: 0.8 }),
    tn.layers.dense({ units: 32, activation: 'relu', maxNorm: 2 }),
    tn.layers.dropout({ keep: 0.5 }),
    tn.layers.dense({ units: 32, activation: 'relu' }),
    tn.layers.dropout({ keep: 0.5 }),
    tn.layers.dense({ units: 3 }),
  ] });

/** Pixels 0..255 from the blobs (a uint8 data set like MNIST's). */
function pixels(n: number, features: number) {
  const { x, y } = blobs(n, features);
  return { x: Uint8Array.from(x, (v) => Math.max(0, Math.min(255, Math.round(128 + 40 * v)))), y };
}

describe.each([1, 2])('buffers are allocated once and reused (%i thread(s))', (threads) => {
  test('fit: no allocation after the first batch, in any epoch', async () => {
    await tn.ready({ threads });
    const { x, y } = pixels(230, 12);
    const m = mlp(12);
    m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }) });
    const counts: number[] = [];
    await m.fit(x, y, { epochs: 3, batchSize: 20, onBatchEnd: () => { counts.push(heap().allocCalls); } });
    expect(counts.length).toBe(3 * 12);
    // batch 0 allocates the buffers (and the gradient block); every later batch allocates nothing,
    // including the last, short batch of each epoch and the first batch of the next epochs
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(counts[1]).toBe(counts[0]);
    m.dispose();
  });

  test('predict, evaluate and MC predict: the allocation count does not depend on the number of batches or samples', async () => {
    await tn.ready({ threads });
    await warmUp(12, 30);
    const { x, y } = pixels(300, 12);
    // a fresh model per call: the count of the first call includes making the buffers
    const allocs = (fn: (m: tn.Sequential) => void) => {
      const m = mlp(12);
      const before = heap().allocCalls;
      fn(m);
      const n = heap().allocCalls - before;
      m.dispose();
      return n;
    };
    const one = (rows: number) => x.subarray(0, rows * 12);
    expect(allocs((m) => m.predict(one(300), { batchSize: 30 }))).toBe(allocs((m) => m.predict(one(30), { batchSize: 30 })));
    expect(allocs((m) => m.evaluate(one(300), y.subarray(0, 300), { batchSize: 30 }))).toBe(allocs((m) => m.evaluate(one(30), y.subarray(0, 30), { batchSize: 30 })));
    const mc = (rows: number, samples: number) => allocs((m) => m.predictWithUncertainty(one(rows), { samples, batchSize: 30 }));
    expect(mc(300, 20)).toBe(mc(30, 1));
    expect(allocs((m) => m.predict(one(300), { mc: 20, batchSize: 30 }))).toBe(mc(30, 1));
    // and a second call on the same model allocates nothing at all
    const m = mlp(12);
    m.predictWithUncertainty(one(300), { samples: 5, batchSize: 30 });
    const before = { calls: heap().allocCalls, memory: heap().memoryBytes };
    m.predictWithUncertainty(one(300), { samples: 5, batchSize: 30 });
    m.predict(one(300), { batchSize: 30 });
    m.predict(one(300), { mc: 3, batchSize: 30 });
    expect({ calls: heap().allocCalls, memory: heap().memoryBytes }).toEqual(before);
    m.dispose();
  });
});

describe('Monte-Carlo summaries stream over the samples', () => {
  test('the wasm memory held during MC prediction does not grow with the number of samples', async () => {
    await tn.ready({ threads: 1 });
    await warmUp(12, 50);
    const { x } = pixels(200, 12);
    const peak = (samples: number) => {
      const m = mlp(12);
      const base = heap().allocatedBytes;
      heap().resetPeak();
      const r = m.predictWithUncertainty(x, { samples, batchSize: 50 });
      const added = heap().peakAllocatedBytes - base;
      m.dispose();
      return { added, lengths: [r.mean.length, r.variance.length, r.entropy.length, r.mutualInformation.length] };
    };
    const a = peak(2), b = peak(64);
    expect(b.lengths).toEqual([200 * 3, 200 * 3, 200, 200]); // N×classes and N: no samples × N × classes array
    expect(a.added).toBeGreaterThan(0);
    expect(b.added).toBe(a.added); // the same batch buffers, whatever the number of samples
  });
});

describe('a data set in wasm memory (WasmArray)', () => {
  test('fit, evaluate, predict and MC on a WasmArray equal the same calls on the JavaScript arrays, bit for bit', async () => {
    await tn.ready({ threads: 2 });
    const { x, y } = pixels(150, 12);
    const run = async (input: Uint8Array | tn.data.WasmArray) => {
      const m = mlp(12, 7);
      m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }) });
      const h = await m.fit(input, y, { epochs: 2, batchSize: 16, validationSplit: 0.2 });
      const out = {
        params: m.parameters(), loss: h.loss, valLoss: h.valLoss,
        ev: m.evaluate(input, y), p: m.predict(input), mc: m.predictWithUncertainty(input, { samples: 4 }),
      };
      m.dispose();
      return out;
    };
    const js = await run(x);
    const w = tn.data.toWasm(x);
    const before = heap().allocatedBytes;
    const inWasm = await run(w);
    expect(heap().allocatedBytes).toBe(before); // nothing left behind, and w itself still live
    expect(Buffer.from(inWasm.params.buffer).equals(Buffer.from(js.params.buffer))).toBe(true);
    expect(inWasm.loss).toEqual(js.loss);
    expect(inWasm.valLoss).toEqual(js.valLoss);
    expect(inWasm.ev).toEqual(js.ev);
    expect(inWasm.p).toEqual(js.p);
    expect(inWasm.mc).toEqual(js.mc);
    expect(w.isDisposed).toBe(false);
    w.dispose();
    expect(heap().allocatedBytes).toBe(before - 150 * 12);
  });

  test('fit reads a WasmArray in place: it copies no data block into wasm', async () => {
    await tn.ready({ threads: 1 });
    const { x, y } = pixels(400, 12);
    const peakDuringFit = async (input: Uint8Array | tn.data.WasmArray) => {
      const m = mlp(12);
      m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.05 }) });
      let peak = 0;
      await m.fit(input, y, { epochs: 1, batchSize: 400, onBatchEnd: () => { peak = heap().allocatedBytes; } });
      m.dispose();
      return peak;
    };
    const w = tn.data.toWasm(x);
    const js = await peakDuringFit(x);
    const wasm = await peakDuringFit(w);
    expect(js - wasm).toBe(400 * 12); // the copy fit makes of a JavaScript x (400×12 uint8)
    w.dispose();
  });

  test('float32 WasmArrays, subarrays, slices, and clear errors', async () => {
    await tn.ready({ threads: 1 });
    const { x, y } = blobs(40, 12);
    const w = tn.data.toWasm(x);
    expect(w.dtype).toBe('float32');
    expect(w.length).toBe(480);
    expect(w.slice(12, 24)).toEqual(x.slice(12, 24));
    const sub = w.subarray(120);
    expect(sub.length).toBe(360);
    expect(sub.view()).toEqual(x.subarray(120));
    expect(w.subarray(-12).view()).toEqual(x.subarray(-12));
    const m = mlp(12);
    expect(m.predict(sub)).toEqual(m.predict(x.subarray(120)));
    expect(() => m.predict(w.subarray(0, 13))).toThrow(/x has 13 values, not a multiple of the model's 12 input features/);
    expect(() => sub.dispose()).toThrow(/this is a subarray; dispose the array it was taken from/);
    m.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.05 }) });
    await expect(m.fit(w, y, { epochs: 1, batchSize: 8, onBatchEnd: (b) => { if (b === 1) w.dispose(); } }))
      .rejects.toThrow(/fit: the WasmArray was disposed/);
    expect(() => m.predict(w)).toThrow(/predict: the WasmArray was disposed/);
    expect(() => m.predict(sub)).toThrow(/the WasmArray was disposed/);
    const bad = x.slice();
    bad[30] = NaN;
    const wb = tn.data.toWasm(bad);
    await expect(m.fit(wb, y, { epochs: 1 })).rejects.toThrow(/x\[30\] \(row 2, value 6\) is NaN/);
    expect(() => m.predict(wb)).toThrow(/x\[30\] \(row 2, value 6\) is NaN/);
    wb.dispose();
    expect(() => tn.data.toWasm(new Int32Array(3) as unknown as Uint8Array)).toThrow(/toWasm: x must be a Uint8Array or a Float32Array, got Int32Array/);
    const kept = tn.data.toWasm(new Uint8Array(24));
    await tn.close();
    await tn.ready({ threads: 1 });
    const m2 = mlp(12);
    expect(() => m2.predict(kept)).toThrow(/belongs to a runtime that was closed/);
    m.dispose(); m2.dispose();
  });
});
