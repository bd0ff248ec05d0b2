// A thinnet Sequential model → an ONNX model (opset 13, IR version 7) that computes what
// model.predict computes, and keeps dropout stochastic on demand:
//
// - input `input`: float32 [N, ...inputShape], the same values in the same order as thinnet's
//   input rows (images channels last, NHWC); output `output`: float32 [N, outputs], the class
//   probabilities (a Softmax is appended for a softmaxCrossEntropy model, as predict applies one)
//   or the raw outputs of a meanSquaredError model.
// - input `training_mode` (models with dropout): bool scalar. false:
//   the deterministic prediction (the paper's weight scaling, = model.predict); true: every
//   dropout layer draws a mask, one thinned network per run (Monte-Carlo dropout; the masks are
//   ONNX Runtime's, not thinnet's counter-based ones). With { trainingModeInput: false } it is a
//   constant false instead and `input` is the only input.
// - dense → Gemm(transB = 1): thinnet's kernel [units, inputs] is Gemm's B as stored.
// - dropout → Dropout(x, ratio = 1 − p, training_mode). ONNX's Dropout is the inverted
//   convention (train mask·x/p, test x). thinnet's 'paper' convention (train mask·x, test p·x)
//   becomes Dropout followed by Mul(p): training p·mask·x/p = mask·x, test p·x — the same function
//   in both modes, with the scale visible in the graph rather than folded into the next weights.
// - gaussianDropout → Mul(x, Where(training_mode, RandomNormalLike(x, mean 1, scale σ), 1)),
//   σ = √((1 − p)/p): multiplicative N(1, σ²) noise in training mode, the identity otherwise.
// - conv2d / maxPool2d: ONNX's Conv and MaxPool are NCHW. A Transpose (perm 0,3,1,2) is inserted
//   where the data enters a run of conv/pool layers and one back (perm 0,2,3,1) before a flatten
//   or a dense layer, so the dense weights after a conv stack stay exactly thinnet's; kernels are
//   converted [F, KH, KW, C] → [F, C, KH, KW]. 'same' padding becomes explicit pads (the extra
//   row/column at the bottom/right, TensorFlow's rule, as thinnet).
// - maxout → Reshape to expose the pieces axis, ReduceMax over it.
import type { Sequential } from '../../model/sequential.js';
import type { Layer, LayerSpec, Shape } from '../../layers/types.js';
import type { Conv2DSpec } from '../../layers/conv.js';
import type { MaxPool2DSpec } from '../../layers/pool.js';
import type { DenseSpec } from '../../layers/dense.js';
import type { ActivationSpec } from '../../layers/activation.js';
import type { DropoutSpec, GaussianDropoutSpec } from '../../layers/dropout.js';
import { quantizeKeep } from '../../ops/dropout.js';
import { Model, AttributeType, DataType, type AttributeProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from './schema.js';
import { boolProto, floatProto, int64Proto } from './tensors.js';
import { encode } from './writer.js';
import { padsOf } from './pads.js';

export const OPSET = 13;
const IR_VERSION = 7;
export const INPUT = 'input', OUTPUT = 'output', TRAINING_MODE = 'training_mode';

type Layout = 'flat' | 'nhwc' | 'nchw';

export interface OnnxExportOptions {
  /**
   * true (default): a model with dropout gets a second graph input `training_mode` (bool
   * scalar): false = predict (weight scaling), true = one thinned network per run (Monte-Carlo
   * dropout). false: the graph has only `input`; dropout runs in inference mode (a constant).
   */
  trainingModeInput?: boolean;
}

const attr = {
  int: (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i }),
  ints: (name: string, ints: number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints }),
  float: (name: string, f: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f }),
};

class Graph {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private count = 0;
  usesTrainingMode = false;

  /** Adds a node; returns its (first) output's name. */
  node(op: string, inputs: string[], attribute: AttributeProto[] = [], name = op.toLowerCase()): string {
    const id = `${name}_${this.count++}`;
    const out = `${id}_out`;
    this.nodes.push({ input: inputs, output: [out], name: id, op_type: op, attribute });
    return out;
  }

  init(t: TensorProto): string {
    this.initializers.push(t);
    return t.name!;
  }

  scalar(name: string, v: number): string {
    return this.init(floatProto(name, [], new Float32Array([v])));
  }
}

/** The data tensor between layers: its name, its memory layout in the ONNX graph and thinnet's shape of one example. */
interface Cursor {
  name: string;
  layout: Layout;
  /** thinnet's shape: [features] or [H, W, C]. */
  shape: Shape;
}

function toNchw(g: Graph, c: Cursor): Cursor {
  if (c.layout === 'nchw') return c;
  if (c.layout !== 'nhwc') throw new Error(`thinnet.toOnnx: an image layer after a flat tensor (shape [${c.shape.join(', ')}])`);
  return { ...c, name: g.node('Transpose', [c.name], [attr.ints('perm', [0, 3, 1, 2])], 'to_nchw'), layout: 'nchw' };
}

/** Flat [N, features] in thinnet's order (channels last). */
function toFlat(g: Graph, c: Cursor): Cursor {
  if (c.layout === 'flat') return c;
  let name = c.name;
  if (c.layout === 'nchw') name = g.node('Transpose', [name], [attr.ints('perm', [0, 2, 3, 1])], 'to_nhwc');
  name = g.node('Flatten', [name], [attr.int('axis', 1)]);
  return { name, layout: 'flat', shape: [c.shape.reduce((a, b) => a * b, 1)] };
}

function activation(g: Graph, c: Cursor, act: string | undefined, pieces: number | undefined, out: Shape): Cursor {
  switch (act) {
    case undefined: case 'linear': case 'softmax': // softmax: only last, appended for the whole model (see modelToOnnx)
      return c;
    case 'relu': return { ...c, name: g.node('Relu', [c.name]) };
    case 'sigmoid': return { ...c, name: g.node('Sigmoid', [c.name]) };
    case 'tanh': return { ...c, name: g.node('Tanh', [c.name]) };
    case 'maxout': {
      const k = pieces ?? 2;
      // groups of k consecutive values along thinnet's last axis (units, or channels)
      let shape: number[], axis: number;
      if (c.layout === 'flat') { shape = [-1, out[0], k]; axis = 2; }
      else if (c.layout === 'nhwc') { shape = [-1, out[0], out[1], out[2], k]; axis = 4; }
      else { shape = [-1, out[2], k, out[0], out[1]]; axis = 2; }
      const s = g.init(int64Proto(`${c.name}_maxout_shape`, shape));
      const r = g.node('Reshape', [c.name, s], [], 'maxout_reshape');
      return { ...c, name: g.node('ReduceMax', [r], [attr.ints('axes', [axis]), attr.int('keepdims', 0)], 'maxout'), shape: out };
    }
    default:
      throw new Error(`thinnet.toOnnx: activation '${act}' has no ONNX mapping`);
  }
}

/** The ModelProto of a model (see the header comment). */
export function buildOnnx(model: Sequential, options: OnnxExportOptions = {}): ModelProto {
  const g = new Graph();
  const specs = model.config.layers;
  const layersOf = new Map<number, Layer[]>();
  for (const l of model.net.layers) layersOf.set(l.index, [...(layersOf.get(l.index) ?? []), l]);
  const weights = new Map(model.getWeights().map((w) => [w.layer, w]));
  const input = model.inputShape;
  let c: Cursor = { name: INPUT, layout: input.length === 3 ? 'nhwc' : input.length === 1 ? 'flat' : 'nhwc', shape: input };
  if (input.length === 2) c = toFlat(g, { ...c, layout: 'nhwc' }); // [a, b] inputs only feed dense layers

  specs.forEach((spec: LayerSpec, i) => {
    const mine = layersOf.get(i) ?? [];
    const out = mine.length ? mine[mine.length - 1].outShape : c.shape;
    switch (spec.type) {
      case 'dense': {
        const s = spec as DenseSpec, w = weights.get(i)!;
        c = toFlat(g, c);
        const ins = [c.name, g.init(floatProto(`layers.${i}.weight`, w.shape, w.kernel))];
        if (w.bias.length) ins.push(g.init(floatProto(`layers.${i}.bias`, [w.bias.length], w.bias)));
        c = { name: g.node('Gemm', ins, [attr.int('transB', 1)]), layout: 'flat', shape: mine[0].outShape };
        c = activation(g, c, s.activation, s.pieces, out);
        return;
      }
      case 'conv2d': {
        const s = spec as Conv2DSpec, w = weights.get(i)!;
        c = toNchw(g, c);
        const [F, KH, KW, C] = w.shape;
        const k = new Float32Array(w.kernel.length); // [F, KH, KW, C] → [F, C, KH, KW]
        for (let f = 0; f < F; f++) for (let y = 0; y < KH; y++) for (let x = 0; x < KW; x++) for (let ch = 0; ch < C; ch++) {
          k[((f * C + ch) * KH + y) * KW + x] = w.kernel[((f * KH + y) * KW + x) * C + ch];
        }
        const strides = s.strides ?? [1, 1];
        const ins = [c.name, g.init(floatProto(`layers.${i}.weight`, [F, C, KH, KW], k))];
        if (w.bias.length) ins.push(g.init(floatProto(`layers.${i}.bias`, [F], w.bias)));
        const name = g.node('Conv', ins, [attr.ints('kernel_shape', [KH, KW]), attr.ints('strides', strides),
          attr.ints('pads', padsOf(c.shape, [KH, KW], strides, s.padding)), attr.ints('dilations', [1, 1]), attr.int('group', 1)]);
        c = { name, layout: 'nchw', shape: mine[0].outShape };
        c = activation(g, c, s.activation, s.pieces, out);
        return;
      }
      case 'maxPool2d': {
        const s = spec as MaxPool2DSpec;
        c = toNchw(g, c);
        c = { name: g.node('MaxPool', [c.name], [attr.ints('kernel_shape', s.poolSize), attr.ints('strides', s.strides),
          attr.ints('pads', padsOf(c.shape, s.poolSize, s.strides, s.padding))]), layout: 'nchw', shape: out };
        return;
      }
      case 'flatten':
        c = toFlat(g, c);
        return;
      case 'activation': {
        const s = spec as ActivationSpec;
        c = activation(g, c, s.activation, s.pieces, out);
        return;
      }
      case 'dropout': {
        const s = spec as DropoutSpec;
        const p = quantizeKeep(s.keep).p; // what thinnet's kernels use
        g.usesTrainingMode = true;
        const ratio = g.scalar(`layers.${i}.ratio`, 1 - p); // exact: p is a multiple of 2^-16
        let name = g.node('Dropout', [c.name, ratio, TRAINING_MODE]);
        if ((s.convention ?? 'paper') === 'paper') name = g.node('Mul', [name, g.scalar(`layers.${i}.keep`, p)], [], 'weight_scaling');
        c = { ...c, name };
        return;
      }
      case 'gaussianDropout': {
        const s = spec as GaussianDropoutSpec;
        g.usesTrainingMode = true;
        const sigma = Math.fround(Math.sqrt((1 - s.keep) / s.keep)); // as layers/dropout.ts
        const noise = g.node('RandomNormalLike', [c.name], [attr.float('mean', 1), attr.float('scale', sigma), attr.int('dtype', DataType.FLOAT)], 'gaussian_noise');
        const factor = g.node('Where', [TRAINING_MODE, noise, g.scalar(`layers.${i}.one`, 1)], [], 'gaussian_factor');
        c = { ...c, name: g.node('Mul', [c.name, factor], [], 'gaussian_dropout') };
        return;
      }
      default:
        throw new Error(`thinnet.toOnnx: layer ${i} (${spec.type}) has no ONNX mapping`);
    }
  });

  c = toFlat(g, c); // predict's rows are flat, channels last
  const last = model.loss === 'softmaxCrossEntropy' ? g.node('Softmax', [c.name], [attr.int('axis', 1)]) : c.name;
  g.nodes.push({ input: [last], output: [OUTPUT], name: 'output', op_type: 'Identity', attribute: [] });

  const tensor = (name: string, elem: number, dims: Array<number | string>): ValueInfoProto => ({
    name, type: { tensor_type: { elem_type: elem, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) } } },
  });
  const inputs = [tensor(INPUT, DataType.FLOAT, ['N', ...input])];
  if (g.usesTrainingMode) {
    // A required input rather than an initializer-backed default: onnxruntime-web (and other
    // runtimes) do not let a caller override initializers, and MC dropout needs to feed true.
    if (options.trainingModeInput !== false) inputs.push(tensor(TRAINING_MODE, DataType.BOOL, []));
    else g.initializers.push(boolProto(TRAINING_MODE, false));
  }
  return {
    ir_version: IR_VERSION,
    producer_name: 'thinnet',
    doc_string: `thinnet Sequential model; input NHWC/flat float32 as thinnet's rows; feed ${TRAINING_MODE}=true for Monte-Carlo dropout`,
    opset_import: [{ domain: '', version: OPSET }],
    graph: {
      node: g.nodes,
      name: 'thinnet',
      initializer: g.initializers,
      input: inputs,
      output: [tensor(OUTPUT, DataType.FLOAT, ['N', model.outputSize])],
    },
    metadata_props: [{ key: 'thinnet.config', value: JSON.stringify({ ...model.config, loss: model.loss }) }],
  };
}

/** The ONNX file of a model (bytes). */
export async function modelToOnnx(model: Sequential, options: OnnxExportOptions = {}): Promise<Uint8Array> {
  const proto = buildOnnx(model, options);
  return encode(Model, proto);
}
