// The wasm heap as seen from TypeScript: allocation through the module's own allocator, and
// typed views that are re-derived whenever memory.buffer changes (memory.grow detaches the old
// ArrayBuffer; for shared memory it hands out a new, longer SharedArrayBuffer).

export interface HeapExports {
  alloc(bytes: number): number;
  free(ptr: number): void;
}

export class Heap {
  private buffer: ArrayBufferLike | undefined;
  private f32All!: Float32Array;
  private u32All!: Uint32Array;
  private i32All!: Int32Array;
  private u8All!: Uint8Array;
  private live = new Map<number, number>(); // ptr -> bytes
  private liveBytes = 0;

  constructor(readonly memory: WebAssembly.Memory, private readonly exports: HeapExports) {}

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

  /** Allocates `bytes` (16-byte aligned); throws a clear error when memory cannot grow. */
  alloc(bytes: number): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`thinnet: cannot allocate ${bytes} bytes`);
    const size = Math.max(16, bytes);
    let ptr = 0;
    try {
      ptr = this.exports.alloc(size) >>> 0;
    } catch {
      ptr = 0;
    }
    if (ptr === 0) {
      const mb = (n: number) => (n / 1048576).toFixed(1);
      throw new RangeError(`thinnet: out of WebAssembly memory allocating ${mb(size)} MB ` +
        `(heap now ${mb(this.memory.buffer.byteLength)} MB, ${mb(this.liveBytes)} MB in live tensors; ` +
        'dispose tensors you no longer need, or raise maxMemoryMB in ready())');
    }
    this.live.set(ptr, size);
    this.liveBytes += size;
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

  /** Current size of the wasm memory in bytes. */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }
}
