// A plain TypeScript reference of the counter-based mask generator (assembly/rng.ts and the
// keep rule of assembly/dropout.ts). Written from the definition, one element at a time; the
// wasm kernels must reproduce it bit for bit.

const MIX_M1 = 0x21f0aaad;
const MIX_M2 = 0x735a2d97;

export function mix32(x: number): number {
  x >>>= 0;
  x ^= x >>> 16;
  x = Math.imul(x, MIX_M1) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, MIX_M2) >>> 0;
  x ^= x >>> 15;
  return x >>> 0;
}

export function rngKeys(seed: number, stream: number, step: number): [number, number] {
  const k0 = mix32(mix32(mix32((seed ^ 0x243f6a88) >>> 0) ^ stream ^ 0x85a308d3) ^ step ^ 0x13198a2e);
  const k1 = mix32(k0 ^ 0x03707344);
  return [k0, k1];
}

export function rngWord(j: number, k0: number, k1: number): number {
  let x = (j + k0) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, MIX_M1) >>> 0;
  x = (x ^ k1) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, MIX_M2) >>> 0;
  x ^= x >>> 15;
  return x >>> 0;
}

export function rngU16(i: number, k0: number, k1: number): number {
  const w = rngWord(i >>> 1, k0, k1);
  return i & 1 ? w >>> 16 : w & 0xffff;
}

/** The Bernoulli mask (1 = kept) of elements first .. first + n - 1. */
export function refMask(keep16: number, seed: number, stream: number, step: number, first: number, n: number): Uint8Array {
  const [k0, k1] = rngKeys(seed, stream, step);
  const out = new Uint8Array(n);
  for (let k = 0; k < n; k++) out[k] = keep16 >= 65536 || (rngU16(first + k, k0, k1) ^ 0x8000) < keep16 ? 1 : 0;
  return out;
}

/** Unpacks a bit mask (u32 words, bit k & 31 of word k >> 5) into 0/1 bytes. */
export function unpackBits(words: Uint32Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let k = 0; k < n; k++) out[k] = (words[k >>> 5] >>> (k & 31)) & 1;
  return out;
}
