// The public API, shared by every entry point (Node, browsers, edge runtimes).
export { ready, close, type ReadyOptions, type ReadyInfo } from './runtime.js';
export { Tensor, tensor, zeros, scope, keep, type Shape } from './tensor.js';
export {
  dropout, dropoutBackward, dropoutMask, applyMask, gaussianDropout, gaussianDropoutBackward, quantizeKeep,
  type DropoutOptions, type GaussianDropoutOptions, type DropoutConvention,
} from './ops/dropout.js';
export { memoryInfo } from './info.js';
export type { BuildName, Features } from './backend.js';
