// The /predict API as a fetch handler, for module Workers (Cloudflare's workerd, and any runtime
// with Request/Response): the same routes, request format, checks and JSON answers as the Node
// server (protocol.ts), without Node. One isolate runs one thread and answers one request at a
// time, so there is no micro-batching; weight-scaling answers equal model.predict of the
// request's rows, as the Node server's (predictor.ts), so both give the same bits for the same
// model and backend.
//
//   import * as tn from 'thinnet';
//   import { createFetchHandler } from 'thinnet/serve/fetch';
//   import wasm from 'thinnet/build/simd.wasm';            // a WebAssembly.Module
//   import modelBytes from './model.tnet';                  // a bundled data asset (ArrayBuffer)
//   export default createFetchHandler({
//     load: async () => { await tn.ready({ backend: 'simd', threads: 1, wasm }); return tn.loadModel(new Uint8Array(modelBytes)); },
//   });
import type { Sequential } from '../model/sequential.js';
import { memoryInfo, runtime } from '../wasm/runtime.js';
import { asHttpError, errorBody, HttpError } from './errors.js';
import { serverMetadata } from './metadata.js';
import type { ModelInfo } from './model-slot.js';
import { predictAlone } from './predictor.js';
import { DEFAULT_LIMITS, parsePredict, predictResponse, tooLarge, type Limits } from './protocol.js';

export interface FetchHandlerOptions {
  /** Loads thinnet and the model; called once, on the first request (a failure is retried on the next). */
  load: () => Promise<Sequential>;
  /** Request limits (defaults as the Node server's: 8 MiB, 1000 rows, mc ≤ 100). */
  limits?: Partial<Limits>;
  /** Accepted for compatibility, no effect: every answer is batch-invariant (see predictor.ts). */
  batchInvariant?: boolean;
}

export interface FetchHandler {
  fetch(request: Request): Promise<Response>;
}

function json(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { 'content-type': 'application/json', ...headers } });
}

/** The body, at most `limit` bytes (read as it streams in: a larger body is refused, not buffered). */
async function readLimited(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw tooLarge(declared, limit);
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge(`more than ${limit}`, limit);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.byteLength; }
  return out;
}

export function createFetchHandler(options: FetchHandlerOptions): FetchHandler {
  if (!options || typeof options.load !== 'function') throw new TypeError('thinnet createFetchHandler: options.load must be a function that resolves to a model');
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  let loading: Promise<{ model: Sequential; info: ModelInfo }> | undefined;

  const model = () => {
    loading ??= (async () => {
      const m = await options.load();
      return { model: m, info: { sha256: await m.contentHash(), source: 'bundled', generation: 1, loadedAt: new Date().toISOString() } };
    })();
    loading.catch(() => { loading = undefined; });
    return loading;
  };

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    const method = request.method;
    const want = path === '/predict' ? 'POST' : ['/', '/healthz'].includes(path) ? 'GET' : undefined;
    if (!want) throw new HttpError(404, 'not_found', `no route ${path} (routes: POST /predict, GET /healthz, GET /)`);
    if (method !== want && !(want === 'GET' && method === 'HEAD')) throw new HttpError(405, 'method_not_allowed', `${path} takes ${want}, not ${method}`, { allow: want });
    const { model: m, info } = await model();
    if (path === '/healthz') return json(200, JSON.stringify({ status: 'ok', generation: info.generation }));
    if (path === '/') {
      const { backend, threads } = runtime().info();
      return json(200, JSON.stringify({ ...serverMetadata(m, info, { server: 'fetch', runtime: { backend, threads }, limits }), memory: memoryInfo() }));
    }
    const body = await readLimited(request, limits.maxBodyBytes);
    const req = parsePredict(body, request.headers.get('content-type'), url.searchParams, m.inputSize, limits);
    return json(200, predictResponse(req, predictAlone(m, req), m.outputSize));
  }

  return {
    async fetch(request: Request): Promise<Response> {
      try {
        return await handle(request);
      } catch (e) {
        const err = asHttpError(e);
        return json(err.status, errorBody(err), err.headers);
      }
    },
  };
}
