// What layers with parameters share: the kernel and bias declarations (shape, role, initial
// values from the layer's own fan-in and fan-out), the initializers, max-norm over the rows of a
// kernel, and the checks of the options these layers have in common. Every check names the
// factory (thinnet.layers.<type>) so a spec read from a file fails with the factory's message.
import { MIN_ELEMENTS_PER_THREAD } from '../wasm/runtime.js';
import { checkOneOf, describeValue } from '../tensor/validate.js';
import type { Exec, LayerSpec, Param } from './types.js';

export type KernelInitializer = 'glorotUniform' | 'glorotNormal' | 'heUniform' | 'heNormal' | { normal: number };
const INITIALIZERS = ['glorotUniform', 'glorotNormal', 'heUniform', 'heNormal'] as const;

/** Fills w from `init` for a kernel of the given fans, drawing from rng (uniform in [0, 1)). */
export function fillInit(w: Float32Array, init: KernelInitializer, fanIn: number, fanOut: number, rng: () => number): void {
  const normal = (sigma: number) => {
    for (let i = 0; i < w.length; i++) {
      const u1 = 1 - rng(), u2 = rng();
      w[i] = sigma * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
  };
  const uniform = (limit: number) => {
    for (let i = 0; i < w.length; i++) w[i] = (2 * rng() - 1) * limit;
  };
  if (typeof init === 'object') normal(init.normal);
  else if (init === 'glorotUniform') uniform(Math.sqrt(6 / (fanIn + fanOut)));
  else if (init === 'glorotNormal') normal(Math.sqrt(2 / (fanIn + fanOut)));
  else if (init === 'heUniform') uniform(Math.sqrt(6 / fanIn));
  else normal(Math.sqrt(2 / fanIn));
}

/**
 * A kernel [rows, ...] whose row r holds output r's incoming weights (a dense unit's, a conv
 * filter's): fanIn = the row length, fanOut = rows × (receptive field positions, for conv).
 */
export function kernelParam(shape: number[], fanIn: number, fanOut: number, init: KernelInitializer): Param {
  return {
    name: 'kernel', shape, size: shape.reduce((a, b) => a * b, 1), role: 'weight', offset: 0,
    init: (w, rng) => fillInit(w, init, fanIn, fanOut, rng),
  };
}

/** A bias of n values, initially 0. */
export function biasParam(n: number): Param {
  return { name: 'bias', shape: [n], size: n, role: 'bias', offset: 0, init: (b) => b.fill(0) };
}

/**
 * Max-norm (paper §5.1): every row of `kernel` (rows × cols: a unit's or a filter's incoming
 * weights) is rescaled to norm ≤ c after each update. Rows are independent: split over the pool.
 */
export function maxNormRows(e: Exec, kernel: Param, c: number): void {
  const rows = kernel.shape[0], cols = kernel.size / rows;
  const w = e.params + 4 * kernel.offset;
  e.rt.runSplit('max_norm_f32', rows, (s, n) => [w + 4 * s * cols, c, n, cols], Math.ceil(MIN_ELEMENTS_PER_THREAD / cols));
}

// ---- option checks ------------------------------------------------------------------------------

/** The spec as an object whose keys are all known options of `type` (typos are errors). */
export function checkSpecKeys(type: string, spec: unknown, allowed: readonly string[]): LayerSpec {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new TypeError(`thinnet.layers.${type}: options must be an object, got ${describeValue(spec)}`);
  }
  for (const k of Object.keys(spec)) {
    if (k !== 'type' && !allowed.includes(k)) {
      throw new RangeError(`thinnet.layers.${type}: unknown option '${k}' (options: ${allowed.join(', ')})`);
    }
  }
  return spec as LayerSpec;
}

/** An integer in [1, max]. */
export function positiveInt(type: string, name: string, v: unknown, max = 1 << 24): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new RangeError(`thinnet.layers.${type}: ${name} must be a positive integer${max < 1 << 24 ? ` ≤ ${max}` : ''}, got ${describeValue(v)}`);
  }
  return v;
}

export function checkInitializer(type: string, init: unknown): KernelInitializer {
  if (typeof init === 'object' && init !== null && !Array.isArray(init)) {
    const keys = Object.keys(init);
    const s = (init as { normal?: unknown }).normal;
    if (keys.length !== 1 || typeof s !== 'number' || !(s >= 0) || !Number.isFinite(s)) {
      throw new RangeError(`thinnet.layers.${type}: kernelInitializer {normal: σ} needs a finite σ ≥ 0, got ${JSON.stringify(init)}`);
    }
    return { normal: s };
  }
  return checkOneOf(`layers.${type}`, 'kernelInitializer', init, INITIALIZERS);
}

export function checkMaxNorm(type: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
    throw new RangeError(`thinnet.layers.${type}: maxNorm must be a finite number > 0, got ${describeValue(v)}`);
  }
  return v;
}

export function checkBoolean(type: string, name: string, v: unknown): boolean | undefined {
  if (v !== undefined && typeof v !== 'boolean') throw new TypeError(`thinnet.layers.${type}: ${name} must be a boolean, got ${describeValue(v)}`);
  return v as boolean | undefined;
}
