// tn.serve: the HTTP inference server, in process, on ephemeral ports. Micro-batched answers are
// compared bit for bit with unbatched ones and with model.predict; hostile requests get the
// status and error code that name their problem while the server keeps serving; the limits
// (body size, rows, timeout, concurrency) hold; reload swaps models without failing a request;
// close() drains what is in flight.
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';

const F = 32, C = 5;
let dir: string;
let model: tn.Sequential;
let modelPath: string;

function makeModel(seed: number): tn.Sequential {
  return tn.sequential({ inputShape: [F], seed, layers: [
    tn.layers.dropout({ keep: 0.8 }),
    tn.layers.dense({ units: 48, activation: 'relu' }),
    tn.layers.dropout({ keep: 0.5 }),
    tn.layers.dense({ units: C }),
  ] });
}

/** Deterministic rows: row i of a fixed pseudo-random matrix. */
function rows(start: number, n: number): Float32Array {
  const x = new Float32Array(n * F);
  for (let i = 0; i < x.length; i++) x[i] = Math.fround(Math.sin((start * F + i) * 0.731) * 2);
  return x;
}

function toNested(x: Float32Array | Uint8Array, width = F): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < x.length / width; r++) out.push(Array.from(x.subarray(r * width, (r + 1) * width)));
  return out;
}

/** The float32 bits of a nested JSON answer (JSON numbers round-trip float32 values exactly). */
function bits(nested: number[][]): number[] {
  return Array.from(new Uint32Array(Float32Array.from(nested.flat()).buffer));
}
function bitsOf(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

interface Answer { status: number; json: any; headers: Headers }

async function post(url: string, body: BodyInit, type = 'application/json', query = ''): Promise<Answer> {
  const r = await fetch(`${url}/predict${query}`, { method: 'POST', headers: { 'content-type': type }, body });
  return { status: r.status, json: await r.json(), headers: r.headers };
}

const postRows = (url: string, x: Float32Array, extra: Record<string, unknown> = {}) =>
  post(url, JSON.stringify({ inputs: toNested(x), ...extra }));

/** One sample of a histogram or counter from /metrics text. */
function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.slice(name.length + 1));
}

/** A raw HTTP/1.1 request (to send bodies fetch cannot: lying lengths, slow or partial bodies). */
function raw(port: number, opts: { path?: string; headers?: Record<string, string | number>; body?: Buffer; end?: boolean }) {
  return new Promise<{ status: number; json: any; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: opts.path ?? '/predict', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString() || 'null'), headers: res.headers }));
    });
    req.on('error', reject);
    if (opts.body) req.write(opts.body);
    if (opts.end !== false) req.end();
  });
}

beforeAll(async () => {
  await tn.ready({ threads: 2 });
  dir = mkdtempSync(join(tmpdir(), 'thinnet-serve-'));
  model = makeModel(7);
  modelPath = join(dir, 'model.tnet');
  await model.save(modelPath);
});

afterAll(async () => {
  model.dispose();
  await tn.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('micro-batching', () => {
  test('concurrent requests are coalesced, and every answer equals the unbatched one bit for bit', async () => {
    // maxWaitMs 100: the 40 concurrent requests surely meet in batches
    const batched = await tn.serve(model, { port: 0, maxWaitMs: 100, maxBatchRows: 16 });
    const alone = await tn.serve(model, { port: 0, batching: false });
    try {
      // 30 one-row requests and 10 three-row requests, interleaved
      const reqs = Array.from({ length: 40 }, (_, i) => (i % 4 === 3 ? rows(100 + i * 3, 3) : rows(i, 1)));
      const answers = await Promise.all(reqs.map((x) => postRows(batched.url, x)));
      const metrics = batched.metrics();
      const calls = metric(metrics, 'thinnet_batch_requests_count');
      expect(metric(metrics, 'thinnet_batch_requests_sum')).toBe(40);
      expect(calls).toBeLessThan(20); // coalesced: far fewer model calls than requests
      expect(metric(metrics, 'thinnet_batch_rows_bucket{le="16"}')).toBe(calls); // maxBatchRows held

      const unbatched: Answer[] = [];
      for (const x of reqs) unbatched.push(await postRows(alone.url, x)); // one at a time: never batched
      expect(metric(alone.metrics(), 'thinnet_batch_requests_sum')).toBe(metric(alone.metrics(), 'thinnet_batch_requests_count'));

      const all = model.predict(new Float32Array(reqs.flatMap((x) => Array.from(x)))); // one model call over every row
      let r = 0;
      reqs.forEach((x, i) => {
        const n = x.length / F;
        expect(answers[i].status).toBe(200);
        expect(answers[i].json).toMatchObject({ mode: 'weightScaling', rows: n });
        expect(bits(answers[i].json.predictions)).toEqual(bits(unbatched[i].json.predictions));
        expect(bits(answers[i].json.predictions)).toEqual(bitsOf(all.subarray(r * C, (r + n) * C)));
        // every request equals model.predict of its own rows, exactly (one row included)
        expect(bits(answers[i].json.predictions)).toEqual(bitsOf(model.predict(x)));
        r += n;
      });
    } finally {
      await batched.close();
      await alone.close();
    }
  });

  test('a lone row is answered as model.predict(row), which is its row in a batch; batchInvariant is accepted and changes nothing', async () => {
    const x = rows(500, 1);
    const twice = new Float32Array(2 * F);
    twice.set(x); twice.set(x, F);
    const own = model.predict(x); // thinnet's single-row (GEMV) path
    expect(bitsOf(own)).toEqual(bitsOf(model.predict(twice).subarray(0, C))); // the same bits as in a batch
    const servers = [
      await tn.serve(model, { port: 0 }),
      await tn.serve(model, { port: 0, batching: false }),
      await tn.serve(model, { port: 0, batchInvariant: false, batching: false }),
      await tn.serve(model, { port: 0, batchInvariant: true }),
    ];
    try {
      for (const s of servers) {
        expect(bits((await postRows(s.url, x)).json.predictions)).toEqual(bitsOf(own));
        const meta = await (await fetch(s.url + '/')).json();
        expect(meta.batching.batchInvariant).toBe(true);
      }
    } finally {
      for (const s of servers) await s.close();
    }
  });

  test('uint8 and float32 rows batch separately; binary answers equal model.predict of the same bytes', async () => {
    const s = await tn.serve(model, { port: 0, maxWaitMs: 30 });
    try {
      const px = Uint8Array.from({ length: 6 * F }, (_, i) => (i * 37) % 256);
      const f = rows(900, 6);
      const [u8a, u8b, f32a, f32b] = await Promise.all([
        post(s.url, px.subarray(0, 3 * F), 'application/octet-stream; dtype=uint8'),
        post(s.url, px.subarray(3 * F), 'application/octet-stream; dtype=uint8'),
        post(s.url, new Uint8Array(f.buffer, 0, 3 * F * 4), 'application/octet-stream'),
        post(s.url, new Uint8Array(f.buffer, 3 * F * 4), 'application/octet-stream; dtype=float32'),
      ]);
      const wantU8 = model.predict(px), wantF = model.predict(f);
      expect(bits([...u8a.json.predictions, ...u8b.json.predictions])).toEqual(bitsOf(wantU8));
      expect(bits([...f32a.json.predictions, ...f32b.json.predictions])).toEqual(bitsOf(wantF));
    } finally {
      await s.close();
    }
  });

  test('Monte-Carlo requests are never coalesced: each equals predict({ mc }) / predictWithUncertainty of its own rows', async () => {
    const s = await tn.serve(model, { port: 0, maxWaitMs: 30 });
    try {
      const xs = [rows(1, 1), rows(2, 4), rows(3, 2)];
      const [a, b, c] = await Promise.all([
        postRows(s.url, xs[0], { mc: 8 }),
        postRows(s.url, xs[1], { mc: 5, uncertainty: true }),
        post(s.url, new Uint8Array(xs[2].buffer), 'application/octet-stream', '?mc=3&uncertainty=false'),
      ]);
      expect(a.json).toMatchObject({ mode: 'mc', mc: 8, rows: 1 });
      expect(bits(a.json.predictions)).toEqual(bitsOf(model.predict(xs[0], { mc: 8 })));
      const u = model.predictWithUncertainty(xs[1], { samples: 5 });
      expect(bits(b.json.predictions)).toEqual(bitsOf(u.mean));
      expect(bits(b.json.variance)).toEqual(bitsOf(u.variance));
      expect(bits([b.json.entropy])).toEqual(bitsOf(u.entropy));
      expect(bits([b.json.mutualInformation])).toEqual(bitsOf(u.mutualInformation));
      expect(bits(c.json.predictions)).toEqual(bitsOf(model.predict(xs[2], { mc: 3 })));
      // and MC differs from weight scaling (the option reached the model)
      expect(bits(a.json.predictions)).not.toEqual(bitsOf(model.predict(xs[0])));
      // uncertainty without mc: the library's default of 50 samples
      const d = await postRows(s.url, xs[0], { uncertainty: true });
      expect(d.json.mc).toBe(50);
      expect(bits(d.json.predictions)).toEqual(bitsOf(model.predictWithUncertainty(xs[0]).mean));
    } finally {
      await s.close();
    }
  });
});

describe('bad requests get an error that names the problem, and the server keeps serving', () => {
  let s: tn.Server;
  beforeAll(async () => { s = await tn.serve(model, { port: 0, maxBodyBytes: 64 * 1024, maxRows: 20, maxMc: 10 }); });
  afterAll(async () => { await s.close(); });

  const good = () => postRows(s.url, rows(0, 2));
  const nanRow = rows(0, 1); nanRow[5] = NaN;
  const cases: Array<[string, () => Promise<Answer>, number, string, RegExp]> = [
    ['malformed JSON', () => post(s.url, '{"inputs": [[1, 2'), 400, 'malformed_json', /not valid JSON/],
    ['invalid UTF-8', () => post(s.url, new Uint8Array([0x7b, 0xff, 0x7d])), 400, 'malformed_json', /UTF-8/],
    ['a JSON array, not an object', () => post(s.url, '[1, 2]'), 400, 'invalid_request', /must be an object/],
    ['a misspelt field', () => post(s.url, JSON.stringify({ input: [[1]] })), 400, 'unknown_field', /unknown field 'input'/],
    ['a flat row', () => post(s.url, JSON.stringify({ inputs: Array.from(rows(0, 1)) })), 400, 'invalid_inputs', /for one example write \[\[/],
    ['no rows', () => post(s.url, JSON.stringify({ inputs: [] })), 400, 'no_rows', /no rows/],
    ['a short row', () => post(s.url, JSON.stringify({ inputs: [...toNested(rows(0, 1)), Array(F - 1).fill(0)] })), 400, 'wrong_row_length', /inputs\[1\] has 31 values; the model takes 32/],
    ['a string value', () => post(s.url, JSON.stringify({ inputs: [[...Array(F - 1).fill(0), 'NaN']] })), 400, 'not_a_number', /inputs\[0\]\[31\] is the string "NaN"/],
    ['null (JSON\'s NaN)', () => post(s.url, JSON.stringify({ inputs: [[null, ...Array(F - 1).fill(0)]] })), 400, 'not_a_number', /inputs\[0\]\[0\] is null/],
    ['a value beyond float32', () => post(s.url, `{"inputs": [[1e39${',0'.repeat(F - 1)}]]}`), 400, 'not_finite', /inputs\[0\]\[0\] is 1e\+39, too large for float32/],
    ['NaN in a float32 body', () => post(s.url, new Uint8Array(nanRow.buffer), 'application/octet-stream'), 400, 'not_finite', /row 0, value 5 is NaN/],
    ['a partial binary row', () => post(s.url, new Uint8Array(F * 4 + 3), 'application/octet-stream'), 400, 'wrong_row_length', /131 bytes, not a whole number of rows: a row is 32 float32 values = 128 bytes/],
    ['too many rows', () => postRows(s.url, rows(0, 21)), 413, 'too_many_rows', /21 rows, more than the limit of 20/],
    ['too many binary rows', () => post(s.url, new Uint8Array(21 * F), 'application/octet-stream; dtype=uint8'), 413, 'too_many_rows', /21 rows/],
    ['a body over the limit', () => post(s.url, new Uint8Array(65 * 1024), 'application/octet-stream'), 413, 'body_too_large', /66560 bytes, more than the limit of 65536/],
    ['text/plain', () => post(s.url, '1,2,3', 'text/plain'), 415, 'unsupported_media_type', /got 'text\/plain'/],
    ['an unknown dtype', () => post(s.url, new Uint8Array(F * 2), 'application/octet-stream; dtype=float16'), 415, 'unsupported_dtype', /dtype=float16/],
    ['a non-UTF-8 JSON charset', () => post(s.url, '{}', 'application/json; charset=latin1'), 415, 'unsupported_charset', /latin1/],
    ['mc over the limit', () => postRows(s.url, rows(0, 1), { mc: 11 }), 400, 'invalid_option', /mc 11 is more than this server's limit of 10/],
    ['a fractional mc', () => postRows(s.url, rows(0, 1), { mc: 2.5 }), 400, 'invalid_option', /mc must be an integer/],
    ['uncertainty with mc 0', () => postRows(s.url, rows(0, 1), { mc: 0, uncertainty: true }), 400, 'invalid_option', /uncertainty needs Monte-Carlo samples/],
    ['mc twice', () => post(s.url, JSON.stringify({ inputs: toNested(rows(0, 1)), mc: 2 }), 'application/json', '?mc=3'), 400, 'invalid_option', /both in the query string and in the body/],
    ['an unknown query parameter', () => post(s.url, new Uint8Array(F * 4), 'application/octet-stream', '?samples=3'), 400, 'unknown_option', /'samples'/],
  ];

  test.each(cases)('%s', async (_, send, status, code, message) => {
    const r = await send();
    expect(r.status).toBe(status);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.json.error.code).toBe(code);
    expect(r.json.error.message).toMatch(message);
    expect((await good()).status).toBe(200);
  });

  test('a declared Content-Length over the limit is refused before the body is read; a chunked body when it passes the limit', async () => {
    const declared = await raw(s.port, { headers: { 'content-type': 'application/json', 'content-length': 10_000_000 }, body: Buffer.alloc(1000, 32), end: false });
    expect(declared.status).toBe(413);
    expect(declared.json.error.message).toMatch(/10000000 bytes, more than the limit of 65536/);
    const chunked = await raw(s.port, { headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body: Buffer.alloc(200_000, 32) });
    expect(chunked.status).toBe(413);
    expect(chunked.json.error.message).toMatch(/more than 65536/);
    expect((await good()).status).toBe(200);
  });

  test('a row that overflows inside the network fails alone, not the batch it joined', async () => {
    const huge = new Float32Array(F).fill(3e38);
    const s2 = await tn.serve(model, { port: 0, maxWaitMs: 30 });
    try {
      const [a, bad, b] = await Promise.all([postRows(s2.url, rows(0, 1)), postRows(s2.url, huge), postRows(s2.url, rows(1, 2))]);
      expect(bad.status).toBe(400);
      expect(bad.json.error.code).toBe('output_not_finite');
      expect([a.status, b.status]).toEqual([200, 200]);
      expect(bits(b.json.predictions)).toEqual(bitsOf(model.predict(rows(1, 2))));
    } finally {
      await s2.close();
    }
  });

  test('routes and methods: 404 and 405 in JSON; GET / describes the model; /healthz; /metrics counts errors by code', async () => {
    const nf = await fetch(`${s.url}/nope`);
    expect(nf.status).toBe(404);
    expect((await nf.json()).error.message).toMatch(/no route \/nope/);
    const m = await fetch(`${s.url}/predict`);
    expect(m.status).toBe(405);
    expect(m.headers.get('allow')).toBe('POST');
    const meta = await (await fetch(`${s.url}/`)).json();
    expect(meta.model).toMatchObject({ inputShape: [F], inputSize: F, outputSize: C, paramCount: model.paramCount, generation: 1, source: 'object' });
    expect(meta.model.sha256).toBe(await model.contentHash());
    expect(meta.limits).toEqual({ maxBodyBytes: 64 * 1024, maxRows: 20, maxMc: 10 });
    expect(meta.runtime.threads).toBe(2);
    expect(await (await fetch(`${s.url}/healthz`)).json()).toEqual({ status: 'ok', generation: 1 });
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(metric(text, 'thinnet_http_errors_total{code="malformed_json"}')).toBeGreaterThanOrEqual(2);
    expect(metric(text, 'thinnet_http_requests_total{route="/predict",status="413"}')).toBeGreaterThanOrEqual(4);
    expect(metric(text, 'thinnet_wasm_memory_bytes')).toBe(tn.memoryInfo().memoryBytes);
    expect(text).toMatch(/^# TYPE thinnet_http_request_duration_seconds histogram$/m);
    expect(text).toMatch(/^thinnet_http_request_duration_seconds_bucket\{route="\/predict",le="\+Inf"\} \d+$/m);
  });
});

test('serving leaks no wasm memory: allocations are the same after 300 more requests of every kind', async () => {
  const s = await tn.serve(model, { port: 0 });
  try {
    const round = () => Promise.all(Array.from({ length: 30 }, (_, i) => [
      () => postRows(s.url, rows(i, 1)), () => postRows(s.url, rows(i, 3), { mc: 2 }), () => postRows(s.url, rows(i, 2), { uncertainty: true, mc: 2 }),
      () => post(s.url, '{bad'), () => post(s.url, new Uint8Array(F * 2), 'application/octet-stream; dtype=uint8'),
    ][i % 5]()));
    // warm: the model's batch buffers and GEMM workspaces only grow, so grow them to the largest
    // batch first (maxBatchRows, 128 rows)
    await postRows(s.url, rows(0, 128));
    await round();
    const before = tn.memoryInfo();
    for (let k = 0; k < 10; k++) await round();
    const after = tn.memoryInfo();
    expect(after.allocations).toBe(before.allocations);
    expect(after.allocatedBytes).toBe(before.allocatedBytes);
  } finally {
    await s.close();
  }
});

describe('limits: timeout and concurrency', () => {
  test('a client that stalls mid-body gets 503 timeout; past maxConcurrent new requests get 503 overloaded', async () => {
    const s = await tn.serve(model, { port: 0, timeoutMs: 300, maxConcurrent: 2 });
    try {
      const head = { 'content-type': 'application/json', 'content-length': 1000 };
      const stalled = [raw(s.port, { headers: head, body: Buffer.from('{"inputs"'), end: false }), raw(s.port, { headers: head, body: Buffer.from('{'), end: false })];
      await new Promise((r) => setTimeout(r, 50));
      const third = await postRows(s.url, rows(0, 1));
      expect(third.status).toBe(503);
      expect(third.json.error.code).toBe('overloaded');
      expect(third.headers.get('retry-after')).toBe('1');
      for (const r of await Promise.all(stalled)) {
        expect(r.status).toBe(503);
        expect(r.json.error).toEqual({ code: 'timeout', message: 'the request was not answered within 300 ms' });
      }
      expect((await postRows(s.url, rows(0, 1))).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  test('options are checked', async () => {
    await expect(tn.serve(model, { port: 0, maxBatch: 3 } as never)).rejects.toThrow(/unknown option 'maxBatch'/);
    await expect(tn.serve(model, { port: 0, maxRows: 0 })).rejects.toThrow(/maxRows must be an integer in \[1/);
    await expect(tn.serve(42 as never, { port: 0 })).rejects.toThrow(/a tn.Sequential, a .tnet file path, or its bytes/);
    const taken = await tn.serve(model, { port: 0 });
    const before = tn.memoryInfo().allocations;
    await expect(tn.serve(modelPath, { port: taken.port })).rejects.toThrow(/EADDRINUSE/);
    expect(tn.memoryInfo().allocations).toBe(before); // the model that call loaded was freed
    await taken.close();
  });
});

describe('reload and drain', () => {
  test('reload swaps the model while requests flow: none fails, each answer is from the old or the new model', async () => {
    const path = join(dir, 'reload.tnet');
    await model.save(path);
    const next = makeModel(8);
    const s = await tn.serve(path, { port: 0 });
    try {
      const x = rows(42, 2);
      const oldBits = bitsOf(model.predict(x)), newBits = bitsOf(next.predict(x));
      expect(oldBits).not.toEqual(newBits);
      let stop = false;
      const seen: string[] = [];
      const loop = async () => {
        while (!stop) {
          const a = await postRows(s.url, x);
          expect(a.status).toBe(200);
          const b = JSON.stringify(bits(a.json.predictions));
          seen.push(b === JSON.stringify(oldBits) ? 'old' : b === JSON.stringify(newBits) ? 'new' : 'other');
        }
      };
      const flows = [loop(), loop()]; // two clients, back to back
      await new Promise((r) => setTimeout(r, 100));
      await next.save(path); // atomic: temp file + rename
      const memBefore = tn.memoryInfo();
      const info = await s.reload();
      expect(info.generation).toBe(2);
      expect(info.sha256).toBe(await next.contentHash());
      await new Promise((r) => setTimeout(r, 100));
      stop = true;
      await Promise.all(flows);
      expect(seen).not.toContain('other');
      expect(seen.indexOf('new')).toBeGreaterThan(0);
      expect(seen.lastIndexOf('old')).toBeLessThan(seen.indexOf('new')); // old until the swap, new after
      // the old model (loaded by the server) was disposed once its last request was answered
      expect(tn.memoryInfo().allocatedBytes).toBe(memBefore.allocatedBytes);
      expect((await (await fetch(`${s.url}/`)).json()).model.generation).toBe(2);

      // a broken file: the reload fails, the model serving stays
      writeFileSync(path, 'not a model');
      await expect(s.reload()).rejects.toThrow(/loadModel/);
      const after = await postRows(s.url, x);
      expect(bits(after.json.predictions)).toEqual(newBits);
      expect(metric(s.metrics(), 'thinnet_model_reloads_total{result="error"}')).toBe(1);
    } finally {
      await s.close();
      next.dispose();
    }
  });

  test('close() answers every request in flight, then stops accepting', async () => {
    const s = await tn.serve(model, { port: 0, maxWaitMs: 200 }); // requests sit in the queue for 200 ms
    const inflight = Array.from({ length: 6 }, (_, i) => postRows(s.url, rows(i, 1)));
    while (metric(s.metrics(), 'thinnet_inflight_requests') < 6) await new Promise((r) => setTimeout(r, 5)); // all six arrived
    const closed = s.close();
    const answers = await Promise.all(inflight);
    await closed;
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
  });
});
