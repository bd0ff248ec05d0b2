// The wasm heap as seen from TypeScript: allocation through the module's own allocator, and
// typed views that are re-derived whenever memory.buffer changes (memory.grow detaches the old
// ArrayBuffer; for shared memory it hands out a new, longer SharedArrayBuffer).

export interface HeapExports {
  alloc(bytes: number): number;
  free(ptr: number): void;
}

/** Bytes a wasm32 memory can hold (65536 pages of 64 KiB). */
export const WASM32_MAX_BYTES = 2 ** 32;
/**
 * The largest block the module's allocator hands out (AssemblyScript's TLSF: BLOCK_MAXSIZE,
 * 1 GiB less its 4-byte header), rounded down to the 16-byte alignment.
 */
export const MAX_BLOCK_BYTES = 2 ** 30 - 16;

const mb = (n: number) => (n / 1048576).toFixed(1);

export class Heap {
  private buffer: ArrayBufferLike | undefined;
  private f32All!: Float32Array;
  private u32All!: Uint32Array;
  private i32All!: Int32Array;
  private u8All!: Uint8Array;
  private live = new Map<number, number>(); // ptr -> bytes
  private liveBytes = 0;
  // Cumulative counters (two additions per call): a test that a loop reuses its buffers reads
  // allocCalls before and after each iteration; a memory bench reads peakLiveBytes.
  private allocs = 0;
  private peakBytes = 0;

  /**
   * `maxBytes`: the memory's maximum where the caller knows it (a JavaScript WebAssembly.Memory
   * does not tell; the runtime sets it for the shared memory of threaded builds); at most, and
   * by default, what wasm32 can address.
   */
  constructor(readonly memory: WebAssembly.Memory, private readonly exports: HeapExports,
              readonly maxBytes = WASM32_MAX_BYTES) {
    this.maxBytes = Math.min(maxBytes, WASM32_MAX_BYTES);
  }

  /** Re-derives the views if memory has grown since they were made. */
  private views(): void {
    const buffer = this.memory.buffer;
    if (buffer !== this.buffer || buffer.byteLength !== this.u8All.byteLength) {
      this.buffer = buffer;
      this.f32All = new Float32Array(buffer);
      this.u32All = new Uint32Array(buffer);
      this.i32All = new Int32Array(buffer);
      this.u8All = new Uint8Array(buffer);
    }
  }

  f32(ptr: number, n: number): Float32Array {
    this.views();
    return this.f32All.subarray(ptr >>> 2, (ptr >>> 2) + n);
  }

  u32(ptr: number, n: number): Uint32Array {
    this.views();
    return this.u32All.subarray(ptr >>> 2, (ptr >>> 2) + n);
  }

  i32(ptr: number, n: number): Int32Array {
    this.views();
    return this.i32All.subarray(ptr >>> 2, (ptr >>> 2) + n);
  }

  u8(ptr: number, n: number): Uint8Array {
    this.views();
    return this.u8All.subarray(ptr, ptr + n);
  }

  /**
   * Allocates `bytes` (16-byte aligned); throws a clear RangeError when the block cannot exist
   * (checked in 53-bit arithmetic before the allocator sees it: a size passed to wasm as a u32
   * would silently wrap, 2^32 to 0) or when memory cannot grow. A failed allocation is never
   * counted in allocatedBytes.
   */
  alloc(bytes: number): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`thinnet: cannot allocate ${bytes} bytes`);
    const size = Math.max(16, bytes);
    if (size >= this.maxBytes) { // a memory of maxBytes also holds static data: no block fills it
      throw new RangeError(this.maxBytes < WASM32_MAX_BYTES
        ? `thinnet: out of WebAssembly memory allocating ${mb(bytes)} MB: more than this memory's maximum of ` +
          `${mb(this.maxBytes)} MB; raise maxMemoryMB in ready() (at most 4096), or use smaller batches or layers`
        : `thinnet: cannot allocate ${mb(bytes)} MB: more than a wasm32 memory can hold (4096 MB); ` +
          'use smaller batches or layers');
    }
    if (size > MAX_BLOCK_BYTES) {
      throw new RangeError(`thinnet: cannot allocate ${mb(bytes)} MB in one block: the WebAssembly allocator's ` +
        `largest block is ${mb(MAX_BLOCK_BYTES + 16)} MB; use smaller batches or layers`);
    }
    let ptr = 0;
    try {
      ptr = this.exports.alloc(size) >>> 0;
    } catch {
      ptr = 0;
    }
    if (ptr === 0) {
      // maxMemoryMB only helps below wasm32's 4 GiB (a known maximum under it: the shared memory of threaded builds)
      throw new RangeError(`thinnet: out of WebAssembly memory allocating ${mb(size)} MB ` +
        `(heap now ${mb(this.memory.buffer.byteLength)} MB, ${mb(this.liveBytes)} MB in live tensors; dispose tensors you no longer need` +
        (this.maxBytes < WASM32_MAX_BYTES ? ', or raise maxMemoryMB in ready() (at most 4096))'
          : "; the limit is wasm32's 4 GiB (4096 MB), which maxMemoryMB cannot raise: use smaller batches or layers)"));
    }
    if (ptr % 16 !== 0 || ptr + size > this.memory.buffer.byteLength || this.live.has(ptr)) {
      const where = `[${ptr}, ${ptr + size}) in a ${mb(this.memory.buffer.byteLength)} MB memory`;
      if (!this.live.has(ptr)) {
        try { this.exports.free(ptr); } catch { /* the block is unusable either way */ }
      }
      throw new RangeError(`thinnet: the WebAssembly allocator returned an invalid block for ${mb(size)} MB: ${where}`);
    }
    this.live.set(ptr, size);
    this.liveBytes += size;
    this.allocs++;
    if (this.liveBytes > this.peakBytes) this.peakBytes = this.liveBytes;
    return ptr;
  }

  free(ptr: number): void {
    const size = this.live.get(ptr);
    if (size === undefined) throw new Error(`thinnet: free of unknown or already freed pointer ${ptr}`);
    this.live.delete(ptr);
    this.liveBytes -= size;
    this.exports.free(ptr);
  }

  /** Bytes held by live allocations (what a leak test watches). */
  get allocatedBytes(): number {
    return this.liveBytes;
  }

  get allocationCount(): number {
    return this.live.size;
  }

  /** Successful alloc() calls since the heap was made (never decreases): flat across a loop = buffers reused. */
  get allocCalls(): number {
    return this.allocs;
  }

  /**
   * The most bytes held by live allocations at once since the heap was made or since
   * resetPeak() (the memory itself only grows: see memoryBytes).
   */
  get peakAllocatedBytes(): number {
    return this.peakBytes;
  }

  /** Starts peakAllocatedBytes again from the bytes live now (to measure one phase). */
  resetPeak(): void {
    this.peakBytes = this.liveBytes;
  }

  /** Current size of the wasm memory in bytes. */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }
}
