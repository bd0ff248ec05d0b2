// The body of a pool worker, as self-contained JavaScript: the pool starts it from a string
// (Node: `new Worker(src, { eval: true })`; browsers: a Blob URL), so no worker file has to be
// found by a bundler or a runtime. It must not reference anything outside itself.
//
// Protocol (one slot of CTRL_INTS Int32 per worker in a SharedArrayBuffer):
//   [0] job sequence number, written last by the main thread, then notified
//   [1] sequence number of the last finished job, written by the worker, then notified
//   [2] kernel index into `names` (-1: quit)    [3] argument count    [4] status (0 ok, 1 error)
//   [5] start state, written by the worker, then notified: 0 starting, 1 running, 2 failed (the
//       message is in the error bytes); the main thread may block on it instead of waiting for
//       the 'ready' message (which needs its event loop)
// Arguments travel as float64 (exact for every pointer, size and f32 scalar) in a second
// SharedArrayBuffer; an error message, as UTF-8, in a third.

export const CTRL_INTS = 16;
/** Arguments per kernel call (the conv kernels take 20: pointers, then the geometry). */
export const MAX_ARGS = 24;
export const ERROR_BYTES = 512;

function thinnetWorker(): void {
  const g = globalThis as any;
  const isNode = typeof g.process === 'object' && !!g.process.versions?.node && typeof g.importScripts !== 'function' &&
    typeof g.WorkerGlobalScope === 'undefined';
  // Node's eval workers have a global require; Bun's do not (but have getBuiltinModule, and the
  // web-style self/postMessage). Anything without a parentPort talks the Web Worker way.
  let nodePort: any = null;
  if (isNode) {
    const wt = typeof g.require === 'function' ? g.require('node:worker_threads') : g.process.getBuiltinModule?.('node:worker_threads');
    nodePort = wt?.parentPort ?? null;
  }
  const port = nodePort ?? g;
  const listen = (fn: (data: any) => void) =>
    nodePort ? nodePort.on('message', fn) : g.addEventListener('message', (e: any) => fn(e.data));
  listen(async (msg: any) => {
    if (!msg || msg.type !== 'init') return;
    const { CTRL, ARGS, ERR } = msg.layout;
    const ctrl = new Int32Array(msg.ctrl);
    const args = new Float64Array(msg.args);
    const errs = new Uint8Array(msg.errors);
    const base = msg.index * CTRL;
    const abase = msg.index * ARGS;
    const ebase = msg.index * ERR;
    const encoder = new TextEncoder();
    const fail = (e: any) => {
      const bytes = encoder.encode(String(e && e.message || e)).subarray(0, ERR - 1);
      errs.fill(0, ebase, ebase + ERR);
      errs.set(bytes, ebase);
    };
    let fns: any[];
    try {
      const instance: WebAssembly.Instance = await WebAssembly.instantiate(msg.module as WebAssembly.Module, { env: { memory: msg.memory } });
      const exports = instance.exports as any;
      fns = msg.names.map((n: string) => exports[n]);
    } catch (e: any) {
      fail(e);
      Atomics.store(ctrl, base + 5, 2);
      Atomics.notify(ctrl, base + 5);
      port.postMessage({ type: 'error', message: String(e && e.message || e) });
      return;
    }
    // Read the sequence number before announcing readiness: the first job may be posted the
    // moment 'ready' arrives, and must not be mistaken for one already seen.
    let seen = Atomics.load(ctrl, base);
    Atomics.store(ctrl, base + 5, 1);
    Atomics.notify(ctrl, base + 5);
    port.postMessage({ type: 'ready' });
    for (;;) {
      // Spin briefly (a job usually follows the last one within microseconds), then sleep.
      let spins = 0;
      while (Atomics.load(ctrl, base) === seen && spins < 20000) spins++;
      if (Atomics.load(ctrl, base) === seen) Atomics.wait(ctrl, base, seen);
      const seq = Atomics.load(ctrl, base);
      if (seq === seen) continue;
      seen = seq;
      const k = ctrl[base + 2];
      if (k < 0) {
        Atomics.store(ctrl, base + 1, seq);
        Atomics.notify(ctrl, base + 1);
        return;
      }
      let status = 0;
      try {
        const n = ctrl[base + 3];
        const a = [];
        for (let i = 0; i < n; i++) a.push(args[abase + i]);
        fns[k].apply(null, a);
      } catch (e: any) {
        status = 1;
        fail(e);
      }
      ctrl[base + 4] = status;
      Atomics.store(ctrl, base + 1, seq);
      Atomics.notify(ctrl, base + 1);
    }
  });
}

/** The worker's source text. */
export function workerSource(): string {
  return `(${thinnetWorker.toString()})();`;
}
