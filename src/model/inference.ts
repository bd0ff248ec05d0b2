// Inference on a Network: evaluation, prediction by weight scaling, Monte-Carlo averaging over
// thinned networks (with predictive uncertainty), one thinned network, and hidden activations.
// Every pass streams the input in batches through the network's reused buffers.
import type { Mode } from '../layers/types.js';
import type { Buffers, Inputs, Network } from './network.js';

/** Salt of the seed for Monte-Carlo passes (masks independent of the training masks). */
export const MC_SALT = 0x9e3779b9;

/** Predictions of at most this many multiply-adds never wait for the worker pool to boot. */
const SMALL_PREDICT_MACS = 1 << 24;

export interface EvaluateResult {
  /** Mean over the examples of the per-example loss (cross-entropy, or MSE's mean over the outputs). */
  loss: number;
  /** Fraction classified correctly (argmax); NaN for a 'meanSquaredError' model. */
  accuracy: number;
  /** 1 − accuracy; NaN for a 'meanSquaredError' model. */
  error: number;
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

/**
 * Outputs (`count` floats at `ptr`, of rows [s, s + m)) must be finite. Weights and inputs are
 * checked where they enter, so NaN or ±Infinity here is a float32 overflow inside the network
 * (a file with weights of 1e38 and a valid CRC loads): an error, not a silent NaN. A model whose
 * weights are themselves not finite (loaded with allowNonFinite, or set that way) passes its NaN
 * through: that is what such weights compute.
 */
function checkFinite(net: Network, ptr: number, count: number, s: number, m: number, what = 'outputs', loss = 0): void {
  const k = net.rt.kernels;
  if (Number.isFinite(loss) && k.count_nonfinite_f32(ptr, count) === 0) return;
  if (k.count_nonfinite_f32(net.params, net.paramCount) > 0) return;
  throw new RangeError(`thinnet: the model's ${Number.isFinite(loss) ? what : 'loss'} for rows ${s} to ${s + m - 1} ` +
    'are not finite (NaN or ±Infinity) although every weight and input is: a float32 overflow inside the network ' +
    '(weights or inputs too large in magnitude)');
}

/** Runs fn over [0, n) in batches of the buffers' capacity: fn(first row, rows). */
function batches(b: Buffers, n: number, fn: (s: number, m: number) => void): void {
  for (let s = 0; s < n; s += b.cap) fn(s, Math.min(b.cap, n - s));
}

/** Loss, accuracy and error in evaluation mode (checked labels or targets; n ≥ 1). */
export function evaluate(net: Network, x: Inputs, y: Int32Array | Float32Array, n: number, batchSize: number, seed: number): EvaluateResult {
  const b = net.buffers(Math.min(batchSize, Math.max(n, 1)));
  const mse = net.loss === 'meanSquaredError';
  let lossSum = 0, correct = 0;
  batches(b, n, (s, m) => {
    net.stageInputs(b, x, s, m);
    net.stageY(b, y, s, m);
    const out = net.forward(b, m, { kind: 'eval', seed, step: 0 });
    const loss = net.batchLoss(b, out, m);
    checkFinite(net, out, m * net.outputSize, s, m, 'outputs', loss);
    lossSum += loss;
    if (!mse) correct += net.countCorrect(b, m);
  });
  const accuracy = mse ? NaN : correct / n; // n ≥ 1: Sequential.evaluate refuses an empty set
  return { loss: lossSum / n, accuracy, error: 1 - accuracy };
}

/** The model's outputs for n rows of x under `mode` (weight scaling, or one thinned network). */
export function predict(net: Network, x: Inputs, n: number, batchSize: number, mode: Mode): Float32Array {
  const b = net.buffers(Math.min(batchSize, Math.max(n, 1)));
  const C = net.outputSize;
  const out = new Float32Array(n * C);
  const run = () => batches(b, n, (s, m) => {
    net.stageInputs(b, x, s, m);
    const y = net.outputs(b, net.forward(b, m, mode), m);
    checkFinite(net, y, m * C, s, m);
    out.set(net.rt.heap.f32(y, m * C), s * C);
  });
  // A few examples (a few ms of work) run on the threads already running: they never wait for
  // the worker pool to boot (see Runtime.withRunningThreads). Same results either way.
  if (n * net.paramCount <= SMALL_PREDICT_MACS) net.rt.withRunningThreads(run);
  else run();
  return out;
}

/**
 * Monte-Carlo dropout: `samples` stochastic passes with the masks of (seed ^ MC_SALT, step =
 * sample index): the predictive mean and variance per class, entropy and mutual information per
 * example, streamed (running mean and M2 per batch; no samples × N × classes array).
 */
export function monteCarlo(net: Network, x: Inputs, n: number, samples: number, batchSize: number, seed: number): Uncertainty {
  const b = net.buffers(Math.min(batchSize, Math.max(n, 1)));
  const C = net.outputSize;
  const h = net.rt.heap, k = net.rt.kernels;
  const res: Uncertainty = {
    mean: new Float32Array(n * C), variance: new Float32Array(n * C),
    entropy: new Float32Array(n), mutualInformation: new Float32Array(n),
  };
  const mcSeed = (seed ^ MC_SALT) >>> 0;
  batches(b, n, (s, m) => {
    net.stageInputs(b, x, s, m);
    for (let t = 0; t < samples; t++) {
      const p = net.outputs(b, net.forward(b, m, { kind: 'sample', seed: mcSeed, step: t }), m);
      checkFinite(net, p, m * C, s, m);
      k.mc_accumulate_f32(b.mcMean, b.mcM2, b.mcEntropyMean, p, t, m, C); // running mean, M2, mean entropy
    }
    k.mc_finalize_f32(b.mcM2, b.entropy, b.mi, b.mcMean, b.mcM2, b.mcEntropyMean, samples, m, C);
    checkFinite(net, b.mcMean, m * C, s, m, 'Monte-Carlo means');
    checkFinite(net, b.mcM2, m * C, s, m, 'Monte-Carlo variances');
    res.mean.set(h.f32(b.mcMean, m * C), s * C);
    res.variance.set(h.f32(b.mcM2, m * C), s * C);
    res.entropy.set(h.f32(b.entropy, m), s);
    res.mutualInformation.set(h.f32(b.mi, m), s);
  });
  if (net.loss === 'meanSquaredError') { res.entropy.fill(NaN); res.mutualInformation.fill(NaN); } // not probabilities
  return res;
}

/**
 * The output of layers[0..last] (last = −1: the input itself) for n rows, N×width; with
 * `softmax`, the softmax of the network's output (a trailing softmax fused into the loss).
 */
export function activations(net: Network, x: Inputs, n: number, last: number, softmax: boolean, batchSize: number, mode: Mode): Float32Array {
  const b = net.buffers(Math.min(batchSize, Math.max(n, 1)));
  const W = last < 0 ? net.inputSize : net.layers[last].outSize;
  const out = new Float32Array(n * W);
  batches(b, n, (s, m) => {
    net.stageInputs(b, x, s, m);
    let y = last < 0 ? b.acts[0] : net.forward(b, m, mode, last);
    if (softmax) { net.rt.kernels.softmax_forward_f32(b.probs, y, m, W); y = b.probs; }
    checkFinite(net, y, m * W, s, m);
    out.set(net.rt.heap.f32(y, m * W), s * W);
  });
  return out;
}
