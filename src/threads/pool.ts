// A pool of workers over one shared WebAssembly.Memory. The main instance allocates; workers only
// run kernels on ranges the main thread hands them. The calling thread takes the first range
// itself and then waits (Atomics.wait where it may block, a spin on a browser's main thread),
// so ops stay synchronous. Ranges are cut at multiples of 32 elements, which keeps every mask
// word and every RNG counter where a single call would put it: results are bit-identical to one
// thread.
//
// Starting: where workers boot on their own while the caller blocks (Node's worker_threads), the
// pool is made without workers and spawns them when the first job list that needs one arrives,
// then waits for them (their start state is in shared memory, so the wait needs no event loop).
// A process that never runs a job on the pool (one that loads a model and predicts a few
// examples) never pays for worker threads: ~10 ms of ready() and ~30 ms of CPU per worker here.
// Elsewhere (browsers start workers through the page's event loop, so a blocking wait there
// could never end) start() spawns every worker and waits until all run, as ready() always did.
import type { KernelName, Kernels } from '../kernels/binding.js';
import { platform, type WorkerHandle } from '../platform/types.js';
import { CTRL_INTS, ERROR_BYTES, MAX_ARGS, workerSource } from './worker-source.js';

export interface Job {
  kernel: KernelName;
  args: number[];
}

/**
 * How long a worker may take to start or to finish a job before the caller gives up (a crashed
 * worker cannot say so while the caller blocks). THINNET_WORKER_TIMEOUT_MS overrides it (tests).
 */
const WAIT_TIMEOUT_MS = (() => {
  const env = typeof process !== 'undefined' ? Number(process.env?.THINNET_WORKER_TIMEOUT_MS) : NaN;
  return env > 0 ? env : 120_000;
})();

/**
 * Time spent waiting, counted slice by slice with each slice capped at twice its length: a process
 * that was suspended (SIGSTOP, a laptop asleep, a debugger) does not find every job "timed out"
 * when it resumes — the workers were suspended too. @internal (exported for tests)
 */
export class WaitClock {
  private waited = 0;
  private last = Date.now();
  constructor(private readonly sliceMs: number) {}
  /** Adds the time since the last call (at most two slices); true once past WAIT_TIMEOUT_MS. */
  expired(): boolean {
    const now = Date.now();
    this.waited += Math.min(Math.max(now - this.last, 0), 2 * this.sliceMs);
    this.last = now;
    return this.waited > WAIT_TIMEOUT_MS;
  }
}

/** Start states (ctrl slot [5], see worker-source.ts). */
const RUNNING = 1, FAILED = 2;

interface Shared {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  names: string[];
  ctrl: SharedArrayBuffer;
  args: SharedArrayBuffer;
  errors: SharedArrayBuffer;
}

export class WorkerPool {
  private seq = 0;
  private closed = false;
  private readonly ctrl: Int32Array;
  private readonly args: Float64Array;
  private readonly errors: Uint8Array;
  private readonly kernelIndex = new Map<string, number>();
  private readonly workers: WorkerHandle[] = [];
  /** Workers [0, running) are known to run. */
  private running = 0;
  /** Why the pool cannot run jobs (a worker failed to start), once known. */
  private startError: Error | undefined;
  /** Inside runningOnly(): `threads` counts only the threads that run. */
  private onlyRunning = false;
  private spawnScheduled = false;
  /** Settles when every spawned worker runs (or one failed to start). */
  private started: Promise<unknown> = Promise.resolve();

  private constructor(
    /** Workers (spawned or to be spawned). */
    readonly count: number,
    private readonly shared: Shared,
    private readonly main: Kernels,
    private readonly canBlock: boolean,
  ) {
    this.ctrl = new Int32Array(shared.ctrl);
    this.args = new Float64Array(shared.args);
    this.errors = new Uint8Array(shared.errors);
    shared.names.forEach((n, i) => this.kernelIndex.set(n, i));
  }

  /**
   * A pool of `count` workers that instantiate `module` over the shared `memory`. With `lazy`
   * (the platform lets workers boot while this thread blocks), no worker is spawned yet: the
   * first run() that needs workers spawns them all and waits for the ones it uses. Otherwise
   * every worker is spawned now and the promise settles when all run (or one failed to start).
   */
  static async start(count: number, module: WebAssembly.Module, memory: WebAssembly.Memory, main: Kernels,
                     lazy = false): Promise<WorkerPool> {
    const shared: Shared = {
      module, memory,
      names: WebAssembly.Module.exports(module).filter((e) => e.kind === 'function').map((e) => e.name),
      ctrl: new SharedArrayBuffer(count * CTRL_INTS * 4),
      args: new SharedArrayBuffer(count * MAX_ARGS * 8),
      errors: new SharedArrayBuffer(count * ERROR_BYTES),
    };
    await platform().prepareWorkers?.();
    const pool = new WorkerPool(count, shared, main, platform().canBlock());
    if (lazy) return pool;
    try {
      pool.spawn(false);
      await pool.started;
    } catch (e) {
      await Promise.all(pool.workers.map((w) => w.terminate()));
      throw e;
    }
    for (const w of pool.workers) w.unref();
    pool.running = count;
    return pool;
  }

  /**
   * Spawns every worker (once); `started` settles when all run. `unref`: at once (a lazy pool:
   * booting workers must not keep a process alive), or (false) by the caller once they run.
   */
  private spawn(unref: boolean): void {
    const src = workerSource();
    const starts: Array<Promise<void>> = [];
    for (let index = 0; index < this.count; index++) {
      let w: WorkerHandle;
      try {
        w = platform().startWorker(src);
      } catch (e) {
        this.startError ??= e as Error; // later jobs fail with it too, instead of waiting
        throw e;
      }
      this.workers.push(w);
      starts.push(new Promise<void>((resolve, reject) => {
        const failed = (e: Error) => {
          this.startError ??= e;
          reject(e);
        };
        w.onError(failed);
        w.onMessage((m) => {
          if (m?.type === 'ready') resolve();
          else if (m?.type === 'error') failed(new Error(`thinnet worker ${index} failed to start: ${m.message}`));
        });
      }));
      w.post({ type: 'init', index, layout: { CTRL: CTRL_INTS, ARGS: MAX_ARGS, ERR: ERROR_BYTES }, ...this.shared });
      if (unref) w.unref(); // after the listeners: adding a message listener refs the worker again
    }
    this.started = Promise.all(starts);
    this.started.catch(() => {}); // also reported by run(), from the start state or startError
  }

  /** Blocks until workers [0, w] run (spawning them first if need be); throws if one failed to start. */
  private ensureRunning(w: number): void {
    if (this.running > w) return;
    if (this.workers.length === 0) this.spawn(true);
    while (this.running <= w) {
      const i = this.running;
      const idx = i * CTRL_INTS + 5;
      const clock = new WaitClock(100);
      for (;;) {
        const state = Atomics.load(this.ctrl, idx);
        if (state === RUNNING) break;
        if (state === FAILED) throw new Error(`thinnet worker ${i} failed to start: ${this.errorText(i)}`);
        if (this.startError) throw this.startError;
        if (!this.canBlock) throw new Error(`thinnet: worker ${i} has not started yet`);
        Atomics.wait(this.ctrl, idx, state, 100);
        if (clock.expired()) throw new Error(`thinnet: worker ${i} did not start within ${WAIT_TIMEOUT_MS / 1000} s`);
      }
      this.running++;
    }
  }

  private errorText(w: number): string {
    const bytes = this.errors.slice(w * ERROR_BYTES, (w + 1) * ERROR_BYTES);
    const end = bytes.indexOf(0);
    return new TextDecoder().decode(bytes.subarray(0, end < 0 ? bytes.length : end));
  }

  /**
   * Threads that can take a job right now without spawning or waiting for a worker: the
   * calling thread plus the leading workers that run. Never blocks; equals `threads` once every
   * worker runs. (For work too small to be worth waiting for the pool to boot.)
   */
  get runningThreads(): number {
    while (this.running < this.workers.length && Atomics.load(this.ctrl, this.running * CTRL_INTS + 5) === RUNNING) this.running++;
    return this.running + 1;
  }

  /**
   * Number of threads a job list may use: the workers plus the calling thread (inside
   * runningOnly(), only those that run now).
   */
  get threads(): number {
    return this.onlyRunning ? this.runningThreads : this.count + 1;
  }

  /**
   * Runs fn with `threads` counting only the threads that run now, so that work too small to
   * be worth waiting for the pool to boot never spawns or waits for a worker.
   */
  runningOnly<T>(fn: () => T): T {
    const prev = this.onlyRunning;
    this.onlyRunning = true;
    try {
      return fn();
    } finally {
      this.onlyRunning = prev;
      this.spawnSoon();
    }
  }

  /**
   * A lazy pool that has not spawned its workers yet spawns them on a later turn of the event
   * loop, without waiting for them: a process that only answers small predictions (a server,
   * one example at a time) gets the pool for the next ones, while the first one — a cold start —
   * never paid for it. The timer does not keep the process alive.
   */
  private spawnSoon(): void {
    if (this.workers.length > 0 || this.spawnScheduled || this.closed || this.startError) return;
    this.spawnScheduled = true;
    const timer = setTimeout(() => {
      if (this.workers.length > 0 || this.closed || this.startError) return;
      try { this.spawn(true); } catch { /* startError is set: the next job that needs workers reports it */ }
    }, 0) as unknown as { unref?: () => void };
    timer.unref?.();
  }

  /**
   * Runs jobs[0] on the calling thread and jobs[1..] on workers 0.., returning when all are done.
   * A kernel that throws in a worker is rethrown here with the worker's message.
   */
  run(jobs: Job[]): void {
    if (this.closed) throw new Error('thinnet: the worker pool is closed');
    if (jobs.length > this.threads) throw new Error(`thinnet: ${jobs.length} jobs for ${this.threads} threads`);
    this.ensureRunning(jobs.length - 2);
    const seq = ++this.seq;
    for (let w = 0; w < jobs.length - 1; w++) {
      const job = jobs[w + 1];
      const k = this.kernelIndex.get(job.kernel);
      if (k === undefined) throw new Error(`thinnet: kernel ${job.kernel} is not in this build`);
      if (job.args.length > MAX_ARGS) throw new Error(`thinnet: too many arguments for ${job.kernel}`);
      const base = w * CTRL_INTS;
      this.args.set(job.args, w * MAX_ARGS);
      this.ctrl[base + 2] = k;
      this.ctrl[base + 3] = job.args.length;
      this.ctrl[base + 4] = 0;
      Atomics.store(this.ctrl, base, seq);
      Atomics.notify(this.ctrl, base);
    }
    let mainError: unknown;
    try {
      (this.main[jobs[0].kernel] as (...a: number[]) => void)(...jobs[0].args);
    } catch (e) {
      mainError = e;
    }
    const failures: string[] = [];
    for (let w = 0; w < jobs.length - 1; w++) {
      this.waitDone(w, seq);
      const base = w * CTRL_INTS;
      if (this.ctrl[base + 4] !== 0) failures.push(`worker ${w}: ${this.errorText(w)}`);
    }
    if (mainError !== undefined) throw mainError;
    if (failures.length) throw new Error(`thinnet: kernel ${jobs[1].kernel} failed in ${failures.join('; ')}`);
  }

  private waitDone(w: number, seq: number): void {
    const idx = w * CTRL_INTS + 1;
    const clock = new WaitClock(1000);
    let spins = 0;
    for (;;) {
      const done = Atomics.load(this.ctrl, idx);
      if (done === seq) return;
      if (spins < 50000) { spins++; continue; }
      if (this.canBlock) Atomics.wait(this.ctrl, idx, done, 1000);
      if (clock.expired()) throw new Error(`thinnet: worker ${w} did not finish its job within ${WAIT_TIMEOUT_MS / 1000} s`);
    }
  }

  /** Stops every worker. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const seq = ++this.seq;
    for (let w = 0; w < this.workers.length; w++) {
      const base = w * CTRL_INTS;
      this.ctrl[base + 2] = -1;
      Atomics.store(this.ctrl, base, seq);
      Atomics.notify(this.ctrl, base);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
