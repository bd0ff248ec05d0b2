// The body of a pool worker, as self-contained JavaScript: the pool starts it from a string
// (Node: `new Worker(src, { eval: true })`; browsers: a Blob URL), so no worker file has to be
// found by a bundler or a runtime. It must not reference anything outside itself.
//
// Protocol: each worker has its own block of shared memory (a SharedArrayBuffer of BLOCK_BYTES,
// a fresh one for every worker the pool starts, so a replaced worker can never touch its
// successor's words): CTRL_INTS Int32 control words (WORD), then MAX_ARGS float64 arguments
// (exact for every pointer, size and f32 scalar), then an error message of up to ERROR_BYTES
// of UTF-8.
//   SEQ    job sequence number, written last by the main thread, then notified
//   DONE   sequence number of the last finished job, written by the worker, then notified
//   KERNEL kernel index into `names` (-1: quit)      ARGC argument count
//   STATUS 0 ok, 1 the kernel threw (the message is in the error bytes)
//   STATE  written by the worker, then notified (the main thread may block on it: it needs no
//          event loop, unlike the 'ready' message): STARTING, RUNNING, FAILED (to start), DIED
//          (stopped for good after it ran: its loop crashed, or Node's process 'exit' — the
//          reason is in the error bytes; a worker stopped by terminate() cannot say so, its
//          handle does)
//   CLAIM  who runs job SEQ: the main thread writes SEQ (open) before SEQ itself; the worker
//          takes the job by compare-exchange SEQ → -SEQ, and the main thread may take it back
//          (SEQ → 0) and run it itself when no worker took it in time. Exactly one of them runs it.

export const CTRL_INTS = 16;
/** Arguments per kernel call (the conv kernels take 20: pointers, then the geometry). */
export const MAX_ARGS = 24;
export const ERROR_BYTES = 512;
/** Bytes of one worker's shared block: control words, arguments, error message. */
export const BLOCK_BYTES = CTRL_INTS * 4 + MAX_ARGS * 8 + ERROR_BYTES;
/** Indices of the control words. */
export const WORD = { SEQ: 0, DONE: 1, KERNEL: 2, ARGC: 3, STATUS: 4, STATE: 5, CLAIM: 6 } as const;
/** Values of WORD.STATE. */
export const STATE = { STARTING: 0, RUNNING: 1, FAILED: 2, DIED: 3 } as const;

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
    const { CTRL, ARGS, ERR, W, S } = msg.layout;
    const ctrl = new Int32Array(msg.block, 0, CTRL);
    const args = new Float64Array(msg.block, CTRL * 4, ARGS);
    const errs = new Uint8Array(msg.block, CTRL * 4 + ARGS * 8, ERR);
    const encoder = new TextEncoder();
    const text = (e: any) => String(e && e.message || e);
    const fail = (message: string) => {
      errs.fill(0);
      errs.set(encoder.encode(message).subarray(0, ERR - 1));
    };
    let quitting = false;
    // Says in shared memory that this worker stops for good, and wakes a main thread that waits
    // for its job or its start: a caller blocked in Atomics.wait cannot receive an 'exit' event.
    const die = (why: string) => {
      if (quitting || Atomics.load(ctrl, W.STATE) === S.DIED) return;
      fail(why);
      Atomics.store(ctrl, W.STATE, S.DIED);
      Atomics.notify(ctrl, W.STATE);
      Atomics.notify(ctrl, W.DONE);
    };
    // process.exit() and uncaught exceptions run it (Node, Bun); terminate() does not.
    if (isNode && typeof g.process.on === 'function') g.process.on('exit', (code: number) => die(`exited with code ${code}`));
    let fns: any[];
    try {
      const instance: WebAssembly.Instance = await WebAssembly.instantiate(msg.module as WebAssembly.Module, { env: { memory: msg.memory } });
      const exports = instance.exports as any;
      fns = msg.names.map((n: string) => exports[n]);
    } catch (e: any) {
      quitting = true;
      fail(text(e));
      Atomics.store(ctrl, W.STATE, S.FAILED);
      Atomics.notify(ctrl, W.STATE);
      port.postMessage({ type: 'error', message: text(e) });
      return;
    }
    // Read the sequence number before announcing readiness: the first job may be posted the
    // moment 'ready' arrives, and must not be mistaken for one already seen.
    let seen = Atomics.load(ctrl, W.SEQ);
    Atomics.store(ctrl, W.STATE, S.RUNNING);
    Atomics.notify(ctrl, W.STATE);
    port.postMessage({ type: 'ready' });
    try {
      for (;;) {
        // Spin briefly (a job usually follows the last one within microseconds), then sleep.
        let spins = 0;
        while (Atomics.load(ctrl, W.SEQ) === seen && spins < 20000) spins++;
        if (Atomics.load(ctrl, W.SEQ) === seen) Atomics.wait(ctrl, W.SEQ, seen);
        const seq = Atomics.load(ctrl, W.SEQ);
        if (seq === seen) continue;
        seen = seq;
        const k = ctrl[W.KERNEL];
        if (k < 0) {
          quitting = true;
          Atomics.store(ctrl, W.DONE, seq);
          Atomics.notify(ctrl, W.DONE);
          return;
        }
        // Take the job, unless the main thread took it back (it runs a job no worker took in time).
        if (Atomics.compareExchange(ctrl, W.CLAIM, seq, -seq) !== seq) continue;
        let status = 0;
        try {
          const n = ctrl[W.ARGC];
          const a = [];
          for (let i = 0; i < n; i++) a.push(args[i]);
          fns[k].apply(null, a);
        } catch (e: any) {
          status = 1;
          fail(text(e));
        }
        ctrl[W.STATUS] = status;
        Atomics.store(ctrl, W.DONE, seq);
        Atomics.notify(ctrl, W.DONE);
      }
    } catch (e: any) {
      die(`crashed: ${text(e)}`);
    }
  });
}

/** The worker's source text. */
export function workerSource(): string {
  return `(${thinnetWorker.toString()})();`;
}
