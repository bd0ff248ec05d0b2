// Cloudflare's workerd (npm `workerd`): test/fixtures/workerd/worker.mjs imports the browser
// entry, gets build/simd.wasm as a `wasm` module (a WebAssembly.Module, how edge runtimes import
// wasm) and a .tnet model trained here as a `data` binding, and answers one HTTP request with its
// predictions and dropout digests. Every number must equal Node's bit for bit. The capnp config
// is generated into a temporary directory from the browser entry's import graph; workerd picks an
// ephemeral port and reports it on --control-fd (test/helpers/workerd.ts). test/pack.test.ts runs
// the same worker over the package installed from the tarball. docs/RUNTIMES.md describes it.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../dist/index.node.js';
import { nodeAnswer, runWorkerd, workerdBinary, workerdModel } from './helpers/workerd';

const root = fileURLToPath(new URL('..', import.meta.url));
const workerd = workerdBinary();

if (!workerd) {
  if (process.env.CI) {
    test('workerd is installed', () => {
      throw new Error('the workerd binary is missing or does not run: `npm ci` should install it (devDependency workerd)');
    });
  } else {
    test.skip('workerd tests skipped: the workerd binary is missing or does not run (npm install)', () => {});
  }
} else {
  describe(`workerd (${workerd.version})`, () => {
    let modelBytes: Uint8Array;
    let result: any;
    let node: any;
    let status = 0;

    beforeAll(async () => {
      await tn.ready({ backend: 'simd', threads: 1 });
      modelBytes = await workerdModel(tn);
      node = await nodeAnswer(tn, modelBytes);
      const r = await runWorkerd(workerd.path, { base: root, pkg: '' }, modelBytes);
      ({ status, result } = r);
      console.log(`${workerd.version}: started and answered in ${r.ms} ms`);
    }, 60_000);

    afterAll(async () => { await tn.close(); });

    test('the worker loads the browser entry with build/simd.wasm imported as a WebAssembly.Module', () => {
      expect(result.error, result.error).toBeUndefined();
      expect(status).toBe(200);
      expect(result.runtime).toEqual({ name: 'workerd', userAgent: 'Cloudflare-Workers' });
      expect(result).toMatchObject({ wasmIsModule: true, backend: 'simd', threads: 1, modelBytes: modelBytes.byteLength });
    });

    test('predictions of the model loaded from the same bytes equal Node\'s, bit for bit', () => {
      expect(result.predictions).toHaveLength(8 * 3);
      expect(result.predictions).toEqual(node.predictions);
      expect(result.predictionsHash).toBe(node.predictionsHash);
      expect(result.mcHash).toBe(node.mcHash);
    });

    test('dropout with fixed seeds (masks, backward, inverted, Gaussian) hashes to Node\'s values', () => {
      expect(result.dropout.mask).toBe(node.dropout.mask);
      expect(result.dropout).toEqual(node.dropout);
    });

    test('a dropout conv net (conv, max-pool, feature-map dropout) trains, predicts and MC-predicts as in Node, bit for bit', () => {
      expect(result.conv.losses).toHaveLength(12);
      expect(result.conv.losses.every(Number.isFinite)).toBe(true);
      expect(result.conv).toEqual(node.conv);
    });

    test('seedrandom (CommonJS, a commonJsModule in workerd) gives Node\'s initial weights', () => {
      expect(result.initHash).toBe(node.initHash);
    });
  });
}
