// Heap access for the TypeScript side: allocation through AssemblyScript's own allocator
// (TLSF in the minimal runtime; blocks are 16-byte aligned) and a bulk copy.

/** Allocates `bytes` bytes, 16-byte aligned. Returns 0 only if memory cannot grow. */
export function alloc(bytes: usize): usize {
  return heap.alloc(bytes);
}

/** Frees a block returned by alloc. */
export function free(ptr: usize): void {
  heap.free(ptr);
}

/** memory.copy of `bytes` bytes from src to dst (the bandwidth yardstick of bench/dropout). */
export function memory_copy(dst: usize, src: usize, bytes: usize): void {
  memory.copy(dst, src, bytes);
}
