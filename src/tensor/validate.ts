// Argument checks shared by the ops and the model API: every bad input becomes an error that
// names the problem, before any kernel runs (a kernel never sees a value it could trap or produce
// NaN on).
import { Tensor } from './tensor.js';
import { WasmArray } from './wasm-array.js';

export function checkTensor(op: string, name: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`thinnet.${op}: ${name} must be a thinnet Tensor, got ${describeValue(t)}`);
  t.assertLive(op);
  return t;
}

export function checkSameShape(op: string, a: Tensor, aName: string, b: Tensor, bName: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new RangeError(`thinnet.${op}: ${aName} has shape [${a.shape.join(', ')}] but ${bName} has shape [${b.shape.join(', ')}]`);
  }
}

/** The retention probability p: a finite number in (0, 1], representable as a multiple of 2^-16. */
export function checkKeep(op: string, keep: unknown): number {
  if (typeof keep !== 'number' || !Number.isFinite(keep) || keep <= 0 || keep > 1) {
    throw new RangeError(`thinnet.${op}: keep (the retention probability p) must be a number in (0, 1], got ${describeValue(keep)}`);
  }
  if (Math.round(keep * 65536) < 1) {
    throw new RangeError(`thinnet.${op}: keep = ${keep} is below 2^-16, the resolution of the mask generator`);
  }
  return keep;
}

/** An integer in [0, 2^32) (seeds, streams, steps). */
export function checkU32(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError(`thinnet.${op}: ${name} must be an integer in [0, 2^32), got ${describeValue(v)}`);
  }
  return v;
}

export function checkOneOf<T extends string>(op: string, name: string, v: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) {
    throw new RangeError(`thinnet.${op}: ${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describeValue(v)}`);
  }
  return v as T;
}

export function checkOptions(op: string, opts: unknown): Record<string, unknown> {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`thinnet.${op}: options must be an object, got ${describeValue(opts)}`);
  return opts as Record<string, unknown>;
}

/** A value as an error message shows it. */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return JSON.stringify(v);
  if (typeof v === 'object' && v !== null) return v.constructor?.name ?? 'object';
  return String(v);
}

/** Checks x and returns its row count. */
export function checkInputs(op: string, x: unknown, features: number): number {
  if (x instanceof WasmArray) x.assertLive(op); // a data set already in wasm memory (tn.data.toWasm)
  else if (!(x instanceof Float32Array) && !(x instanceof Uint8Array)) {
    throw new TypeError(`thinnet.${op}: x must be a Float32Array or a Uint8Array (N×${features}), or a tn.data.WasmArray, got ${x === null ? 'null' : typeof x === 'object' ? x.constructor?.name : typeof x}`);
  }
  if (x instanceof WasmArray && x.dtype === 'packed' && x.rowLength !== features) {
    throw new RangeError(`thinnet.${op}: x is packed in rows of ${x.rowLength} values, but the model has ${features} input features (pack with rowLength ${features})`);
  }
  if (x.length % features !== 0) {
    throw new RangeError(`thinnet.${op}: x has ${x.length} values, not a multiple of the model's ${features} input features (wrong feature count?)`);
  }
  return x.length / features;
}

/** Checks labels (integers in [0, classes) or one-hot rows) and returns them as Int32Array. */
export function checkLabels(op: string, y: unknown, n: number, classes: number): Int32Array {
  const isArr = Array.isArray(y) || (ArrayBuffer.isView(y) && !(y instanceof DataView));
  if (!isArr) throw new TypeError(`thinnet.${op}: y must be integer labels (Uint8Array, Int32Array, ...) or one-hot Float32Array rows, got ${describeValue(y)}`);
  if (y instanceof BigInt64Array || y instanceof BigUint64Array) {
    throw new TypeError(`thinnet.${op}: y is a ${y.constructor.name}: labels must be numbers (Uint8Array, Int32Array, ...); convert with Int32Array.from(y, Number)`);
  }
  const a = y as ArrayLike<number>;
  const out = new Int32Array(n);
  if (a.length === n * classes && a.length !== n && (a instanceof Float32Array || a instanceof Float64Array)) {
    for (let r = 0; r < n; r++) {
      let hot = -1;
      for (let j = 0; j < classes; j++) {
        const v = a[r * classes + j];
        if (v === 1 && hot < 0) hot = j;
        else if (v !== 0) { hot = -2; break; }
      }
      if (hot < 0) throw new RangeError(`thinnet.${op}: y row ${r} is not one-hot (soft targets are not supported; pass integer labels or one-hot rows)`);
      out[r] = hot;
    }
    return out;
  }
  if (a.length !== n) {
    throw new RangeError(`thinnet.${op}: x has ${n} rows but y has ${a.length} labels (or ${a.length / classes} one-hot rows of ${classes})`);
  }
  for (let r = 0; r < n; r++) {
    const v = a[r];
    if (typeof v !== 'number') {
      throw new TypeError(`thinnet.${op}: label y[${r}] is a ${v === null ? 'null' : typeof v} (${describeValue(v)}), not a number; labels must be integers in [0, ${classes})`);
    }
    if (!Number.isInteger(v) || v < 0 || v >= classes) {
      throw new RangeError(`thinnet.${op}: label y[${r}] = ${v} is out of range; labels must be integers in [0, ${classes})`);
    }
    out[r] = v;
  }
  return out;
}

/**
 * Checks regression / autoencoder targets (N×outputs floats: Float32Array, Float64Array or
 * number[]) and returns them as a Float32Array (the same array when it already is one).
 */
export function checkTargets(op: string, y: unknown, n: number, outputs: number): Float32Array {
  const ok = y instanceof Float32Array || y instanceof Float64Array || Array.isArray(y);
  if (!ok) {
    const got = y === null ? 'null' : typeof y === 'object' ? (y as object).constructor?.name : typeof y;
    const hint = y instanceof Uint8Array ? ' (a Uint8Array would be taken as raw values 0–255, not as pixels scaled to [0, 1]: pass Float32Array.from(y, (v) => v / 255))' : '';
    throw new TypeError(`thinnet.${op}: with loss 'meanSquaredError', y must be float targets N×${outputs} (Float32Array, Float64Array or number[]), got ${got}${hint}`);
  }
  const a = y as ArrayLike<number>;
  if (a.length !== n * outputs) {
    throw new RangeError(`thinnet.${op}: x has ${n} rows, so y (loss 'meanSquaredError') needs ${n} × ${outputs} = ${n * outputs} targets (one row of ${outputs} outputs per example), got ${a.length}` +
      (a.length === n && outputs > 1 ? ' (one value per row: class labels? those need loss softmaxCrossEntropy)' : ''));
  }
  const t = y instanceof Float32Array ? y : Float32Array.from(a);
  for (let i = 0; i < t.length; i++) {
    if (!Number.isFinite(t[i])) {
      throw new RangeError(`thinnet.${op}: target y[${i}] (row ${Math.floor(i / outputs)}, output ${i % outputs}) is ${a[i]}; targets must be finite${Number.isFinite(a[i]) ? ' float32 values' : ''}`);
    }
  }
  return t;
}

export function checkBatch(op: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1 << 20) {
    throw new RangeError(`thinnet.${op}: batchSize must be a positive integer, got ${String(v)}`);
  }
  return v;
}

export function checkCount(op: string, name: string, v: unknown, zeroOk: boolean): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < (zeroOk ? 0 : 1) || v > 1e6) {
    throw new RangeError(`thinnet.${op}: ${name} must be an integer ≥ ${zeroOk ? 0 : 1}, got ${String(v)}`);
  }
  return v;
}
