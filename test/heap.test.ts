// The heap's allocation boundary (tracker issue 13, item 2): a size that wasm32 memory cannot
// hold is a clear RangeError naming it in MB, checked in 53-bit arithmetic before the wasm
// allocator sees it (a size passed to wasm as u32 wraps: 2^32 bytes became a 0-byte request,
// then kernels trapped and memoryInfo() reported 17 GB); a failed allocation is never counted.
import { afterAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';
import { Heap, MAX_BLOCK_BYTES, type HeapExports } from '../src/wasm/heap';

afterAll(async () => { await tn.close(); });

/** A heap over a small memory whose allocator is a recording bump allocator (u32 arguments, as wasm sees them). */
function fakeHeap(options: { result?: (size: number) => number; maxBytes?: number } = {}) {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const calls: number[] = [], freed: number[] = [];
  let top = 1024;
  const exports: HeapExports = {
    alloc(bytes) {
      const size = bytes >>> 0; // what a wasm usize parameter receives
      calls.push(size);
      if (options.result) return options.result(size);
      const p = top;
      top += Math.ceil(size / 16) * 16;
      return p;
    },
    free(ptr) { freed.push(ptr); },
  };
  return { heap: new Heap(memory, exports, options.maxBytes), calls, freed };
}

describe('Heap.alloc', () => {
  test('sizes wasm32 cannot hold are RangeErrors naming the size, before the allocator is called', () => {
    const { heap, calls } = fakeHeap();
    for (const [bytes, mb] of [[2 ** 32, '4096.0'], [2 ** 32 + 16, '4096.0'], [2 ** 40, '1048576.0'], [2 ** 53 - 1, '8589934592.0']] as const) {
      expect(() => heap.alloc(bytes)).toThrow(RangeError);
      expect(() => heap.alloc(bytes)).toThrow(new RegExp(`cannot allocate ${mb} MB: more than a wasm32 memory can hold`));
    }
    expect(() => heap.alloc(2 ** 53)).toThrow(/cannot allocate 9007199254740992 bytes/);
    expect(() => heap.alloc(-1)).toThrow(RangeError);
    expect(() => heap.alloc(NaN)).toThrow(RangeError);
    expect(() => heap.alloc(1.5)).toThrow(RangeError);
    expect(calls).toEqual([]);
    expect(heap.allocatedBytes).toBe(0);
    expect(heap.allocationCount).toBe(0);
  });

  test('a block larger than the allocator\'s largest (1 GiB) is a RangeError, not a trap reported as "out of memory"', () => {
    const { heap, calls } = fakeHeap();
    expect(() => heap.alloc(MAX_BLOCK_BYTES + 1)).toThrow(/cannot allocate 1024.0 MB in one block: .*largest block is 1024.0 MB/);
    expect(() => heap.alloc(3 * 2 ** 30)).toThrow(/cannot allocate 3072.0 MB in one block/);
    expect(calls).toEqual([]);
    expect(heap.allocatedBytes).toBe(0);
  });

  test('a memory maximum the caller knows (maxMemoryMB) bounds requests the same way', () => {
    const { heap, calls } = fakeHeap({ maxBytes: 64 * 1048576 });
    expect(() => heap.alloc(128 * 1048576)).toThrow(/out of WebAssembly memory allocating 128.0 MB: more than this memory's maximum of 64.0 MB; raise maxMemoryMB/);
    expect(calls).toEqual([]);
    expect(heap.alloc(1000)).toBe(1024);
    expect(heap.allocatedBytes).toBe(1000);
  });

  test('a block the allocator returns outside the memory (or misaligned, or already live) is refused, freed and not counted', () => {
    const bad = [65536 - 8, 1028, 0x7ffffff0];
    const { heap, freed } = fakeHeap({ result: () => bad.shift() ?? 2048 });
    expect(() => heap.alloc(64)).toThrow(/allocator returned an invalid block for 0.0 MB: \[65528, 65592\)/);
    expect(() => heap.alloc(64)).toThrow(/invalid block/); // misaligned
    expect(() => heap.alloc(64)).toThrow(/invalid block/); // beyond the memory
    expect(freed).toEqual([65536 - 8, 1028, 0x7ffffff0]);
    expect(heap.allocatedBytes).toBe(0);
    const p = heap.alloc(64);
    expect(p).toBe(2048);
    expect(() => heap.alloc(64)).toThrow(/invalid block/); // 2048 again: already live, so not freed
    expect(freed).toEqual([65536 - 8, 1028, 0x7ffffff0]);
    expect(heap.allocatedBytes).toBe(64);
    expect(heap.allocationCount).toBe(1);
  });

  test('an allocator that fails (returns 0 or traps) is the out-of-memory error and counts nothing', () => {
    const { heap } = fakeHeap({ result: () => 0 });
    expect(() => heap.alloc(100)).toThrow(/out of WebAssembly memory allocating 0.0 MB/);
    const trapping = new Heap(new WebAssembly.Memory({ initial: 1 }), { alloc: () => { throw new WebAssembly.RuntimeError('unreachable'); }, free() {} });
    expect(() => trapping.alloc(100)).toThrow(RangeError);
    expect(heap.allocatedBytes + trapping.allocatedBytes).toBe(0);
  });
});

describe('the probe through the public API', () => {
  test('inputShape [1] → dense(2^24) → dense(2); predict of 64 rows asks for 2^32 bytes: a RangeError naming the size, nothing counted', async () => {
    await tn.close();
    await tn.ready({ threads: 1 });
    const model = tn.sequential({ inputShape: [1], seed: 1, layers: [tn.layers.dense({ units: 2 ** 24 }), tn.layers.dense({ units: 2 })] });
    const before = tn.memoryInfo();
    let error: unknown;
    try {
      model.predict(new Float32Array(64));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RangeError);
    expect(String((error as Error).message)).toMatch(/4096(\.0)? MB/);
    expect(String((error as Error).message)).not.toMatch(/out of bounds/);
    const after = tn.memoryInfo();
    expect(after.allocatedBytes).toBe(before.allocatedBytes);
    expect(after.allocations).toBe(before.allocations);
    expect(after.allocatedBytes).toBeLessThan(2 ** 31); // never the wrapped sizes (the probe saw 17 GB)
    // 32 and 16 rows: 2 GiB and 1 GiB buffers, which a 32-bit size holds, refused by the heap itself
    for (const [rows, mb] of [[32, '2048.0'], [16, '1024.0']] as const) {
      expect(() => model.predict(new Float32Array(rows))).toThrow(new RegExp(`cannot allocate ${mb} MB in one block`));
      expect(tn.memoryInfo().allocatedBytes).toBe(before.allocatedBytes);
    }
    // the model still predicts a batch that fits
    const y = model.predict(new Float32Array(2));
    expect(y.length).toBe(4);
    expect(Array.from(y).every(Number.isFinite)).toBe(true);
    model.dispose();
  }, 60_000);
});
