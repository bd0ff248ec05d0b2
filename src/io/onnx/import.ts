// An ONNX model (as torch.onnx.export writes them, or thinnet's own export) → a thinnet
// Sequential model. thinnet models are chains, so the graph must be one: the data tensor flows
// from the single float input through one node after another to the single output; side
// computations that only produce constants (torch's Shape → Gather → Unsqueeze → Concat for
// x.view(x.size(0), -1), Constant nodes) are evaluated here. Supported on the data path:
//
//   Gemm, MatMul (+ Add as its bias)  → dense (W as [units, inputs]; alpha/beta folded in)
//   Relu, Sigmoid, Tanh               → the activation of the preceding dense/conv layer (or a layer)
//   Dropout                           → dropout { keep: 1 − ratio, convention: 'inverted' } (as
//                                       PyTorch trains: predict is then the identity, as ONNX);
//                                       followed by Mul(keep) (thinnet's export of the paper
//                                       convention) → convention 'paper'
//   Mul(x, Where(·, RandomNormalLike(x, mean 1, scale σ), 1))  → gaussianDropout (thinnet's export)
//   Reshape + ReduceMax               → maxout (thinnet's export)
//   Conv, MaxPool                     → conv2d, maxPool2d (pads must be thinnet's 'valid' or 'same')
//   Flatten(axis 1), Reshape to [N, −1] → flatten
//   Transpose (NCHW ↔ NHWC)          → nothing: only the layout bookkeeping below
//   Softmax (last)                    → softmax, loss softmaxCrossEntropy
//   Identity, Cast                    → nothing
//
// Layout: thinnet keeps images channels last. A 4-D input consumed as NCHW (PyTorch) becomes
// inputShape [H, W, C] — the imported model takes NHWC rows (for one channel the same bytes) —
// and conv kernels are converted [F, C, KH, KW] → [F, KH, KW, C]. Where an NCHW tensor is
// flattened, ONNX's order is (C, H, W) and thinnet's (H, W, C): the next dense layer's columns
// are permuted so that the model computes the same function.
import type { LayerSpec } from '../../layers/types.js';
import { outputSize } from '../../layers/conv.js';
import type { Loss } from '../../model/network.js';
import { plan } from '../../model/network.js';
import { checkConfig, Sequential } from '../../model/sequential.js';
import { runtime } from '../../wasm/runtime.js';
import { decode, OnnxFormatError } from './reader.js';
import { Model, DataType, type AttributeProto, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from './schema.js';
import { floatTensor, intTensor } from './tensors.js';
import { padsOf } from './pads.js';

export interface LoadOnnxOptions {
  /** The model's seed (dropout masks of fit and Monte-Carlo prediction). Default 0. */
  seed?: number;
  /**
   * The loss of the model. Default: 'softmaxCrossEntropy' when the graph ends in Softmax
   * (predict returns the probabilities, as the graph), else 'meanSquaredError' (predict returns
   * the graph's raw outputs, e.g. a PyTorch classifier's logits; compile({ loss:
   * 'softmaxCrossEntropy' }) then fine-tunes it as a classifier).
   */
  loss?: Loss;
}

/** What an ONNX graph becomes: a config and the weights of its layers. */
export interface ImportPlan {
  inputShape: number[];
  specs: LayerSpec[];
  weights: Array<{ layer: number; kernel: Float32Array; bias?: Float32Array }>;
  endsInSoftmax: boolean;
  opset: number;
}

type Layout = 'flat' | 'nhwc' | 'nchw';

/** Ops that do not depend on the layout of their input. */
const ELEMENTWISE = new Set(['Identity', 'Cast', 'Relu', 'Sigmoid', 'Tanh', 'Dropout', 'Mul', 'RandomNormalLike']);

const SUPPORTED = 'Gemm, MatMul(+Add), Conv, MaxPool, Relu, Sigmoid, Tanh, Dropout, Flatten, Reshape, Transpose, Softmax, Identity';

/** A constant value known at import time: float or integer data (integers may be the symbolic batch size, null). */
type Const =
  | { kind: 'float'; dims: number[]; data: Float32Array }
  | { kind: 'int'; dims: number[]; data: Array<number | null> }
  | { kind: 'noise'; mean: number; scale: number }
  | { kind: 'gaussian'; sigma: number };

function fail(msg: string): never {
  throw new Error(`thinnet.loadOnnx: ${msg}`);
}

function nodeName(n: NodeProto, i: number): string {
  return n.name ? `'${n.name}'` : `#${i}`;
}

function attrs(n: NodeProto): Map<string, AttributeProto> {
  return new Map((n.attribute ?? []).map((a) => [a.name ?? '', a]));
}

function attrInt(a: Map<string, AttributeProto>, name: string, dflt: number): number {
  const v = a.get(name);
  return v?.i ?? dflt;
}

function attrInts(a: Map<string, AttributeProto>, name: string): number[] | undefined {
  return a.get(name)?.ints;
}

function same(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

class Importer {
  private readonly initializers = new Map<string, TensorProto>();
  private readonly consts = new Map<string, Const>();
  private readonly consumers = new Map<string, number>();
  readonly specs: LayerSpec[] = [];
  readonly weights = new Map<number, { kernel: Float32Array; bias?: Float32Array }>();
  /** The data tensor, its layout in the graph, thinnet's shape of one example. */
  private cur: string;
  private layout: Layout;
  private shape: number[];
  inputShape: number[];
  /**
   * A 4-D input is taken as NCHW until the graph shows otherwise: a Transpose (0, 3, 1, 2) before
   * any op that depends on the layout (Conv, MaxPool, Flatten, …) means it was NHWC (thinnet's
   * export, with its dropout in front). Only elementwise ops may come before that.
   */
  private layoutOpen = false;
  private rawDims: number[] = [];
  /** cur right after the last spec was added: a following op may merge into that spec (activation, bias, weight scaling). */
  private afterSpec = '';
  /** Set when an NCHW tensor was flattened: thinnet column j (H, W, C order) holds ONNX column colPerm[j] (C, H, W order). */
  private colPerm: Int32Array | undefined;
  /** A Reshape that split the last axis into groups for a maxout: [axis of the pieces, pieces]. */
  private maxoutSplit: { axis: number; pieces: number } | undefined;
  endsInSoftmax = false;
  private ended = false;

  constructor(private readonly g: GraphProto, readonly opset: number, fromThinnet: boolean) {
    for (const t of g.initializer ?? []) this.initializers.set(t.name ?? '', t);
    for (const n of g.node ?? []) for (const i of n.input ?? []) if (i) this.consumers.set(i, (this.consumers.get(i) ?? 0) + 1);
    const data = (g.input ?? []).filter((v) => !this.initializers.has(v.name ?? '') && v.type?.tensor_type?.elem_type !== DataType.BOOL);
    if (data.length !== 1) {
      fail(`the graph has ${data.length} data inputs (${data.map((v) => `'${v.name}'`).join(', ') || 'none'}); thinnet imports models with one float input`);
    }
    const input = data[0];
    const tt = input.type?.tensor_type;
    if (tt?.elem_type !== DataType.FLOAT) fail(`the input '${input.name}' is not float32`);
    const dims = (tt.shape?.dim ?? []).map((d, k) => {
      if (k === 0) return 0; // the batch size, whatever it is
      if (d.dim_value === undefined || d.dim_value < 1) fail(`dimension ${k} of the input '${input.name}' is ${d.dim_param ? `symbolic ('${d.dim_param}')` : 'unknown'}; thinnet needs the shape of one example`);
      return d.dim_value;
    }).slice(1);
    this.cur = input.name ?? '';
    if (dims.length === 1) {
      this.layout = 'flat';
      this.shape = dims;
    } else if (dims.length === 3 && fromThinnet) {
      this.layout = 'nhwc'; // thinnet's export: the input is thinnet's rows, channels last
      this.shape = dims;
    } else if (dims.length === 3) {
      // NCHW as PyTorch, unless the graph transposes it from NHWC first (see layoutOpen)
      this.layout = 'nchw';
      this.shape = [dims[1], dims[2], dims[0]];
      this.layoutOpen = true;
      this.rawDims = dims;
    } else if (dims.length === 2) {
      this.layout = 'nhwc'; // rows of a 2-D example: flattening keeps their order
      this.shape = dims;
    } else {
      fail(`the input '${input.name}' has rank ${dims.length + 1}; thinnet imports [N, features] and [N, C, H, W] inputs`);
    }
    this.inputShape = [...this.shape];
  }

  // ---- constants -----------------------------------------------------------------------------

  private constant(name: string, what: string): Const | undefined {
    const c = this.consts.get(name);
    if (c) return c;
    const t = this.initializers.get(name);
    if (!t) return undefined;
    const v = this.tensorConst(t, `${what} '${name}'`);
    this.consts.set(name, v);
    return v;
  }

  private tensorConst(t: TensorProto, what: string): Const {
    try {
      return t.data_type === DataType.FLOAT || t.data_type === DataType.DOUBLE ? { kind: 'float', ...floatTensor(t, what) } : { kind: 'int', ...intTensor(t, what) };
    } catch (e) {
      return fail((e as Error).message);
    }
  }

  private floatConst(name: string | undefined, where: string): { dims: number[]; data: Float32Array } {
    const c = name ? this.constant(name, 'initializer') : undefined;
    if (!c || c.kind !== 'float') fail(`${where}: input '${name}' must be a constant float tensor (an initializer)`);
    return c;
  }

  private intConst(name: string | undefined, where: string): Array<number | null> {
    const c = name ? this.constant(name, 'initializer') : undefined;
    if (!c || c.kind !== 'int') fail(`${where}: input '${name}' must be a constant integer tensor`);
    return c.data;
  }

  /** Nodes off the data path: they compute constants. */
  private constNode(n: NodeProto, where: string): void {
    const a = attrs(n), ins = n.input ?? [], out = (n.output ?? [])[0] ?? '';
    const op = n.op_type;
    const intsOf = (name: string) => this.intConst(name, where);
    switch (op) {
      case 'Constant': {
        const t = a.get('value')?.t;
        if (t) this.consts.set(out, this.tensorConst(t, `${where}'s value`));
        else if (a.has('value_float')) this.consts.set(out, { kind: 'float', dims: [], data: new Float32Array([a.get('value_float')!.f ?? 0]) });
        else if (a.has('value_floats')) this.consts.set(out, { kind: 'float', dims: [a.get('value_floats')!.floats!.length], data: Float32Array.from(a.get('value_floats')!.floats!) });
        else if (a.has('value_int')) this.consts.set(out, { kind: 'int', dims: [], data: [a.get('value_int')!.i ?? 0] });
        else if (a.has('value_ints')) this.consts.set(out, { kind: 'int', dims: [a.get('value_ints')!.ints!.length], data: [...a.get('value_ints')!.ints!] });
        else fail(`${where}: a Constant without a value thinnet reads`);
        return;
      }
      case 'Gather': {
        const data = intsOf(ins[0]), idx = intsOf(ins[1]);
        if (attrInt(a, 'axis', 0) !== 0) fail(`${where}: Gather on axis ≠ 0 of a shape`);
        const picked = idx.map((i) => {
          const k = i === null ? NaN : i < 0 ? data.length + i : i;
          if (!(k >= 0 && k < data.length)) fail(`${where}: Gather index ${i} out of range`);
          return data[k];
        });
        const c = this.consts.get(ins[1]) ?? this.constant(ins[1], 'initializer');
        this.consts.set(out, { kind: 'int', dims: c && c.kind === 'int' ? c.dims : [picked.length], data: picked });
        return;
      }
      case 'Unsqueeze': case 'Squeeze': case 'Cast': case 'Identity': {
        const c = this.consts.get(ins[0]) ?? this.constant(ins[0], 'initializer');
        if (!c || (c.kind !== 'int' && c.kind !== 'float')) fail(`${where}: ${op} of a value thinnet cannot compute`);
        if (op === 'Cast' && c.kind === 'float') fail(`${where}: Cast of a float constant`);
        const dims = op === 'Unsqueeze' ? (c.dims.length === 0 ? [1] : [...c.dims]) : op === 'Squeeze' ? c.dims.filter((d) => d !== 1) : c.dims;
        this.consts.set(out, { ...c, dims } as Const);
        return;
      }
      case 'Concat': {
        const parts = ins.map((i) => intsOf(i));
        const all = parts.flat();
        this.consts.set(out, { kind: 'int', dims: [all.length], data: all });
        return;
      }
      case 'Where': {
        // thinnet's Gaussian dropout: Where(training_mode, RandomNormalLike(x), 1)
        const noise = this.consts.get(ins[1]), one = this.constant(ins[2], 'initializer');
        if (noise?.kind === 'noise' && noise.mean === 1 && one?.kind === 'float' && one.data.length === 1 && one.data[0] === 1) {
          this.consts.set(out, { kind: 'gaussian', sigma: noise.scale });
          return;
        }
        return fail(`unsupported op 'Where' (node ${where.replace(/^node /, '')}) except in thinnet's Gaussian dropout pattern`);
      }
      default:
        fail(`unsupported op '${op}' (${where}); thinnet imports ${SUPPORTED}`);
    }
  }

  // ---- the data path ---------------------------------------------------------------------------

  private push(spec: LayerSpec, weights?: { kernel: Float32Array; bias?: Float32Array }): void {
    if (weights) this.weights.set(this.specs.length, weights);
    this.specs.push(spec);
  }

  private lastSpec(type?: string): LayerSpec | undefined {
    const s = this.specs[this.specs.length - 1];
    return s && this.afterSpec === this.cur && (type === undefined || s.type === type) ? s : undefined;
  }

  private flatSize(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  private flatten(where: string): void {
    if (this.layout === 'flat') return;
    if (this.colPerm) fail(`${where}: flattening twice`);
    if (this.layout === 'nchw') {
      const [H, W, C] = this.shape;
      if (C > 1) { // ONNX column (c·H + h)·W + w is thinnet column (h·W + w)·C + c
        const perm = new Int32Array(H * W * C);
        for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) perm[(h * W + w) * C + c] = (c * H + h) * W + w;
        this.colPerm = perm;
      }
    }
    this.push({ type: 'flatten' });
    this.layout = 'flat';
    this.shape = [this.flatSize()];
  }

  /** A dense layer from W as [in, out] (transposed = false) or [out, in]. */
  private dense(w: { dims: number[]; data: Float32Array }, outIn: boolean, alpha: number, where: string): void {
    if (this.layout !== 'flat') fail(`${where}: a matrix product on a ${this.shape.length}-D tensor (flatten it first)`);
    if (w.dims.length !== 2) fail(`${where}: the weight has shape [${w.dims.join(', ')}], not a matrix`);
    const [units, inputs] = outIn ? w.dims : [w.dims[1], w.dims[0]];
    if (inputs !== this.shape[0]) fail(`${where}: the weight takes ${inputs} inputs but the tensor has ${this.shape[0]} features`);
    const perm = this.colPerm;
    let kernel: Float32Array;
    if (outIn && !perm && alpha === 1) {
      kernel = w.data; // already thinnet's [units, inputs] (Gemm transB = 1, as PyTorch's Linear): a fresh copy of the file's data
    } else {
      kernel = new Float32Array(units * inputs);
      for (let o = 0; o < units; o++) {
        const row = o * inputs;
        if (outIn) for (let j = 0; j < inputs; j++) kernel[row + j] = alpha * w.data[row + (perm ? perm[j] : j)];
        else for (let j = 0; j < inputs; j++) kernel[row + j] = alpha * w.data[(perm ? perm[j] : j) * units + o];
      }
    }
    this.colPerm = undefined;
    this.push({ type: 'dense', units, activation: 'linear', useBias: false }, { kernel });
    this.shape = [units];
  }

  private bias(spec: LayerSpec, b: { dims: number[]; data: Float32Array }, scale: number, where: string): void {
    const units = spec.units as number;
    const n = b.data.length;
    if (!(n === units || n === 1) || b.dims.filter((d) => d !== 1).length > 1) fail(`${where}: a bias of shape [${b.dims.join(', ')}] for ${units} units`);
    const bias = new Float32Array(units);
    for (let o = 0; o < units; o++) bias[o] = scale * b.data[n === 1 ? 0 : o];
    this.weights.get(this.specs.length - 1)!.bias = bias;
    delete spec.useBias;
  }

  private activation(name: string): void {
    const s = this.lastSpec();
    if (s && (s.type === 'dense' || s.type === 'conv2d') && s.activation === 'linear') s.activation = name;
    else this.push({ type: 'activation', activation: name });
  }

  private conv(n: NodeProto, where: string): void {
    if (this.layout !== 'nchw') fail(`${where}: Conv on a ${this.layout === 'flat' ? 'flat' : 'NHWC'} tensor (ONNX's Conv takes NCHW)`);
    const a = attrs(n), ins = n.input ?? [];
    const w = this.floatConst(ins[1], where);
    if (w.dims.length !== 4) fail(`${where}: only 2-D convolutions (the weight is [${w.dims.join(', ')}])`);
    const [F, C, KH, KW] = w.dims;
    const [H, W, C0] = this.shape;
    if (C !== C0) fail(`${where}: the kernel takes ${C} channels, the tensor has ${C0}`);
    if (attrInt(a, 'group', 1) !== 1) fail(`${where}: grouped convolution (group ${attrInt(a, 'group', 1)}) is not supported`);
    if ((attrInts(a, 'dilations') ?? [1, 1]).some((d) => d !== 1)) fail(`${where}: dilated convolution is not supported`);
    const ks = attrInts(a, 'kernel_shape');
    if (ks && !same(ks, [KH, KW])) fail(`${where}: kernel_shape [${ks.join(', ')}] disagrees with the weight [${w.dims.join(', ')}]`);
    const strides = (attrInts(a, 'strides') ?? [1, 1]) as [number, number];
    const padding = this.padding(a, [KH, KW], strides, where);
    const kernel = new Float32Array(w.data.length); // [F, C, KH, KW] → [F, KH, KW, C]
    for (let f = 0; f < F; f++) for (let c = 0; c < C; c++) for (let y = 0; y < KH; y++) for (let x = 0; x < KW; x++) {
      kernel[((f * KH + y) * KW + x) * C + c] = w.data[((f * C + c) * KH + y) * KW + x];
    }
    let bias: Float32Array | undefined;
    if (ins[2]) {
      const b = this.floatConst(ins[2], where);
      if (b.data.length !== F) fail(`${where}: a bias of ${b.data.length} values for ${F} filters`);
      bias = b.data.slice();
    }
    const spec: LayerSpec = { type: 'conv2d', filters: F, kernelSize: [KH, KW], strides, padding, activation: 'linear' };
    if (!bias) spec.useBias = false;
    this.push(spec, { kernel, bias });
    this.shape = [outputSize(H, KH, strides[0], padding).out, outputSize(W, KW, strides[1], padding).out, F];
  }

  /** 'valid' or 'same' from ONNX pads / auto_pad, or an error naming the node. */
  private padding(a: Map<string, AttributeProto>, k: [number, number], s: [number, number], where: string): 'valid' | 'same' {
    const auto = a.get('auto_pad')?.s ? new TextDecoder().decode(a.get('auto_pad')!.s) : 'NOTSET';
    if (auto === 'VALID') return 'valid';
    if (auto === 'SAME_UPPER') return 'same';
    const pads = auto === 'NOTSET' ? attrInts(a, 'pads') ?? [0, 0, 0, 0] : undefined;
    if (pads && same(pads, padsOf(this.shape, k, s, 'valid'))) return 'valid';
    const wantSame = padsOf(this.shape, k, s, 'same');
    if (pads && same(pads, wantSame)) return 'same';
    if (auto === 'SAME_LOWER' && same(wantSame.slice(0, 2), wantSame.slice(2))) return 'same';
    return fail(`${where}: padding ${pads ? `[${pads.join(', ')}]` : auto} on a ${this.shape[0]}×${this.shape[1]} input is neither thinnet's 'valid' [0, 0, 0, 0] nor 'same' [${wantSame.join(', ')}] (TensorFlow's rule: any extra row/column at the bottom/right)`);
  }

  private maxPool(n: NodeProto, where: string): void {
    if (this.layout !== 'nchw') fail(`${where}: MaxPool on a ${this.layout === 'flat' ? 'flat' : 'NHWC'} tensor (ONNX's MaxPool takes NCHW)`);
    const a = attrs(n);
    const k = attrInts(a, 'kernel_shape');
    if (!k || k.length !== 2) fail(`${where}: only 2-D max-pooling (kernel_shape [${k?.join(', ')}])`);
    if ((attrInts(a, 'dilations') ?? [1, 1]).some((d) => d !== 1)) fail(`${where}: dilated pooling is not supported`);
    if (attrInt(a, 'storage_order', 0) !== 0) fail(`${where}: storage_order 1 is not supported`);
    if ((n.output ?? [])[1] && this.consumers.has(n.output![1])) fail(`${where}: the indices output of MaxPool is used; thinnet does not provide it`);
    const strides = (attrInts(a, 'strides') ?? [1, 1]) as [number, number];
    const [H, W, C] = this.shape;
    const padding = this.padding(a, k as [number, number], strides, where);
    const v = outputSize(H, k[0], strides[0], padding), h = outputSize(W, k[1], strides[1], padding);
    if (attrInt(a, 'ceil_mode', 0) !== 0) {
      // ceil_mode changes the output only where a window would start past the padded input
      const pads = padsOf(this.shape, k as [number, number], strides, padding);
      const ceilOut = (size: number, kk: number, ss: number, p: number) => Math.ceil((size + p - kk) / ss) + 1;
      if (ceilOut(H, k[0], strides[0], pads[0] + pads[2]) !== v.out || ceilOut(W, k[1], strides[1], pads[1] + pads[3]) !== h.out) {
        fail(`${where}: ceil_mode 1 changes the output size here; thinnet pools with floor`);
      }
    }
    this.push({ type: 'maxPool2d', poolSize: [k[0], k[1]], strides, padding });
    this.shape = [v.out, h.out, C];
  }

  private reshape(n: NodeProto, where: string): void {
    const target = this.intConst((n.input ?? [])[1], where);
    const total = this.flatSize();
    // [N, −1] / [N, features] / [0, −1]: a flatten
    const batchLike = (d: number | null) => d === null || d === -1 || d === 0;
    if (target.length === 2 && batchLike(target[0]) && (target[1] === -1 || target[1] === total)) {
      this.flatten(where);
      return;
    }
    // thinnet's maxout: the last thinnet axis split into [groups, pieces] (flat: [−1, u, k]; NCHW: [−1, C/k, k, H, W])
    if (this.layout === 'flat' && target.length === 3 && batchLike(target[0]) && target[1]! * target[2]! === total) {
      this.maxoutSplit = { axis: 2, pieces: target[2]! };
      return;
    }
    if (this.layout === 'nchw' && target.length === 5 && batchLike(target[0]) && target[1]! * target[2]! === this.shape[2] &&
      target[3] === this.shape[0] && target[4] === this.shape[1]) {
      this.maxoutSplit = { axis: 2, pieces: target[2]! };
      return;
    }
    fail(`${where}: Reshape to [${target.map((d) => d ?? 'N').join(', ')}] is not supported (only flattening to [N, ${total}])`);
  }

  private reduceMax(n: NodeProto, where: string): void {
    const a = attrs(n);
    const axes = attrInts(a, 'axes') ?? ((n.input ?? [])[1] ? this.intConst(n.input![1], where) as number[] : undefined);
    const split = this.maxoutSplit;
    if (!split || !axes || axes.length !== 1 || axes[0] !== split.axis || attrInt(a, 'keepdims', 1) !== 0) {
      fail(`${where}: ReduceMax is supported only as a maxout (after a Reshape that splits the units into pieces)`);
    }
    this.maxoutSplit = undefined;
    const k = split.pieces;
    const s = this.lastSpec();
    if (s && (s.type === 'dense' || s.type === 'conv2d') && s.activation === 'linear') {
      s.activation = 'maxout';
      s.pieces = k;
      if (s.type === 'dense') s.units = (s.units as number) / k; else s.filters = (s.filters as number) / k;
    } else {
      this.push({ type: 'activation', activation: 'maxout', pieces: k });
    }
    this.shape = this.layout === 'flat' ? [this.shape[0] / k] : [this.shape[0], this.shape[1], this.shape[2] / k];
  }

  /** One node of the data path; returns whether the data tensor moves to the node's output. */
  private dataNode(n: NodeProto, where: string): boolean {
    const a = attrs(n), ins = n.input ?? [], op = n.op_type ?? '';
    const other = (name: string | undefined) => ins.find((i) => i !== this.cur) ?? name;
    if (this.ended && op !== 'Identity') fail(`${where}: '${op}' after the Softmax; Softmax is supported only as the last op`);
    if (this.maxoutSplit && op !== 'ReduceMax') fail(`${where}: '${op}' after a Reshape into pieces; expected ReduceMax (maxout)`);
    if (this.layoutOpen) {
      const perm = attrInts(a, 'perm') ?? [];
      if (op === 'Transpose' && same(perm, [0, 3, 1, 2])) { // the input was NHWC: thinnet's own layout
        this.layoutOpen = false;
        this.shape = [...this.rawDims];
        this.inputShape = [...this.rawDims];
        return true; // now NCHW
      }
      if (!ELEMENTWISE.has(op)) this.layoutOpen = false;
    }
    switch (op) {
      case 'Identity': case 'Cast':
        return true;
      case 'Shape': { // for x.view(x.size(0), −1): the symbolic batch size, then the example's dims as the graph has them
        const dims = this.layout === 'nchw' ? [this.shape[2], this.shape[0], this.shape[1]] : this.shape;
        this.consts.set((n.output ?? [])[0] ?? '', { kind: 'int', dims: [dims.length + 1], data: [null, ...dims] });
        return false;
      }
      case 'RandomNormalLike':
        this.consts.set((n.output ?? [])[0] ?? '', { kind: 'noise', mean: a.get('mean')?.f ?? 0, scale: a.get('scale')?.f ?? 1 });
        return false;
      case 'Gemm': {
        if (attrInt(a, 'transA', 0) !== 0) fail(`${where}: Gemm with transA = 1 is not supported`);
        if (ins[0] !== this.cur) fail(`${where}: the data must be Gemm's first input`);
        const alpha = a.get('alpha')?.f ?? 1, beta = a.get('beta')?.f ?? 1;
        this.dense(this.floatConst(ins[1], where), attrInt(a, 'transB', 0) === 1, alpha, where);
        const spec = this.specs[this.specs.length - 1];
        if (ins[2]) this.bias(spec, this.floatConst(ins[2], where), beta, where);
        return true;
      }
      case 'MatMul':
        if (ins[0] !== this.cur) fail(`${where}: the data must be MatMul's first input`);
        this.dense(this.floatConst(ins[1], where), false, 1, where);
        return true;
      case 'Add': {
        const s = this.lastSpec('dense');
        if (!s || s.useBias !== false) fail(`${where}: Add is supported only as the bias of a MatMul`);
        this.bias(s, this.floatConst(other(undefined), where), 1, where);
        return true;
      }
      case 'Relu': this.activation('relu'); return true;
      case 'Sigmoid': this.activation('sigmoid'); return true;
      case 'Tanh': this.activation('tanh'); return true;
      case 'Dropout': {
        let ratio = this.opset < 12 ? a.get('ratio')?.f ?? 0.5 : 0.5;
        if (ins[1]) {
          const r = this.floatConst(ins[1], where);
          if (r.data.length !== 1) fail(`${where}: Dropout's ratio must be a scalar`);
          ratio = r.data[0];
        }
        if (!(ratio >= 0 && ratio < 1)) fail(`${where}: Dropout ratio ${ratio} outside [0, 1)`);
        if ((n.output ?? [])[1] && this.consumers.has(n.output![1])) fail(`${where}: Dropout's mask output is used; thinnet does not provide it`);
        this.push({ type: 'dropout', keep: Math.fround(1 - ratio), convention: 'inverted' });
        return true;
      }
      case 'Mul': {
        const c = this.consts.get(other('') ?? '') ?? this.constant(other('') ?? '', 'initializer');
        if (c?.kind === 'gaussian') {
          this.push({ type: 'gaussianDropout', keep: Math.fround(1 / (1 + c.sigma * c.sigma)) });
          return true;
        }
        const d = this.lastSpec('dropout');
        if (d && c?.kind === 'float' && c.data.length === 1 && d.convention === 'inverted' && Math.abs(c.data[0] - (d.keep as number)) <= 2 ** -16) {
          d.convention = 'paper'; // Dropout then Mul(p): the paper's convention (thinnet's export)
          return true;
        }
        return fail(`${where}: Mul is supported only as the weight scaling of a dropout (Dropout then Mul by its keep probability) or in Gaussian dropout`);
      }
      case 'Flatten':
        if (attrInt(a, 'axis', 1) !== 1) fail(`${where}: Flatten with axis ${attrInt(a, 'axis', 1)} (only axis 1: [N, features])`);
        this.flatten(where);
        return true;
      case 'Reshape':
        this.reshape(n, where);
        return true;
      case 'ReduceMax':
        this.reduceMax(n, where);
        return true;
      case 'Transpose': {
        const perm = attrInts(a, 'perm') ?? [];
        if (this.layout === 'nchw' && same(perm, [0, 2, 3, 1])) this.layout = 'nhwc';
        else if (this.layout === 'nhwc' && this.shape.length === 3 && same(perm, [0, 3, 1, 2])) this.layout = 'nchw';
        else fail(`${where}: Transpose with perm [${perm.join(', ')}] on a ${this.layout.toUpperCase()} tensor (only NCHW ↔ NHWC)`);
        return true;
      }
      case 'Conv': this.conv(n, where); return true;
      case 'MaxPool': this.maxPool(n, where); return true;
      case 'Softmax': {
        if (this.layout !== 'flat' || this.colPerm) fail(`${where}: Softmax on a ${this.shape.length}-D tensor`);
        const axis = attrInt(a, 'axis', this.opset >= 13 ? -1 : 1);
        if (axis !== -1 && axis !== 1) fail(`${where}: Softmax over axis ${axis} of [N, ${this.shape[0]}]`);
        this.activation('softmax'); // merged into the dense layer before it, if any (as tn.layers.dense({ activation: 'softmax' }))
        this.endsInSoftmax = true;
        this.ended = true;
        return true;
      }
      default:
        return fail(`unsupported op '${op}' (${where}); thinnet imports ${SUPPORTED}`);
    }
  }

  run(): void {
    const dead = new Set<string>();
    (this.g.node ?? []).forEach((n, i) => {
      const where = `node ${nodeName(n, i)}`;
      if (n.domain && n.domain !== 'ai.onnx') fail(`unsupported op '${n.op_type}' of domain '${n.domain}' (${where})`);
      const ins = n.input ?? [];
      const stale = ins.find((x) => dead.has(x));
      if (stale) fail(`${where} (${n.op_type}) reads '${stale}', an earlier value of the data path: the graph branches, and thinnet imports chains of layers`);
      if (!ins.includes(this.cur)) {
        this.constNode(n, where);
        return;
      }
      const moves = this.dataNode(n, where);
      if (moves) {
        dead.add(this.cur);
        this.cur = (n.output ?? [])[0] ?? '';
        if (['Gemm', 'MatMul', 'Conv', 'MaxPool', 'Dropout', 'Flatten', 'Reshape', 'Softmax', 'Relu', 'Sigmoid', 'Tanh', 'Mul', 'Add', 'ReduceMax'].includes(n.op_type ?? '')) {
          this.afterSpec = this.cur;
        }
      }
    });
    const outs = this.g.output ?? [];
    if (outs.length !== 1) fail(`the graph has ${outs.length} outputs; thinnet imports models with one`);
    if (outs[0].name !== this.cur) fail(`the graph's output '${outs[0].name}' is not the end of its chain of layers ('${this.cur}')`);
    if (this.maxoutSplit) fail('the graph ends in a Reshape into pieces without its ReduceMax');
    if (this.layout !== 'flat') this.flatten('the output'); // thinnet's outputs are flat rows
    if (this.colPerm) fail('the output is a flattened NCHW tensor, which thinnet would order channels last');
  }
}

/** Pure: the thinnet config and weights of a decoded ONNX model. */
export function planImport(proto: ModelProto): ImportPlan {
  const g = proto.graph;
  if (!g) fail('the file has no graph (is it an ONNX model?)');
  const opsets = (proto.opset_import ?? []).filter((o) => !o.domain || o.domain === 'ai.onnx');
  const opset = opsets.length ? Math.max(...opsets.map((o) => o.version ?? 0)) : 0;
  if (opset < 7) fail(`opset ${opset || '(none)'}: thinnet imports ONNX opset 7 and later`);
  const im = new Importer(g, opset, proto.producer_name === 'thinnet');
  im.run();
  if (!im.specs.some((s) => s.type === 'dense' || s.type === 'conv2d')) fail('the graph has no Gemm, MatMul or Conv: nothing to import');
  return {
    inputShape: im.inputShape, specs: im.specs, opset, endsInSoftmax: im.endsInSoftmax,
    weights: [...im.weights].map(([layer, w]) => ({ layer, ...w })),
  };
}

/** Decodes ONNX bytes (protobuf) into a ModelProto, with a clear error for anything malformed. */
export async function decodeOnnx(bytes: Uint8Array): Promise<ModelProto> {
  if (bytes.length === 0) fail('the file is empty');
  try {
    return decode<ModelProto>(bytes, Model);
  } catch (e) {
    if (e instanceof OnnxFormatError) fail(`not a valid ONNX file: ${e.message}`);
    throw e;
  }
}

/** A thinnet model from ONNX bytes. */
export async function onnxToModel(bytes: Uint8Array, options: LoadOnnxOptions = {}): Promise<Sequential> {
  const p = planImport(await decodeOnnx(bytes));
  const loss = options.loss ?? (p.endsInSoftmax ? 'softmaxCrossEntropy' : 'meanSquaredError');
  if (loss === 'meanSquaredError' && p.endsInSoftmax) fail("loss 'meanSquaredError' for a graph that ends in Softmax (use softmaxCrossEntropy)");
  const config = { inputShape: p.inputShape, seed: options.seed ?? 0, layers: p.specs };
  let layout;
  try {
    const { inputShape, specs } = checkConfig(config);
    layout = plan(specs, inputShape);
  } catch (e) {
    return fail(`the graph maps to thinnet layers that do not fit together: ${(e as Error).message}`);
  }
  // As io/load.ts: the weights go straight into the block that becomes the model's parameters
  // (no random initialization to overwrite).
  const rt = runtime();
  const block = rt.heap.alloc(4 * layout.paramCount);
  let model: Sequential | undefined;
  try {
    const byLayer = new Map(p.weights.map((w) => [w.layer, w]));
    let filled = 0;
    for (const l of layout.layers) {
      for (const param of l.params) {
        const w = byLayer.get(l.index);
        const values = param.name === 'kernel' ? w?.kernel : w?.bias;
        if (!values || values.length !== param.size) fail(`internal: layer ${l.index} ${param.name} has ${values?.length} values for ${param.size}`);
        rt.heap.f32(block + 4 * param.offset, param.size).set(values);
        filled += param.size;
      }
    }
    if (filled !== layout.paramCount) fail(`internal: ${filled} of ${layout.paramCount} parameters set`);
    const nonFinite = rt.kernels.count_nonfinite_f32(block, layout.paramCount);
    if (nonFinite > 0) fail(`${nonFinite} of the ${layout.paramCount} weights are NaN or infinite`);
    model = new Sequential(config, { block, paramCount: layout.paramCount });
    model.loss = loss;
    return model;
  } catch (e) {
    if (model) model.dispose(); else rt.heap.free(block);
    throw e;
  }
}
