// The public API, shared by every entry point (Node, browsers, edge runtimes).
export { ready, close, memoryInfo, type ReadyOptions, type ReadyInfo } from './wasm/runtime.js';
export { Tensor, tensor, zeros, scope, keep, type Shape } from './tensor/tensor.js';
export {
  dropout, dropoutBackward, dropoutMask, applyMask, gaussianDropout, gaussianDropoutBackward, quantizeKeep,
  type DropoutOptions, type GaussianDropoutOptions, type DropoutConvention,
} from './ops/dropout.js';
export type { BuildName, Features } from './wasm/backend.js';
export { sequential, Sequential, type SequentialConfig, type CompileOptions, type Loss, type Inputs, type Labels,
  type EvaluateResult, type PredictOptions, type ActivationsOptions, type Uncertainty, type WeightsEntry, type SaveOptions,
  type Quantization, type QuantizeOptions } from './model/sequential.js';
export type { FitOptions, History, EpochLogs, BatchLogs } from './train/fit.js';
export { loadModel, type LoadOptions } from './io/load.js';
export { FORMAT_VERSION } from './io/format.js';
export * as layers from './layers/index.js';
export * as optimizers from './train/optimizers.js';
export * as schedules from './train/schedules.js';
export * as regularizers from './layers/regularizers.js';
export * as data from './data/index.js';
export * as analysis from './analysis/index.js';
// the spec types of every layer family are also in the namespace: tn.layers.DenseSpec, tn.layers.Conv2DSpec, …
export type { LayerSpec, DenseSpec, DropoutSpec, GaussianDropoutSpec, ActivationSpec, ActivationName, KernelInitializer } from './layers/index.js';
export type { KernelRegularizer, ActivityRegularizer, KlSparsity } from './layers/regularizers.js';
export type { Optimizer, SgdOptions, AdamOptions } from './train/optimizers.js';
export type { Schedule, ScheduleLike } from './train/schedules.js';
export { matMul, type MatMulOptions } from './ops/linalg.js';
// The dropout RBM of §8 (CD-1): tn.rbm({ visible, hidden, keep })
export { rbm, Rbm, type RbmConfig, type RbmFitOptions, type RbmHistory } from './model/rbm.js';
// Interop (ONNX, safetensors): tn.io.toOnnx / saveOnnx / loadOnnx, tn.io.toSafetensors / …; docs/INTEROP.md
export * as io from './io/interop.js';
