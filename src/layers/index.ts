// The `layers` namespace: factories returning plain layer specifications (JSON, stored in saved
// models), validated where they are written. Each factory carries its family (registry.ts finds
// every family here), so a new layer family is one file plus its line below.
export { dense, type DenseSpec, type DenseOptions } from './dense.js';
export { dropout, gaussianDropout, type DropoutSpec, type GaussianDropoutSpec } from './dropout.js';
export {
  activation, relu, sigmoid, tanh, linear, softmax, maxout, type ActivationName, type ActivationSpec,
} from './activation.js';
export { conv2d, type Conv2DSpec, type Conv2DOptions, type Padding } from './conv.js';
export { maxPool2d, flatten, type MaxPool2DSpec, type MaxPool2DOptions, type FlattenSpec } from './pool.js';
export type { KernelInitializer } from './params.js';
export type { LayerSpec } from './types.js';
