// fit(): mini-batch training as in the paper (Appendix A, B.1). The training set is copied into
// wasm memory once (uint8 pixels stay uint8), or read in place when it is already there (a
// WasmArray: tn.data.toWasm, loadMnist({ wasm: true })); every epoch draws a seeded permutation and each
// mini-batch is gathered (and scaled) by a kernel. Schedules are evaluated per epoch; the
// dropout masks use the model's step counter, so the same seed gives bit-identical weights.
// With loss 'meanSquaredError' the targets (N×outputs float32) are copied in and gathered the same
// way (an autoencoder's y === x shares x's block), and accuracy / error are NaN.
//
// A model disposed, or a runtime closed, during training (in a callback) stops fit with an error
// at the next batch; nothing is computed on freed memory.
import { platform } from '../platform/types.js';
import type { EvaluateResult } from '../model/inference.js';
import { nonFiniteInput, type Inputs, type Labels, type Network } from '../model/network.js';
import { checkBatch, checkInputs, checkOptions } from '../tensor/validate.js';
import { WasmArray } from '../tensor/wasm-array.js';
import type { OptimizerState } from './optimizers.js';

/** What fit() needs of a model (Sequential). */
export interface Trainable {
  readonly net: Network;
  readonly seed: number;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly optState: OptimizerState | undefined;
  epoch: number;
  step: number;
  stopTraining: boolean;
  checkY(op: string, y: unknown, n: number): Int32Array | Float32Array;
  evaluate(x: Inputs, y: Labels, options: { batchSize?: number }): EvaluateResult;
  /** Throws if the model was disposed or its runtime closed. */
  assertLive(op: string): void;
}

export interface EpochLogs {
  /** 0-based index over the model's whole training (continues across fit calls). */
  epoch: number;
  /**
   * Mean training loss over the epoch's examples (with the dropout masks of training), plus the
   * layers' penalties (kernelRegularizer, activityRegularizer) of each batch; valLoss is the data loss alone.
   */
  loss: number;
  /** Training accuracy (argmax) over the epoch; NaN for a 'meanSquaredError' model (as error, valAccuracy, valError). */
  accuracy: number;
  error: number;
  valLoss?: number;
  valAccuracy?: number;
  valError?: number;
  learningRate: number;
  momentum?: number;
  seconds: number;
  examplesPerSecond: number;
}

export interface BatchLogs {
  epoch: number;
  /** 0-based batch index within the epoch. */
  batch: number;
  batches: number;
  /** Mean loss (penalties included) and accuracy of this batch (accuracy NaN for a 'meanSquaredError' model). */
  loss: number;
  accuracy: number;
  /** Examples seen so far in this epoch. */
  examples: number;
  examplesPerSecond: number;
}

export interface FitOptions {
  /** Default 1. */
  epochs?: number;
  /** Default 100 (the paper's MNIST setting). */
  batchSize?: number;
  /** Seeded reshuffle every epoch (default true). */
  shuffle?: boolean;
  /** Evaluated (weight scaling) at the end of every epoch. */
  validationData?: { x: Inputs; y: Labels } | [Inputs, Labels];
  /**
   * Hold out the last fraction of (x, y), in (0, 1), before shuffling (as Keras), and evaluate
   * on it as validationData (not together with it). Settings are chosen on held-out data, never
   * on the test set.
   */
  validationSplit?: number;
  /** Evaluate validationData after every freq-th epoch of the model (counting model.epoch, so across fit calls) and after the last; default 1. */
  validationFreq?: number;
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void | boolean | Promise<void | boolean>;
  onBatchEnd?: (batch: number, logs: BatchLogs) => void | Promise<void>;
}

export interface History {
  epochs: EpochLogs[];
  loss: number[];
  accuracy: number[];
  valLoss: number[];
  valError: number[];
  valAccuracy: number[];
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

export async function fit(model: Trainable, xAll: Inputs, yAll: Labels, options: FitOptions = {}): Promise<History> {
  const o = checkOptions('fit', options);
  if (!model.optState) throw new Error('thinnet.fit: call model.compile({ optimizer, loss }) before fit()');
  const F = model.inputSize;
  const nAll = checkInputs('fit', xAll, F);
  if (nAll === 0) throw new RangeError('thinnet.fit: x has no rows');
  const labelsAll = model.checkY('fit', yAll, nAll);
  let x = xAll, y: Labels = yAll, labels = labelsAll, n = nAll;
  let val: { x: Inputs; y: Labels } | undefined;
  if (o.validationSplit !== undefined) {
    const f = o.validationSplit;
    if (typeof f !== 'number' || !(f > 0 && f < 1)) throw new RangeError(`thinnet.fit: validationSplit must be a fraction in (0, 1), got ${String(f)}`);
    if (o.validationData !== undefined) throw new RangeError('thinnet.fit: give validationSplit or validationData, not both');
    const held = Math.floor(nAll * f);
    if (held < 1 || held >= nAll) throw new RangeError(`thinnet.fit: validationSplit ${f} of ${nAll} rows leaves ${held} for validation and ${nAll - held} for training; both need at least one`);
    n = nAll - held;
    const C = labelsAll instanceof Float32Array ? model.outputSize : 1;
    x = xAll.subarray(0, n * F);
    labels = labelsAll.subarray(0, n * C);
    y = yAll === xAll && !(x instanceof WasmArray) ? x : labels; // an autoencoder keeps sharing its inputs
    val = { x: xAll.subarray(n * F), y: labelsAll.subarray(n * C) };
  }
  const mse = labels instanceof Float32Array;
  const C = model.outputSize;
  // an autoencoder's targets are its inputs: one block serves both
  const shared = mse && y === x && C === F;
  const epochs = o.epochs === undefined ? 1 : o.epochs;
  if (typeof epochs !== 'number' || !Number.isInteger(epochs) || epochs < 0) throw new RangeError(`thinnet.fit: epochs must be an integer ≥ 0, got ${String(epochs)}`);
  const bs = checkBatch('fit', o.batchSize ?? 100);
  if (o.validationData !== undefined) {
    const v = o.validationData as FitOptions['validationData'];
    val = Array.isArray(v) ? { x: v[0], y: v[1] } : (v as { x: Inputs; y: Labels });
    if (!val || val.x === undefined || val.y === undefined) throw new TypeError('thinnet.fit: validationData must be {x, y} or [x, y]');
    const vn = checkInputs('fit (validationData)', val.x, F);
    if (vn === 0) throw new RangeError('thinnet.fit: validationData has no rows (an empty set has no loss or accuracy)');
    model.checkY('fit (validationData)', val.y, vn);
  }
  const freq = o.validationFreq === undefined ? 1 : o.validationFreq;
  if (typeof freq !== 'number' || !Number.isInteger(freq) || freq < 1) throw new RangeError(`thinnet.fit: validationFreq must be a positive integer, got ${String(freq)}`);
  for (const cb of ['onEpochEnd', 'onBatchEnd'] as const) {
    if (o[cb] !== undefined && typeof o[cb] !== 'function') throw new TypeError(`thinnet.fit: ${cb} must be a function`);
  }
  const onEpochEnd = o.onEpochEnd as FitOptions['onEpochEnd'];
  const onBatchEnd = o.onBatchEnd as FitOptions['onBatchEnd'];

  const rt = model.net.rt, h = rt.heap, k = rt.kernels;
  const net = model.net;
  const optState = model.optState;
  // A WasmArray is read in place (the caller may have dropped its JavaScript copy); anything else
  // is copied into wasm once, as uint8 when it is uint8.
  const inWasm = x instanceof WasmArray ? x : undefined;
  if (inWasm && inWasm.runtime !== rt) throw new Error('thinnet.fit: x is a WasmArray of another runtime than the model');
  const packed = inWasm?.dtype === 'packed'; // rows unpacked per mini-batch (tensor/packed-rows.ts)
  const u8 = inWasm ? inWasm.dtype !== 'float32' : x instanceof Uint8Array;
  const data = inWasm ? inWasm.ptr : h.alloc(u8 ? n * F : 4 * n * F);
  const labelPtr = shared ? 0 : h.alloc(mse ? 4 * n * C : 4 * n);
  const idx = h.alloc(4 * n);
  const history: History = { epochs: [], loss: [], accuracy: [], valLoss: [], valError: [], valAccuracy: [] };
  model.stopTraining = false;
  // after every callback: the model (or the runtime) may have been disposed (closed) inside it
  const alive = () => {
    model.assertLive('fit');
    inWasm?.assertLive('fit'); // the data set may have been disposed in a callback
    if (model.optState !== optState) throw new Error('thinnet.fit: the model was recompiled during training');
  };
  try {
    if (inWasm) {
      if (!u8 && k.count_nonfinite_f32(data, n * F) > 0) throw nonFiniteInput(inWasm.view() as Float32Array, 0, n * F, F);
    } else if (u8) h.u8(data, n * F).set(x as Uint8Array);
    else {
      h.f32(data, n * F).set(x as Float32Array);
      if (k.count_nonfinite_f32(data, n * F) > 0) throw nonFiniteInput(x as Float32Array, 0, n * F, F);
    }
    if (labels instanceof Float32Array) { if (!shared) h.f32(labelPtr, n * C).set(labels); } else h.i32(labelPtr, n).set(labels);
    const perm = new Int32Array(n);
    const batches = Math.ceil(n / bs);
    for (let e = 0; e < epochs && !model.stopTraining; e++) {
      const epoch = model.epoch;
      for (let i = 0; i < n; i++) perm[i] = i;
      if (o.shuffle !== false) {
        const rng = platform().seedrandom(`thinnet:${model.seed}:shuffle:${epoch}`);
        for (let i = n - 1; i > 0; i--) {
          const j = Math.floor(rng() * (i + 1));
          const t = perm[i]; perm[i] = perm[j]; perm[j] = t;
        }
      }
      h.i32(idx, n).set(perm);
      const values = optState.values(epoch);
      const t0 = now();
      let lossSum = 0, correct = 0, seen = 0;
      for (let bi = 0; bi < batches && !model.stopTraining; bi++) {
        const s = bi * bs, m = Math.min(bs, n - s);
        const b = net.buffers(bs);
        if (packed) {
          if (k.unpack_rows_f32(b.acts[0], data, idx + 4 * s, 1 / 255, m, F) !== m) throw new Error('thinnet.fit: a row of the packed x is malformed (its memory was overwritten?)');
        } else if (u8) k.gather_rows_u8_f32(b.acts[0], data, idx + 4 * s, 1 / 255, m, F);
        else k.gather_rows_f32(b.acts[0], data, idx + 4 * s, m, F);
        if (mse) k.gather_rows_f32(b.targets, shared ? data : labelPtr, idx + 4 * s, m, C);
        else k.gather_i32(b.labels, labelPtr, idx + 4 * s, m);
        const r = net.trainStep(b, m, { kind: 'train', seed: model.seed, step: model.step }, optState, epoch);
        if (!Number.isFinite(r.lossSum)) {
          throw new Error(`thinnet.fit: the loss became ${r.lossSum} at epoch ${epoch + 1}, batch ${bi + 1} of ${batches}; ` +
            'training stopped before that update (lower the learning rate, add a max-norm constraint, or check x for NaN/Infinity)');
        }
        model.step++;
        lossSum += r.lossSum;
        correct += r.correct;
        seen += m;
        if (onBatchEnd) {
          const dt = (now() - t0) / 1000;
          await onBatchEnd(bi, {
            epoch, batch: bi, batches, loss: r.lossSum / m, accuracy: mse ? NaN : r.correct / m, examples: seen,
            examplesPerSecond: dt > 0 ? seen / dt : 0,
          });
          alive();
        }
      }
      const seconds = (now() - t0) / 1000;
      const accuracy = mse ? NaN : correct / Math.max(seen, 1);
      const logs: EpochLogs = {
        epoch, loss: lossSum / Math.max(seen, 1), accuracy, error: 1 - accuracy,
        learningRate: values.learningRate, seconds, examplesPerSecond: seconds > 0 ? seen / seconds : 0,
      };
      if (values.momentum !== undefined) logs.momentum = values.momentum;
      model.epoch++;
      // every freq-th epoch of the model's whole training (so a resumed run evaluates on the same epochs)
      if (val && (model.epoch % freq === 0 || e === epochs - 1)) {
        const v = model.evaluate(val.x, val.y, { batchSize: Math.max(bs, 1000) });
        logs.valLoss = v.loss;
        logs.valAccuracy = v.accuracy;
        logs.valError = v.error;
        history.valLoss.push(v.loss);
        history.valAccuracy.push(v.accuracy);
        history.valError.push(v.error);
      }
      history.epochs.push(logs);
      history.loss.push(logs.loss);
      history.accuracy.push(logs.accuracy);
      if (onEpochEnd && (await onEpochEnd(epoch, logs)) === false) model.stopTraining = true;
      if (onEpochEnd) alive();
    }
  } finally {
    if (!inWasm) h.free(data);
    if (labelPtr) h.free(labelPtr);
    h.free(idx);
  }
  return history;
}
