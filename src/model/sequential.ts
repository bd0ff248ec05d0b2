// Sequential models: the public face of a Network (model/network.ts) — compile and fit,
// evaluation and the three kinds of prediction (weight scaling, Monte-Carlo averaging, one
// thinned network), hidden activations, gradients for checks, parameters, folding the paper's
// weight scaling into the weights, and the model file (io/format.ts; loading is io/load.ts).
import { checkSpecs, describeSpec } from '../layers/registry.js';
import type { LayerSpec, Mode, Shape } from '../layers/types.js';
import { encodeFile } from '../io/format.js';
import { int8FileParts } from '../io/quantized.js';
import { heapChecksum } from '../io/crc32.js';
import { writeFileAtomic } from '../io/files.js';
import { sha256Hex } from '../io/hash.js';
import type { FitOptions, History } from '../train/fit.js';
import { restoreOptimizerState, type Optimizer, type OptimizerState, type SavedOptimizerState } from '../train/optimizers.js';
import { checkBatch, checkCount, checkInputs, checkLabels, checkOneOf, checkOptions, checkTargets, checkU32 } from '../tensor/validate.js';
import { isCurrentRuntime, runtime, type Runtime } from '../wasm/runtime.js';
import { copyFolded, planFold } from './fold.js';
import { quantizeModel } from './quantize.js';
import { activations, evaluate, MC_SALT, monteCarlo, predict, type EvaluateResult, type Uncertainty } from './inference.js';
import { Network, plan, type Inputs, type Labels, type Loss } from './network.js';
import type { Quantization, QuantizeOptions } from './quantize.js';

export type { EvaluateResult, Inputs, Labels, Loss, Quantization, QuantizeOptions, Uncertainty };

const LOSSES: readonly Loss[] = ['softmaxCrossEntropy', 'meanSquaredError'];
const MC_INT8 = 'has no dropout layers (quantize() folds them into the weights): Monte-Carlo dropout and thinned networks need the float model';
const SOFTMAX_MSE = "loss 'meanSquaredError' needs a last layer without softmax (a trailing softmax is fused with softmaxCrossEntropy); use a linear or sigmoid output";

export interface SequentialConfig {
  /**
   * Shape of one example: [features] for vectors, [H, W, C] for images (channels last, as
   * TensorFlow.js and Keras; an input row holds the example in that order, e.g. an MNIST image
   * as [28, 28, 1]). Its product is the number of input values per example.
   */
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

export interface WeightsEntry {
  /** Index of the layer (in config.layers) the parameters belong to. */
  layer: number;
  /** The kernel's shape: [units, inputs] (dense; row o = unit o's incoming weights), [filters, KH, KW, C] (conv2d). */
  shape: number[];
  kernel: Float32Array;
  bias: Float32Array;
}

/** Builds a sequential model. */
export function sequential(config: SequentialConfig): Sequential {
  return new Sequential(config);
}

/** The checks of a config (inputShape, seed, every layer spec), returning it normalized. */
export function checkConfig(config: unknown): { inputShape: number[]; seed: number; specs: LayerSpec[] } {
  const c = checkOptions('sequential', config);
  const inputShape = checkInputShape(c.inputShape);
  const seed = c.seed === undefined ? 0 : checkU32('sequential', 'seed', c.seed);
  if (!Array.isArray(c.layers) || c.layers.length === 0) throw new RangeError('thinnet.sequential: layers must be a non-empty array');
  return { inputShape, seed, specs: checkSpecs(c.layers as unknown[]) };
}

function checkInputShape(shape: unknown): number[] {
  if (!Array.isArray(shape) || shape.length === 0 || shape.length > 3 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`thinnet.sequential: inputShape must be an array of 1 to 3 positive integers ([features] or [H, W, C]), got ${JSON.stringify(shape)}`);
  }
  const n = shape.reduce((a: number, b: number) => a * b, 1);
  if (n > 1 << 28) throw new RangeError(`thinnet.sequential: inputShape ${JSON.stringify(shape)} has ${n} values per example, more than thinnet supports (2^28)`);
  return [...shape];
}

/** What the loader hands the constructor: the weights already in wasm memory, and the saved state. */
interface Restored {
  block: number;
  paramCount: number;
}

export class Sequential {
  readonly config: Readonly<SequentialConfig>;
  readonly seed: number;
  readonly inputShape: Shape;
  /** Values per example (the product of inputShape). */
  readonly inputSize: number;
  /** Classes, or outputs of a regression / autoencoder model (width of the last layer). */
  readonly outputSize: number;
  readonly paramCount: number;
  /** @internal */ readonly net: Network;
  /** @internal */ readonly rt: Runtime;
  /** Training steps (mini-batches) taken: the step counter of the dropout masks. */
  step = 0;
  /** Epochs trained (schedules continue from here on the next fit). */
  epoch = 0;
  /** Set to true (e.g. in a callback) to stop fit() after the current batch. */
  stopTraining = false;
  /** @internal */ optimizer: Optimizer | undefined;
  /** @internal */ optState: OptimizerState | undefined;
  /**
   * @internal Optimizer state read from a file saved with { optimizer: true }: restored by the
   * next compile() with an optimizer of the same name, then dropped.
   */
  savedOptimizer: SavedOptimizerState | undefined;
  /**
   * Set on the models model.quantize() returns (and loadModel makes from their files): their
   * dense layers run in int8 (model/quantize.ts). Undefined for a float model.
   */
  quantization: Quantization | undefined;
  private disposed = false;
  private training = false;

  /** Use tn.sequential() (or tn.loadModel); `restored` is the loader's. */
  constructor(config: SequentialConfig, restored?: Restored) {
    const { inputShape, seed, specs } = checkConfig(config);
    this.seed = seed;
    const layout = plan(specs, inputShape);
    if (restored && restored.paramCount !== layout.paramCount) {
      throw new RangeError(`the stored architecture has ${layout.paramCount} parameters but the file holds ${restored.paramCount}`);
    }
    this.config = Object.freeze({ inputShape, seed: this.seed, layers: specs });
    this.inputShape = Object.freeze([...inputShape]);
    this.rt = runtime();
    this.net = new Network(this.rt, layout, restored?.block);
    this.inputSize = this.net.inputSize;
    this.outputSize = this.net.outputSize;
    this.paramCount = this.net.paramCount;
    if (!restored) {
      try {
        this.net.initialize(this.seed);
      } catch (e) {
        this.net.dispose();
        throw e;
      }
    }
  }

  /** The loss fit/evaluate use (set by compile; saved with the model). */
  get loss(): Loss {
    return this.net.loss;
  }

  set loss(loss: Loss) {
    this.net.loss = loss;
  }

  /** @internal */
  assertLive(op: string): void {
    if (this.disposed) throw new Error(`thinnet.${op}: the model was disposed`);
    if (!isCurrentRuntime(this.rt)) throw new Error(`thinnet.${op}: the model belongs to a runtime that was closed (thinnet.close())`);
  }

  /** @internal Errors for what an int8 model cannot do (train, Monte-Carlo dropout, fold, export). */
  assertFloat(op: string, what = 'cannot be trained; train the float model, then quantize() it again'): void {
    if (this.quantization) throw new Error(`thinnet.${op}: this is an int8 (quantized) model, which ${what}`);
  }

  /**
   * An int8 inference model (model/quantize.ts): dropout folded into the weights, every dense
   * layer's weights quantized per unit to int8 and its inputs to 7 bits — per example row as they
   * arrive (default), or with one range per layer measured on `calibration` rows. predict,
   * evaluate, activations, save and loadModel work on it; fit, Monte-Carlo dropout and ONNX
   * export are errors. This model is left as it is.
   */
  quantize(options: QuantizeOptions = {}): Sequential {
    this.assertLive('quantize');
    this.assertFloat('quantize', 'is quantized already');
    return quantizeModel<Sequential>(this, options);
  }

  /**
   * Sets the optimizer (and loss). Recompiling resets the optimizer state (velocities, moments),
   * except once after loading a file saved with `{ optimizer: true }`: the first compile() with an
   * optimizer of the same kind (sgd / adam) starts from the saved state, so training resumes
   * exactly where it stopped (schedules follow model.epoch, masks model.step).
   */
  compile(options: CompileOptions): void {
    this.assertLive('compile');
    this.assertFloat('compile');
    if (this.training) throw new Error('thinnet.compile: the model is training (a fit() call has not finished)');
    const o = checkOptions('compile', options);
    const opt = o.optimizer as Optimizer | undefined;
    if (!opt || typeof opt.create !== 'function') throw new TypeError('thinnet.compile: optimizer must be tn.optimizers.sgd(...) or tn.optimizers.adam(...)');
    const loss = o.loss === undefined ? this.loss : checkOneOf('compile', 'loss', o.loss, LOSSES);
    if (loss === 'softmaxCrossEntropy' && this.outputSize < 2) {
      throw new RangeError(`thinnet.compile: the last layer has ${this.outputSize} output; softmaxCrossEntropy needs at least 2 classes (for one output use loss: 'meanSquaredError')`);
    }
    if (loss === 'meanSquaredError' && this.net.foldedSoftmax) throw new RangeError(`thinnet.compile: ${SOFTMAX_MSE}`);
    const state = opt.create(this.rt, this.paramCount);
    const saved = this.savedOptimizer;
    if (saved && saved.name === opt.name) {
      try {
        restoreOptimizerState(this.rt, state, saved, this.paramCount);
      } catch (e) {
        state.dispose();
        throw e;
      }
    }
    this.savedOptimizer = undefined;
    this.loss = loss; // saved with the model, so a loaded model keeps it
    this.optState?.dispose();
    this.optimizer = opt;
    this.optState = state;
  }

  /** Trains on (x, y); see FitOptions. Resolves to the per-epoch history. One fit() at a time per model. */
  async fit(x: Inputs, y: Labels, options: FitOptions = {}): Promise<History> {
    this.assertLive('fit');
    this.assertFloat('fit');
    if (this.training) throw new Error('thinnet.fit: this model is already training (another fit() call has not finished); await it first');
    this.training = true;
    try {
      // Loaded on first use: a process that only predicts never loads the training loop.
      const { fit } = await import('../train/fit.js');
      return await fit(this, x, y, options);
    } finally {
      this.training = false;
    }
  }

  /** @internal Checks y for the model's loss: Int32Array labels (softmaxCrossEntropy) or Float32Array targets N×outputs (meanSquaredError). */
  checkY(op: string, y: unknown, n: number): Int32Array | Float32Array {
    return this.loss === 'meanSquaredError' ? checkTargets(op, y, n, this.outputSize) : checkLabels(op, y, n, this.outputSize);
  }

  // ---- inference -----------------------------------------------------------------------------

  /**
   * Loss, accuracy and error (1 − accuracy) in evaluation mode (weight scaling). For a
   * 'meanSquaredError' model y are the targets and accuracy and error are NaN.
   */
  evaluate(x: Inputs, y: Labels, options: { batchSize?: number } = {}): EvaluateResult {
    this.assertLive('evaluate');
    const o = checkOptions('evaluate', options);
    const n = checkInputs('evaluate', x, this.inputSize);
    if (n === 0) throw new RangeError('thinnet.evaluate: x has no rows (an empty set has no loss or accuracy)');
    const targets = this.checkY('evaluate', y, n);
    return evaluate(this.net, x, targets, n, checkBatch('evaluate', o.batchSize ?? 1000), this.seed);
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
    const sample = o.sample === undefined ? undefined : checkU32('predict', 'sample', o.sample);
    const n = checkInputs('predict', x, this.inputSize);
    const bs = checkBatch('predict', o.batchSize ?? 1000);
    if (mc > 0 || sample !== undefined) this.assertFloat('predict', MC_INT8);
    if (mc > 0) return monteCarlo(this.net, x, n, mc, bs, this.seed).mean;
    const mode: Mode = sample === undefined ? { kind: 'eval', seed: this.seed, step: 0 }
      : { kind: 'sample', seed: (this.seed ^ MC_SALT) >>> 0, step: sample };
    return predict(this.net, x, n, bs, mode);
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
    this.assertFloat('predictWithUncertainty', MC_INT8);
    const o = checkOptions('predictWithUncertainty', options);
    const k = o.samples === undefined ? 50 : checkCount('predictWithUncertainty', 'samples', o.samples, false);
    const n = checkInputs('predictWithUncertainty', x, this.inputSize);
    return monteCarlo(this.net, x, n, k, checkBatch('predictWithUncertainty', o.batchSize ?? 1000), this.seed);
  }

  /**
   * The output of layer `layer` (an index into config.layers, after that layer and its
   * activation), a Float32Array N×(its output size; images channels last), in evaluation mode
   * (weight scaling, as predict) unless `training: true` (the dropout masks of training step
   * `step`, default model.step). For a trailing softmax folded into the loss, its output is the
   * softmax of the logits.
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
    if (o.training) this.assertFloat('activations', MC_INT8);
    if (o.step !== undefined && o.training !== true) throw new RangeError('thinnet.activations: step only applies with training: true');
    const step = o.step === undefined ? this.step : checkU32('activations', 'step', o.step);
    const mode: Mode = o.training ? { kind: 'sample', seed: this.seed, step } : { kind: 'eval', seed: this.seed, step: 0 };
    // the last internal layer of spec i (a dense layer's activation belongs to it); a folded
    // softmax has no internal layer: run the whole net, then softmax
    let last = -1;
    this.net.layers.forEach((l, j) => { if (l.index <= i) last = j; });
    const softmax = this.net.foldedSoftmax && i === L - 1;
    const n = checkInputs('activations', x, this.inputSize);
    return activations(this.net, x, n, last, softmax, checkBatch('activations', o.batchSize ?? 1000), mode);
  }

  /**
   * Mean training-mode loss on (x, y), plus the layers' penalties (kernel and activity
   * regularizers), and its gradient with respect to every parameter (the
   * whole gradient block, in the order of parameters()), with the dropout masks of `step`
   * (default: the model's current step). Does not update anything. For gradient checks.
   */
  computeGradients(x: Inputs, y: Labels, options: { step?: number } = {}): { loss: number; gradients: Float32Array } {
    this.assertLive('computeGradients');
    this.assertFloat('computeGradients');
    const n = checkInputs('computeGradients', x, this.inputSize);
    if (n === 0) throw new RangeError('thinnet.computeGradients: x has no rows');
    const labels = this.checkY('computeGradients', y, n);
    const step = options.step === undefined ? this.step : checkU32('computeGradients', 'step', options.step);
    const b = this.net.buffers(n);
    this.net.stageInputs(b, x, 0, n);
    this.net.stageY(b, labels, 0, n);
    const lossSum = this.net.lossAndBackward(b, n, { kind: 'train', seed: this.seed, step });
    return { loss: lossSum / n, gradients: this.rt.heap.f32(this.net.grads, this.paramCount).slice() };
  }

  /** Mean training-mode loss with the masks of `step` (penalties included, as computeGradients), no gradients (finite-difference checks). */
  trainingLoss(x: Inputs, y: Labels, options: { step?: number } = {}): number {
    this.assertLive('trainingLoss');
    this.assertFloat('trainingLoss');
    const n = checkInputs('trainingLoss', x, this.inputSize);
    const labels = this.checkY('trainingLoss', y, n);
    const step = options.step === undefined ? this.step : checkU32('trainingLoss', 'step', options.step);
    const b = this.net.buffers(Math.max(n, 1));
    this.net.stageInputs(b, x, 0, n);
    this.net.stageY(b, labels, 0, n);
    const out = this.net.forward(b, n, { kind: 'train', seed: this.seed, step });
    return this.net.batchLoss(b, out, n) / n + this.net.penalty(b, n);
  }

  // ---- parameters ------------------------------------------------------------------------------

  /** A copy of the whole parameter block: every layer's weights (kernels), then every bias. */
  parameters(): Float32Array {
    this.assertLive('parameters');
    return this.rt.heap.f32(this.net.params, this.paramCount).slice();
  }

  /** Overwrites the whole parameter block (same layout as parameters()). */
  setParameters(values: Float32Array): void {
    this.assertLive('setParameters');
    if (!(values instanceof Float32Array) || values.length !== this.paramCount) {
      throw new RangeError(`thinnet.setParameters: expected a Float32Array of ${this.paramCount} values, got ${values?.length}`);
    }
    this.rt.heap.f32(this.net.params, this.paramCount).set(values);
  }

  /** The layers with parameters: [layer index, kernel, bias] (internal layers in order). */
  private paramLayers() {
    return this.net.layers.filter((l) => l.params.length > 0).map((l) => ({
      layer: l.index, kernel: l.params.find((p) => p.name === 'kernel')!, bias: l.params.find((p) => p.name === 'bias'),
    }));
  }

  /** Kernels and biases of each layer with parameters (copies; an empty bias for useBias: false). */
  getWeights(): WeightsEntry[] {
    this.assertLive('getWeights');
    const h = this.rt.heap, P = this.net.params;
    return this.paramLayers().map(({ layer, kernel, bias }) => ({
      layer, shape: [...kernel.shape],
      kernel: h.f32(P + 4 * kernel.offset, kernel.size).slice(),
      bias: bias ? h.f32(P + 4 * bias.offset, bias.size).slice() : new Float32Array(0),
    }));
  }

  /** Sets layers' kernels (and biases); entries are matched by `layer` (as getWeights returns them). */
  setWeights(entries: Array<Pick<WeightsEntry, 'layer' | 'kernel'> & { bias?: Float32Array }>): void {
    this.assertLive('setWeights');
    const h = this.rt.heap, P = this.net.params;
    const byLayer = new Map(this.paramLayers().map((e) => [e.layer, e]));
    for (const e of entries) {
      const l = byLayer.get(e.layer);
      if (!l) throw new RangeError(`thinnet.setWeights: layer ${e.layer} has no weights (not a dense or conv layer of this model)`);
      if (!(e.kernel instanceof Float32Array) || e.kernel.length !== l.kernel.size) throw new RangeError(`thinnet.setWeights: layer ${e.layer} has ${l.kernel.size} weights, got ${e.kernel?.length}`);
      if (e.bias && e.bias.length !== (l.bias?.size ?? 0)) throw new RangeError(`thinnet.setWeights: layer ${e.layer} has ${l.bias?.size ?? 0} biases, got ${e.bias.length}`);
    }
    for (const e of entries) {
      const l = byLayer.get(e.layer)!;
      h.f32(P + 4 * l.kernel.offset, l.kernel.size).set(e.kernel);
      if (e.bias && l.bias) h.f32(P + 4 * l.bias.offset, l.bias.size).set(e.bias);
    }
  }

  /**
   * An inference model without dropout layers (see model/fold.ts): the paper's weight scaling
   * (×p) of each 'paper' dropout layer is folded into the weights of the next dense or conv
   * layer; 'inverted' and Gaussian dropout are the identity at test time and are removed.
   * predict() of the result equals predict() of this model (to float rounding).
   */
  foldDropout(): Sequential {
    this.assertLive('foldDropout');
    this.assertFloat('foldDropout', 'has no dropout layers (quantize() folded them)');
    const fold = planFold(this.config.layers, this.net.layers);
    const folded = new Sequential({ inputShape: [...this.inputShape], seed: this.seed, layers: fold.specs });
    folded.loss = this.loss;
    copyFolded(this.net, folded.net, fold);
    return folded;
  }

  // ---- save -----------------------------------------------------------------------------------

  /**
   * The model in thinnet's binary format (io/format.ts): architecture, step, epoch, weights,
   * checksum; with `{ optimizer: true }` also the optimizer's state (a checkpoint to resume from).
   */
  toBytes(options: SaveOptions = {}): Uint8Array {
    this.assertLive('toBytes');
    const o = checkOptions('toBytes', options);
    if (o.optimizer !== undefined && typeof o.optimizer !== 'boolean') throw new TypeError('thinnet.toBytes: optimizer must be a boolean');
    const st = o.optimizer ? this.optState : undefined;
    if (o.optimizer && (!st || !this.optimizer)) throw new Error('thinnet.toBytes: { optimizer: true } needs a compiled model (call compile() first)');
    const tensors = this.paramLayers().flatMap(({ layer, kernel, bias }) => [kernel, ...(bias ? [bias] : [])]
      .map((p) => ({ layer, name: p.name, shape: [...p.shape], offset: p.offset })));
    const header: Record<string, unknown> = {
      format: 'thinnet-model', config: this.config, loss: this.loss, step: this.step, epoch: this.epoch,
      paramCount: this.paramCount, weightCount: this.net.weightCount, tensors,
    };
    const h = this.rt.heap, P = this.paramCount;
    if (this.quantization) {
      const { section, blocks } = int8FileParts(this);
      header.quantization = section;
      return encodeFile(3, header, blocks, heapChecksum(this.rt));
    }
    const blocks = [h.u8(this.net.params, 4 * P)];
    if (st && this.optimizer) {
      header.optimizer = { name: this.optimizer.name, config: this.optimizer.config, counters: st.counters(), slots: st.slots.map((s) => s.name) };
      header.stateCount = st.slots.length * P;
      for (const s of st.slots) blocks.push(h.u8(s.ptr, 4 * P));
    }
    // the blocks are views of wasm memory: encodeFile allocates nothing in wasm, so they stay valid
    return encodeFile(st ? 2 : 1, header, blocks, heapChecksum(this.rt));
  }

  /** Node: writes toBytes(options) to `path` atomically (temporary file + rename). */
  async save(path: string, options: SaveOptions = {}): Promise<void> {
    this.assertLive('save');
    await writeFileAtomic('save', path, this.toBytes(options));
  }

  /** The model as an ONNX file (opset 13; docs/INTEROP.md): the same as tn.io.toOnnx(model). */
  async toOnnx(options: { trainingModeInput?: boolean } = {}): Promise<Uint8Array> {
    this.assertLive('toOnnx');
    this.assertFloat('toOnnx', 'has no ONNX export (ONNX gets the float model: export it before quantize())');
    const { toOnnx } = await import('../io/onnx/index.js'); // loaded on first use
    return toOnnx(this, options);
  }

  /**
   * The SHA-256 (64 lowercase hex digits) of the file save(path, options) writes now: what
   * `sha256sum` prints for that file. loadModel(file, { expectedHash }) loads only that file.
   */
  async contentHash(options: SaveOptions = {}): Promise<string> {
    this.assertLive('contentHash');
    return sha256Hex('contentHash', this.toBytes(options));
  }

  /** A one-line-per-layer description with each layer's output shape. */
  summary(): string {
    const what = this.loss === 'meanSquaredError' ? 'outputs (meanSquaredError)' : 'classes';
    const lines = [`Sequential: [${this.inputShape.join(', ')}] inputs → ${this.outputSize} ${what}, ${this.paramCount} parameters, seed ${this.seed}`];
    this.config.layers.forEach((s, i) => {
      const mine = this.net.layers.filter((l) => l.index === i);
      const out = mine.length ? ` → [${mine[mine.length - 1].outShape.join(', ')}]` : '';
      lines.push(`  ${i}: ${s.type} ${describeSpec(s, i)}${out}`);
    });
    return lines.join('\n');
  }

  /** Frees the model's wasm memory. A fit() in progress stops with an error at its next batch. */
  dispose(): void {
    if (this.disposed) return;
    if (isCurrentRuntime(this.rt)) {
      this.net.dispose();
      this.optState?.dispose();
    }
    this.optState = undefined;
    this.disposed = true;
  }
}
