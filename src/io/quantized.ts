// The int8 part of the model file (.tnet version 3, see io/format.ts): what a quantized model
// (model/quantize.ts) adds to the header and the three blocks that replace the weight block,
// written and checked here; format.ts only sizes the blocks, load.ts builds the model.
//
//   header.quantization = { scheme: "int8-dense", activations: "dynamic" | "calibrated",
//     restCount, int8Bytes, scaleCount,
//     layers: [{ layer, kernelOffset, units, inputs, range? }] }  (one per dense layer, in order)
//   block 0  4·restCount   float32: the parameter block without the int8 layers' kernels (every
//                          other parameter, in parameter-block order: biases, conv kernels, …)
//   block 1  int8Bytes     int8: each int8 layer's kernel [units, inputs] row-major, in order,
//                          zero-padded to a multiple of 4 bytes
//   block 2  4·scaleCount  float32: each int8 layer's per-unit scales, in order
// The float kernels are not stored: loading dequantizes the int8 ones (what the model computes
// with), so the file is about a quarter of the float model's and loads bit-exactly.
import type { Layout } from '../model/network.js';
import type { InputRange } from '../layers/int8-dense.js';
import { Int8Dense } from '../layers/int8-dense.js';
import type { QuantizableModel, StoredInt8 } from '../model/quantize.js';

export const INT8_SCHEME = 'int8-dense';
/** Weight levels: the kernels store integers in [−64, 64] (assembly/int8.ts, W_MAX). */
const W_MAX = 64;

interface LayerEntry { layer: number; kernelOffset: number; units: number; inputs: number; range?: [number, number] }

/** The header section and blocks of a quantized model (views of wasm memory where they can be). */
export function int8FileParts(model: Pick<QuantizableModel<unknown>, 'net' | 'rt' | 'quantization'>): { section: Record<string, unknown>; blocks: Uint8Array[] } {
  const net = model.net, h = model.rt.heap;
  const int8 = net.layers.filter((l): l is Int8Dense => l instanceof Int8Dense);
  const kernels = new Set(int8.map((l) => l.kernel.offset));
  const params = net.layers.flatMap((l) => l.params);
  const ordered = [...new Set(params)].sort((a, b) => a.offset - b.offset).filter((p) => !(p.role === 'weight' && kernels.has(p.offset)));
  const restCount = ordered.reduce((a, p) => a + p.size, 0);
  const rest = new Uint8Array(4 * restCount);
  let at = 0;
  for (const p of ordered) { rest.set(h.u8(net.params + 4 * p.offset, 4 * p.size), at); at += 4 * p.size; }
  const qBytes = int8.reduce((a, l) => a + l.weights.units * l.weights.inputs, 0);
  const q = new Uint8Array((qBytes + 3) & ~3);
  const scales = new Uint8Array(4 * int8.reduce((a, l) => a + l.weights.units, 0));
  let qa = 0, sa = 0;
  const layers: LayerEntry[] = int8.map((l) => {
    const w = l.weights;
    q.set(h.u8(w.q, w.units * w.inputs), qa); qa += w.units * w.inputs;
    scales.set(h.u8(w.scale, 4 * w.units), sa); sa += 4 * w.units;
    const e: LayerEntry = { layer: l.index, kernelOffset: l.kernel.offset, units: w.units, inputs: w.inputs };
    if (l.range) e.range = [l.range[0], l.range[1]];
    return e;
  });
  const section = {
    scheme: INT8_SCHEME, activations: model.quantization!.activations,
    restCount, int8Bytes: q.length, scaleCount: scales.length / 4, layers,
  };
  return { section, blocks: [rest, q, scales] };
}

function bad(msg: string): Error {
  return new Error(`thinnet.loadModel: corrupted header (${msg})`);
}

/** The checked int8 plan of a version-3 header against the architecture it describes. */
export function checkInt8Section(header: Record<string, any>, layout: Layout): LayerEntry[] {
  const s = header.quantization;
  if (s.scheme !== INT8_SCHEME) throw bad(`unknown quantization scheme ${JSON.stringify(s.scheme)}`);
  if (s.activations !== 'dynamic' && s.activations !== 'calibrated') throw bad(`unknown activations ${JSON.stringify(s.activations)}`);
  const dense = layout.layers.filter((l) => l.quantizable);
  const L = s.layers;
  if (!Array.isArray(L) || L.length !== dense.length) throw bad(`"quantization.layers" must list the ${dense.length} dense layers of the architecture`);
  let qBytes = 0, scaleCount = 0, kernelCount = 0;
  dense.forEach((l, i) => {
    const e = L[i], k = l.quantizable!.kernel;
    if (!e || e.layer !== l.index || e.kernelOffset !== k.offset || e.units !== k.shape[0] || e.inputs !== k.shape[1]) {
      throw bad(`"quantization.layers"[${i}] does not match dense layer ${l.index} of the architecture`);
    }
    if (s.activations === 'calibrated') {
      const r = e.range;
      if (!Array.isArray(r) || r.length !== 2 || !r.every(Number.isFinite) || !(r[0] <= 0 && r[1] >= 0)) {
        throw bad(`layer ${l.index}: a calibrated layer needs a finite input range [lo ≤ 0, hi ≥ 0], got ${JSON.stringify(r)}`);
      }
    } else if (e.range !== undefined) throw bad(`layer ${l.index}: a dynamic layer has no input range`);
    qBytes += k.size; scaleCount += k.shape[0]; kernelCount += k.size;
  });
  if (s.int8Bytes !== ((qBytes + 3) & ~3)) throw bad(`int8Bytes ${JSON.stringify(s.int8Bytes)}, but the dense kernels hold ${qBytes} weights`);
  if (s.scaleCount !== scaleCount) throw bad(`scaleCount ${JSON.stringify(s.scaleCount)}, but the dense layers have ${scaleCount} units`);
  if (s.restCount !== layout.paramCount - kernelCount) throw bad(`restCount ${JSON.stringify(s.restCount)}, but the architecture has ${layout.paramCount - kernelCount} other parameters`);
  if (header.optimizer !== undefined) throw bad('an int8 model has no optimizer state');
  return L;
}

/**
 * Fills the parameter block at `block` from block 0 (every parameter but the int8 kernels) and
 * returns the int8 layers' stored kernels and scales, checked (levels in [−64, 64], scales finite
 * and ≥ 0).
 */
export function scatterInt8Blocks(model: Pick<QuantizableModel<unknown>, 'rt'>, layout: Layout, entries: LayerEntry[], block: number,
  blocks: Uint8Array[]): StoredInt8[] {
  const h = model.rt.heap;
  const kernels = new Set(entries.map((e) => e.kernelOffset));
  let at = 0;
  for (const p of layout.params) {
    if (p.role === 'weight' && kernels.has(p.offset)) continue;
    h.u8(block + 4 * p.offset, 4 * p.size).set(blocks[0].subarray(at, at + 4 * p.size));
    at += 4 * p.size;
  }
  const q = new Int8Array(blocks[1].buffer, blocks[1].byteOffset, blocks[1].length);
  const scales = new Float32Array(blocks[2].buffer.slice(blocks[2].byteOffset, blocks[2].byteOffset + blocks[2].length));
  let qa = 0, sa = 0;
  return entries.map((e) => {
    const n = e.units * e.inputs;
    for (let i = qa; i < qa + n; i++) {
      if (q[i] < -W_MAX || q[i] > W_MAX) throw new Error(`thinnet.loadModel: layer ${e.layer}'s int8 weight ${i - qa} is ${q[i]}, outside the stored range [−${W_MAX}, ${W_MAX}]: the file is corrupted`);
    }
    const scale = scales.subarray(sa, sa + e.units);
    const badScale = scale.findIndex((v) => !(Number.isFinite(v) && v >= 0));
    if (badScale >= 0) throw new Error(`thinnet.loadModel: layer ${e.layer}'s weight scale ${badScale} is ${scale[badScale]} (scales are finite and ≥ 0): the file is corrupted`);
    const out = { q: blocks[1].subarray(qa, qa + n), scale };
    qa += n; sa += e.units;
    return out;
  });
}

/** The calibrated input ranges of `entries`, by internal layer index of `model`'s network (undefined: dynamic). */
export function rangesOf(model: Pick<QuantizableModel<unknown>, 'net'>, entries: LayerEntry[], activations: string): Map<number, InputRange> | undefined {
  if (activations !== 'calibrated') return undefined;
  const byLayer = new Map(entries.map((e) => [e.kernelOffset, e.range as InputRange]));
  const out = new Map<number, InputRange>();
  model.net.layers.forEach((l, i) => { if (l.quantizable) out.set(i, byLayer.get(l.quantizable.kernel.offset)!); });
  return out;
}
