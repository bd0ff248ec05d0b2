import { runtime } from './runtime.js';

/** Bytes held by live tensors and masks, their count, and the wasm memory size. */
export function memoryInfo(): { allocatedBytes: number; allocations: number; memoryBytes: number } {
  const heap = runtime().heap;
  return { allocatedBytes: heap.allocatedBytes, allocations: heap.allocationCount, memoryBytes: heap.memoryBytes };
}
