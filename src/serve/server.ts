// tn.serve(model, options): an HTTP inference server on Node's `http` module (no framework: the
// routes are four, and every byte of a hostile request should pass through code we can read).
//
//   POST /predict   rows in, predictions out (protocol.ts), micro-batched (predictor.ts)
//   GET  /healthz   200 { status: 'ok' } while serving, 503 while draining
//   GET  /metrics   Prometheus text (metrics.ts)
//   GET  /          model and server metadata (metadata.ts)
//
// A request's life: refused at once if the server is draining (503) or has maxConcurrent
// requests already (503, Retry-After); its body read under maxBodyBytes (413); checked
// (400/413/415); queued for the model it leased on arrival (model-slot.ts); answered, or 503
// when timeoutMs passes first. close() drains: it stops accepting, answers what is in flight,
// then resolves. reload() swaps in a new model without failing a request.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadModel, type LoadOptions } from '../io/load.js';
import { Sequential } from '../model/sequential.js';
import { memoryInfo, ready, runtime, type ReadyInfo } from '../wasm/runtime.js';
import { readBody } from './body.js';
import { asHttpError, errorBody, HttpError } from './errors.js';
import { serverMetadata } from './metadata.js';
import { CONTENT_TYPE, serverMetrics } from './metrics.js';
import { ModelSlot, type ModelInfo } from './model-slot.js';
import { Batcher, DEFAULT_BATCH, type BatchOptions } from './predictor.js';
import { DEFAULT_LIMITS, parsePredict, predictResponse, type Limits } from './protocol.js';

export type { ModelInfo };

/** A model to serve: a loaded model (never disposed by the server), a .tnet file path, or its bytes. */
export type ModelSource = Sequential | string | Uint8Array | ArrayBuffer;

export interface ServeOptions {
  /** TCP port (default 8080; 0: any free port, see server.port). */
  port?: number;
  /** Interface to listen on (default '127.0.0.1': loopback only; '0.0.0.0' to accept other hosts). */
  host?: string;
  /** Threads for tn.ready() when thinnet is not loaded yet (default 'auto'). Ignored if it is. */
  threads?: number | 'auto';
  /** Micro-batching of concurrent weight-scaling requests (default true). */
  batching?: boolean;
  /** Most rows per batched model call (default 128). */
  maxBatchRows?: number;
  /** How long a request waits for others to batch with, ms (default 2). */
  maxWaitMs?: number;
  /** Accepted for compatibility, no effect: every weight-scaling answer is independent of
   *  batching, bit for bit, and equals model.predict of the request's rows (see predictor.ts). */
  batchInvariant?: boolean;
  /** Largest request body, bytes (default 8 MiB). */
  maxBodyBytes?: number;
  /** Most rows per request (default 1000). */
  maxRows?: number;
  /** Largest mc (Monte-Carlo samples) a request may ask for (default 100). */
  maxMc?: number;
  /** A request not answered within this many ms (from arrival) gets 503 (default 10000). */
  timeoutMs?: number;
  /** Requests in flight (reading, queued, predicting) beyond which new ones get 503 (default 256). */
  maxConcurrent?: number;
  /** close(): how long in-flight requests may take before connections are cut, ms (default 10000). */
  drainTimeoutMs?: number;
  /** Options of loadModel for a path or bytes (e.g. expectedHash), at start and on reload. */
  load?: LoadOptions;
  /** Where the server reports reloads and drain (default: nowhere). */
  log?: (message: string) => void;
}

export interface Server {
  /** http://host:port */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** The model serving new requests. */
  readonly model: Sequential;
  readonly modelInfo: ModelInfo;
  /**
   * Loads `source` (default: the file path the server was started with) and serves it from
   * then on; requests already accepted finish on the old model. Rejects, and leaves the old model
   * serving, if the new one cannot be loaded.
   */
  reload(source?: ModelSource): Promise<ModelInfo>;
  /** Stops accepting, answers every request in flight, then resolves (idempotent). */
  close(): Promise<void>;
  /** The /metrics text. */
  metrics(): string;
}

const OPTION_NAMES = ['port', 'host', 'threads', 'batching', 'maxBatchRows', 'maxWaitMs', 'batchInvariant', 'maxBodyBytes',
  'maxRows', 'maxMc', 'timeoutMs', 'maxConcurrent', 'drainTimeoutMs', 'load', 'log'];

function checkServeOptions(options: unknown): ServeOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError('thinnet.serve: options must be an object');
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!OPTION_NAMES.includes(k)) throw new TypeError(`thinnet.serve: unknown option '${k}' (options: ${OPTION_NAMES.join(', ')})`);
  }
  const int = (k: string, min: number, max = 2 ** 31) => {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)) {
      throw new RangeError(`thinnet.serve: ${k} must be an integer in [${min}, ${max}], got ${String(v)}`);
    }
  };
  int('port', 0, 65535); int('maxBatchRows', 1, 1 << 16); int('maxBodyBytes', 1); int('maxRows', 1, 1 << 20);
  int('maxMc', 0, 1e6); int('timeoutMs', 1); int('maxConcurrent', 1); int('drainTimeoutMs', 0);
  if (o.maxWaitMs !== undefined && (typeof o.maxWaitMs !== 'number' || !(o.maxWaitMs >= 0) || o.maxWaitMs > 1000)) {
    throw new RangeError(`thinnet.serve: maxWaitMs must be a number of ms in [0, 1000], got ${String(o.maxWaitMs)}`);
  }
  for (const k of ['batching', 'batchInvariant']) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new TypeError(`thinnet.serve: ${k} must be a boolean`);
  }
  if (o.host !== undefined && (typeof o.host !== 'string' || o.host === '')) throw new TypeError('thinnet.serve: host must be a non-empty string');
  if (o.log !== undefined && typeof o.log !== 'function') throw new TypeError('thinnet.serve: log must be a function');
  if (o.threads !== undefined && o.threads !== 'auto') int('threads', 1, 64);
  return o as ServeOptions;
}

/** A loaded model and where it came from; `owned`: the server loaded it, so the server disposes it. */
async function open(source: ModelSource, load: LoadOptions | undefined): Promise<{ model: Sequential; owned: boolean; source: string; sha256: string }> {
  if (source instanceof Sequential) return { model: source, owned: false, source: 'object', sha256: await source.contentHash() };
  if (typeof source !== 'string' && !(source instanceof Uint8Array) && !(source instanceof ArrayBuffer)) {
    throw new TypeError('thinnet.serve: the model must be a tn.Sequential, a .tnet file path, or its bytes (Uint8Array / ArrayBuffer)');
  }
  const model = await loadModel(source, load ?? {});
  try {
    return { model, owned: true, source: typeof source === 'string' ? source : 'bytes', sha256: await model.contentHash() };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** Loads thinnet if needed (with `threads`), and says what it runs on. */
async function ensureReady(threads: number | 'auto' | undefined): Promise<ReadyInfo> {
  try {
    runtime();
  } catch {
    return ready(threads === undefined ? {} : { threads });
  }
  return ready();
}

const ROUTES = ['/predict', '/healthz', '/metrics', '/'];

export async function serve(source: ModelSource, options: ServeOptions = {}): Promise<Server> {
  const o = checkServeOptions(options);
  const info = await ensureReady(o.threads);
  const limits: Limits = {
    maxBodyBytes: o.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes, maxRows: o.maxRows ?? DEFAULT_LIMITS.maxRows, maxMc: o.maxMc ?? DEFAULT_LIMITS.maxMc,
  };
  const batching: BatchOptions = {
    enabled: o.batching ?? DEFAULT_BATCH.enabled, maxRows: o.maxBatchRows ?? DEFAULT_BATCH.maxRows,
    maxWaitMs: o.maxWaitMs ?? DEFAULT_BATCH.maxWaitMs,
  }; // o.batchInvariant: checked, no effect (predictor.ts)
  const timeoutMs = o.timeoutMs ?? 10_000, maxConcurrent = o.maxConcurrent ?? 256, drainTimeoutMs = o.drainTimeoutMs ?? 10_000;
  const log = o.log ?? (() => {});
  const first = await open(source, o.load);
  const slot = new ModelSlot(first.model, { sha256: first.sha256, source: first.source }, first.owned);
  const startPath = typeof source === 'string' ? source : undefined;

  let inflight = 0;
  let draining = false;
  const metrics = serverMetrics(memoryInfo, () => ({ inflight, queued: batcher.pending }));
  const batcher = new Batcher(batching, (s) => {
    metrics.batchRows.observe(s.rows);
    metrics.batchRequests.observe(s.requests);
    metrics.batchSeconds.observe(s.seconds);
  });

  /** Sends a response once (a timed-out request may still get its prediction later: dropped). */
  function send(res: ServerResponse, status: number, body: string, type: string, headers: Record<string, string> = {}): void {
    if (res.headersSent || res.writableEnded || res.destroyed) return;
    if (draining) headers = { ...headers, connection: 'close' };
    res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...headers });
    res.end(body);
  }

  function sendError(res: ServerResponse, e: unknown, extraHeaders: Record<string, string> = {}): void {
    const err = asHttpError(e);
    if (err.status >= 500 && err.code === 'internal') log(`thinnet serve: ${err.message}`);
    if (!res.headersSent) metrics.errors.inc({ code: err.code });
    send(res, err.status, errorBody(err), 'application/json', { ...err.headers, ...extraHeaders });
  }

  async function predictRoute(req: IncomingMessage, res: ServerResponse, query: URLSearchParams, expired: () => boolean,
    onCancel: (cancel: (reason: unknown) => void) => void): Promise<void> {
    let body: Uint8Array;
    try {
      body = await readBody(req, limits.maxBodyBytes);
    } catch (e) {
      // the rest of the body is not read: close the connection after the answer, and let the
      // client's remaining bytes drain rather than reset the socket under its read
      sendError(res, e, { connection: 'close' });
      req.resume();
      return;
    }
    if (expired()) return;
    const lease = slot.acquire();
    try {
      const request = parsePredict(body, req.headers['content-type'], query, lease.model.inputSize, limits);
      const job = batcher.submit(lease.model, request);
      onCancel(job.cancel);
      const result = await job.result;
      send(res, 200, predictResponse(request, result, lease.model.outputSize), 'application/json');
    } catch (e) {
      sendError(res, e);
    } finally {
      lease.release();
    }
  }

  function metadata(): string {
    return JSON.stringify(serverMetadata(slot.model, slot.info, {
      server: 'node', runtime: { backend: info.backend, threads: info.threads }, limits,
      batching: { enabled: batching.enabled, maxBatchRows: batching.maxRows, maxWaitMs: batching.maxWaitMs, batchInvariant: true },
    }));
  }

  const drained: Array<() => void> = [];
  const server = createServer((req, res) => {
    const t0 = performance.now();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      url = new URL('http://localhost/?'); // an unparsable request target: answered 404 below
    }
    const route = ROUTES.includes(url.pathname) && req.url?.startsWith('/') ? url.pathname : 'other';
    inflight++;
    let counted = false;
    const done = () => {
      if (counted) return;
      counted = true;
      inflight--;
      clearTimeout(timer);
      // a client that went away before its answer is not counted as the status it never got
      metrics.requests.inc({ route, status: res.writableFinished ? String(res.statusCode) : 'aborted' });
      metrics.latency.observe((performance.now() - t0) / 1000, { route });
      if (inflight === 0) for (const f of drained.splice(0)) f();
    };
    res.on('finish', done);
    res.on('close', done);
    let cancel: ((reason: unknown) => void) | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      const err = new HttpError(503, 'timeout', `the request was not answered within ${timeoutMs} ms`);
      sendError(res, err, { connection: 'close' });
      cancel?.(err); // a request still queued leaves the queue (one already predicting finishes; its answer is dropped)
    }, timeoutMs);
    try {
      if (draining) throw new HttpError(503, 'shutting_down', 'the server is shutting down');
      if (inflight > maxConcurrent) {
        throw new HttpError(503, 'overloaded', `the server has ${maxConcurrent} requests in flight, its limit; retry later`, { 'retry-after': '1', connection: 'close' });
      }
      const allow = route === '/predict' ? 'POST' : route === 'other' ? undefined : 'GET, HEAD';
      if (!allow) throw new HttpError(404, 'not_found', `no route ${route === 'other' && !req.url?.startsWith('/') ? String(req.url).slice(0, 100) : url.pathname} (routes: POST /predict, GET /healthz, GET /metrics, GET /)`);
      if (!allow.split(', ').includes(req.method ?? '')) {
        throw new HttpError(405, 'method_not_allowed', `${route} takes ${allow.split(', ')[0]}, not ${req.method}`, { allow });
      }
      if (route === '/predict') {
        predictRoute(req, res, url.searchParams, () => timedOut, (c) => { cancel = c; }).catch((e) => sendError(res, e));
        return;
      }
      if (route === '/healthz') send(res, 200, JSON.stringify({ status: 'ok', generation: slot.info.generation }), 'application/json');
      else if (route === '/metrics') send(res, 200, metrics.registry.render(), CONTENT_TYPE);
      else send(res, 200, metadata(), 'application/json');
      req.resume(); // a GET with a body: discard it
    } catch (e) {
      sendError(res, e, route === '/predict' ? { connection: 'close' } : {});
      req.resume();
    }
  });
  // Node's own limits as a backstop (its 408 has no JSON body); ours answer first
  server.requestTimeout = timeoutMs + 5_000;
  server.headersTimeout = Math.min(60_000, timeoutMs + 5_000);

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port ?? 8080, o.host ?? '127.0.0.1', () => { server.off('error', reject); resolve(); });
    });
  } catch (e) {
    slot.retire(); // e.g. EADDRINUSE: the model this call loaded is freed
    throw e;
  }
  server.on('error', (e) => log(`thinnet serve: server error: ${e.message}`)); // e.g. EMFILE: keep serving what can be
  const addr = server.address() as AddressInfo;
  const host = o.host ?? '127.0.0.1';

  let reloading: Promise<unknown> = Promise.resolve();
  let closing: Promise<void> | undefined;

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`,
    port: addr.port,
    host,
    get model() { return slot.model; },
    get modelInfo() { return slot.info; },
    metrics: () => metrics.registry.render(),
    reload(next?: ModelSource): Promise<ModelInfo> {
      const run = async () => {
        if (closing) throw new Error('thinnet.serve: the server is closing; it cannot reload');
        const src = next ?? startPath;
        if (src === undefined) throw new Error('thinnet.serve: reload() needs a model source (the server was not started from a file path)');
        try {
          const m = await open(src, o.load);
          const newInfo = slot.swap(m.model, { sha256: m.sha256, source: m.source }, m.owned);
          metrics.reloads.inc({ result: 'ok' });
          log(`thinnet serve: reloaded ${newInfo.source} (sha256 ${newInfo.sha256.slice(0, 12)}…, generation ${newInfo.generation})`);
          return newInfo;
        } catch (e) {
          metrics.reloads.inc({ result: 'error' });
          log(`thinnet serve: reload failed, the old model keeps serving: ${(e as Error).message}`);
          throw e;
        }
      };
      const p = reloading.then(run, run); // one reload at a time, in order
      reloading = p.catch(() => {});
      return p;
    },
    close(): Promise<void> {
      closing ??= (async () => {
        draining = true;
        log(`thinnet serve: draining ${inflight} request(s)`);
        const listening = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        const cut = setTimeout(() => server.closeAllConnections(), drainTimeoutMs);
        if (inflight > 0) await new Promise<void>((r) => drained.push(r));
        server.closeIdleConnections(); // keep-alive sockets of answered requests
        await listening;
        clearTimeout(cut);
        await reloading;
        batcher.clear(new HttpError(503, 'shutting_down', 'the server is shutting down'));
        slot.retire();
      })();
      return closing;
    },
  };
}
