// Which compiled build to run: feature detection by validating tiny probe modules, and the
// user's override. The four builds come from one AssemblyScript source (asconfig.json):
//   simd            baseline, required
//   relaxed         + relaxed-SIMD fused multiply-add (faster GEMM)
//   threads         simd over a shared WebAssembly.Memory, for the worker pool
//   relaxed-threads both

export type BuildName = 'simd' | 'relaxed' | 'threads' | 'relaxed-threads';
export const BUILD_NAMES: readonly BuildName[] = ['simd', 'relaxed', 'threads', 'relaxed-threads'];

export interface Features {
  simd: boolean;
  relaxedSimd: boolean;
  /** Shared memory is available and usable here (in browsers: the page is cross-origin isolated). */
  threads: boolean;
}

// () -> v128 { v128.const 0 }
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00,
  0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b,
]);

// (v128, v128, v128) -> v128 { f32x4.relaxed_madd }
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00,
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b,
]);

// A module declaring a shared memory (min 1, max 1 page).
const SHARED_MEMORY_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x05, 0x04, 0x01, 0x03, 0x01, 0x01,
]);

function validates(bytes: Uint8Array<ArrayBuffer>): boolean {
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/** Probes this runtime once; `isolatedContext` says whether shared memory may be used here. */
export function detectFeatures(isolatedContext: boolean): Features {
  const simd = validates(SIMD_PROBE);
  return {
    simd,
    relaxedSimd: simd && validates(RELAXED_PROBE),
    threads: isolatedContext && typeof SharedArrayBuffer !== 'undefined' && typeof Atomics !== 'undefined' &&
      validates(SHARED_MEMORY_PROBE),
  };
}

/**
 * Picks the build for the requested backend ('auto' picks the best this runtime supports) and
 * thread use. Throws a clear error when the request cannot be met.
 */
export function chooseBuild(features: Features, backend: 'auto' | 'simd' | 'relaxed', threaded: boolean): BuildName {
  if (!features.simd) {
    throw new Error('thinnet needs WebAssembly SIMD (Node >= 16.4, Chrome 91, Firefox 89, Safari 16.4); this runtime lacks it');
  }
  if (threaded && !features.threads) {
    throw new Error('threads were requested but shared WebAssembly memory is not available here ' +
      '(browsers need a cross-origin isolated page: COOP same-origin and COEP require-corp)');
  }
  let relaxed: boolean;
  if (backend === 'relaxed') {
    if (!features.relaxedSimd) {
      throw new Error("backend 'relaxed' needs relaxed SIMD; Node 20 enables it with --experimental-wasm-relaxed-simd " +
        '(Node >= 22 and current browsers have it by default)');
    }
    relaxed = true;
  } else {
    relaxed = backend === 'auto' && features.relaxedSimd;
  }
  if (threaded) return relaxed ? 'relaxed-threads' : 'threads';
  return relaxed ? 'relaxed' : 'simd';
}
