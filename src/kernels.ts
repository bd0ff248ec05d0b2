// The typed binding of the wasm exports. Names are exactly those of assembly/ so one search
// finds both sides. Pointers are byte addresses, sizes count elements.

export interface Kernels {
  memory: WebAssembly.Memory;
  alloc(bytes: number): number;
  free(ptr: number): void;
  memory_copy(dst: number, src: number, bytes: number): void;

  rng_words_u32(out: number, seed: number, stream: number, step: number, first: number, n: number): void;

  dropout_forward_f32(y: number, mask: number, x: number, keep16: number, scale: number,
    seed: number, stream: number, step: number, first: number, n: number): void;
  dropout_forward_f32_scalar(y: number, mask: number, x: number, keep16: number, scale: number,
    seed: number, stream: number, step: number, first: number, n: number): void;
  dropout_backward_f32(dx: number, dy: number, mask: number, scale: number, n: number): void;
  dropout_backward_f32_scalar(dx: number, dy: number, mask: number, scale: number, n: number): void;
  dropout_backward_recompute_f32(dx: number, dy: number, keep16: number, scale: number,
    seed: number, stream: number, step: number, first: number, n: number): void;
  dropout_backward_recompute_f32_scalar(dx: number, dy: number, keep16: number, scale: number,
    seed: number, stream: number, step: number, first: number, n: number): void;
  dropout_apply_mask_f32(y: number, x: number, r: number, scale: number, n: number): void;
  dropout_apply_mask_f32_scalar(y: number, x: number, r: number, scale: number, n: number): void;
  dropout_eval_f32(y: number, x: number, scale: number, n: number): void;
  dropout_eval_f32_scalar(y: number, x: number, scale: number, n: number): void;

  gaussian_dropout_forward_f32(y: number, x: number, sigma: number,
    seed: number, stream: number, step: number, first: number, n: number): void;
  gaussian_dropout_forward_f32_scalar(y: number, x: number, sigma: number,
    seed: number, stream: number, step: number, first: number, n: number): void;
  gaussian_dropout_backward_f32(dx: number, dy: number, sigma: number,
    seed: number, stream: number, step: number, first: number, n: number): void;
  gaussian_dropout_backward_f32_scalar(dx: number, dy: number, sigma: number,
    seed: number, stream: number, step: number, first: number, n: number): void;
}

export type KernelName = Exclude<keyof Kernels, 'memory'>;
