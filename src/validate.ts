// Argument checks shared by the ops: every bad input becomes an error that names the problem,
// before any kernel runs (a kernel never sees a value it could trap or produce NaN on).
import { Tensor } from './tensor.js';

export function checkTensor(op: string, name: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`thinnet.${op}: ${name} must be a thinnet Tensor, got ${describe(t)}`);
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
    throw new RangeError(`thinnet.${op}: keep (the retention probability p) must be a number in (0, 1], got ${describe(keep)}`);
  }
  if (Math.round(keep * 65536) < 1) {
    throw new RangeError(`thinnet.${op}: keep = ${keep} is below 2^-16, the resolution of the mask generator`);
  }
  return keep;
}

/** An integer in [0, 2^32) (seeds, streams, steps). */
export function checkU32(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError(`thinnet.${op}: ${name} must be an integer in [0, 2^32), got ${describe(v)}`);
  }
  return v;
}

export function checkOneOf<T extends string>(op: string, name: string, v: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) {
    throw new RangeError(`thinnet.${op}: ${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(v)}`);
  }
  return v as T;
}

export function checkOptions(op: string, opts: unknown): Record<string, unknown> {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`thinnet.${op}: options must be an object, got ${describe(opts)}`);
  return opts as Record<string, unknown>;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'object' && v !== null) return v.constructor?.name ?? 'object';
  return String(v);
}
