// Running checked requests on a model: one request alone, or micro-batches — concurrent
// deterministic requests coalesced into one model.predict call.
//
// What "identical" means here. A weight-scaling prediction of a row is the same sequence of
// float operations whatever other rows share its batch, a single row included: thinnet's
// one-row (GEMV) kernels keep the order of the packed GEMM (the order contract of
// assembly/gemm.ts). So every deterministic answer is bit for bit the same whether the request
// was batched with 0 or 100 others, and equals model.predict(x) of the request's own rows.
// (Until 2026-12 the GEMV summed in another order, and the `batchInvariant` option, on by
// default, predicted a lone row as two copies of itself to get the batched bits; it is still
// accepted, and has no effect.)
//
// Monte-Carlo requests (mc > 0, uncertainty) are never coalesced: a dropout mask depends on the
// row's position within its batch, so batching would change which thinned networks a row sees.
// Each runs alone as model.predict(x, { mc }) / predictWithUncertainty(x, { samples: mc })
// with the library's defaults, and its answer is exactly what those calls return.
import type { Sequential } from '../model/sequential.js';
import type { PredictRequest, PredictResult } from './protocol.js';

export interface BatchOptions {
  /** Coalesce concurrent deterministic requests (default true). */
  enabled: boolean;
  /** Most rows in one batched predict (a larger single request still runs, alone). */
  maxRows: number;
  /** How long the first request of a batch waits for others to join (ms). */
  maxWaitMs: number;
}

export const DEFAULT_BATCH: BatchOptions = { enabled: true, maxRows: 128, maxWaitMs: 2 };

/** The deterministic (weight-scaling) outputs of `rows` rows, in one pass (predict's default
 *  batchSize, 1000, would split a larger batch; the bits would not change). */
function weightScaling(model: Sequential, x: Float32Array | Uint8Array, rows: number): Float32Array {
  return model.predict(x, { batchSize: Math.max(rows, 1) });
}

/** One request on its own. */
export function predictAlone(model: Sequential, req: PredictRequest): PredictResult {
  if (req.uncertainty) {
    const u = model.predictWithUncertainty(req.x, { samples: req.mc });
    return { predictions: u.mean, variance: u.variance, entropy: u.entropy, mutualInformation: u.mutualInformation };
  }
  if (req.mc > 0) return { predictions: model.predict(req.x, { mc: req.mc }) };
  return { predictions: weightScaling(model, req.x, req.rows) };
}

interface Job {
  model: Sequential;
  req: PredictRequest;
  resolve(r: PredictResult): void;
  reject(e: unknown): void;
  queuedAt: number;
}

/** What a batch did, for the metrics. */
export interface BatchStats { rows: number; requests: number; seconds: number }

export interface Submitted {
  result: Promise<PredictResult>;
  /**
   * Takes the request out of the queue if it has not started (a timed-out client): its result
   * rejects with `reason`. True if it was removed; false if it already ran or is running.
   */
  cancel(reason?: unknown): boolean;
}

/**
 * A FIFO queue in front of the model: one prediction runs at a time (wasm is single-threaded
 * from JavaScript's side; thinnet's worker pool parallelizes inside a call). A batch starts
 * when it is full (maxRows) or its oldest request has waited maxWaitMs; under load the queue
 * fills while the previous batch runs, so batches start at once and grow with the load.
 */
export class Batcher {
  private queue: Job[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private immediate = false;
  private running = false;

  constructor(private readonly options: BatchOptions, private readonly onBatch: (s: BatchStats) => void = () => {}) {}

  /** Requests waiting (not yet running). */
  get pending(): number {
    return this.queue.length;
  }

  submit(model: Sequential, req: PredictRequest): Submitted {
    let job!: Job;
    const result = new Promise<PredictResult>((resolve, reject) => {
      job = { model, req, resolve, reject, queuedAt: performance.now() };
    });
    this.queue.push(job);
    this.schedule();
    return {
      result,
      cancel: (reason: unknown = new Error('cancelled')) => {
        const i = this.queue.indexOf(job);
        if (i < 0) return false;
        this.queue.splice(i, 1);
        job.reject(reason);
        return true;
      },
    };
  }

  /** Whether the request can share a batch with others. */
  private coalescable(job: Job): boolean {
    return this.options.enabled && job.req.mc === 0 && !job.req.uncertainty;
  }

  private schedule(): void {
    if (this.running || this.immediate || this.queue.length === 0) return;
    const head = this.queue[0];
    let wait = 0;
    if (this.coalescable(head)) {
      const rows = this.queue.reduce((n, j) => n + (this.compatible(head, j) ? j.req.rows : 0), 0);
      if (rows < this.options.maxRows) wait = head.queuedAt + this.options.maxWaitMs - performance.now();
    }
    if (wait > 0) {
      this.timer ??= setTimeout(this.run, wait);
      return;
    }
    // full, or waited long enough: run now. setImmediate rather than a microtask: sockets with
    // complete requests are read first, so requests that arrived while the last batch ran join
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    this.immediate = true;
    if (typeof setImmediate === 'function') setImmediate(this.run);
    else setTimeout(this.run, 0);
  }

  private readonly run = (): void => {
    this.immediate = false;
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    this.runBatch();
  };

  /** Same model (a reload may leave requests for the old one queued) and same dtype (uint8 is scaled in wasm). */
  private compatible(head: Job, j: Job): boolean {
    return this.coalescable(j) && j.model === head.model && j.req.dtype === head.req.dtype;
  }

  private take(): Job[] {
    const head = this.queue.shift()!;
    if (!this.coalescable(head)) return [head];
    const batch = [head];
    let rows = head.req.rows;
    for (let i = 0; i < this.queue.length && rows < this.options.maxRows;) {
      const j = this.queue[i];
      if (this.compatible(head, j) && rows + j.req.rows <= this.options.maxRows) {
        batch.push(j);
        rows += j.req.rows;
        this.queue.splice(i, 1);
      } else i++;
    }
    return batch;
  }

  private runBatch(): void {
    if (this.queue.length === 0) return;
    this.running = true;
    const batch = this.take();
    const t0 = performance.now();
    try {
      if (batch.length === 1) this.runAlone(batch[0]);
      else this.runTogether(batch);
    } finally {
      this.onBatch({ rows: batch.reduce((n, j) => n + j.req.rows, 0), requests: batch.length, seconds: (performance.now() - t0) / 1000 });
      this.running = false;
      this.schedule();
    }
  }

  private runAlone(job: Job): void {
    try {
      job.resolve(predictAlone(job.model, job.req));
    } catch (e) {
      job.reject(e);
    }
  }

  private runTogether(batch: Job[]): void {
    const { model } = batch[0];
    const F = model.inputSize, C = model.outputSize;
    const rows = batch.reduce((n, j) => n + j.req.rows, 0);
    const x = batch[0].req.x instanceof Uint8Array ? new Uint8Array(rows * F) : new Float32Array(rows * F);
    let r = 0;
    for (const j of batch) { x.set(j.req.x, r * F); r += j.req.rows; }
    let out: Float32Array;
    try {
      out = weightScaling(model, x, rows);
    } catch {
      // one request's rows overflowed inside the network (inputs are checked finite, but huge
      // values can still overflow float32): answer each request alone, so only that one fails
      for (const j of batch) this.runAlone(j);
      return;
    }
    r = 0;
    for (const j of batch) {
      j.resolve({ predictions: out.slice(r * C, (r + j.req.rows) * C) });
      r += j.req.rows;
    }
  }

  /** Rejects everything still queued (the server is closing for good). */
  clear(reason: unknown): void {
    if (this.timer) clearTimeout(this.timer);
    for (const j of this.queue.splice(0)) j.reject(reason);
  }
}
