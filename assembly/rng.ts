// Counter-based random bits for dropout masks.
//
// The bits for element i of a tensor at one training step are a pure function of
// (seed, stream, step, i): no state is carried between calls, so masks are identical across
// the scalar and SIMD kernels, any split of the work across threads, and every runtime.
//
// Construction (thinnet's own; documented in docs/RNG.md):
//   mix32(x)   : a 32-bit bijective integer mixer, two multiply-xorshift rounds.
//   key        : k0 = mix32(mix32(mix32(seed ^ A) ^ stream ^ B) ^ step ^ C), k1 = mix32(k0 ^ D)
//   word(j)    : keyed mixer of the pair index j: x = j + k0; x ^= x >>> 16; x *= M1; x ^= k1;
//                x ^= x >>> 15; x *= M2; x ^= x >>> 15   (mix32 with k1 injected mid-way)
//   u16(i)     : low 16 bits of word(i >> 1) for even i, high 16 bits for odd i.
// One 32-bit word serves two elements, so a Bernoulli(p) draw compares a 16-bit uniform against
// round(p * 65536): p is quantized to multiples of 2^-16, as the kernels document. Two
// multiplies per two elements is what keeps the forward pass near memory speed (docs/RNG.md).

const KEY_A: u32 = 0x243f6a88;
const KEY_B: u32 = 0x85a308d3;
const KEY_C: u32 = 0x13198a2e;
const KEY_D: u32 = 0x03707344;
const MIX_M1: u32 = 0x21f0aaad;
const MIX_M2: u32 = 0x735a2d97;

/** Bijective 32-bit mixer (multiply-xorshift, two rounds). */
// @ts-ignore: decorator
@inline export function mix32(x: u32): u32 {
  x ^= x >>> 16;
  x *= MIX_M1;
  x ^= x >>> 15;
  x *= MIX_M2;
  x ^= x >>> 15;
  return x;
}

/** Four lanes of mix32 at once; lane-for-lane identical to the scalar mix32. */
// @ts-ignore: decorator
@inline export function mix32x4(x: v128): v128 {
  x = v128.xor(x, i32x4.shr_u(x, 16));
  x = i32x4.mul(x, i32x4.splat(MIX_M1));
  x = v128.xor(x, i32x4.shr_u(x, 15));
  x = i32x4.mul(x, i32x4.splat(MIX_M2));
  x = v128.xor(x, i32x4.shr_u(x, 15));
  return x;
}

/** First key word of a (seed, stream, step) triple. */
// @ts-ignore: decorator
@inline export function rngKey0(seed: u32, stream: u32, step: u32): u32 {
  return mix32(mix32(mix32(seed ^ KEY_A) ^ stream ^ KEY_B) ^ step ^ KEY_C);
}

/** Second key word, derived from the first. */
// @ts-ignore: decorator
@inline export function rngKey1(k0: u32): u32 {
  return mix32(k0 ^ KEY_D);
}

/** The 32 random bits of counter word j under key (k0, k1). */
// @ts-ignore: decorator
@inline export function rngWord(j: u32, k0: u32, k1: u32): u32 {
  let x = j + k0;
  x ^= x >>> 16;
  x *= MIX_M1;
  x ^= k1;
  x ^= x >>> 15;
  x *= MIX_M2;
  x ^= x >>> 15;
  return x;
}

// The mixer constants as vectors, kept in memory so the optimizer cannot turn them back into
// v128.const inside loops (V8 rematerializes those on every use; a load before the loop stays in
// a register).
const MIX_VECTORS = memory.data<u32>([MIX_M1, MIX_M1, MIX_M1, MIX_M1, MIX_M2, MIX_M2, MIX_M2, MIX_M2]);
// @ts-ignore: decorator
@inline export function mixM1x4(): v128 { return v128.load(MIX_VECTORS); }
// @ts-ignore: decorator
@inline export function mixM2x4(): v128 { return v128.load(MIX_VECTORS, 16); }

/**
 * rngWord for four counters at once, taking jk = j + k0 already added (callers step jk by a
 * constant instead of re-adding the key) and the multipliers from mixM1x4/mixM2x4.
 */
// @ts-ignore: decorator
@inline export function rngWordx4(jk: v128, K1: v128, M1: v128, M2: v128): v128 {
  let x = v128.xor(jk, i32x4.shr_u(jk, 16));
  x = i32x4.mul(x, M1);
  x = v128.xor(x, K1);
  x = v128.xor(x, i32x4.shr_u(x, 15));
  x = i32x4.mul(x, M2);
  x = v128.xor(x, i32x4.shr_u(x, 15));
  return x;
}

/** The 16-bit uniform of element i: half of word i >> 1 (low half for even i). */
// @ts-ignore: decorator
@inline export function rngU16(i: u32, k0: u32, k1: u32): u32 {
  const w = rngWord(i >>> 1, k0, k1);
  return (i & 1) ? w >>> 16 : w & 0xffff;
}

/**
 * Writes n 32-bit words rngWord(first + w) for w in [0, n) to out (u32, byte pointer).
 * Used by tests and by anyone who wants the raw stream; not on the dropout hot path.
 */
export function rng_words_u32(out: usize, seed: u32, stream: u32, step: u32, first: u32, n: i32): void {
  const k0 = rngKey0(seed, stream, step);
  const k1 = rngKey1(k0);
  for (let w = 0; w < n; w++) {
    store<u32>(out + (<usize>w << 2), rngWord(first + <u32>w, k0, k1));
  }
}
