// The `analysis` namespace: the paper's analyses that are functions rather than models, in
// float64 (tn.analysis.*).
export { marginalizedDropoutLoss, marginalizedDropoutRidge, type DesignMatrix } from './marginalized.js';
