// model.quantize(): post-training int8 quantization of the dense layers (layers/int8-dense.ts;
// the kernels and the arithmetic are assembly/int8.ts).
//
// What a Keras / TFLite / PyTorch user expects, and what thinnet does:
// - like torch.ao.quantization.quantize_dynamic and the TFLite converter, it returns a NEW model
//   (the float model is untouched and can still be trained); the int8 model predicts and
//   evaluates like any model, saves and loads (.tnet version 3), and refuses to train;
// - dense layers only: conv2d (and everything else) stays float32 — the conv kernels are float
//   GEMMs over patch matrices, and the paper's nets spend most of their inference in dense layers;
// - weights: int8 per output unit (per channel), symmetric; activations: 7 bits, asymmetric,
//   dynamic (each example row's own range, the default: no data needed, as quantize_dynamic) or
//   calibrated (one range per layer, the min/max of its inputs over `calibration` rows, as
//   TFLite's representative dataset; values outside are clamped);
// - dropout is folded away first (model.foldDropout(): the paper's weight scaling goes into the
//   next layer's weights before they are quantized), so an int8 model is the weight-scaling
//   network and has no dropout layers: Monte-Carlo dropout on it (predict({ mc }), { sample },
//   predictWithUncertainty) is an error that says so. Sampling thinned networks needs the float
//   model.
import type { Layer } from '../layers/types.js';
import { Int8Dense, type InputRange } from '../layers/int8-dense.js';
import { checkBatch, checkInputs, checkOptions } from '../tensor/validate.js';
import type { Runtime } from '../wasm/runtime.js';
import type { Inputs, Network } from './network.js';

export interface QuantizeOptions {
  /**
   * Rows of representative inputs (as predict takes them). Given: each dense layer's input range
   * is measured on them once, and fixed (calibrated). Absent: every example row is quantized with
   * its own range as it arrives (dynamic).
   */
  calibration?: Inputs;
  /** Rows per pass over the calibration data (default 1000). */
  batchSize?: number;
}

/** How a model's dense layers run in int8. */
export interface Quantization {
  /** 'dynamic': each input row's own range; 'calibrated': one fixed range per layer. */
  readonly activations: 'dynamic' | 'calibrated';
}

/**
 * What quantizing needs of a model: Sequential has all of it (taking Sequential itself would make
 * an import circle: sequential.ts calls quantizeModel).
 */
export interface QuantizableModel<M> {
  readonly net: Network;
  readonly rt: Runtime;
  readonly seed: number;
  readonly inputSize: number;
  quantization: Quantization | undefined;
  foldDropout(): M;
  dispose(): void;
}

/**
 * The int8 model of `model` (see above): its dropout folded, then every dense layer replaced by
 * its int8 version, with input ranges from `ranges` (calibrated, by internal layer index) or
 * dynamic. Returns the new model; on error nothing is left allocated.
 */
export function quantizeModel<M extends QuantizableModel<M>>(model: M, options: QuantizeOptions = {}): M {
  const o = checkOptions('quantize', options);
  for (const k of Object.keys(o)) {
    if (k !== 'calibration' && k !== 'batchSize') throw new TypeError(`thinnet.quantize: unknown option '${k}' (options: calibration, batchSize)`);
  }
  const bs = checkBatch('quantize', o.batchSize ?? 1000);
  let calib: { x: Inputs; n: number } | undefined;
  if (o.calibration !== undefined) {
    const n = checkInputs('quantize', o.calibration, model.inputSize);
    if (n === 0) throw new RangeError('thinnet.quantize: calibration has no rows');
    calib = { x: o.calibration as Inputs, n };
  }
  const folded = model.foldDropout();
  try {
    const net = folded.net, rt = folded.rt;
    if (rt.kernels.count_nonfinite_f32(net.params, net.paramCount) > 0) {
      throw new RangeError('thinnet.quantize: the model has NaN or infinite weights; they have no int8 version');
    }
    const ranges = calib ? calibrate(folded, calib.x, calib.n, bs) : undefined;
    toInt8(folded, ranges);
    return folded;
  } catch (e) {
    folded.dispose();
    throw e;
  }
}

/** What a model file holds for one int8 layer (io/quantized.ts): its int8 kernel and scales as stored. */
export interface StoredInt8 {
  q: Uint8Array;
  scale: Float32Array;
}

/**
 * Replaces every dense layer of `model`'s network by its int8 version, in place: input ranges
 * from `ranges` (by internal layer index: calibrated) or none (dynamic); int8 kernels quantized
 * now, or taken from `stored` (the j-th dense layer's, from a model file). On error the float
 * layers are back and nothing int8 is left allocated.
 */
export function toInt8(model: Pick<QuantizableModel<unknown>, 'net' | 'rt' | 'quantization'>, ranges: Map<number, InputRange> | undefined, stored?: StoredInt8[]): void {
  const net = model.net, rt = model.rt;
  net.freeBuffers();
  const swapped: Array<[number, Layer]> = [];
  try {
    net.layers.forEach((l, i) => {
      if (!l.quantizable) return;
      const range = ranges ? ranges.get(i) : undefined;
      if (ranges && !range) throw new Error(`thinnet: no input range for dense layer ${l.index}`);
      const mine = stored ? stored[swapped.length] : undefined;
      swapped.push([i, l]);
      net.layers[i] = new Int8Dense(rt, l, net.params, range, mine);
    });
  } catch (e) {
    for (const [i, l] of swapped) {
      if (net.layers[i] !== l) net.layers[i].dispose?.(rt);
      net.layers[i] = l;
    }
    throw e;
  }
  model.quantization = Object.freeze({ activations: ranges ? 'calibrated' : 'dynamic' });
}

/** The range [min(0, min), max(0, max)] of each dense layer's input over n rows of x (float model, evaluation mode). */
function calibrate(model: Pick<QuantizableModel<unknown>, 'net' | 'rt' | 'seed'>, x: Inputs, n: number, batchSize: number): Map<number, InputRange> {
  const net = model.net, rt = model.rt;
  const targets = net.layers.map((l, i) => [l, i] as const).filter(([l]) => l.quantizable).map(([, i]) => i);
  const ranges = new Map<number, [number, number]>(targets.map((i) => [i, [0, 0]]));
  const b = net.buffers(Math.min(batchSize, n));
  const scratch = rt.heap.alloc(16);
  try {
    for (let s = 0; s < n; s += b.cap) {
      const m = Math.min(b.cap, n - s);
      net.stageInputs(b, x, s, m);
      net.forward(b, m, { kind: 'eval', seed: model.seed, step: 0 });
      for (const i of targets) {
        rt.kernels.int8_range_f32(scratch, b.acts[i], m * net.layers[i].inSize);
        const [lo, hi] = rt.heap.f32(scratch, 2);
        const r = ranges.get(i)!;
        if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError(`thinnet.quantize: the inputs of layer ${net.layers[i].index} on the calibration data are not finite`);
        r[0] = Math.min(r[0], lo); r[1] = Math.max(r[1], hi);
      }
    }
  } finally {
    rt.heap.free(scratch);
  }
  return ranges;
}
