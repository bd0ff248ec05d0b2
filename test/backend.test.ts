// Build selection: feature probes, the relaxed-SIMD flag on Node 20, user overrides.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { chooseBuild, detectFeatures } from '../src/wasm/backend';

const child = fileURLToPath(new URL('./fixtures/backend-child.mjs', import.meta.url));
const nodeMajor = Number(process.versions.node.split('.')[0]);

describe('build selection', () => {
  test('chooseBuild maps features and requests to builds', () => {
    const all = { simd: true, relaxedSimd: true, threads: true };
    const plain = { simd: true, relaxedSimd: false, threads: false };
    expect(chooseBuild(all, 'auto', false)).toBe('relaxed');
    expect(chooseBuild(all, 'auto', true)).toBe('relaxed-threads');
    expect(chooseBuild(all, 'simd', true)).toBe('threads');
    expect(chooseBuild(plain, 'auto', false)).toBe('simd');
    expect(() => chooseBuild(plain, 'relaxed', false)).toThrow(/--experimental-wasm-relaxed-simd/);
    expect(() => chooseBuild(plain, 'auto', true)).toThrow(/cross-origin isolated/);
    expect(() => chooseBuild({ simd: false, relaxedSimd: false, threads: false }, 'auto', false)).toThrow(/needs WebAssembly SIMD/);
  });

  test('probes see SIMD here; threads only in an isolated context', () => {
    expect(detectFeatures(true)).toMatchObject({ simd: true, threads: true });
    expect(detectFeatures(false).threads).toBe(false);
  });

  test('with the V8 flag, auto picks relaxed SIMD', () => {
    const r = JSON.parse(execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', child], { encoding: 'utf8' }));
    expect(r).toEqual({ auto: 'relaxed', relaxedSimd: true, relaxed: 'relaxed' });
  });

  test.runIf(nodeMajor < 22)('on Node 20 without the flag, auto falls back to SIMD and an explicit relaxed request says how to enable it', () => {
    const r = JSON.parse(execFileSync(process.execPath, [child], { encoding: 'utf8' }));
    expect(r.auto).toBe('simd');
    expect(r.relaxedSimd).toBe(false);
    expect(r.relaxed).toMatch(/error: .*--experimental-wasm-relaxed-simd/);
  });
});
