// A pool of workers over one shared WebAssembly.Memory. The main instance allocates; workers only
// run kernels on ranges the main thread hands them. The calling thread takes the first range
// itself and then waits (Atomics.wait where it may block, a spin on a browser's main thread),
// so ops stay synchronous. Ranges are cut at multiples of 32 elements, which keeps every mask
// word and every RNG counter where a single call would put it: results are bit-identical to one
// thread.
import type { KernelName, Kernels } from './kernels.js';
import { platform, type WorkerHandle } from './platform/types.js';
import { CTRL_INTS, ERROR_BYTES, MAX_ARGS, workerSource } from './worker-source.js';

export interface Job {
  kernel: KernelName;
  args: number[];
}

const WAIT_TIMEOUT_MS = 120_000;

export class WorkerPool {
  private seq = 0;
  private closed = false;
  private readonly ctrl: Int32Array;
  private readonly args: Float64Array;
  private readonly errors: Uint8Array;
  private readonly kernelIndex = new Map<string, number>();

  private constructor(
    private readonly workers: WorkerHandle[],
    private readonly main: Kernels,
    buffers: { ctrl: SharedArrayBuffer; args: SharedArrayBuffer; errors: SharedArrayBuffer },
    names: string[],
    private readonly canBlock: boolean,
  ) {
    this.ctrl = new Int32Array(buffers.ctrl);
    this.args = new Float64Array(buffers.args);
    this.errors = new Uint8Array(buffers.errors);
    names.forEach((n, i) => this.kernelIndex.set(n, i));
  }

  /** Starts `count` workers that instantiate `module` over the shared `memory`. */
  static async start(count: number, module: WebAssembly.Module, memory: WebAssembly.Memory, main: Kernels): Promise<WorkerPool> {
    const names = WebAssembly.Module.exports(module).filter((e) => e.kind === 'function').map((e) => e.name);
    const buffers = {
      ctrl: new SharedArrayBuffer(count * CTRL_INTS * 4),
      args: new SharedArrayBuffer(count * MAX_ARGS * 8),
      errors: new SharedArrayBuffer(count * ERROR_BYTES),
    };
    const src = workerSource();
    const workers: WorkerHandle[] = [];
    try {
      await Promise.all(Array.from({ length: count }, (_, index) => new Promise<void>((resolve, reject) => {
        const w = platform().startWorker(src);
        workers.push(w);
        w.onError(reject);
        w.onMessage((m) => {
          if (m?.type === 'ready') resolve();
          else if (m?.type === 'error') reject(new Error(`thinnet worker ${index} failed to start: ${m.message}`));
        });
        w.post({ type: 'init', module, memory, names, index, ...buffers });
      })));
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    for (const w of workers) w.unref();
    return new WorkerPool(workers, main, buffers, names, platform().canBlock());
  }

  /** Number of threads a job list may use: the workers plus the calling thread. */
  get threads(): number {
    return this.workers.length + 1;
  }

  /**
   * Runs jobs[0] on the calling thread and jobs[1..] on workers 0.., returning when all are done.
   * A kernel that throws in a worker is rethrown here with the worker's message.
   */
  run(jobs: Job[]): void {
    if (this.closed) throw new Error('thinnet: the worker pool is closed');
    if (jobs.length > this.threads) throw new Error(`thinnet: ${jobs.length} jobs for ${this.threads} threads`);
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
      if (this.ctrl[base + 4] !== 0) {
        const bytes = this.errors.slice(w * ERROR_BYTES, (w + 1) * ERROR_BYTES);
        const end = bytes.indexOf(0);
        failures.push(`worker ${w}: ${new TextDecoder().decode(bytes.subarray(0, end < 0 ? bytes.length : end))}`);
      }
    }
    if (mainError !== undefined) throw mainError;
    if (failures.length) throw new Error(`thinnet: kernel ${jobs[1].kernel} failed in ${failures.join('; ')}`);
  }

  private waitDone(w: number, seq: number): void {
    const idx = w * CTRL_INTS + 1;
    const deadline = Date.now() + WAIT_TIMEOUT_MS;
    let spins = 0;
    for (;;) {
      const done = Atomics.load(this.ctrl, idx);
      if (done === seq) return;
      if (spins < 50000) { spins++; continue; }
      if (this.canBlock) Atomics.wait(this.ctrl, idx, done, 1000);
      if (Date.now() > deadline) throw new Error(`thinnet: worker ${w} did not finish its job within ${WAIT_TIMEOUT_MS / 1000} s`);
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

/**
 * Splits n elements into at most `parts` ranges whose starts are multiples of 32 (so mask words
 * and RNG counters line up), none smaller than `minChunk`. Returns [start, count] pairs.
 */
export function splitRange(n: number, parts: number, minChunk: number): Array<[number, number]> {
  const usable = Math.max(1, Math.min(parts, Math.floor(n / Math.max(32, minChunk)) || 1));
  const chunk = Math.ceil(n / usable / 32) * 32;
  const ranges: Array<[number, number]> = [];
  for (let start = 0; start < n; start += chunk) ranges.push([start, Math.min(chunk, n - start)]);
  if (ranges.length === 0) ranges.push([0, 0]);
  return ranges;
}
