// docs/INTEROP.md's worked example (PyTorch → ONNX → thinnet with uncertainty) as a user runs it:
// examples/onnx-pytorch/index.html in Chromium (Debian's /usr/bin/chromium through playwright-core,
// the page served by scripts/serve.mjs, thinnet's browser entry imported unbundled) and
// examples/onnx-pytorch/worker.mjs in workerd (started by the example's own workerd.mjs). Both load
// the committed PyTorch export test/fixtures/onnx/cnn.onnx and the 32 MNIST test images of
// mnist32.input.bin; their predictions must equal PyTorch's eval output (cnn.expected.bin) to
// 1e-5 relative, and Node's `tn.io.loadOnnx` + `predict` of the same file bit for bit.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../dist/index.node.js';
import { haveChromium, launchChromium, missingInCI, skipReason, watchErrors } from './helpers/chromium';
import { workerdBinary } from './helpers/workerd';

const root = fileURLToPath(new URL('..', import.meta.url));
const FIX = join(root, 'test/fixtures/onnx');
const N = 32, C = 10, SAMPLES = 200; // SAMPLES: as examples/onnx-pytorch/main.js and worker.mjs
const f32 = (file: string) => { const b = readFileSync(join(FIX, file)); return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)); };
const expected = f32('cnn.expected.bin');
const images = f32('mnist32.input.bin');

interface NodeAnswer { logits: number[]; probabilities: number[]; mean: number[]; variance: number[]; entropy: number[]; mutualInformation: number[] }
let node: NodeAnswer;

beforeAll(async () => {
  // Node: the same file, the same build (plain SIMD, one thread) as the page and the worker
  await tn.ready({ backend: 'simd', threads: 1 });
  const model = await tn.io.loadOnnx(join(FIX, 'cnn.onnx'));
  const logits = Array.from(model.predict(images));
  model.compile({ optimizer: tn.optimizers.sgd({ learningRate: 0.01 }), loss: 'softmaxCrossEntropy' });
  const probabilities = Array.from(model.predict(images));
  const u = model.predictWithUncertainty(images, { samples: SAMPLES });
  model.dispose();
  node = { logits, probabilities, mean: Array.from(u.mean), variance: Array.from(u.variance),
    entropy: Array.from(u.entropy), mutualInformation: Array.from(u.mutualInformation) };
}, 30_000);

afterAll(async () => { await tn.close(); });

/** What the page and the worker must both return (the object examples/onnx-pytorch/example.js makes). */
function checkResult(r: any): void {
  expect(r.error, r.error).toBeUndefined();
  expect(r).toMatchObject({ backend: 'simd', threads: 1, images: N, classes: C, samples: SAMPLES });
  expect(r.layers).toEqual(['conv2d', 'maxPool2d', 'dropout', 'conv2d', 'maxPool2d', 'flatten', 'dense', 'dropout', 'dense']);
  // = PyTorch's eval output, every output of every image
  expect(r.logits).toHaveLength(N * C);
  let maxRel = 0;
  r.logits.forEach((v: number, i: number) => { maxRel = Math.max(maxRel, Math.abs(v - expected[i]) / Math.max(Math.abs(expected[i]), 1)); });
  expect(maxRel).toBeLessThanOrEqual(1e-5);
  expect(r.maxRelDiff).toBe(maxRel);
  // = Node's loadOnnx + predict, bit for bit (toEqual compares numbers with Object.is)
  expect(r.logits).toEqual(node.logits);
  expect(r.probabilities).toEqual(node.probabilities);
  // predictWithUncertainty: shapes, finite values, mean rows summing to 1; and Node's bits
  const u = r.uncertainty;
  expect(u.mean).toHaveLength(N * C);
  expect(u.variance).toHaveLength(N * C);
  expect(u.entropy).toHaveLength(N);
  expect(u.mutualInformation).toHaveLength(N);
  for (const a of [u.mean, u.variance, u.entropy, u.mutualInformation]) expect(a.every(Number.isFinite)).toBe(true);
  expect(u.variance.every((v: number) => v >= 0)).toBe(true);
  for (let i = 0; i < N; i++) {
    const row = u.mean.slice(i * C, (i + 1) * C);
    expect(row.every((p: number) => p >= 0 && p <= 1)).toBe(true);
    expect(Math.abs(row.reduce((s: number, p: number) => s + p, 0) - 1)).toBeLessThan(1e-5);
    expect(u.entropy[i]).toBeGreaterThan(0);
    expect(u.mutualInformation[i]).toBeGreaterThan(0); // the dropout layers really are sampled
    expect(u.mutualInformation[i]).toBeLessThanOrEqual(u.entropy[i]);
  }
  expect(u).toEqual({ mean: node.mean, variance: node.variance, entropy: node.entropy, mutualInformation: node.mutualInformation });
  // the per-image summary is read off those arrays
  expect(r.perImage).toHaveLength(N);
  r.perImage.forEach((p: any, i: number) => {
    const row = u.mean.slice(i * C, (i + 1) * C);
    expect(p).toEqual({ image: i, class: row.indexOf(Math.max(...row)), mcMeanP: Math.max(...row),
      scalingP: r.probabilities[i * C + p.class], entropy: u.entropy[i], mutualInformation: u.mutualInformation[i] });
  });
}

if (!haveChromium && process.env.CI) {
  test('the browser example needs Chromium', () => { throw new Error(missingInCI); });
} else if (!haveChromium) {
  test.skip(skipReason('the ONNX example in the browser'), () => {});
} else {
  describe('examples/onnx-pytorch in Chromium', () => {
    test('the page loads cnn.onnx, predicts PyTorch\'s eval output and Node\'s bits, and shows MC dropout per image', async () => {
      // @ts-ignore -- plain JavaScript module without declarations
      const { serve } = await import('../scripts/serve.mjs');
      const server = await serve();
      const browser = await launchChromium();
      try {
        const page = await browser.context.newPage();
        const errors = watchErrors(page);
        await page.goto(`${server.url}examples/onnx-pytorch/`);
        await page.waitForFunction(() => document.documentElement.dataset.done === 'true' || document.documentElement.dataset.error !== undefined,
          undefined, { timeout: 20_000 });
        const r = await page.evaluate(() => (window as any).onnxExample ?? { error: document.documentElement.dataset.error });
        checkResult(r);
        expect(await page.locator('#images tbody tr').count()).toBe(N);
        expect(await page.locator('#diff').textContent()).toContain(`max |Δ|/max(|y|, 1) = ${r.maxRelDiff.toExponential(2)}`);
        console.log(`Chromium: ${r.ms} ms, max |Δ|/max(|y|, 1) = ${r.maxRelDiff.toExponential(2)}`);
        await page.close();
        expect(errors).toEqual([]);
      } finally {
        await browser.close();
        await server.close();
      }
    }, 30_000);
  });
}

const workerd = workerdBinary();
if (!workerd && process.env.CI) {
  test('workerd is installed', () => { throw new Error('the workerd binary is missing or does not run: `npm ci` should install it (devDependency workerd)'); });
} else if (!workerd) {
  test.skip('the ONNX example in workerd skipped: the workerd binary is missing or does not run (npm install)', () => {});
} else {
  describe(`examples/onnx-pytorch in workerd (${workerd.version})`, () => {
    test('the worker answers with PyTorch\'s eval output, Node\'s bits and MC dropout per image', async () => {
      // @ts-ignore -- plain JavaScript module without declarations
      const { startWorkerd } = await import('../examples/onnx-pytorch/workerd.mjs');
      const server = await startWorkerd({ port: 0, binary: workerd.path });
      try {
        const full = await fetch(`${server.url}?full=1`, { signal: AbortSignal.timeout(30_000) });
        expect(full.status).toBe(200);
        const r = await full.json();
        expect(r.runtime).toBe('Cloudflare-Workers');
        checkResult(r);
        // without ?full: the same summary, without the arrays (the isolate computed it once)
        const { logits: _l, probabilities: _p, uncertainty: _u, ...summary } = r;
        expect(await (await fetch(server.url, { signal: AbortSignal.timeout(30_000) })).json()).toEqual(summary);
        console.log(`workerd: ${r.ms} ms, max |Δ|/max(|y|, 1) = ${r.maxRelDiff.toExponential(2)}`);
      } finally {
        await server.stop();
      }
    }, 30_000);
  });
}
