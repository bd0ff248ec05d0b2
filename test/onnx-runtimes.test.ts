// ONNX import/export through the browser entry (dist/index.browser.js: no fs in thinnet) in Bun,
// Deno and Node: the same PyTorch export, the same predictions (test/fixtures/onnx/runtime-check.mjs).
// Needs the build (dist/, build/), as test/runtimes.test.ts.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = resolve(__dirname, '..');
const script = join(root, 'test/fixtures/onnx/runtime-check.mjs');
const bin = (n: string) => join(root, 'node_modules/.bin', n);

const runtimes: Array<[string, string, string[]]> = [
  ['node', process.execPath, [script]],
  ['bun', bin('bun'), [script]],
  ['deno', bin('deno'), ['run', '--no-lock', '--cached-only', '--allow-read', script]],
];

describe('ONNX in every runtime (browser entry, bytes)', () => {
  for (const [name, command, args] of runtimes) {
    test.skipIf(!existsSync(command) || !existsSync(join(root, 'dist/index.browser.js')))(`${name}: PyTorch's MLP imports and predicts as PyTorch; export → import round trip`, () => {
      const out = execFileSync(command, args, { encoding: 'utf8', timeout: 120_000, env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' } });
      const r = JSON.parse(out.trim().split('\n').pop()!);
      expect(r.runtime).toBe(name);
      expect(r.maxRel).toBeLessThan(1e-5);
      expect(r.variance).toBeGreaterThan(1e-3); // MC dropout is stochastic there too
      expect(r.roundTrip).toBe(true);
    });
  }
});
