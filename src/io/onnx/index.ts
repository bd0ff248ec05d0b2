// The public ONNX functions (tn.io.toOnnx, saveOnnx, loadOnnx). The exporter and the importer
// (with the wire codec) are loaded on first call, so importing thinnet costs nothing for them. The byte
// functions run anywhere; the path forms go through io/files.ts, which loads node:fs only when
// called, in Node (elsewhere they fail with a message saying to pass bytes).
import type { Sequential } from '../../model/sequential.js';
import { openFileSource, writeFileAtomic } from '../files.js';
import type { OnnxExportOptions } from './export.js';
import type { LoadOnnxOptions } from './import.js';

export type { LoadOnnxOptions } from './import.js';
export type { OnnxExportOptions } from './export.js';

function checkExportOptions(op: string, options: unknown): OnnxExportOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`thinnet.${op}: options must be an object`);
  for (const k of Object.keys(options)) if (k !== 'trainingModeInput') throw new TypeError(`thinnet.${op}: unknown option '${k}' (options: trainingModeInput)`);
  const t = (options as OnnxExportOptions).trainingModeInput;
  if (t !== undefined && typeof t !== 'boolean') throw new TypeError(`thinnet.${op}: trainingModeInput must be a boolean`);
  return options as OnnxExportOptions;
}

/** The model as an ONNX file (opset 13; see docs/INTEROP.md for the mapping). Same as model.toOnnx(). */
export async function toOnnx(model: Sequential, options: OnnxExportOptions = {}): Promise<Uint8Array> {
  const o = checkExportOptions('io.toOnnx', options);
  if (!model || typeof (model as { getWeights?: unknown }).getWeights !== 'function') throw new TypeError('thinnet.io.toOnnx: model must be a thinnet Sequential model');
  model.assertLive('io.toOnnx');
  const { modelToOnnx } = await import('./export.js');
  return modelToOnnx(model, o);
}

/** Node: writes toOnnx(model) to `path` atomically (temporary file + rename). */
export async function saveOnnx(model: Sequential, path: string, options: OnnxExportOptions = {}): Promise<void> {
  const bytes = await toOnnx(model, options);
  await writeFileAtomic('io.saveOnnx', path, bytes);
}

/** The whole content of a file (Node), read after checking that it is a regular file. */
export async function readWholeFile(op: string, path: string): Promise<Uint8Array> {
  const src = await openFileSource(op, path);
  try {
    const bytes = new Uint8Array(src.size);
    src.read(bytes, 0);
    return bytes;
  } finally {
    src.close();
  }
}

/**
 * A thinnet model from an ONNX model: bytes (anywhere) or a file path (Node). MLPs and conv nets
 * as torch.onnx.export writes them, and thinnet's own export; see docs/INTEROP.md.
 */
export async function loadOnnx(source: Uint8Array | ArrayBuffer | string, options: LoadOnnxOptions = {}): Promise<Sequential> {
  if (options === null || typeof options !== 'object') throw new TypeError('thinnet.loadOnnx: options must be an object');
  for (const k of Object.keys(options)) {
    if (k !== 'seed' && k !== 'loss') throw new TypeError(`thinnet.loadOnnx: unknown option '${k}' (options: seed, loss)`);
  }
  const { seed, loss } = options;
  if (seed !== undefined && (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)) throw new RangeError(`thinnet.loadOnnx: seed must be an integer in [0, 2^32), got ${String(seed)}`);
  if (loss !== undefined && loss !== 'softmaxCrossEntropy' && loss !== 'meanSquaredError') {
    throw new RangeError(`thinnet.loadOnnx: loss must be 'softmaxCrossEntropy' or 'meanSquaredError', got ${JSON.stringify(loss)}`);
  }
  let bytes: Uint8Array;
  if (typeof source === 'string') bytes = await readWholeFile('loadOnnx', source);
  else if (source instanceof Uint8Array) bytes = source;
  else if (source instanceof ArrayBuffer) bytes = new Uint8Array(source);
  else throw new TypeError('thinnet.loadOnnx: source must be a Uint8Array, an ArrayBuffer or a file path');
  const { onnxToModel } = await import('./import.js');
  return onnxToModel(bytes, options);
}
