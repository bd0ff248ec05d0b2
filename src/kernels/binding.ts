// The one typed binding of the wasm module: KernelExports (src/kernels/exports.ts) is generated
// from assembly/ by scripts/gen-binding.mjs on every build, so the names and parameters here are
// exactly those of the kernels (one search finds both sides) and a new kernel needs no
// declaration by hand. Pointers are byte addresses, sizes count elements.
import type { KernelExports } from './exports.js';

export interface Kernels extends KernelExports {
  memory: WebAssembly.Memory;
}

export type KernelName = Exclude<keyof Kernels, 'memory'>;
