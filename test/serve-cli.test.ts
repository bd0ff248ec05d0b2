// `thinnet serve` as a process (dist/cli.js, as the bin runs it): it listens on the port it
// prints (--port 0: an ephemeral one), reloads the model file on SIGHUP while requests flow, and
// on SIGTERM answers the requests in flight before it exits 0. Usage errors exit 2.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as tn from '../src/index.node';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const F = 20;
let dir: string;

function makeModel(seed: number): tn.Sequential {
  return tn.sequential({ inputShape: [F], seed, layers: [tn.layers.dense({ units: 24, activation: 'relu' }), tn.layers.dropout({ keep: 0.5 }), tn.layers.dense({ units: 4 })] });
}

const x = Float32Array.from({ length: 2 * F }, (_, i) => Math.fround(Math.cos(i)));
const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const bits = (nested: number[][]) => bitsOf(Float32Array.from(nested.flat()));

async function predict(url: string): Promise<{ status: number; json: any }> {
  const r = await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(x.buffer) });
  return { status: r.status, json: await r.json() };
}

/** Starts `thinnet serve`; resolves with its URL once it prints the line it listens with. */
function start(args: string[]): Promise<{ child: ChildProcess; url: string; out: string[]; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [cli, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`thinnet serve did not start:\n${out.join('')}`)), 20_000);
    child.stderr!.on('data', (d) => out.push(String(d)));
    child.stdout!.on('data', (d) => {
      out.push(String(d));
      const m = /listening on (http:\/\/\S+)/.exec(out.join(''));
      if (m) { clearTimeout(timer); resolve({ child, url: m[1], out, exited }); }
    });
    exited.then((code) => { clearTimeout(timer); reject(new Error(`thinnet serve exited (${code}) before listening:\n${out.join('')}`)); });
  });
}

beforeAll(async () => {
  await tn.ready({ backend: 'simd', threads: 1 }); // what the child runs (node without the relaxed-SIMD flag)
  dir = mkdtempSync(join(tmpdir(), 'thinnet-serve-cli-'));
});
afterAll(async () => {
  await tn.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('thinnet serve', () => {
  test('serves the file, reloads it on SIGHUP without failing a request, drains on SIGTERM and exits 0', async () => {
    const path = join(dir, 'm.tnet');
    const a = makeModel(1), b = makeModel(2);
    await a.save(path);
    // a lone request waits 150 ms for company: long enough to be surely in flight at SIGTERM
    const s = await start([path, '--port', '0', '--threads', '1', '--max-wait-ms', '150']);
    try {
      expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const first = await predict(s.url);
      expect(first.status).toBe(200);
      expect(bits(first.json.predictions)).toEqual(bitsOf(a.predict(x)));

      // SIGHUP while a client keeps sending
      let stop = false, failed = 0, sent = 0;
      const flow = (async () => { while (!stop) { sent++; if ((await predict(s.url)).status !== 200) failed++; } })();
      await b.save(path);
      s.child.kill('SIGHUP');
      const t0 = Date.now();
      let meta: any;
      do {
        await new Promise((r) => setTimeout(r, 20));
        meta = await (await fetch(`${s.url}/`)).json();
      } while (meta.model.generation < 2 && Date.now() - t0 < 10_000);
      stop = true;
      await flow;
      expect(meta.model.generation).toBe(2);
      expect(meta.model.sha256).toBe(await b.contentHash());
      expect(sent).toBeGreaterThan(0);
      expect(failed).toBe(0);
      expect(bits((await predict(s.url)).json.predictions)).toEqual(bitsOf(b.predict(x)));
      expect(s.out.join('')).toMatch(/reloaded .*m\.tnet .*generation 2/);

      // SIGTERM with requests in flight (the server has them: its gauge says so, counting the
      // /metrics request itself): each is answered, then the process exits 0
      const inflight = Array.from({ length: 8 }, () => predict(s.url));
      const gauge = async () => Number(/^thinnet_inflight_requests (\d+)$/m.exec(await (await fetch(`${s.url}/metrics`)).text())![1]);
      while (await gauge() < 9) await new Promise((r) => setTimeout(r, 5));
      s.child.kill('SIGTERM');
      const answers = await Promise.all(inflight);
      expect(answers.map((r) => r.status)).toEqual(Array(8).fill(200));
      expect(await s.exited).toBe(0);
      expect(s.out.join('')).toMatch(/SIGTERM: draining[\s\S]*stopped/);
      await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
    } finally {
      if (s.child.exitCode === null) s.child.kill('SIGKILL');
      a.dispose();
      b.dispose();
    }
  });

  test('usage errors exit 2 and name the problem', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'serve', ...args], { encoding: 'utf8', timeout: 20_000 });
    const none = run();
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/serve takes one model file, got none/);
    const missing = run(join(dir, 'missing.tnet'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/missing\.tnet is not a file/);
    const port = run(join(dir, 'm.tnet'), '--port', '70000');
    expect(port.status).toBe(2);
    expect(port.stderr).toMatch(/--port must be an integer in \[0, 65535\], got '70000'/);
    const flag = run(join(dir, 'm.tnet'), '--batch-size', '3');
    expect(flag.status).toBe(2);
    expect(flag.stderr).toMatch(/batch-size/);
  });
});
