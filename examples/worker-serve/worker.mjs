// A module Worker (Cloudflare Workers / workerd) serving thinnet's /predict API: POST /predict,
// GET /healthz and GET / as the Node server (docs/SERVING.md), single-threaded, one request at
// a time. The wasm is imported as a WebAssembly.Module and the model is a bundled data asset
// (an ArrayBuffer): with Wrangler, the rules in wrangler.toml beside this file; with workerd, a
// `wasm` and a `data` module in the capnp config (test/serve-worker.test.ts builds one).
import * as tn from 'thinnet';
import { createFetchHandler } from 'thinnet/serve/fetch';
import wasm from 'thinnet/build/simd.wasm';
import modelBytes from './model.tnet';

export default createFetchHandler({
  // Once per isolate, on its first request. The plain SIMD build runs on every current edge
  // runtime; an isolate has no threads.
  load: async () => {
    await tn.ready({ backend: 'simd', threads: 1, wasm });
    return tn.loadModel(new Uint8Array(modelBytes));
  },
  limits: { maxBodyBytes: 4 << 20, maxRows: 256, maxMc: 50 },
});
