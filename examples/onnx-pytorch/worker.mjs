// The workerd / Cloudflare Workers part of docs/INTEROP.md's worked example: a module Worker that
// answers GET / with the example's numbers as JSON (GET /?full=1 adds every logit, probability
// and Monte-Carlo mean/variance). An isolate has no threads: the plain SIMD build, one thread.
//
// Imports, the way edge runtimes bundle files: the .wasm is a WebAssembly.Module, and the model
// and data files are ArrayBuffers ("data" modules). Run it in workerd from the repository with
//   node examples/onnx-pytorch/workerd.mjs [--once]
// which generates the capnp config (these three data modules are the committed fixtures in
// test/fixtures/onnx/). With Wrangler: copy the three files beside this one; wrangler.toml
// has the rules.
import * as tn from 'thinnet';
import wasm from 'thinnet/build/simd.wasm';
import model from './cnn.onnx';
import images from './mnist32.input.bin';
import expected from './cnn.expected.bin';
import { runExample } from './example.js';

let pending; // the answer, computed once per isolate (on its first request)

async function compute() {
  const started = Date.now();
  const info = await tn.ready({ backend: 'simd', threads: 1, wasm });
  const r = await runExample(tn, {
    model: new Uint8Array(model),
    images: new Float32Array(images),
    expected: new Float32Array(expected),
    samples: 200,
  });
  return { runtime: globalThis.navigator?.userAgent ?? 'unknown', backend: info.backend, threads: info.threads, ms: Date.now() - started, ...r };
}

export default {
  async fetch(request) {
    try {
      pending ??= compute().catch((e) => { pending = undefined; throw e; });
      const result = await pending;
      const full = new URL(request.url).searchParams.has('full');
      const { logits, probabilities, uncertainty, ...summary } = result;
      return Response.json(full ? result : summary);
    } catch (e) {
      return Response.json({ error: String(e?.stack ?? e) }, { status: 500 });
    }
  },
};
