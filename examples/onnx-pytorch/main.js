// The page's script (index.html): fetches the ONNX model, the MNIST test images and PyTorch's eval
// outputs, runs the example (example.js) and shows the numbers. The whole result is also left in
// window.onnxExample (test/onnx-example.test.ts reads it), with
// document.documentElement.dataset.done = 'true' once it is there (or dataset.error).
import * as tn from 'thinnet';
import { runExample } from './example.js';

// The committed fixtures of scripts/make-onnx-fixtures.py, fetched from where they are.
const FIXTURES = new URL('../../test/fixtures/onnx/', import.meta.url);
const FILES = { model: 'cnn.onnx', images: 'mnist32.input.bin', expected: 'cnn.expected.bin' };

async function bytes(file) {
  const response = await fetch(new URL(file, FIXTURES));
  if (!response.ok) throw new Error(`GET ${response.url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}
/** A little-endian float32 file (every browser is little-endian) as a Float32Array. */
const floats = async (file) => new Float32Array((await bytes(file)).buffer);

const status = document.getElementById('status');
try {
  const started = performance.now();
  // The plain SIMD build on one thread, as in Node and workerd, so the three give the same bits.
  // tn.ready() alone would pick the fastest build this browser runs (relaxed SIMD, threads if
  // the page is cross-origin isolated), whose last bits may differ.
  const info = await tn.ready({ backend: 'simd', threads: 1 });
  const [model, images, expected] = await Promise.all([bytes(FILES.model), floats(FILES.images), floats(FILES.expected)]);
  const result = await runExample(tn, { model, images, expected, samples: 200 });
  result.backend = info.backend;
  result.threads = info.threads;
  result.ms = Math.round(performance.now() - started);

  status.textContent = `${result.images} images, build ${info.backend}, ${info.threads} thread, ${result.ms} ms. ` +
    `thinnet layers: ${result.layers.join(' ')}`;
  document.getElementById('diff').textContent = `model.predict vs PyTorch eval: max |Δ| = ${result.maxAbsDiff.toExponential(2)}, ` +
    `max |Δ|/max(|y|, 1) = ${result.maxRelDiff.toExponential(2)}. predictWithUncertainty, ${result.samples} samples:`;
  const table = document.getElementById('images');
  for (const p of result.perImage) {
    const row = table.tBodies[0].insertRow();
    for (const v of [p.image, p.class, p.mcMeanP.toFixed(3), p.scalingP.toFixed(3), p.entropy.toFixed(3), p.mutualInformation.toFixed(3)]) {
      row.insertCell().textContent = String(v);
    }
  }
  table.hidden = false;
  window.onnxExample = result;
  document.documentElement.dataset.done = 'true';
} catch (e) {
  status.textContent = `failed: ${e?.stack ?? e}`;
  status.className = 'error';
  document.documentElement.dataset.error = String(e?.message ?? e);
  throw e;
}
