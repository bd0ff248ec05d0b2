// Loading a model: a file's header is checked against the architecture it describes before any
// wasm memory is allocated (a file may claim anything; its length, parameter count and tensor
// list must agree with the layers its specs build), then the weights are read straight into the
// block that becomes the model's parameter block, checksummed in wasm as they arrive. In strict
// mode (expectedHash) the bytes are also hashed as they arrive (io/hash.ts) and the model is
// refused unless the file is exactly the one hashed.
import { plan, type Layout } from '../model/network.js';
import { toInt8 } from '../model/quantize.js';
import { checkInt8Section, rangesOf, scatterInt8Blocks } from './quantized.js';
import { checkConfig, Sequential } from '../model/sequential.js';
import type { SavedOptimizerState } from '../train/optimizers.js';
import { runtime } from '../wasm/runtime.js';
import { heapChecksum } from './crc32.js';
import { openFileSource } from './files.js';
import { bytesSource, readBlocks, readLayout, type ByteSource, type FileLayout } from './format.js';
import { checkHash, hashingSource, incrementalSha256, sha256Hex, type Sha256 } from './hash.js';

export interface LoadOptions {
  /** Accept NaN or ±Infinity among the weights (default false: such a file is an error). */
  allowNonFinite?: boolean;
  /**
   * Strict mode: the SHA-256 of the whole file (64 hex digits, as model.contentHash() or
   * `sha256sum` give it). A file with any other content — changed weights, header or checksum —
   * is refused with an error, and nothing of it is kept.
   */
  expectedHash?: string;
}

const OPTIONS = ['allowNonFinite', 'expectedHash'];

function bad(msg: string): Error {
  return new Error(`thinnet.loadModel: ${msg}`);
}

/** The architecture's parameter count, and the header's tensor list checked against it (and a version-3 file's int8 section). */
function checkArchitecture(layout: FileLayout): LayerEntries | undefined {
  const { header } = layout;
  const c = header.config;
  let params, layers, planned;
  try {
    const { inputShape, specs } = checkConfig(c); // the constructor's checks, without allocating
    planned = plan(specs, inputShape);
    ({ params, layers } = planned);
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
  return layout.version === 3 ? { entries: checkInt8Section(header, planned), planned } : undefined;
}

type LayerEntries = { entries: ReturnType<typeof checkInt8Section>; planned: Layout };

/** A version-3 (int8) file: its three blocks read and checked, the parameter block filled, the dense layers made int8. */
function decodeInt8(src: ByteSource, layout: FileLayout, int8: LayerEntries, options: LoadOptions, verify?: () => void): Sequential {
  const { header } = layout;
  const P = header.paramCount as number;
  const rt = runtime();
  const parts = layout.blocks.map((n) => new Uint8Array(n));
  try {
    readBlocks(src, layout, parts, heapChecksum(rt));
  } catch (e) {
    throw bad((e as Error).message.replace(/^thinnet\.loadModel: /, ''));
  }
  verify?.();
  const block = rt.heap.alloc(4 * P);
  let model: Sequential | undefined;
  try {
    const stored = scatterInt8Blocks({ rt }, int8.planned, int8.entries, block, parts);
    if (!options.allowNonFinite) {
      const n = new Float32Array(parts[0].buffer).filter((v) => !Number.isFinite(v)).length;
      if (n > 0) throw bad(`${n} of the float weights are NaN or infinite (pass { allowNonFinite: true } to load them anyway)`);
    }
    model = new Sequential(header.config, { block, paramCount: P });
    toInt8(model, rangesOf(model, int8.entries, header.quantization.activations), stored);
    return withTrainingState(model, header);
  } catch (e) {
    if (model) model.dispose(); else rt.heap.free(block);
    throw e;
  }
}

/** The header's loss and counters on a loaded model (evaluate / predict / a later compile() without a loss use the loss). */
function withTrainingState(model: Sequential, header: { loss?: Sequential['loss']; step?: number; epoch?: number }): Sequential {
  if (header.loss !== undefined) model.loss = header.loss;
  model.step = header.step ?? 0;
  model.epoch = header.epoch ?? 0;
  return model;
}

/** `verify` runs once every byte has been read, before the weights are checked or used. */
function decode(src: ByteSource, options: LoadOptions, verify?: () => void): Sequential {
  let layout: FileLayout;
  try {
    layout = readLayout(src);
  } catch (e) {
    throw bad((e as Error).message);
  }
  const int8 = checkArchitecture(layout);
  if (int8) return decodeInt8(src, layout, int8, options, verify);
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
    verify?.();
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
    return withTrainingState(model, header);
  } catch (e) {
    if (model) model.dispose(); else rt.heap.free(block);
    throw e;
  }
}

/** @internal A model from bytes. */
export function decodeModel(input: Uint8Array | ArrayBuffer, options: LoadOptions = {}): Sequential {
  return decode(bytesSource(input instanceof Uint8Array ? input : new Uint8Array(input)), options);
}

function checkOptions(options: unknown): LoadOptions & { expectedHash?: string } {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError('thinnet.loadModel: options must be an object');
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    // a misspelt expectedHash must not turn strict mode off silently
    if (!OPTIONS.includes(k)) throw new TypeError(`thinnet.loadModel: unknown option '${k}' (options: ${OPTIONS.join(', ')})`);
  }
  if (o.allowNonFinite !== undefined && typeof o.allowNonFinite !== 'boolean') throw new TypeError('thinnet.loadModel: allowNonFinite must be a boolean');
  const expectedHash = o.expectedHash === undefined ? undefined : checkHash('loadModel', 'expectedHash', o.expectedHash);
  return { allowNonFinite: o.allowNonFinite as boolean | undefined, expectedHash };
}

function hashMismatch(got: string, want: string): Error {
  return bad(`the file's SHA-256 is ${got}, not the expected ${want}: it is not the file that was hashed (changed or replaced)`);
}

/** Hashes what the loader did not read, and returns the file's hash (undefined if it cannot be read). */
function hashRest(src: ByteSource & { hashedBytes(): number }, hash: Sha256): string | undefined {
  try {
    const piece = new Uint8Array(1 << 20);
    for (let pos = src.hashedBytes(); pos < src.size; pos = src.hashedBytes()) src.read(piece.subarray(0, Math.min(piece.length, src.size - pos)), pos);
    return hash.hex();
  } catch {
    return undefined;
  }
}

/** Loads a model from bytes (anywhere) or from a file path (Node). */
export async function loadModel(source: Uint8Array | ArrayBuffer | string, options: LoadOptions = {}): Promise<Sequential> {
  const o = checkOptions(options);
  if (typeof source !== 'string' && !(source instanceof Uint8Array) && !(source instanceof ArrayBuffer)) {
    throw new TypeError('thinnet.loadModel: source must be a Uint8Array, an ArrayBuffer or a file path');
  }
  const want = o.expectedHash;
  // Node hashes the bytes as the loader reads them; elsewhere a copy is hashed, then decoded.
  const hash = want === undefined ? undefined : await incrementalSha256();
  let src: ByteSource & { close?(): void };
  if (typeof source === 'string') src = await openFileSource('loadModel', source);
  else {
    let bytes = source instanceof Uint8Array ? source : new Uint8Array(source);
    if (want !== undefined && !hash) {
      bytes = bytes.slice(); // the bytes decoded are the bytes hashed, whatever the caller does meanwhile
      const got = await sha256Hex('loadModel', bytes);
      if (got !== want) throw hashMismatch(got, want);
    }
    src = bytesSource(bytes);
  }
  try {
    if (!hash) return decode(src, o);
    const tapped = hashingSource(src, hash);
    let verified = false;
    try {
      return decode(tapped, o, () => {
        verified = true;
        if (tapped.hashedBytes() !== tapped.size) throw bad(`internal error: ${tapped.hashedBytes()} of ${tapped.size} bytes were hashed`);
        const got = hash.hex();
        if (got !== want) throw hashMismatch(got, want!);
      });
    } catch (e) {
      // a file the loader refused before reading it all: in strict mode, say first whether it is
      // the expected file at all (the rest of it is hashed to find out)
      if (!verified) {
        const got = hashRest(tapped, hash);
        if (got !== undefined && got !== want) throw hashMismatch(got, want!);
      }
      throw e;
    }
  } finally {
    src.close?.();
  }
}
