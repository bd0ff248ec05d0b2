// Loading a model: a file's header is checked against the architecture it describes before any
// wasm memory is allocated (a file may claim anything; its length, parameter count and tensor
// list must agree with the layers its specs build), then the weights are read straight into the
// block that becomes the model's parameter block, checksummed in wasm as they arrive.
import { plan } from '../model/network.js';
import { checkConfig, Sequential } from '../model/sequential.js';
import type { SavedOptimizerState } from '../train/optimizers.js';
import { runtime } from '../wasm/runtime.js';
import { heapChecksum } from './crc32.js';
import { openFileSource } from './files.js';
import { bytesSource, readBlocks, readLayout, type ByteSource, type FileLayout } from './format.js';

export interface LoadOptions {
  /** Accept NaN or ±Infinity among the weights (default false: such a file is an error). */
  allowNonFinite?: boolean;
}

function bad(msg: string): Error {
  return new Error(`thinnet.loadModel: ${msg}`);
}

/** The architecture's parameter count, and the header's tensor list checked against it. */
function checkArchitecture(layout: FileLayout): void {
  const { header } = layout;
  const c = header.config;
  let params, layers;
  try {
    const { inputShape, specs } = checkConfig(c); // the constructor's checks, without allocating
    ({ params, layers } = plan(specs, inputShape));
  } catch (e) {
    throw bad(`the stored architecture is invalid: ${(e as Error).message}`);
  }
  const P = params.reduce((a, p) => a + p.size, 0);
  if (P !== header.paramCount) throw bad(`the stored architecture has ${P} parameters but the file holds ${header.paramCount}`);
  const weights = params.filter((p) => p.role === 'weight').reduce((a, p) => a + p.size, 0);
  if (header.weightCount !== undefined && header.weightCount !== weights) {
    throw bad(`corrupted header (weightCount ${JSON.stringify(header.weightCount)}, but the architecture has ${weights} weights)`);
  }
  if (header.tensors !== undefined) {
    // as Sequential.toBytes lists them: layer by layer, kernel then bias
    const want = layers.flatMap((l) => l.params.map((p) => ({ layer: l.index, p })));
    const t = header.tensors;
    const ok = Array.isArray(t) && t.length === want.length && want.every(({ layer, p }, i) => t[i] && t[i].layer === layer && t[i].name === p.name &&
      t[i].offset === p.offset && Array.isArray(t[i].shape) && t[i].shape.length === p.shape.length && p.shape.every((d, j) => t[i].shape[j] === d));
    if (!ok) throw bad('corrupted header (its "tensors" list does not match the parameters of the stored architecture)');
  }
  if (header.loss !== undefined && header.loss !== 'softmaxCrossEntropy' && header.loss !== 'meanSquaredError') {
    throw bad(`corrupted header (unknown loss ${JSON.stringify(header.loss)})`);
  }
  for (const k of ['step', 'epoch']) {
    if (header[k] !== undefined && (!Number.isSafeInteger(header[k]) || header[k] < 0)) throw bad(`corrupted header (${k} ${JSON.stringify(header[k])})`);
  }
}

function decode(src: ByteSource, options: LoadOptions): Sequential {
  let layout: FileLayout;
  try {
    layout = readLayout(src);
  } catch (e) {
    throw bad((e as Error).message);
  }
  checkArchitecture(layout);
  const { header } = layout;
  const P = header.paramCount as number;
  const rt = runtime();
  const block = rt.heap.alloc(4 * P);
  let model: Sequential | undefined;
  try {
    const state = layout.blocks.length > 1 ? new Uint8Array(layout.blocks[1]) : undefined;
    try {
      readBlocks(src, layout, state ? [rt.heap.u8(block, 4 * P), state] : [rt.heap.u8(block, 4 * P)], heapChecksum(rt));
    } catch (e) {
      throw bad((e as Error).message.replace(/^thinnet\.loadModel: /, ''));
    }
    if (!options.allowNonFinite) {
      const bad0 = rt.kernels.count_nonfinite_f32(block, P);
      if (bad0 > 0) throw bad(`${bad0} of the ${P} weights are NaN or infinite (pass { allowNonFinite: true } to load them anyway)`);
    }
    model = new Sequential(header.config, { block, paramCount: P });
    if (state) {
      const opt = header.optimizer;
      const saved: SavedOptimizerState = { name: opt.name, counters: { ...opt.counters }, slots: [] };
      opt.slots.forEach((name: string, i: number) => saved.slots.push({ name, data: new Float32Array(state.buffer, 4 * P * i, P) }));
      model.savedOptimizer = saved;
    }
    if (header.loss !== undefined) model.loss = header.loss; // evaluate / predict / a later compile() without a loss use it
    model.step = header.step ?? 0;
    model.epoch = header.epoch ?? 0;
    return model;
  } catch (e) {
    if (model) model.dispose(); else rt.heap.free(block);
    throw e;
  }
}

/** @internal A model from bytes. */
export function decodeModel(input: Uint8Array | ArrayBuffer, options: LoadOptions = {}): Sequential {
  return decode(bytesSource(input instanceof Uint8Array ? input : new Uint8Array(input)), options);
}

/** Loads a model from bytes (anywhere) or from a file path (Node). */
export async function loadModel(source: Uint8Array | ArrayBuffer | string, options: LoadOptions = {}): Promise<Sequential> {
  if (options === null || typeof options !== 'object') throw new TypeError('thinnet.loadModel: options must be an object');
  if (options.allowNonFinite !== undefined && typeof options.allowNonFinite !== 'boolean') throw new TypeError('thinnet.loadModel: allowNonFinite must be a boolean');
  if (typeof source === 'string') {
    const file = await openFileSource('loadModel', source);
    try {
      return decode(file, options);
    } finally {
      file.close();
    }
  }
  if (!(source instanceof Uint8Array) && !(source instanceof ArrayBuffer)) {
    throw new TypeError('thinnet.loadModel: source must be a Uint8Array, an ArrayBuffer or a file path');
  }
  return decodeModel(source, options);
}
