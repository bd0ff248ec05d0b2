import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Node 20's V8 runs relaxed SIMD only behind this flag; the tests exercise the relaxed build
    // too (see docs/BACKENDS.md for how thinnet treats the flag for users).
    execArgv: ['--experimental-wasm-relaxed-simd'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
