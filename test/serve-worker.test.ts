// The /predict API as a module Worker in Cloudflare's workerd (npm `workerd`), single-threaded:
// examples/worker-serve/worker.mjs, unchanged, with `thinnet`, `thinnet/serve/fetch` and
// `thinnet/build/simd.wasm` resolved to this repository's dist/ and build/ (the wasm as a
// WebAssembly.Module) and model.tnet as a bundled data module. Each request's status and body
// must equal what the Node server (tn.serve, same build, one thread, same limits) answers — bit
// for bit in the predictions, word for word in the errors. The capnp config is generated into a
// temporary directory from the import graph, as test/helpers/workerd.ts does for its fixture.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../dist/index.node.js';
import { importGraph } from './helpers/imports';
import { capnpConfig, graphModules, startWorkerd, stopWorkerd, workerdBinary } from './helpers/workerd';

const repo = fileURLToPath(new URL('..', import.meta.url));
const workerd = workerdBinary();
const WORKER = 'examples/worker-serve/worker.mjs';
// must match the limits in examples/worker-serve/worker.mjs
const LIMITS = { maxBodyBytes: 4 << 20, maxRows: 256, maxMc: 50 };
const F = 16, C = 3;

/** The capnp config: the example worker, shims for its bare imports, dist/'s import graph, the wasm and the model. */
function config(dir: string): string {
  const embed = (file: string) => JSON.stringify(relative(dir, join(repo, file)));
  const name = (abs: string) => relative(repo, abs).split('\\').join('/');
  const at = dirname(WORKER);
  const modules = [
    `(name = "${WORKER}", esModule = embed ${embed(WORKER)})`,
    // workerd resolves a bare specifier next to its importer: examples/worker-serve/thinnet…
    `(name = "${at}/thinnet", esModule = "export * from '../../dist/index.browser.js';")`,
    `(name = "${at}/thinnet/serve/fetch", esModule = "export * from '../../../../dist/serve/fetch.js';")`,
    `(name = "${at}/thinnet/build/simd.wasm", wasm = embed ${embed('build/simd.wasm')})`,
    `(name = "${at}/model.tnet", data = embed "model.tnet")`,
  ];
  const files = new Map([...importGraph(join(repo, 'dist/index.browser.js')), ...importGraph(join(repo, 'dist/serve/fetch.js'))]);
  // other bare imports (none today) are left out: serving never loads them, and if it did,
  // workerd's error would name the missing module
  modules.push(...graphModules(files, name, embed, { skipUndeclared: true }));
  return capnpConfig(modules);
}

const rowsOf = (n: number, seed: number) => Float32Array.from({ length: n * F }, (_, i) => Math.fround(Math.sin((seed * 1000 + i) * 0.37) * 1.5));
const nested = (x: Float32Array) => Array.from({ length: x.length / F }, (_, r) => Array.from(x.subarray(r * F, (r + 1) * F)));

/** The requests both servers get: [label, path, content type, body]. */
function requests(): Array<[string, string, string, Uint8Array | string]> {
  const two = rowsOf(2, 1), one = rowsOf(1, 2);
  const px = Uint8Array.from({ length: 3 * F }, (_, i) => (i * 53) % 256);
  return [
    ['one row, JSON', '/predict', 'application/json', JSON.stringify({ inputs: nested(one) })],
    ['two rows, JSON', '/predict', 'application/json', JSON.stringify({ inputs: nested(two) })],
    ['float32 body', '/predict', 'application/octet-stream', new Uint8Array(two.buffer)],
    ['uint8 body, mc in the query', '/predict?mc=4', 'application/octet-stream; dtype=uint8', px],
    ['uncertainty', '/predict', 'application/json', JSON.stringify({ inputs: nested(two), mc: 6, uncertainty: true })],
    ['malformed JSON', '/predict', 'application/json', '{"inputs": [[1,'],
    ['wrong row length', '/predict', 'application/json', JSON.stringify({ inputs: [[1, 2, 3]] })],
    ['NaN in float32', '/predict', 'application/octet-stream', new Uint8Array(new Float32Array(F).fill(NaN).buffer)],
    ['wrong content type', '/predict', 'text/csv', '1,2,3'],
    ['too many rows', '/predict', 'application/octet-stream; dtype=uint8', new Uint8Array(257 * F)],
  ];
}

async function ask(base: string, [, path, type, body]: [string, string, string, Uint8Array | string]): Promise<{ status: number; body: string }> {
  const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': type }, body, signal: AbortSignal.timeout(30_000) });
  return { status: r.status, body: await r.text() };
}

describe('thinnet/serve/fetch outside workerd', () => {
  test('the package exports it (a self-reference resolves to dist/serve/fetch.js)', () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e',
      "const m = await import('thinnet/serve/fetch'); console.log(JSON.stringify([import.meta.resolve('thinnet/serve/fetch'), typeof m.createFetchHandler]))"],
    { cwd: repo, encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe('');
    const [resolved, type] = JSON.parse(r.stdout);
    expect(resolved).toMatch(/\/dist\/serve\/fetch\.js$/);
    expect(type).toBe('function');
  });

  test('a load that fails answers 500 naming the error, and is retried on the next request', async () => {
    const { createFetchHandler } = await import('../dist/serve/fetch.js');
    let calls = 0;
    await tn.ready({ backend: 'simd', threads: 1 });
    const m = tn.sequential({ inputShape: [2], seed: 1, layers: [tn.layers.dense({ units: 2 })] });
    const h = createFetchHandler({ load: async () => { if (calls++ === 0) throw new Error('asset missing'); return m; } });
    const first = await h.fetch(new Request('http://w/healthz'));
    expect(first.status).toBe(500);
    expect((await first.json()).error).toEqual({ code: 'internal', message: 'internal error: asset missing' });
    const second = await h.fetch(new Request('http://w/predict', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs": [[1, 2]]}' }));
    expect(second.status).toBe(200);
    expect(calls).toBe(2);
    m.dispose();
    await tn.close();
  });
});

if (!workerd) {
  test.skip('workerd serving tests skipped: the workerd binary is missing or does not run (npm install)', () => {});
} else {
  describe(`the /predict Worker in workerd (${workerd.version})`, () => {
    let dir: string;
    let child: ChildProcess | undefined;
    let base = '';
    let node: tn.Server;
    let model: tn.Sequential;
    const log: string[] = [];

    beforeAll(async () => {
      await tn.ready({ backend: 'simd', threads: 1 });
      model = tn.sequential({ inputShape: [F], seed: 4, layers: [
        tn.layers.dense({ units: 24, activation: 'relu' }), tn.layers.dropout({ keep: 0.5 }), tn.layers.dense({ units: C })] });
      const bytes = model.toBytes();
      dir = mkdtempSync(join(tmpdir(), 'thinnet-serve-workerd-'));
      writeFileSync(join(dir, 'model.tnet'), bytes);
      writeFileSync(join(dir, 'config.capnp'), config(dir));
      const s = startWorkerd(workerd.path, dir, log);
      child = s.child;
      base = `http://127.0.0.1:${await s.port}`;
      node = await tn.serve(bytes, { port: 0, ...LIMITS });
    }, 60_000);

    afterAll(async () => {
      await node?.close();
      model?.dispose();
      await tn.close();
      await stopWorkerd(child);
      rmSync(dir, { recursive: true, force: true });
    });

    test('the worker loads the model from its bundled asset on the simd build, one thread', async () => {
      const health = await fetch(`${base}/healthz`);
      expect(health.status, log.join('')).toBe(200);
      const meta = await (await fetch(`${base}/`)).json();
      expect(meta).toMatchObject({ name: 'thinnet', server: 'fetch', runtime: { backend: 'simd', threads: 1 }, limits: LIMITS });
      expect(meta.model).toMatchObject({ inputShape: [F], outputSize: C, sha256: await model.contentHash(), source: 'bundled' });
    });

    test.each(requests())('%s: the same status and body as the Node server', async (...req) => {
      const [w, n] = [await ask(base, req), await ask(node.url, req)];
      expect(w.status).toBe(n.status);
      expect(w.body).toBe(n.body); // the JSON text: equal numbers are equal float32 bits
      if (n.status === 200) expect(JSON.parse(n.body).predictions.length).toBeGreaterThan(0);
      else expect(JSON.parse(w.body).error.code).toMatch(/^[a-z_]+$/);
    });

    test('answers equal model.predict in Node bit for bit (weight scaling, and Monte-Carlo)', async () => {
      const two = rowsOf(2, 1);
      const ws = JSON.parse((await ask(base, ['', '/predict', 'application/json', JSON.stringify({ inputs: nested(two) })])).body);
      expect(Float32Array.from(ws.predictions.flat())).toEqual(model.predict(two));
      const mc = JSON.parse((await ask(base, ['', '/predict?mc=5', 'application/octet-stream', new Uint8Array(two.buffer)])).body);
      expect(Array.from(new Uint32Array(Float32Array.from(mc.predictions.flat()).buffer)))
        .toEqual(Array.from(new Uint32Array(model.predict(two, { mc: 5 }).buffer)));
    });

    test('a body declared over the limit gets 413 before it is sent (workerd, as Node)', async () => {
      // a raw request: headers that announce 5 MiB, then 1 KiB, then a wait for the answer (a
      // client that sent the whole body would see workerd close the connection under its writes)
      const declared = (url: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
        const u = new URL(url);
        const req = httpRequest({ host: u.hostname, port: u.port, method: 'POST', path: '/predict',
          headers: { 'content-type': 'application/octet-stream', 'content-length': 5 << 20 } }, (res) => {
          let body = '';
          res.on('data', (d) => { body += d; });
          res.on('end', () => { resolve({ status: res.statusCode!, body }); req.destroy(); });
        });
        req.on('error', reject);
        req.write(Buffer.alloc(1024));
      });
      const [w, n] = [await declared(base), await declared(node.url)];
      expect(w.status).toBe(413);
      expect(w.body).toBe(n.body);
      expect(JSON.parse(w.body).error.message).toMatch(/5242880 bytes, more than the limit of 4194304/);
    });

    test('wrong routes and methods: JSON 404 and 405', async () => {
      const nf = await fetch(`${base}/nowhere`);
      expect(nf.status).toBe(404);
      expect((await nf.json()).error.code).toBe('not_found');
      const get = await fetch(`${base}/predict`);
      expect(get.status).toBe(405);
      expect(get.headers.get('allow')).toBe('POST');
    });
  });
}
