// The Layer contract: what a layer family provides so that the model, the optimizer, max-norm,
// weight folding and the model file never ask which family a layer is.
//
// Two levels:
// - a *spec* is plain JSON (what tn.layers.* return, what a model file stores): { type, ...options };
// - a *family* (one per file in src/layers/) checks specs and builds, from one spec, the internal
//   layers that run (a conv2d or dense spec with an activation becomes two: the linear part,
//   then the activation). Internal layers keep their spec's index: it names the dropout stream
//   and seeds the weight initialization.
//
// Shapes are the shape of ONE example, channels last: [features] for vectors, [H, W, C] for
// images (as TensorFlow.js and Keras; a batch of images in memory is NHWC, so a row of the input
// is an MNIST image as stored, flatten is free, and a convolution's patch matrix has the same
// [positions, H·W·C] form as a dense layer's input: the conv kernels reuse the dense GEMM).
import type { Runtime } from '../wasm/runtime.js';

export type Shape = readonly number[];

/** A layer as the user writes it and a model file stores it: plain JSON. */
export interface LayerSpec {
  type: string;
  [option: string]: unknown;
}

/** How a forward pass runs. */
export interface Mode {
  /** 'train': stochastic, remember what backward needs; 'eval': deterministic (weight scaling); 'sample': stochastic (MC). */
  kind: 'train' | 'eval' | 'sample';
  seed: number;
  step: number;
}

/** What layers share during a pass: the runtime and the model's parameter and gradient blocks. */
export interface Exec {
  rt: Runtime;
  params: number;
  grads: number;
}

/**
 * One parameter tensor of a layer. The model lays every 'weight' out first (in layer order),
 * then every 'bias' (llm.c): the optimizer decays [0, weightCount) and not the biases, and the
 * model file stores the block byte for byte.
 */
export interface Param {
  /** Its name in the model file ('kernel', 'bias'). */
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
  readonly role: 'weight' | 'bias';
  /** Element offset into the model's parameter (and gradient) block; set by the model. */
  offset: number;
  /** Initial values (rng: uniform in [0, 1), seeded by the model and the layer's index). */
  init(values: Float32Array, rng: () => number): void;
}

/**
 * How a constant factor s > 0 on this layer's input (the paper's weight scaling of a dropout
 * layer before it) can be moved when folding: 'absorb' — f(s·x) equals f(x) with every 'weight'
 * parameter scaled by s (dense, conv); 'commute' — f(s·x) = s·f(x), so s moves to the output
 * (flatten, max-pool, relu, maxout, linear). Absent: it cannot be folded through.
 */
export type FoldRule = 'absorb' | 'commute';

export interface Layer {
  /** What it computes, for messages and summaries ('dense', 'conv2d', 'relu', 'dropout', …). */
  readonly kind: string;
  /** Index of the spec this layer belongs to (dropout stream; weight-init seed). */
  readonly index: number;
  readonly inShape: Shape;
  readonly outShape: Shape;
  /** Elements per example of the input and the output (products of the shapes). */
  readonly inSize: number;
  readonly outSize: number;
  /** The parameters this layer owns (empty for most). */
  readonly params: readonly Param[];
  /** The output is the input's memory under another shape (flatten): forward and backward never run. */
  readonly isView?: boolean;
  readonly fold?: FoldRule;
  /** A dropout layer (removed by foldDropout): the factor its evaluation mode applies (p for the paper's convention, else 1). */
  readonly dropoutScale?: number;
  /** Allocates per-batch scratch (masks, argmax) for batches up to `cap` examples. */
  allocate(rt: Runtime, cap: number): void;
  release(rt: Runtime): void;
  forward(e: Exec, y: number, x: number, batch: number, mode: Mode): void;
  /**
   * Writes the parameter gradients (overwriting) and, when dx != 0, dLoss/dx. x and y are this
   * layer's input and output of the same forward pass. dy may be used as scratch (an activity
   * penalty adds its own gradient to it before going on).
   */
  backward(e: Exec, dx: number, dy: number, x: number, y: number, batch: number, mode: Mode): void;
  /**
   * The penalty this layer adds to the training objective of a batch (regularizers.ts: L1/L2 on
   * its kernel, KL sparsity of its output y of the forward pass just run), on the scale of the
   * mean loss per example; backward adds its gradient. Absent: no penalty.
   */
  penalty?(e: Exec, y: number, batch: number): number;
  /** After every update: the constraint on its parameters (max-norm), if any. */
  constrain?(e: Exec): void;
  /**
   * A dense layer y = x·Wᵀ + b (kernel [units, inputs]) that model.quantize() may replace by its
   * int8 version (layers/int8-dense.ts). Absent: the layer stays float (conv, activations, …).
   */
  readonly quantizable?: { readonly kernel: Param; readonly bias: Param | undefined };
  /** Frees what the layer owns in wasm memory beyond its per-batch scratch (the network's dispose). */
  dispose?(rt: Runtime): void;
}

/** A layer family: the checks of its specs and how a spec becomes layers. */
export interface LayerFamily {
  readonly type: string;
  /**
   * Validates a spec from anywhere (a factory, a model file, JSON) with the factory's messages
   * and returns it normalized (defaults filled in) — what the model keeps and saves.
   */
  check(spec: LayerSpec): LayerSpec;
  /** The internal layers of spec number `index` on inputs of shape `inShape` (a checked spec). */
  build(spec: LayerSpec, index: number, inShape: Shape): Layer[];
  /** One line for summary(): the options that matter. */
  describe(spec: LayerSpec): string;
}

/** Elements in a shape. */
export function sizeOfShape(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}
