// A pool of workers over one shared WebAssembly.Memory. The main instance allocates; workers only
// run kernels on ranges the main thread hands them. The calling thread takes the first range
// itself and then waits (Atomics.wait where it may block, a spin on a browser's main thread),
// so ops stay synchronous. Ranges are cut at multiples of 32 elements, which keeps every mask
// word and every RNG counter where a single call would put it: results are bit-identical to one
// thread — and to any other assignment of ranges to threads, which is what lets the calling
// thread run a range itself when its worker is gone.
//
// Starting: where workers boot on their own while the caller blocks (Node's worker_threads), the
// pool is made without workers and spawns them when the first job list that needs one arrives,
// then waits for them (their start state is in shared memory, so the wait needs no event loop).
// A process that never runs a job on the pool (one that loads a model and predicts a few
// examples) never pays for worker threads: ~10 ms of ready() and ~30 ms of CPU per worker here.
// Elsewhere (browsers start workers through the page's event loop, so a blocking wait there
// could never end) start() spawns every worker and waits until all run, as ready() always did.
//
// Workers that die. The calling thread blocks while workers run, so it cannot hear an 'exit'
// event then; what it can see synchronously is shared memory and its own calls. So:
//  - terminate() on a worker's handle reports the death at once (WorkerHandle.onExit), and the
//    host's 'exit' / 'error' events report it whenever this thread returns to its event loop;
//  - a worker whose job loop crashes, or whose process exits (Node: process.exit, an uncaught
//    exception), writes DIED into its state word and wakes the caller;
//  - a job no worker takes within CLAIM_TIMEOUT_MS (a worker dead without a word) is taken back
//    by compare-exchange and run by the calling thread: exactly one thread runs every job.
// A dead worker is replaced by a new one (on a later turn of the event loop, or before the next
// job list that needs it; in Node that job list waits for it to boot, ~10–30 ms). Until the new
// one runs — in browsers, which cannot wait for a boot — and after MAX_STRIKES deaths in a row
// without a finished job, the calling thread runs that worker's ranges: results stay
// bit-identical. Only a job that a worker took and never finished is lost: that job list throws
// an error naming the worker and why (it died: "exited with code 1"; or it did not finish
// within WAIT_TIMEOUT_MS, and the pool stopped it), after the other workers finished theirs.
import type { KernelName, Kernels } from '../kernels/binding.js';
import { platform, type WorkerHandle } from '../platform/types.js';
import { BLOCK_BYTES, CTRL_INTS, ERROR_BYTES, MAX_ARGS, STATE, WORD, workerSource } from './worker-source.js';

export interface Job {
  kernel: KernelName;
  args: number[];
}

const envMs = (name: string, fallback: number): number => {
  const v = typeof process !== 'undefined' ? Number(process.env?.[name]) : NaN;
  return v > 0 ? v : fallback;
};

/**
 * How long a worker may take to start or to finish a job it took before the caller gives up
 * (a worker stuck in a kernel, or killed by a means that leaves no trace). Default 120 s;
 * THINNET_WORKER_TIMEOUT_MS overrides it (tests).
 */
const WAIT_TIMEOUT_MS = envMs('THINNET_WORKER_TIMEOUT_MS', 120_000);
/**
 * How long a job may wait for its worker to take it before the calling thread takes it back and
 * runs it itself (a running worker takes a job within microseconds; one that has not in a
 * second is presumed dead, and replaced).
 */
const CLAIM_TIMEOUT_MS = 1000;
/** Deaths in a row of one worker (without a finished job between) after which it is not replaced. */
const MAX_STRIKES = 3;
/** Length of one blocking wait between checks of a worker's state, ms. */
const SLICE_MS = 100;

/**
 * Time spent waiting, counted slice by slice with each slice capped at twice its length: a process
 * that was suspended (SIGSTOP, a laptop asleep, a debugger) does not find every job "timed out"
 * when it resumes — the workers were suspended too. @internal (exported for tests)
 */
export class WaitClock {
  private waited = 0;
  private last = Date.now();
  constructor(private readonly sliceMs: number, private readonly limitMs = WAIT_TIMEOUT_MS) {}
  /** Adds the time since the last call (at most two slices); true once past the limit (default WAIT_TIMEOUT_MS). */
  expired(): boolean {
    const now = Date.now();
    this.waited += Math.min(Math.max(now - this.last, 0), 2 * this.sliceMs);
    this.last = now;
    return this.waited > this.limitMs;
  }
}

interface Shared {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  names: string[];
}

/** One worker and its block of shared memory. A replacement is a new Slot (a new block). */
interface Slot {
  index: number;
  handle: WorkerHandle;
  ctrl: Int32Array;
  args: Float64Array;
  errors: Uint8Array;
  /** Workers of this index that died in a row before this one (0: none; the first ever has 0 too). */
  strikes: number;
  /** The first worker of its index (a failure to start it fails the pool, as it always did). */
  first: boolean;
  /** Why the worker is gone, once known. */
  death?: string;
  /** Not replaced again: the calling thread runs this index's jobs. */
  retired?: boolean;
  /** Settles when terminate() has stopped the worker. */
  stopped?: Promise<void>;
}

const TAKEN_BACK = Symbol('taken back');

export class WorkerPool {
  private seq = 0;
  private closed = false;
  private readonly kernelIndex = new Map<string, number>();
  /** Spawned workers, by index (empty until a lazy pool spawns them). */
  private readonly slots: Slot[] = [];
  /** Terminations of replaced workers still under way, awaited by close(). */
  private readonly stopping = new Set<Promise<void>>();
  /** Why the pool cannot run jobs (a first worker failed to start), once known. */
  private startError: Error | undefined;
  /** Inside runningOnly(): `threads` counts only the threads that run. */
  private onlyRunning = false;
  private spawnScheduled = false;
  private replaceScheduled = false;
  /** @internal What happened to workers that died ("worker 0 was terminated"), oldest first, the first 100 (tests, diagnostics). */
  readonly deaths: string[] = [];

  private constructor(
    /** Workers (spawned or to be spawned). */
    readonly count: number,
    private readonly shared: Shared,
    private readonly main: Kernels,
    private readonly canBlock: boolean,
    /** Whether run() may block until a worker boots (workers start while this thread blocks). */
    private readonly waitForBoot: boolean,
  ) {
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
    };
    await platform().prepareWorkers?.();
    const canBlock = platform().canBlock();
    const pool = new WorkerPool(count, shared, main, canBlock, lazy && canBlock);
    if (lazy) return pool;
    try {
      await Promise.all(pool.spawnAll(false));
    } catch (e) {
      await Promise.all(pool.slots.map((s) => pool.stop(s)));
      throw e;
    }
    for (const s of pool.slots) s.handle.unref();
    return pool;
  }

  /** @internal The current workers' handles, by index (empty until a lazy pool spawns them). */
  get workers(): WorkerHandle[] {
    return this.slots.map((s) => s.handle);
  }

  /** Spawns every worker (once); the promises settle when each runs (or failed to start). */
  private spawnAll(unref: boolean): Array<Promise<void>> {
    const starts: Array<Promise<void>> = [];
    for (let index = 0; index < this.count; index++) {
      let slot: Slot, started: Promise<void>;
      try {
        [slot, started] = this.spawn(index, 0, true, unref);
      } catch (e) {
        this.startError ??= e as Error; // later jobs fail with it too, instead of waiting
        throw e;
      }
      this.slots.push(slot);
      starts.push(started);
    }
    return starts;
  }

  /**
   * Starts worker `index` with a fresh block of shared memory. `unref`: at once (a lazy pool:
   * booting workers must not keep a process alive), or (false) by the caller once they run.
   */
  private spawn(index: number, strikes: number, first: boolean, unref: boolean): [Slot, Promise<void>] {
    const block = new SharedArrayBuffer(BLOCK_BYTES);
    const handle = platform().startWorker(workerSource());
    const slot: Slot = {
      index, handle, strikes, first,
      ctrl: new Int32Array(block, 0, CTRL_INTS),
      args: new Float64Array(block, CTRL_INTS * 4, MAX_ARGS),
      errors: new Uint8Array(block, CTRL_INTS * 4 + MAX_ARGS * 8, ERROR_BYTES),
    };
    const started = new Promise<void>((resolve, reject) => {
      // Whether it ran is read from its state word: the 'ready' message may still be queued.
      const ran = () => Atomics.load(slot.ctrl, WORD.STATE) === STATE.RUNNING || Atomics.load(slot.ctrl, WORD.STATE) === STATE.DIED;
      const failed = (why: string) => {
        const e = new Error(`thinnet worker ${index} ${why}`);
        if (first) this.startError ??= e; // a first worker that cannot start fails the pool, as it always did
        this.markDead(slot, why);
        reject(e);
      };
      handle.onError((e) => { if (!ran()) failed(`failed to start: ${e.message}`); });
      handle.onMessage((m) => {
        if (m?.type === 'ready') resolve();
        else if (m?.type === 'error') failed(`failed to start: ${m.message}`);
      });
      handle.onExit((reason) => {
        if (ran()) this.markDead(slot, reason);
        else failed(`${reason} before it started`);
      });
    });
    started.catch(() => {}); // also reported by run(), from the start state, startError or the death
    handle.post({ type: 'init', index, block, layout: { CTRL: CTRL_INTS, ARGS: MAX_ARGS, ERR: ERROR_BYTES, W: WORD, S: STATE }, ...this.shared });
    if (unref) handle.unref(); // after the listeners: adding a message listener refs the worker again
    return [slot, started];
  }

  /** Terminates a worker (once); settles when it is stopped. */
  private stop(s: Slot): Promise<void> {
    if (!s.stopped) {
      s.stopped = Promise.resolve(); // terminate() calls the onExit listeners, which come back here
      let p: Promise<void>;
      try {
        p = Promise.resolve(s.handle.terminate());
      } catch {
        p = Promise.resolve();
      }
      s.stopped = p.catch(() => {});
    }
    return s.stopped;
  }

  /**
   * Records that a worker is gone (the first reason wins), stops it for good (it must never run
   * a job again: the caller may have given its range to another thread) and schedules its
   * replacement.
   */
  private markDead(s: Slot, reason: string): void {
    if (s.death !== undefined) return;
    s.death = reason;
    if (!this.closed && this.deaths.length < 100) this.deaths.push(`worker ${s.index} ${reason}`);
    void this.stop(s);
    this.replaceSoon();
  }

  /** Notices a death the worker wrote into its state word. */
  private check(s: Slot): void {
    if (s.death === undefined && Atomics.load(s.ctrl, WORD.STATE) === STATE.DIED) this.markDead(s, this.errorText(s));
  }

  /** Whether job lists may post to worker w now. */
  private usable(w: number): boolean {
    const s = this.slots[w];
    if (!s) return false;
    this.check(s);
    return s.death === undefined && Atomics.load(s.ctrl, WORD.STATE) === STATE.RUNNING;
  }

  /**
   * Replaces dead worker w by a new one (not waiting for it to boot). False if w is not
   * replaced (the pool is closed, or the index died MAX_STRIKES times in a row): the calling
   * thread runs its jobs.
   */
  private replace(w: number): boolean {
    const old = this.slots[w];
    if (this.closed || old.retired) return false;
    if (old.strikes + 1 >= MAX_STRIKES) {
      old.retired = true;
      return false;
    }
    const stopped = this.stop(old);
    this.stopping.add(stopped);
    void stopped.then(() => this.stopping.delete(stopped));
    try {
      this.slots[w] = this.spawn(w, old.strikes + 1, false, true)[0];
    } catch {
      old.retired = true;
      return false;
    }
    return true;
  }

  /** Replaces the dead workers on a later turn of the event loop (the timer does not keep a process alive). */
  private replaceSoon(): void {
    if (this.replaceScheduled || this.closed || this.startError) return;
    this.replaceScheduled = true;
    const timer = setTimeout(() => {
      this.replaceScheduled = false;
      if (this.startError) return;
      for (let w = 0; w < this.slots.length; w++) if (this.slots[w].death !== undefined) this.replace(w);
    }, 0) as unknown as { unref?: () => void };
    timer.unref?.();
  }

  /**
   * Makes workers [0, n) ready for a job list: spawns a lazy pool's workers, replaces dead ones
   * and, where it may block for a boot, waits until they run. Throws if a first worker failed to
   * start. Workers that still do not run after this get no job: the calling thread runs theirs.
   */
  private prepare(n: number): void {
    if (this.startError) throw this.startError;
    if (n <= 0) return;
    if (this.slots.length === 0) this.spawnAll(true);
    for (let w = 0; w < n; w++) {
      if (this.usable(w)) continue; // the usual case: nothing to do
      for (;;) {
        const s = this.slots[w];
        this.check(s);
        if (s.retired) break;
        if (s.death !== undefined) {
          if (this.replace(w)) continue;
          break;
        }
        if (!this.waitForBoot || this.awaitStart(s)) break;
      }
    }
  }

  /** Blocks until worker s runs (true) or is gone (false); throws if a first worker failed to start. */
  private awaitStart(s: Slot): boolean {
    const clock = new WaitClock(SLICE_MS);
    for (;;) {
      const state = Atomics.load(s.ctrl, WORD.STATE);
      if (state === STATE.RUNNING) return true;
      this.check(s);
      if (state === STATE.FAILED || s.death !== undefined) {
        const why = state === STATE.FAILED ? `failed to start: ${this.errorText(s)}` : s.death!;
        if (s.first) throw (this.startError ??= new Error(`thinnet worker ${s.index} ${why}`));
        this.markDead(s, why);
        return false;
      }
      if (this.startError) throw this.startError;
      Atomics.wait(s.ctrl, WORD.STATE, state, SLICE_MS);
      if (clock.expired()) {
        const why = `did not start within ${WAIT_TIMEOUT_MS / 1000} s`;
        if (s.first) throw (this.startError ??= new Error(`thinnet: worker ${s.index} ${why}`));
        this.markDead(s, why);
        return false;
      }
    }
  }

  private errorText(s: Slot): string {
    const end = s.errors.indexOf(0);
    return new TextDecoder().decode(s.errors.slice(0, end < 0 ? s.errors.length : end));
  }

  /**
   * Threads that can take a job right now without spawning or waiting for a worker: the
   * calling thread plus the leading workers that run. Never blocks; equals `threads` once every
   * worker runs. (For work too small to be worth waiting for the pool to boot.)
   */
  get runningThreads(): number {
    let w = 0;
    while (w < this.slots.length && this.usable(w)) w++;
    return w + 1;
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
    if (this.slots.length > 0 || this.spawnScheduled || this.closed || this.startError) return;
    this.spawnScheduled = true;
    const timer = setTimeout(() => {
      if (this.slots.length > 0 || this.closed || this.startError) return;
      try { this.spawnAll(true); } catch { /* startError is set: the next job that needs workers reports it */ }
    }, 0) as unknown as { unref?: () => void };
    timer.unref?.();
  }

  /**
   * Runs jobs[0] on the calling thread and jobs[1..] on workers 0.., returning when all are done
   * (the calling thread runs the jobs of workers that are gone or not running yet). A kernel that
   * throws in a worker is rethrown here with the worker's message; a worker that dies while it
   * runs its job fails the call with the reason.
   */
  run(jobs: Job[]): void {
    if (this.closed) throw new Error('thinnet: the worker pool is closed');
    if (jobs.length > this.threads) throw new Error(`thinnet: ${jobs.length} jobs for ${this.threads} threads`);
    // Every job is checked before any is posted: a bad one must not leave others running.
    for (const job of jobs) {
      if (!this.kernelIndex.has(job.kernel)) throw new Error(`thinnet: kernel ${job.kernel} is not in this build`);
      if (job.args.length > MAX_ARGS) throw new Error(`thinnet: too many arguments for ${job.kernel}`);
    }
    const n = jobs.length - 1;
    this.prepare(n);
    this.seq = this.seq >= 0x3fffffff ? 1 : this.seq + 1;
    const seq = this.seq;
    const here: number[] = [];
    for (let w = 0; w < n; w++) if (!this.post(w, jobs[w + 1], seq)) here.push(w);
    let mainError: unknown;
    try {
      this.runHere(jobs[0]);
    } catch (e) {
      mainError = e;
    }
    let failures: string[] | undefined;
    for (const w of here) failures = this.runInstead(w, jobs[w + 1], failures);
    for (let w = 0, h = 0; w < n; w++) {
      if (h < here.length && here[h] === w) { h++; continue; }
      const r = this.waitDone(w, seq, jobs[w + 1].kernel);
      if (r === TAKEN_BACK) failures = this.runInstead(w, jobs[w + 1], failures);
      else if (r !== undefined) (failures ??= []).push(r);
    }
    if (mainError !== undefined) throw mainError;
    if (failures) throw new Error(`thinnet: kernel ${jobs[1].kernel} failed in ${failures.join('; ')}`);
  }

  private runHere(job: Job): void {
    (this.main[job.kernel] as (...a: number[]) => void)(...job.args);
  }

  /** Runs worker w's job on the calling thread; adds its error to the failures. */
  private runInstead(w: number, job: Job, failures: string[] | undefined): string[] | undefined {
    try {
      this.runHere(job);
    } catch (e) {
      (failures ??= []).push(`worker ${w}'s range (run on the calling thread): ${(e as Error)?.message ?? e}`);
    }
    return failures;
  }

  /** Posts a job to worker w if it runs; false if the calling thread must run it. */
  private post(w: number, job: Job, seq: number): boolean {
    const s = this.slots[w]; // prepare() has just checked its state word for a death
    if (s.death !== undefined || Atomics.load(s.ctrl, WORD.STATE) !== STATE.RUNNING) return false;
    const { ctrl, args } = s;
    args.set(job.args);
    ctrl[WORD.KERNEL] = this.kernelIndex.get(job.kernel)!;
    ctrl[WORD.ARGC] = job.args.length;
    ctrl[WORD.STATUS] = 0;
    Atomics.store(ctrl, WORD.CLAIM, seq);
    Atomics.store(ctrl, WORD.SEQ, seq);
    Atomics.notify(ctrl, WORD.SEQ);
    return true;
  }

  /**
   * Waits for worker w's job `seq`: undefined when it finished, a failure text when its kernel
   * threw or the worker died or hung with it, TAKEN_BACK when the worker never took it (the
   * caller runs it).
   */
  private waitDone(w: number, seq: number, kernel: string): string | typeof TAKEN_BACK | undefined {
    const s = this.slots[w];
    const ctrl = s.ctrl;
    for (let spins = 0; spins < 50000; spins++) {
      if (Atomics.load(ctrl, WORD.DONE) === seq) return this.finished(s);
    }
    const clock = new WaitClock(SLICE_MS);
    const claimClock = new WaitClock(SLICE_MS, CLAIM_TIMEOUT_MS);
    const takeBack = () => Atomics.compareExchange(ctrl, WORD.CLAIM, seq, 0) === seq;
    for (;;) {
      const done = Atomics.load(ctrl, WORD.DONE);
      if (done === seq) return this.finished(s);
      this.check(s);
      if (s.death !== undefined) {
        if (takeBack()) return TAKEN_BACK; // it died before it took the job
        return `worker ${w}: the worker ${s.death} while it ran ${kernel} (the outputs of this call are incomplete; ` +
          'later calls do not use that worker)';
      }
      if (Atomics.load(ctrl, WORD.CLAIM) === seq && claimClock.expired() && takeBack()) {
        this.markDead(s, `did not take a job within ${CLAIM_TIMEOUT_MS} ms`);
        return TAKEN_BACK;
      }
      if (this.canBlock) Atomics.wait(ctrl, WORD.DONE, done, SLICE_MS);
      if (clock.expired()) {
        if (takeBack()) {
          this.markDead(s, `did not take a job within ${WAIT_TIMEOUT_MS / 1000} s`);
          return TAKEN_BACK;
        }
        this.markDead(s, `did not finish a job within ${WAIT_TIMEOUT_MS / 1000} s`);
        return `worker ${w}: the worker did not finish ${kernel} within ${WAIT_TIMEOUT_MS / 1000} s (the pool stopped it; later calls do not use it)`;
      }
    }
  }

  /** The outcome of a job worker s finished: its kernel's error, or undefined. */
  private finished(s: Slot): string | undefined {
    if (s.ctrl[WORD.STATUS] !== 0) return `worker ${s.index}: ${this.errorText(s)}`;
    s.strikes = 0;
    return undefined;
  }

  /** Stops every worker. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.slots) {
      s.ctrl[WORD.KERNEL] = -1;
      Atomics.store(s.ctrl, WORD.SEQ, Atomics.load(s.ctrl, WORD.SEQ) + 1);
      Atomics.notify(s.ctrl, WORD.SEQ);
    }
    await Promise.all([...this.slots.map((s) => this.stop(s)), ...this.stopping]);
  }
}
