// Sequential models: a list of layers over one parameter block and one gradient block (llm.c
// style: weights of every dense layer first, then every bias), batch buffers reused across calls,
// training steps (softmax cross-entropy for classifiers, mean squared error for autoencoders and
// regression), evaluation, prediction by weight scaling, Monte-Carlo averaging or one thinned
// network, hidden activations, and folding the paper's weight scaling into the weights.
import { Dense } from '../layers/dense.js';
import { Dropout } from '../layers/dropout.js';
import type { DenseSpec, Exec, Layer, LayerSpec, Mode } from '../layers/types.js';
import { decodeModel, encodeModel, saveBytes } from '../io/model-file.js';
import { restoreOptimizerState, type Optimizer, type OptimizerState, type SavedOptimizerState } from '../train/optimizers.js';
import { MIN_ELEMENTS_PER_THREAD, runtime, type Runtime } from '../wasm/runtime.js';
import type { FitOptions, History } from '../train/fit.js';
import { platform } from '../platform/types.js';
import { checkBatch, checkCount, checkInputs, checkLabels, checkOneOf, checkOptions, checkTargets, checkU32 } from '../tensor/validate.js';
import { buildLayers, fillInit } from '../layers/build.js';

/**
 * 'softmaxCrossEntropy' (classifiers: the last layer's outputs are logits, y are class labels);
 * 'meanSquaredError' (autoencoders, regression: the last layer's outputs are the predictions, y
 * are float targets N×outputs; the per-example loss is the mean over the outputs,
 * (1/D)·Σ_j (ŷ_j − y_j)², as tf.js / Keras meanSquaredError).
 */
export type Loss = 'softmaxCrossEntropy' | 'meanSquaredError';
const LOSSES: readonly Loss[] = ['softmaxCrossEntropy', 'meanSquaredError'];
const SOFTMAX_MSE = "loss 'meanSquaredError' needs a last layer without softmax (a trailing softmax is fused with softmaxCrossEntropy); use a linear or sigmoid output";

export interface SequentialConfig {
  /** Shape of one example (its product is the number of input features), e.g. [784] or [28, 28]. */
  inputShape: number[];
  /** Seeds weight init (with the layer index), shuffling and the dropout masks. Default 0. */
  seed?: number;
  layers: LayerSpec[];
}

export interface SaveOptions {
  /** Also store the optimizer's state (velocity; Adam's moments and step), to resume training. */
  optimizer?: boolean;
}

export interface CompileOptions {
  optimizer: Optimizer;
  /**
   * 'softmaxCrossEntropy' (needs at least 2 outputs) or 'meanSquaredError' (see Loss). Default:
   * the model's loss (model.loss: 'softmaxCrossEntropy' for a new model; a loaded model keeps the
   * loss it was saved with).
   */
  loss?: Loss;
}

/** Inputs: N×features, float32 as is, or uint8 pixels scaled by 1/255 (in a kernel). */
export type Inputs = Float32Array | Uint8Array;
/**
 * Labels: N integer class indices, or N×classes one-hot float32 rows (softmaxCrossEntropy);
 * for 'meanSquaredError', N×outputs float targets (Float32Array, Float64Array or number[]).
 */
export type Labels = Uint8Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array | number[];

export interface EvaluateResult {
  /** Mean over the examples of the per-example loss (cross-entropy, or MSE's mean over the outputs). */
  loss: number;
  /** Fraction classified correctly (argmax); NaN for a 'meanSquaredError' model. */
  accuracy: number;
  /** 1 − accuracy; NaN for a 'meanSquaredError' model. */
  error: number;
}

export interface PredictOptions {
  /** Rows per pass (default 1000). */
  batchSize?: number;
  /** Monte-Carlo model averaging: mean of this many stochastic (thinned) passes. Default 0 (weight scaling). */
  mc?: number;
  /**
   * The prediction of one thinned network: the masks of Monte-Carlo sample `sample` (an integer
   * ≥ 0), the same masks predict({ mc: k }) and predictWithUncertainty use for samples t < k
   * (with the same batchSize: a mask depends on the row's position within its batch). Not
   * together with `mc`.
   */
  sample?: number;
}

export interface ActivationsOptions {
  /** Index into model.config.layers: the output of that layer (after its activation) is returned. */
  layer: number;
  /**
   * false (default): evaluation mode, as predict() (weight scaling). true: training mode, the
   * dropout masks of training step `step`.
   */
  training?: boolean;
  /** With training: true, the step whose masks are used (default model.step). */
  step?: number;
  /** Rows per pass (default 1000). */
  batchSize?: number;
}

export interface Uncertainty {
  /** Predictive mean of the probabilities, N×classes. */
  mean: Float32Array;
  /** Variance of each class probability over the samples, N×classes. */
  variance: Float32Array;
  /** Entropy of the predictive mean per example (nats), N. */
  entropy: Float32Array;
  /** Mutual information between prediction and model (entropy − mean entropy of the samples), N. */
  mutualInformation: Float32Array;
}

export interface WeightsEntry {
  /** Index of the dense layer among the model's layers. */
  layer: number;
  /** [units, inputs], row-major: row o holds unit o's incoming weights. */
  shape: [number, number];
  kernel: Float32Array;
  bias: Float32Array;
}

/** Predictions of at most this many multiply-adds never wait for the worker pool to boot. */
const SMALL_PREDICT_MACS = 1 << 24;

/** Salt of the seed for Monte-Carlo passes (masks independent of the training masks). */
const MC_SALT = 0x9e3779b9;

/** @internal */
export interface Buffers {
  cap: number;
  acts: number[];
  dA: number;
  dB: number;
  /** Softmax probabilities (softmaxCrossEntropy), rows × outputs. */
  probs: number;
  /** Integer labels (softmaxCrossEntropy), rows. */
  labels: number;
  /** Float targets (meanSquaredError), rows × outputs. */
  targets: number;
  pred: number;
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

/** Builds a sequential model. */
export function sequential(config: SequentialConfig): Sequential {
  return new Sequential(config);
}

function flatSize(shape: unknown): number {
  if (!Array.isArray(shape) || shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`thinnet.sequential: inputShape must be an array of positive integers, got ${JSON.stringify(shape)}`);
  }
  return shape.reduce((a: number, b: number) => a * b, 1);
}

export class Sequential {
  readonly config: Readonly<SequentialConfig>;
  readonly seed: number;
  /** Features per example. */
  readonly inputSize: number;
  /** Classes, or outputs of a regression / autoencoder model (width of the last layer). */
  readonly outputSize: number;
  /** @internal The layers that run (a trailing softmax is folded into the loss / predict). */
  readonly net: Layer[];
  /** @internal */ readonly rt: Runtime;
  /** @internal */ readonly params: number;
  private gradsPtr = 0;
  readonly paramCount: number;
  /** @internal */ readonly weightCount: number;
  /** @internal */ readonly biasCount: number;
  /** Training steps (mini-batches) taken: the step counter of the dropout masks. */
  step = 0;
  /** Epochs trained (schedules continue from here on the next fit). */
  epoch = 0;
  /** Set to true (e.g. in a callback) to stop fit() after the current batch. */
  stopTraining = false;
  /** The loss fit/evaluate use (set by compile; saved with the model). */
  loss: Loss = 'softmaxCrossEntropy';
  /** @internal The last user layer is a softmax, folded into the loss (net ends at the logits). */
  readonly foldedSoftmax: boolean;
  /** @internal */ optimizer: Optimizer | undefined;
  /** @internal */ optState: OptimizerState | undefined;
  /**
   * @internal Optimizer state read from a file saved with { optimizer: true }: restored by the
   * next compile() with an optimizer of the same name, then dropped.
   */
  savedOptimizer: SavedOptimizerState | undefined;
  private buf: Buffers | undefined;
  private disposed = false;

  /**
   * Use tn.sequential(); `initialize = false` (internal: loading, folding) leaves the weights
   * unset. `adopt` (internal: loading) is a block of `count` float32 allocated by the caller that
   * becomes the parameter block when the architecture has exactly that many parameters.
   */
  constructor(config: SequentialConfig, initialize = true, adopt?: { ptr: number; count: number }) {
    const c = checkOptions('sequential', config);
    this.inputSize = flatSize(c.inputShape);
    this.seed = c.seed === undefined ? 0 : checkU32('sequential', 'seed', c.seed);
    if (!Array.isArray(c.layers) || c.layers.length === 0) throw new RangeError('thinnet.sequential: layers must be a non-empty array');
    this.config = Object.freeze({ inputShape: [...(c.inputShape as number[])], seed: this.seed, layers: (c.layers as LayerSpec[]).map((l) => ({ ...l })) });
    this.rt = runtime();
    this.net = buildLayers(this.config.layers, this.inputSize);
    this.outputSize = this.net[this.net.length - 1].outF;
    const last = this.config.layers[this.config.layers.length - 1];
    this.foldedSoftmax = (last.type === 'activation' || last.type === 'dense') && last.activation === 'softmax';
    if (!this.net.some((l) => l.weightCount > 0)) throw new RangeError('thinnet.sequential: the model needs at least one dense layer');
    let w = 0;
    for (const l of this.net) { l.wOff = w; w += l.weightCount; }
    let b = w;
    for (const l of this.net) { l.bOff = b; b += l.biasCount; }
    this.weightCount = w;
    this.biasCount = b - w;
    this.paramCount = b;
    this.params = adopt && adopt.count === b ? adopt.ptr : this.rt.heap.alloc(4 * b);
    if (initialize) this.initWeights();
  }

  /**
   * @internal The gradient block (zeros at first), allocated on first use: a model that only
   * predicts never needs it.
   */
  get grads(): number {
    if (!this.gradsPtr) {
      this.gradsPtr = this.rt.heap.alloc(4 * this.paramCount);
      this.rt.heap.f32(this.gradsPtr, this.paramCount).fill(0);
    }
    return this.gradsPtr;
  }

  private initWeights(): void {
    const all = new Float32Array(this.paramCount);
    for (const l of this.net) {
      if (!(l instanceof Dense)) continue;
      const spec = this.config.layers[l.index] as DenseSpec;
      fillInit(all.subarray(l.wOff, l.wOff + l.weightCount), spec.kernelInitializer ?? 'glorotUniform', l.inF, l.outF,
        platform().seedrandom(`thinnet:${this.seed}:${l.index}`));
    }
    this.rt.heap.f32(this.params, this.paramCount).set(all);
  }

  /** @internal */
  assertLive(op: string): void {
    if (this.disposed) throw new Error(`thinnet.${op}: the model was disposed`);
    if (this.rt !== runtime()) throw new Error(`thinnet.${op}: the model belongs to a runtime that was closed`);
  }

  /**
   * Sets the optimizer (and loss). Recompiling resets the optimizer state (velocities, moments),
   * except once after loading a file saved with `{ optimizer: true }`: the first compile() with an
   * optimizer of the same kind (sgd / adam) starts from the saved state, so training resumes
   * exactly where it stopped (schedules follow model.epoch, masks model.step).
   */
  compile(options: CompileOptions): void {
    this.assertLive('compile');
    const o = checkOptions('compile', options);
    const opt = o.optimizer as Optimizer | undefined;
    if (!opt || typeof opt.create !== 'function') throw new TypeError('thinnet.compile: optimizer must be tn.optimizers.sgd(...) or tn.optimizers.adam(...)');
    const loss = o.loss === undefined ? this.loss : checkOneOf('compile', 'loss', o.loss, LOSSES);
    if (loss === 'softmaxCrossEntropy' && this.outputSize < 2) {
      throw new RangeError(`thinnet.compile: the last layer has ${this.outputSize} output; softmaxCrossEntropy needs at least 2 classes (for one output use loss: 'meanSquaredError')`);
    }
    if (loss === 'meanSquaredError' && this.foldedSoftmax) throw new RangeError(`thinnet.compile: ${SOFTMAX_MSE}`);
    this.loss = loss; // saved with the model (io.ts header), so a loaded model keeps it
    this.optState?.dispose();
    this.optimizer = opt;
    this.optState = opt.create(this.rt, this.paramCount);
    const saved = this.savedOptimizer;
    this.savedOptimizer = undefined;
    if (saved && saved.name === opt.name) restoreOptimizerState(this.rt, this.optState, saved, this.paramCount);
  }

  /** Trains on (x, y); see FitOptions. Resolves to the per-epoch history. */
  fit(x: Inputs, y: Labels, options: FitOptions = {}): Promise<History> {
    this.assertLive('fit');
    // Loaded on first use: a process that only predicts never loads the training loop (nor its
    // shuffling generator).
    return import('../train/fit.js').then((t) => t.fit(this, x, y, options));
  }

  // ---- buffers and passes (internal) ---------------------------------------------------------

  /** @internal Batch buffers for up to `cap` rows (grown, never shrunk). */
  buffers(cap: number): Buffers {
    if (this.buf && this.buf.cap >= cap) return this.buf;
    this.freeBuffers();
    const h = this.rt.heap;
    const C = this.outputSize;
    const widths = [this.inputSize, ...this.net.map((l) => l.outF)];
    const maxW = Math.max(...widths, ...this.net.map((l) => l.inF));
    const buf: Buffers = {
      cap,
      acts: widths.map((w) => h.alloc(4 * cap * w)),
      dA: h.alloc(4 * cap * maxW),
      dB: h.alloc(4 * cap * maxW),
      probs: h.alloc(4 * cap * C),
      labels: h.alloc(4 * cap),
      targets: h.alloc(4 * cap * C),
      pred: h.alloc(4 * cap),
      stage: h.alloc(cap * this.inputSize),
      mcMean: h.alloc(4 * cap * C),
      mcM2: h.alloc(4 * cap * C),
      mcEntropyMean: h.alloc(4 * cap),
      entropy: h.alloc(4 * cap),
      mi: h.alloc(4 * cap),
    };
    for (const l of this.net) l.allocate(this.rt, cap);
    this.buf = buf;
    return buf;
  }

  private freeBuffers(): void {
    const b = this.buf;
    if (!b) return;
    const h = this.rt.heap;
    for (const p of [...b.acts, b.dA, b.dB, b.probs, b.labels, b.targets, b.pred, b.stage, b.mcMean, b.mcM2, b.mcEntropyMean, b.entropy, b.mi]) h.free(p);
    for (const l of this.net) l.release(this.rt);
    this.buf = undefined;
  }

  private exec(): Exec {
    const model = this; // grads only when a backward pass asks for them
    return { rt: this.rt, params: this.params, get grads() { return model.grads; } };
  }

  /** @internal Copies rows [start, start + n) of x into the input buffer. */
  stageInputs(b: Buffers, x: Inputs, start: number, n: number): void {
    const F = this.inputSize;
    if (x instanceof Uint8Array) {
      this.rt.heap.u8(b.stage, n * F).set(x.subarray(start * F, (start + n) * F));
      this.rt.kernels.u8_to_f32_scaled(b.acts[0], b.stage, 1 / 255, n * F);
    } else {
      this.rt.heap.f32(b.acts[0], n * F).set(x.subarray(start * F, (start + n) * F));
    }
  }

  /**
   * @internal Checks y for the model's loss: Int32Array labels (softmaxCrossEntropy) or
   * Float32Array targets N×outputs (meanSquaredError).
   */
  checkY(op: string, y: unknown, n: number): Int32Array | Float32Array {
    return this.loss === 'meanSquaredError' ? checkTargets(op, y, n, this.outputSize) : checkLabels(op, y, n, this.outputSize);
  }

  /** @internal Copies rows [start, start + n) of checked y (see checkY) into the label / target buffer. */
  stageY(b: Buffers, y: Int32Array | Float32Array, start: number, n: number): void {
    if (y instanceof Float32Array) {
      const C = this.outputSize;
      this.rt.heap.f32(b.targets, n * C).set(y.subarray(start * C, (start + n) * C));
    } else {
      this.rt.heap.i32(b.labels, n).set(y.subarray(start, start + n));
    }
  }

  /**
   * @internal Forward pass over the input buffer through net[0..last] (default: all); returns the
   * output pointer (the logits, for the whole net).
   */
  forward(b: Buffers, batch: number, mode: Mode, last = this.net.length - 1): number {
    const e = this.exec();
    for (let i = 0; i <= last; i++) this.net[i].forward(e, b.acts[i + 1], b.acts[i], batch, mode);
    return b.acts[last + 1];
  }

  /**
   * @internal The summed loss of a batch whose outputs were just computed (labels / targets in
   * the buffers). Softmax cross-entropy leaves the probabilities in b.probs.
   */
  batchLoss(b: Buffers, out: number, batch: number): number {
    const C = this.outputSize;
    // scale 1 and the division here: 1/C is not a float32 for most C
    if (this.loss === 'meanSquaredError') return this.rt.kernels.mse_forward_f32(out, b.targets, 1, batch * C) / C;
    return this.rt.kernels.softmax_xent_forward_f32(b.probs, 0, out, b.labels, batch, C);
  }

  /** @internal Backward from dlogits in b.dA; writes the whole gradient block. */
  backward(b: Buffers, batch: number, mode: Mode): void {
    const e = this.exec();
    let dy = b.dA, dx = b.dB;
    const firstParam = this.net.findIndex((l) => l.weightCount > 0);
    for (let i = this.net.length - 1; i >= firstParam; i--) {
      const needDx = i > firstParam;
      this.net[i].backward(e, needDx ? dx : 0, dy, b.acts[i], b.acts[i + 1], batch, mode);
      [dy, dx] = [dx, dy];
    }
  }

  /**
   * @internal One training step on the batch already in the buffers (inputs and labels): forward
   * with fresh masks, loss, backward, optimizer update, max-norm. Returns the summed loss (not
   * finite: nothing was updated) and the number of correct predictions.
   */
  trainStep(b: Buffers, batch: number, epoch: number): { lossSum: number; correct: number } {
    const mode: Mode = { kind: 'train', seed: this.seed, step: this.step };
    const lossSum = this.lossAndBackward(b, batch, mode);
    const correct = this.loss === 'meanSquaredError' ? 0 : this.countCorrect(b, batch);
    if (!Number.isFinite(lossSum)) return { lossSum, correct };
    this.optState!.update(this, epoch);
    this.applyMaxNorm();
    this.step++;
    return { lossSum, correct };
  }

  private lossAndBackward(b: Buffers, batch: number, mode: Mode): number {
    const k = this.rt.kernels;
    const C = this.outputSize;
    const out = this.forward(b, batch, mode);
    const lossSum = this.batchLoss(b, out, batch);
    if (!Number.isFinite(lossSum)) return lossSum;
    // the gradient of the mean loss over the batch
    if (this.loss === 'meanSquaredError') k.mse_backward_f32(b.dA, out, b.targets, 1 / (batch * C), batch * C);
    else k.softmax_xent_backward_f32(b.dA, b.probs, b.labels, 1 / batch, batch, C);
    this.backward(b, batch, mode);
    return lossSum;
  }

  private countCorrect(b: Buffers, batch: number): number {
    const k = this.rt.kernels;
    k.argmax_rows_f32(b.pred, b.probs, batch, this.outputSize);
    return k.count_equal_i32(b.pred, b.labels, batch);
  }

  /** @internal Max-norm on every dense layer that has one (paper §5.1). */
  applyMaxNorm(): void {
    for (const l of this.net) {
      if (l instanceof Dense && l.maxNorm !== undefined) {
        // Rows (units) are independent: split them across the pool like elements.
        const w = this.params + 4 * l.wOff, c = l.maxNorm, cols = l.inF;
        this.rt.runSplit('max_norm_f32', l.outF, (s, n) => [w + 4 * s * cols, c, n, cols], Math.ceil(MIN_ELEMENTS_PER_THREAD / cols));
      }
    }
  }

  // ---- public inference ----------------------------------------------------------------------

  /**
   * Loss, accuracy and error (1 − accuracy) in evaluation mode (weight scaling). For a
   * 'meanSquaredError' model y are the targets and accuracy and error are NaN.
   */
  evaluate(x: Inputs, y: Labels, options: { batchSize?: number } = {}): EvaluateResult {
    this.assertLive('evaluate');
    const n = checkInputs('evaluate', x, this.inputSize);
    const targets = this.checkY('evaluate', y, n);
    const bs = checkBatch('evaluate', options.batchSize ?? 1000);
    const b = this.buffers(Math.min(bs, Math.max(n, 1)));
    const mse = this.loss === 'meanSquaredError';
    let lossSum = 0, correct = 0;
    for (let s = 0; s < n; s += b.cap) {
      const m = Math.min(b.cap, n - s);
      this.stageInputs(b, x, s, m);
      this.stageY(b, targets, s, m);
      const out = this.forward(b, m, { kind: 'eval', seed: this.seed, step: 0 });
      lossSum += this.batchLoss(b, out, m);
      if (!mse) correct += this.countCorrect(b, m);
    }
    const accuracy = mse ? NaN : n ? correct / n : 0;
    return { loss: n ? lossSum / n : 0, accuracy, error: 1 - accuracy };
  }

  /**
   * Class probabilities, a Float32Array N×classes (a plain array rather than a Tensor: nothing
   * to dispose); for a 'meanSquaredError' model, the outputs themselves (no softmax). Default:
   * the paper's weight scaling (one deterministic pass). `mc: k`: the mean of k stochastic passes
   * (Monte-Carlo model averaging over thinned networks). `sample: t`: one thinned network, the
   * t-th of those passes.
   */
  predict(x: Inputs, options: PredictOptions = {}): Float32Array {
    this.assertLive('predict');
    const o = checkOptions('predict', options);
    if (o.mc !== undefined && o.sample !== undefined) {
      throw new RangeError('thinnet.predict: give either mc (average of k thinned networks) or sample (one thinned network), not both');
    }
    const mc = o.mc === undefined ? 0 : checkCount('predict', 'mc', o.mc, true);
    if (mc > 0) return this.monteCarlo('predict', x, mc, o.batchSize as number | undefined).mean;
    const sample = o.sample === undefined ? undefined : checkU32('predict', 'sample', o.sample);
    const n = checkInputs('predict', x, this.inputSize);
    const bs = checkBatch('predict', (o.batchSize as number | undefined) ?? 1000);
    const b = this.buffers(Math.min(bs, Math.max(n, 1)));
    const C = this.outputSize;
    const out = new Float32Array(n * C);
    const mode: Mode = sample === undefined ? { kind: 'eval', seed: this.seed, step: 0 }
      : { kind: 'sample', seed: (this.seed ^ MC_SALT) >>> 0, step: sample };
    const run = () => {
      for (let s = 0; s < n; s += b.cap) {
        const m = Math.min(b.cap, n - s);
        this.stageInputs(b, x, s, m);
        out.set(this.rt.heap.f32(this.outputs(b, this.forward(b, m, mode), m), m * C), s * C);
      }
    };
    // A few examples (a few ms of work) run on the threads already running: they never wait for
    // the worker pool to boot (see Runtime.withRunningThreads). Same results either way.
    if (n * this.paramCount <= SMALL_PREDICT_MACS) this.rt.withRunningThreads(run);
    else run();
    return out;
  }

  /**
   * Monte-Carlo dropout: `samples` stochastic passes (masks from a seed salted away from the
   * training masks, step = sample index, so the result is reproducible). Returns the predictive
   * mean and variance per class, the predictive entropy and the mutual information per example.
   * For a 'meanSquaredError' model: the mean and variance of the outputs; entropy and
   * mutualInformation are NaN.
   */
  predictWithUncertainty(x: Inputs, options: { samples?: number; batchSize?: number } = {}): Uncertainty {
    this.assertLive('predictWithUncertainty');
    const o = checkOptions('predictWithUncertainty', options);
    const k = o.samples === undefined ? 50 : checkCount('predictWithUncertainty', 'samples', o.samples, false);
    return this.monteCarlo('predictWithUncertainty', x, k, o.batchSize as number | undefined);
  }

  /**
   * The output of user layer `layer` (an index into config.layers, after that layer and its
   * activation), a Float32Array N×width, in evaluation mode (weight scaling, as predict) unless
   * `training: true` (the dropout masks of training step `step`, default model.step). For a
   * trailing softmax folded into the loss, its output is the softmax of the logits.
   */
  activations(x: Inputs, options: ActivationsOptions): Float32Array {
    this.assertLive('activations');
    const o = checkOptions('activations', options);
    const L = this.config.layers.length;
    const i = o.layer;
    if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= L) {
      throw new RangeError(`thinnet.activations: layer must be an integer index into the model's ${L} layers (0 to ${L - 1}), got ${String(i)}`);
    }
    if (o.training !== undefined && typeof o.training !== 'boolean') throw new TypeError('thinnet.activations: training must be a boolean');
    if (o.step !== undefined && o.training !== true) throw new RangeError('thinnet.activations: step only applies with training: true');
    const step = o.step === undefined ? this.step : checkU32('activations', 'step', o.step);
    const mode: Mode = o.training ? { kind: 'sample', seed: this.seed, step } : { kind: 'eval', seed: this.seed, step: 0 };
    // the last internal layer of user layer i (a dense layer's activation belongs to it); a folded
    // softmax has no internal layer (or only its dense part): run the whole net, then softmax
    let last = -1;
    this.net.forEach((l, j) => { if (l.index <= i) last = j; });
    const softmax = this.foldedSoftmax && i === L - 1;
    const n = checkInputs('activations', x, this.inputSize);
    const bs = checkBatch('activations', (o.batchSize as number | undefined) ?? 1000);
    const b = this.buffers(Math.min(bs, Math.max(n, 1)));
    const W = last < 0 ? this.inputSize : this.net[last].outF;
    const out = new Float32Array(n * W);
    for (let s = 0; s < n; s += b.cap) {
      const m = Math.min(b.cap, n - s);
      this.stageInputs(b, x, s, m);
      let y = last < 0 ? b.acts[0] : this.forward(b, m, mode, last);
      if (softmax) { this.rt.kernels.softmax_forward_f32(b.probs, y, m, W); y = b.probs; }
      out.set(this.rt.heap.f32(y, m * W), s * W);
    }
    return out;
  }

  /** @internal The model's outputs from the last layer's: softmax probabilities (in b.probs), or the outputs themselves (MSE). */
  private outputs(b: Buffers, out: number, m: number): number {
    if (this.loss === 'meanSquaredError') return out;
    this.rt.kernels.softmax_forward_f32(b.probs, out, m, this.outputSize);
    return b.probs;
  }

  private monteCarlo(op: string, x: Inputs, samples: number, batchSize: number | undefined): Uncertainty {
    const n = checkInputs(op, x, this.inputSize);
    const bs = checkBatch(op, batchSize ?? 1000);
    const b = this.buffers(Math.min(bs, Math.max(n, 1)));
    const C = this.outputSize;
    const h = this.rt.heap, k = this.rt.kernels;
    const res: Uncertainty = {
      mean: new Float32Array(n * C), variance: new Float32Array(n * C),
      entropy: new Float32Array(n), mutualInformation: new Float32Array(n),
    };
    const seed = (this.seed ^ MC_SALT) >>> 0;
    for (let s = 0; s < n; s += b.cap) {
      const m = Math.min(b.cap, n - s);
      this.stageInputs(b, x, s, m);
      for (let t = 0; t < samples; t++) {
        const p = this.outputs(b, this.forward(b, m, { kind: 'sample', seed, step: t }), m);
        k.mc_accumulate_f32(b.mcMean, b.mcM2, b.mcEntropyMean, p, t, m, C); // running mean, M2, mean entropy
      }
      k.mc_finalize_f32(b.mcM2, b.entropy, b.mi, b.mcMean, b.mcM2, b.mcEntropyMean, samples, m, C);
      res.mean.set(h.f32(b.mcMean, m * C), s * C);
      res.variance.set(h.f32(b.mcM2, m * C), s * C);
      res.entropy.set(h.f32(b.entropy, m), s);
      res.mutualInformation.set(h.f32(b.mi, m), s);
    }
    if (this.loss === 'meanSquaredError') { res.entropy.fill(NaN); res.mutualInformation.fill(NaN); } // not probabilities
    return res;
  }

  /**
   * Mean training-mode loss on (x, y) and its gradient with respect to every parameter (the
   * whole gradient block, in the order of parameters()), with the dropout masks of `step`
   * (default: the model's current step). Does not update anything. For gradient checks.
   */
  computeGradients(x: Inputs, y: Labels, options: { step?: number } = {}): { loss: number; gradients: Float32Array } {
    this.assertLive('computeGradients');
    const n = checkInputs('computeGradients', x, this.inputSize);
    if (n === 0) throw new RangeError('thinnet.computeGradients: x has no rows');
    const labels = this.checkY('computeGradients', y, n);
    const step = options.step === undefined ? this.step : checkU32('computeGradients', 'step', options.step);
    const b = this.buffers(n);
    this.stageInputs(b, x, 0, n);
    this.stageY(b, labels, 0, n);
    const lossSum = this.lossAndBackward(b, n, { kind: 'train', seed: this.seed, step });
    return { loss: lossSum / n, gradients: this.rt.heap.f32(this.grads, this.paramCount).slice() };
  }

  /** Mean training-mode loss with the masks of `step`, no gradients (finite-difference checks). */
  trainingLoss(x: Inputs, y: Labels, options: { step?: number } = {}): number {
    this.assertLive('trainingLoss');
    const n = checkInputs('trainingLoss', x, this.inputSize);
    const labels = this.checkY('trainingLoss', y, n);
    const step = options.step === undefined ? this.step : checkU32('trainingLoss', 'step', options.step);
    const b = this.buffers(Math.max(n, 1));
    this.stageInputs(b, x, 0, n);
    this.stageY(b, labels, 0, n);
    const out = this.forward(b, n, { kind: 'train', seed: this.seed, step });
    return this.batchLoss(b, out, n) / n;
  }

  // ---- parameters ------------------------------------------------------------------------------

  /** A copy of the whole parameter block: every dense layer's weights, then every bias. */
  parameters(): Float32Array {
    this.assertLive('parameters');
    return this.rt.heap.f32(this.params, this.paramCount).slice();
  }

  /** Overwrites the whole parameter block (same layout as parameters()). */
  setParameters(values: Float32Array): void {
    this.assertLive('setParameters');
    if (!(values instanceof Float32Array) || values.length !== this.paramCount) {
      throw new RangeError(`thinnet.setParameters: expected a Float32Array of ${this.paramCount} values, got ${values?.length}`);
    }
    this.rt.heap.f32(this.params, this.paramCount).set(values);
  }

  /** Weights and biases of each dense layer (copies). */
  getWeights(): WeightsEntry[] {
    this.assertLive('getWeights');
    const h = this.rt.heap;
    return this.net.filter((l): l is Dense => l instanceof Dense).map((l) => ({
      layer: l.index,
      shape: [l.outF, l.inF] as [number, number],
      kernel: h.f32(this.params + 4 * l.wOff, l.weightCount).slice(),
      bias: h.f32(this.params + 4 * l.bOff, l.biasCount).slice(),
    }));
  }

  /** Sets dense layers' weights; entries are matched by `layer` (as getWeights returns them). */
  setWeights(entries: Array<Pick<WeightsEntry, 'layer' | 'kernel'> & { bias?: Float32Array }>): void {
    this.assertLive('setWeights');
    const h = this.rt.heap;
    for (const e of entries) {
      const l = this.net.find((d) => d instanceof Dense && d.index === e.layer);
      if (!l) throw new RangeError(`thinnet.setWeights: layer ${e.layer} is not a dense layer of this model`);
      if (e.kernel.length !== l.weightCount) throw new RangeError(`thinnet.setWeights: layer ${e.layer} has ${l.weightCount} weights, got ${e.kernel.length}`);
      if (e.bias && e.bias.length !== l.biasCount) throw new RangeError(`thinnet.setWeights: layer ${e.layer} has ${l.biasCount} biases, got ${e.bias.length}`);
      h.f32(this.params + 4 * l.wOff, l.weightCount).set(e.kernel);
      if (e.bias) h.f32(this.params + 4 * l.bOff, l.biasCount).set(e.bias);
    }
  }

  /**
   * An inference model without dropout layers: the weight scaling of each 'paper' dropout layer
   * (×p) is folded into the weights of the dense layer right after it; 'inverted' and Gaussian
   * dropout are the identity at test time and are simply removed. predict() of the result equals
   * predict() of this model (to float rounding).
   */
  foldDropout(): Sequential {
    this.assertLive('foldDropout');
    const specs = this.config.layers;
    const keepLayers: LayerSpec[] = [];
    const scaleOf = new Map<number, number>(); // user index of a dense layer -> factor
    const newIndex = new Map<number, number>();
    let pending: { p: number; at: number } | undefined;
    specs.forEach((s, i) => {
      if (s.type === 'dropout' || s.type === 'gaussianDropout') {
        if (s.type === 'dropout' && (s.convention ?? 'paper') === 'paper') {
          const p = (this.net.find((l) => l instanceof Dropout && l.index === i) as Dropout).p;
          pending = { p: (pending?.p ?? 1) * p, at: i };
        }
        return;
      }
      if (pending) {
        if (s.type !== 'dense') {
          throw new Error(`thinnet.foldDropout: dropout layer ${pending.at} ('paper' convention) is followed by a layer of type '${s.type}', not a dense layer, so its scaling cannot be folded into weights`);
        }
        scaleOf.set(i, pending.p);
        pending = undefined;
      }
      newIndex.set(i, keepLayers.length);
      keepLayers.push({ ...s });
    });
    if (pending) throw new Error(`thinnet.foldDropout: dropout layer ${pending.at} ('paper' convention) is the last layer; nothing to fold it into`);
    const folded = new Sequential({ inputShape: [...this.config.inputShape], seed: this.seed, layers: keepLayers }, false);
    folded.loss = this.loss;
    const k = this.rt.kernels;
    for (const l of this.net) {
      if (!(l instanceof Dense)) continue;
      const t = folded.net.find((d) => d instanceof Dense && d.index === newIndex.get(l.index))!;
      k.scale_f32(folded.params + 4 * t.wOff, this.params + 4 * l.wOff, scaleOf.get(l.index) ?? 1, l.weightCount);
      if (l.biasCount) k.scale_f32(folded.params + 4 * t.bOff, this.params + 4 * l.bOff, 1, l.biasCount);
    }
    return folded;
  }

  // ---- save / load -------------------------------------------------------------------------------

  /**
   * The model in thinnet's binary format (see io.ts): architecture, step, epoch, weights,
   * checksum; with `{ optimizer: true }` also the optimizer's state (a checkpoint to resume from).
   */
  toBytes(options: SaveOptions = {}): Uint8Array {
    this.assertLive('toBytes');
    const o = checkOptions('toBytes', options);
    if (o.optimizer !== undefined && typeof o.optimizer !== 'boolean') throw new TypeError('thinnet.toBytes: optimizer must be a boolean');
    if (o.optimizer && !this.optState) throw new Error('thinnet.toBytes: { optimizer: true } needs a compiled model (call compile() first)');
    return encodeModel(this, { optimizer: o.optimizer === true });
  }

  /** Node: writes toBytes(options) to `path` atomically (temporary file + rename). */
  async save(path: string, options: SaveOptions = {}): Promise<void> {
    this.assertLive('save');
    await saveBytes(path, this.toBytes(options));
  }

  /** @internal */
  static fromBytes(bytes: Uint8Array): Sequential {
    return decodeModel(bytes);
  }

  /** A one-line-per-layer description. */
  summary(): string {
    const what = this.loss === 'meanSquaredError' ? 'outputs (meanSquaredError)' : 'classes';
    const lines = [`Sequential: ${this.inputSize} inputs → ${this.outputSize} ${what}, ${this.paramCount} parameters, seed ${this.seed}`];
    this.config.layers.forEach((s, i) => {
      const extra = s.type === 'dense' ? `units=${s.units} activation=${s.activation ?? 'linear'}${s.maxNorm ? ` maxNorm=${s.maxNorm}` : ''}`
        : s.type === 'dropout' ? `keep=${s.keep} convention=${s.convention ?? 'paper'}`
        : s.type === 'gaussianDropout' ? `keep=${s.keep}` : `${s.activation}`;
      lines.push(`  ${i}: ${s.type} ${extra}`);
    });
    return lines.join('\n');
  }

  /** Frees the model's wasm memory. */
  dispose(): void {
    if (this.disposed) return;
    let live = false;
    try { live = runtime() === this.rt; } catch { live = false; }
    if (live) {
      this.freeBuffers();
      this.optState?.dispose();
      this.rt.heap.free(this.params);
      if (this.gradsPtr) this.rt.heap.free(this.gradsPtr);
    }
    this.disposed = true;
  }
}
