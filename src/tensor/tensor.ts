// A Tensor is float32 data in wasm memory: a byte pointer, a shape, and a way to free it.
// Tensors are freed explicitly (dispose) or by the scope that made them (scope(fn)).
import { runtime, type Runtime } from '../wasm/runtime.js';

export type Shape = readonly number[];

const scopes: Set<Tensor>[] = [];

/** Checks a shape and returns its element count. */
export function sizeOf(shape: Shape, what = 'shape'): number {
  if (!Array.isArray(shape)) throw new TypeError(`thinnet: ${what} must be an array of sizes, got ${String(shape)}`);
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new RangeError(`thinnet: ${what} [${shape.join(', ')}] has a size that is not a non-negative integer: ${d}`);
    }
    n *= d;
  }
  if (n > 0x3fffffff) throw new RangeError(`thinnet: ${what} [${shape.join(', ')}] has ${n} elements, more than wasm memory holds`);
  return n;
}

export class Tensor {
  readonly dtype = 'float32' as const;
  readonly size: number;
  private ptrValue: number;
  /** Things freed together with this tensor (a dropout mask, say). */
  private attached: Array<{ dispose(): void }> = [];

  /** Use thinnet.tensor() or an op; this allocates uninitialized memory. */
  constructor(readonly shape: Shape, readonly rt: Runtime = runtime()) {
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    this.ptrValue = rt.heap.alloc(this.size * 4);
    scopes[scopes.length - 1]?.add(this);
  }

  /** Byte address of the first element in wasm memory (0 once disposed). */
  get ptr(): number {
    return this.ptrValue;
  }

  get isDisposed(): boolean {
    return this.ptrValue === 0;
  }

  /** A view of the data in wasm memory: valid until the next allocation (memory may grow). */
  view(): Float32Array {
    this.assertLive('view');
    return this.rt.heap.f32(this.ptrValue, this.size);
  }

  /** A copy of the data. */
  toArray(): Float32Array {
    return this.view().slice();
  }

  /** Frees the memory (and anything attached). Safe to call twice. */
  dispose(): void {
    if (this.ptrValue === 0) return;
    for (const a of this.attached) a.dispose();
    this.attached = [];
    this.rt.heap.free(this.ptrValue);
    this.ptrValue = 0;
    for (const s of scopes) s.delete(this);
  }

  /** Ties the lifetime of `thing` to this tensor. */
  attach(thing: { dispose(): void }): void {
    this.attached.push(thing);
  }

  /** Throws a clear error if the tensor was disposed or belongs to a closed runtime. */
  assertLive(op: string): void {
    if (this.ptrValue === 0) throw new Error(`thinnet.${op}: the tensor was disposed`);
    if (this.rt !== runtime()) throw new Error(`thinnet.${op}: the tensor belongs to a runtime that was closed`);
  }

  toString(): string {
    return `Tensor(float32, [${this.shape.join(', ')}])`;
  }
}

/** Creates a tensor holding `values` with the given shape (default: 1-D). */
export function tensor(values: ArrayLike<number>, shape?: Shape): Tensor {
  if (values === null || typeof values !== 'object' || typeof (values as ArrayLike<number>).length !== 'number') {
    throw new TypeError('thinnet.tensor: values must be an array or typed array of numbers');
  }
  const s = shape ?? [values.length];
  const n = sizeOf(s);
  if (n !== values.length) {
    throw new RangeError(`thinnet.tensor: shape [${s.join(', ')}] holds ${n} values but ${values.length} were given`);
  }
  const t = new Tensor(s);
  t.view().set(values);
  return t;
}

/** A tensor of zeros. */
export function zeros(shape: Shape): Tensor {
  const t = new Tensor(shape);
  t.view().fill(0);
  return t;
}

type Kept = Tensor | Tensor[] | Record<string, unknown> | void | undefined | number | string | boolean | null;

function collect(value: unknown, out: Set<Tensor>): void {
  if (value instanceof Tensor) out.add(value);
  else if (Array.isArray(value)) value.forEach((v) => collect(v, out));
  else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    Object.values(value).forEach((v) => collect(v, out));
  }
}

/**
 * Runs fn and disposes every tensor it created except those it returns (directly, in an array
 * or in a plain object). Scopes nest; kept tensors move to the enclosing scope.
 */
export function scope<T extends Kept>(fn: () => T): T {
  const made = new Set<Tensor>();
  scopes.push(made);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of made) t.dispose();
    throw e;
  }
  scopes.pop();
  const keep = new Set<Tensor>();
  collect(result, keep);
  for (const t of made) {
    if (keep.has(t)) scopes[scopes.length - 1]?.add(t);
    else t.dispose();
  }
  return result;
}

/** Removes t from the scopes that would dispose it (it then lives until dispose()). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}
