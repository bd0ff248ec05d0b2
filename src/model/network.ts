// The network a Sequential model runs: its layers, one parameter block and one gradient block
// (llm.c: every 'weight' parameter first, in layer order, then every bias), batch buffers reused
// across calls, and the passes (forward, loss, backward, update, constraints). Nothing here asks
// which family a layer is: layers declare their shapes, parameters and constraints.
import { buildLayers } from '../layers/registry.js';
import type { Exec, Layer, LayerSpec, Mode, Param, Shape } from '../layers/types.js';
import { platform } from '../platform/types.js';
import type { OptimizerState } from '../train/optimizers.js';
import { WasmArray } from '../tensor/wasm-array.js';
import type { Runtime } from '../wasm/runtime.js';

/**
 * 'softmaxCrossEntropy' (classifiers: the last layer's outputs are logits, y are class labels);
 * 'meanSquaredError' (autoencoders, regression: the last layer's outputs are the predictions, y
 * are float targets N×outputs; the per-example loss is the mean over the outputs,
 * (1/D)·Σ_j (ŷ_j − y_j)², as tf.js / Keras meanSquaredError).
 */
export type Loss = 'softmaxCrossEntropy' | 'meanSquaredError';

/**
 * Inputs: N×features, float32 as is, or uint8 pixels scaled by 1/255 (in a kernel); in JavaScript
 * memory or already in wasm memory (a WasmArray: read in place, never copied in again).
 */
export type Inputs = Float32Array | Uint8Array | WasmArray;

/**
 * Labels: N integer class indices, or N×classes one-hot float32 rows (softmaxCrossEntropy);
 * for 'meanSquaredError', N×outputs float targets (Float32Array, Float64Array or number[]).
 */
export type Labels = Uint8Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array | number[];

/** Per-batch buffers for up to `cap` examples (grown, never shrunk). */
export interface Buffers {
  cap: number;
  /** acts[i] is layer i's input, acts[i + 1] its output (a view layer's output is its input). */
  acts: number[];
  /** The gradient flowing back, ping-ponged between two blocks of the widest layer. */
  dA: number;
  dB: number;
  /** Softmax probabilities (softmaxCrossEntropy), rows × outputs. */
  probs: number;
  /** Integer labels (softmaxCrossEntropy), rows. */
  labels: number;
  /** Float targets (meanSquaredError), rows × outputs. */
  targets: number;
  pred: number;
  /** uint8 inputs before scaling. */
  stage: number;
  /** Monte-Carlo running mean of the probabilities, rows × classes. */
  mcMean: number;
  /** Monte-Carlo running sum of squared deviations (Welford M2), rows × classes. */
  mcM2: number;
  /** Monte-Carlo running mean of the samples' entropies, rows. */
  mcEntropyMean: number;
  entropy: number;
  mi: number;
}

/** The parameter layout of a network, known before anything is allocated. */
export interface Layout {
  layers: Layer[];
  foldedSoftmax: boolean;
  paramCount: number;
  weightCount: number;
  biasCount: number;
  /** Every parameter, in block order. */
  params: Param[];
}

/**
 * Builds the layers of checked specs and places their parameters (weights, then biases).
 * Allocates nothing, so a model file's claims can be checked against it first.
 */
export function plan(specs: readonly LayerSpec[], inputShape: Shape): Layout {
  const { layers, foldedSoftmax } = buildLayers(specs, inputShape);
  if (!layers.some((l) => l.params.length > 0)) throw new RangeError('thinnet.sequential: the model needs at least one layer with parameters (dense or conv2d)');
  const params: Param[] = [];
  let off = 0;
  for (const role of ['weight', 'bias'] as const) {
    for (const l of layers) {
      for (const p of l.params) {
        if (p.role !== role) continue;
        p.offset = off;
        off += p.size;
        params.push(p);
      }
    }
  }
  const weightCount = params.filter((p) => p.role === 'weight').reduce((a, p) => a + p.size, 0);
  if (off > 0x3fffffff) throw new RangeError(`thinnet.sequential: the model has ${off} parameters, more than wasm memory holds (2^30 float32)`);
  return { layers, foldedSoftmax, paramCount: off, weightCount, biasCount: off - weightCount, params };
}

export class Network {
  readonly layers: Layer[];
  readonly foldedSoftmax: boolean;
  readonly inputSize: number;
  /** Classes, or outputs of a regression / autoencoder model (width of the last layer). */
  readonly outputSize: number;
  readonly paramCount: number;
  readonly weightCount: number;
  readonly biasCount: number;
  /** Byte address of the parameter block. */
  readonly params: number;
  loss: Loss = 'softmaxCrossEntropy';
  private gradsPtr = 0;
  private buf: Buffers | undefined;

  /**
   * The network of `layout` with its parameter block: `block` (allocated by the caller, exactly
   * paramCount float32, e.g. a model file's weights) or a new uninitialized one.
   */
  constructor(readonly rt: Runtime, layout: Layout, block?: number) {
    this.layers = layout.layers;
    this.foldedSoftmax = layout.foldedSoftmax;
    this.inputSize = this.layers[0].inSize;
    this.outputSize = this.layers[this.layers.length - 1].outSize;
    this.paramCount = layout.paramCount;
    this.weightCount = layout.weightCount;
    this.biasCount = layout.biasCount;
    this.params = block ?? rt.heap.alloc(4 * this.paramCount);
  }

  /** Initial weights: each layer's parameters from a generator seeded by (seed, its spec index). */
  initialize(seed: number): void {
    // straight into the parameter block, not through a JavaScript copy of it (7 MB of garbage
    // for the paper's MNIST net, issue 18): the initializers are plain JavaScript and allocate
    // nothing in wasm, so this view stays valid; zeroed first, as a new Float32Array would be
    const all = this.rt.heap.f32(this.params, this.paramCount);
    all.fill(0);
    const rngs = new Map<number, () => number>(); // one generator per spec, shared by its layers
    for (const l of this.layers) {
      if (l.params.length === 0) continue;
      if (!rngs.has(l.index)) rngs.set(l.index, platform().seedrandom(`thinnet:${seed}:${l.index}`));
      for (const p of l.params) p.init(all.subarray(p.offset, p.offset + p.size), rngs.get(l.index)!);
    }
  }

  /** The gradient block (zeros at first), allocated on first use: a model that only predicts never needs it. */
  get grads(): number {
    if (!this.gradsPtr) {
      this.gradsPtr = this.rt.heap.alloc(4 * this.paramCount);
      this.rt.heap.f32(this.gradsPtr, this.paramCount).fill(0);
    }
    return this.gradsPtr;
  }

  private exec(): Exec {
    const net = this; // grads only when a backward pass asks for them
    return { rt: this.rt, params: this.params, get grads() { return net.grads; } };
  }

  /**
   * Batch buffers for up to `cap` examples (grown, never shrunk). All or nothing: if memory runs
   * out halfway, everything allocated here is freed again before the error propagates.
   */
  buffers(cap: number): Buffers {
    if (this.buf && this.buf.cap >= cap) return this.buf;
    this.freeBuffers();
    const h = this.rt.heap;
    const C = this.outputSize;
    const made: number[] = [];
    const alloc = (bytes: number) => {
      const p = h.alloc(bytes);
      made.push(p);
      return p;
    };
    const bytes = (elements: number) => 4 * cap * elements; // 53-bit; the heap refuses what wasm32 cannot hold
    try {
      const acts = [alloc(bytes(this.inputSize))];
      for (const l of this.layers) acts.push(l.isView ? acts[acts.length - 1] : alloc(bytes(l.outSize)));
      const maxW = Math.max(this.inputSize, ...this.layers.map((l) => Math.max(l.inSize, l.outSize)));
      const buf: Buffers = {
        cap, acts,
        dA: alloc(bytes(maxW)), dB: alloc(bytes(maxW)),
        probs: alloc(bytes(C)), labels: alloc(bytes(1)), targets: alloc(bytes(C)), pred: alloc(bytes(1)),
        stage: alloc(cap * this.inputSize),
        mcMean: alloc(bytes(C)), mcM2: alloc(bytes(C)), mcEntropyMean: alloc(bytes(1)), entropy: alloc(bytes(1)), mi: alloc(bytes(1)),
      };
      for (const l of this.layers) l.allocate(this.rt, cap);
      this.buf = buf;
      return buf;
    } catch (e) {
      for (const l of this.layers) l.release(this.rt);
      for (const p of made) h.free(p);
      throw e;
    }
  }

  freeBuffers(): void {
    const b = this.buf;
    if (!b) return;
    const h = this.rt.heap;
    const blocks = new Set([...b.acts, b.dA, b.dB, b.probs, b.labels, b.targets, b.pred, b.stage, b.mcMean, b.mcM2, b.mcEntropyMean, b.entropy, b.mi]);
    for (const p of blocks) h.free(p);
    for (const l of this.layers) l.release(this.rt);
    this.buf = undefined;
  }

  /** Copies rows [start, start + n) of x into the input buffer (uint8 pixels scaled by 1/255). */
  stageInputs(b: Buffers, x: Inputs, start: number, n: number): void {
    const F = this.inputSize;
    if (x instanceof WasmArray) {
      x.assertLive('model'); // a callback may have disposed it between batches
      if (x.dtype === 'packed') {
        if (this.rt.kernels.unpack_rows_f32(b.acts[0], x.ptr + 4 * start, 0, 1 / 255, n, F) !== n) throw new Error('thinnet.model: a row of the packed x is malformed (its memory was overwritten?)');
        return;
      }
      const src = x.ptr + start * F * x.bytesPerElement;
      if (x.dtype === 'uint8') this.rt.kernels.u8_to_f32_scaled(b.acts[0], src, 1 / 255, n * F);
      else {
        this.rt.heap.f32(b.acts[0], n * F).set(this.rt.heap.f32(src, n * F));
        if (this.rt.kernels.count_nonfinite_f32(b.acts[0], n * F) > 0) throw nonFiniteInput(x.view() as Float32Array, start * F, (start + n) * F, F);
      }
    } else if (x instanceof Uint8Array) {
      this.rt.heap.u8(b.stage, n * F).set(x.subarray(start * F, (start + n) * F));
      this.rt.kernels.u8_to_f32_scaled(b.acts[0], b.stage, 1 / 255, n * F);
    } else {
      this.rt.heap.f32(b.acts[0], n * F).set(x.subarray(start * F, (start + n) * F));
      if (this.rt.kernels.count_nonfinite_f32(b.acts[0], n * F) > 0) throw nonFiniteInput(x, start * F, (start + n) * F, F);
    }
  }

  /** Copies rows [start, start + n) of checked labels (Int32Array) or targets (Float32Array) into their buffer. */
  stageY(b: Buffers, y: Int32Array | Float32Array, start: number, n: number): void {
    if (y instanceof Float32Array) {
      const C = this.outputSize;
      this.rt.heap.f32(b.targets, n * C).set(y.subarray(start * C, (start + n) * C));
    } else {
      this.rt.heap.i32(b.labels, n).set(y.subarray(start, start + n));
    }
  }

  /** Forward over the input buffer through layers[0..last] (default: all); returns the output pointer (the logits, for the whole net). */
  forward(b: Buffers, batch: number, mode: Mode, last = this.layers.length - 1): number {
    const e = this.exec();
    for (let i = 0; i <= last; i++) {
      const l = this.layers[i];
      if (!l.isView) l.forward(e, b.acts[i + 1], b.acts[i], batch, mode);
    }
    return b.acts[last + 1];
  }

  /** The summed loss of a batch whose outputs were just computed. Softmax cross-entropy leaves the probabilities in b.probs. */
  batchLoss(b: Buffers, out: number, batch: number): number {
    const C = this.outputSize;
    // scale 1 and the division here: 1/C is not a float32 for most C
    if (this.loss === 'meanSquaredError') return this.rt.kernels.mse_forward_f32(out, b.targets, 1, batch * C) / C;
    return this.rt.kernels.softmax_xent_forward_f32(b.probs, 0, out, b.labels, batch, C);
  }

  /**
   * The layers' penalties (kernel and activity regularizers) for the batch whose forward pass just
   * ran, on the scale of the mean loss per example: the training objective is batchLoss / batch + this.
   */
  penalty(b: Buffers, batch: number): number {
    const e = this.exec();
    let s = 0;
    this.layers.forEach((l, i) => { if (l.penalty) s += l.penalty(e, b.acts[i + 1], batch); });
    return s;
  }

  /** The model's outputs from the last layer's: softmax probabilities (in b.probs), or the outputs themselves (MSE). */
  outputs(b: Buffers, out: number, m: number): number {
    if (this.loss === 'meanSquaredError') return out;
    this.rt.kernels.softmax_forward_f32(b.probs, out, m, this.outputSize);
    return b.probs;
  }

  /** Backward from the output gradient in b.dA; writes the whole gradient block. */
  backward(b: Buffers, batch: number, mode: Mode): void {
    const e = this.exec();
    let dy = b.dA, dx = b.dB;
    const first = this.layers.findIndex((l) => l.params.length > 0);
    for (let i = this.layers.length - 1; i >= first; i--) {
      const l = this.layers[i];
      if (l.isView) continue; // the gradient of a reshaped view is the same memory
      l.backward(e, i > first ? dx : 0, dy, b.acts[i], b.acts[i + 1], batch, mode);
      [dy, dx] = [dx, dy];
    }
  }

  /**
   * Forward, loss and backward on the staged batch; returns the summed loss, penalties included
   * (batch × penalty(): its mean over the batch is the objective), not finite: no gradients were computed.
   */
  lossAndBackward(b: Buffers, batch: number, mode: Mode): number {
    const k = this.rt.kernels;
    const C = this.outputSize;
    const out = this.forward(b, batch, mode);
    const lossSum = this.batchLoss(b, out, batch) + batch * this.penalty(b, batch);
    if (!Number.isFinite(lossSum)) return lossSum;
    // the gradient of the mean loss over the batch
    if (this.loss === 'meanSquaredError') k.mse_backward_f32(b.dA, out, b.targets, 1 / (batch * C), batch * C);
    else k.softmax_xent_backward_f32(b.dA, b.probs, b.labels, 1 / batch, batch, C);
    this.backward(b, batch, mode);
    return lossSum;
  }

  /**
   * One training step on the staged batch: forward with the masks of `mode`, loss, backward,
   * optimizer update, constraints (max-norm). Returns the summed loss (not finite: nothing was
   * updated) and the number of correct predictions.
   */
  trainStep(b: Buffers, batch: number, mode: Mode, opt: OptimizerState, epoch: number): { lossSum: number; correct: number } {
    const lossSum = this.lossAndBackward(b, batch, mode);
    const correct = this.loss === 'meanSquaredError' ? 0 : this.countCorrect(b, batch);
    if (!Number.isFinite(lossSum)) return { lossSum, correct };
    opt.update({ params: this.params, grads: this.grads, weightCount: this.weightCount, biasCount: this.biasCount }, epoch);
    this.constrain();
    return { lossSum, correct };
  }

  countCorrect(b: Buffers, batch: number): number {
    const k = this.rt.kernels;
    k.argmax_rows_f32(b.pred, b.probs, batch, this.outputSize);
    return k.count_equal_i32(b.pred, b.labels, batch);
  }

  /** Every layer's constraint (max-norm, paper §5.1), after an update. */
  constrain(): void {
    const e = this.exec();
    for (const l of this.layers) l.constrain?.(e);
  }

  dispose(): void {
    this.freeBuffers();
    for (const l of this.layers) l.dispose?.(this.rt);
    this.rt.heap.free(this.params);
    if (this.gradsPtr) this.rt.heap.free(this.gradsPtr);
    this.gradsPtr = 0;
  }
}

/** The error for NaN / ±Infinity among x[from, to) (rows of F values), naming the first one. */
export function nonFiniteInput(x: Float32Array, from: number, to: number, F: number): RangeError {
  let i = from;
  while (i < to && Number.isFinite(x[i])) i++;
  return new RangeError(`thinnet: x[${i}] (row ${Math.floor(i / F)}, value ${i % F}) is ${x[i]}; inputs must be finite numbers`);
}
