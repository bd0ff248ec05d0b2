// Raw access to a compiled build for kernel tests: instantiate build/<name>.wasm directly and
// expose typed views over its memory (re-derived on every call, so memory growth is safe).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type BuildName = 'simd' | 'relaxed';
export const BUILDS: BuildName[] = ['simd', 'relaxed'];

export interface RawKernels {
  name: BuildName;
  exports: Record<string, any>;
  memory: WebAssembly.Memory;
  alloc(bytes: number): number;
  free(ptr: number): void;
  f32(ptr: number, n: number): Float32Array;
  u32(ptr: number, n: number): Uint32Array;
  u8(ptr: number, n: number): Uint8Array;
  /** Allocates n floats and copies values in. */
  putF32(values: ArrayLike<number>): number;
}

export async function loadRaw(name: BuildName): Promise<RawKernels> {
  const path = fileURLToPath(new URL(`../../build/${name}.wasm`, import.meta.url));
  const { instance } = await WebAssembly.instantiate(readFileSync(path));
  const exports = instance.exports as Record<string, any>;
  const memory = exports.memory as WebAssembly.Memory;
  const raw: RawKernels = {
    name, exports, memory,
    alloc: (bytes) => {
      const p = exports.alloc(Math.max(bytes, 16)) >>> 0;
      if (p === 0) throw new Error('out of wasm memory');
      return p;
    },
    free: (ptr) => exports.free(ptr),
    f32: (ptr, n) => new Float32Array(memory.buffer, ptr, n),
    u32: (ptr, n) => new Uint32Array(memory.buffer, ptr, n),
    u8: (ptr, n) => new Uint8Array(memory.buffer, ptr, n),
    putF32: (values) => {
      const p = raw.alloc(values.length * 4);
      raw.f32(p, values.length).set(values);
      return p;
    },
  };
  return raw;
}

/** Asserts |got - ref| <= atol + rtol*|ref| elementwise; on failure names index, ref and got. */
export function expectClose(got: ArrayLike<number>, ref: ArrayLike<number>, atol = 1e-6, rtol = 1e-5, what = ''): void {
  if (got.length !== ref.length) throw new Error(`${what} length ${got.length} != reference ${ref.length}`);
  for (let i = 0; i < ref.length; i++) {
    const g = got[i], r = ref[i];
    if (!(Math.abs(g - r) <= atol + rtol * Math.abs(r))) {
      throw new Error(`${what} mismatch at index ${i}: reference ${r}, got ${g} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

/** The sizes every kernel is tested at: around the vector width, tile edges, and primes. */
export const EDGE_SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 127, 1021, 65537];

/** Deterministic pseudo-random floats in [lo, hi) for test inputs (not the mask RNG). */
export function testValues(n: number, seed = 1, lo = -1, hi = 1): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = lo + (hi - lo) * (s / 4294967296);
  }
  return out;
}

/** Asserts exact equality (+0 equals -0, NaN equals NaN); on failure names the first differing index. */
export function expectSame(got: ArrayLike<number>, ref: ArrayLike<number>, what = ''): void {
  if (got.length !== ref.length) throw new Error(`${what} length ${got.length} != reference ${ref.length}`);
  for (let i = 0; i < ref.length; i++) {
    if (got[i] !== ref[i] && !(Number.isNaN(got[i]) && Number.isNaN(ref[i]))) {
      throw new Error(`${what} differs at index ${i}: reference ${ref[i]}, got ${got[i]}`);
    }
  }
}

const CANARY = 12345.678;

/**
 * A scratch block of `bytes` (+ skew past 16-byte alignment) followed by 16 canary floats;
 * check() throws if a kernel wrote past the block (a workspace overrun).
 */
export function guardedBlock(raw: RawKernels, bytes: number, skew = 0) {
  const p = raw.alloc(bytes + 64 + 16) + skew;
  const canary = () => raw.f32(p + bytes - ((p + bytes) % 4), 16);
  canary().fill(CANARY);
  return {
    p,
    check: (what: string) => {
      const c = canary();
      for (let i = 0; i < 16; i++) if (c[i] !== Math.fround(CANARY)) throw new Error(`${what}: workspace overrun`);
    },
    free: () => raw.free(p - skew),
  };
}

/** Copies values to the heap `skew` bytes past 16-byte alignment. */
export function putValues(raw: RawKernels, values: ArrayLike<number>, skew = 0) {
  const p = raw.alloc(values.length * 4 + 16) + skew;
  raw.f32(p, values.length).set(values);
  return { p, free: () => raw.free(p - skew) };
}
