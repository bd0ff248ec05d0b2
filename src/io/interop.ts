// The `tn.io` namespace: other formats than thinnet's own .tnet (ONNX, safetensors). Nothing
// here loads the ONNX code or node:fs when imported; see io/onnx/index.ts and io/safetensors.ts.
export { toOnnx, saveOnnx, loadOnnx, type LoadOnnxOptions, type OnnxExportOptions } from './onnx/index.js';
export {
  readSafetensors, writeSafetensors, toSafetensors, saveSafetensors, loadSafetensors, safetensorsNames,
  type SafetensorsTensor, type SafetensorsNamingOptions, type LoadSafetensorsOptions,
} from './safetensors.js';
