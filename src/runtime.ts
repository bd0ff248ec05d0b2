// The loaded module: which build runs, its kernels, its heap and (optionally) the worker pool.
// One runtime per JavaScript realm; `ready()` makes it, `close()` ends it.
import { instantiate } from '@assemblyscript/loader';
import { chooseBuild, detectFeatures, type BuildName, type Features } from './backend.js';
import type { KernelName, Kernels } from './kernels.js';
import { Heap } from './memory.js';
import { platform, type WasmSource } from './platform/types.js';
import { splitRange, WorkerPool, type Job } from './threads.js';

export interface ReadyOptions {
  /** 'auto' (default) picks relaxed SIMD where the runtime has it, else plain SIMD. */
  backend?: 'auto' | 'simd' | 'relaxed';
  /**
   * Threads in all, the calling thread included. 'auto' (default): every core (at most 8) where
   * shared memory is available, else 1. 1 runs without workers.
   */
  threads?: number | 'auto';
  /**
   * Where the wasm comes from: one source for the chosen build, or one per build name. A source
   * is bytes, a WebAssembly.Module (edge runtimes import wasm that way), a Response, or a URL.
   * Default: the package's own build/ files (Node: read from disk; browsers: fetched).
   */
  wasm?: WasmSource | Partial<Record<BuildName, WasmSource>>;
  /** Upper bound of the shared memory of threaded builds, in MB (default 2048, at most 4096). */
  maxMemoryMB?: number;
}

export interface ReadyInfo {
  backend: BuildName;
  threads: number;
  features: Features;
}

/** Below this many elements an elementwise op runs on one thread (a hand-off costs ~10 µs). */
export const MIN_ELEMENTS_PER_THREAD = 1 << 16;

export class Runtime {
  private constructor(
    readonly build: BuildName,
    readonly kernels: Kernels,
    readonly heap: Heap,
    readonly pool: WorkerPool | undefined,
    readonly features: Features,
    readonly options: ReadyOptions,
  ) {}

  get threads(): number {
    return this.pool ? this.pool.threads : 1;
  }

  info(): ReadyInfo {
    return { backend: this.build, threads: this.threads, features: this.features };
  }

  static async create(options: ReadyOptions): Promise<Runtime> {
    const p = platform();
    const features = detectFeatures(p.isolated());
    const requested = options.threads ?? 'auto';
    if (requested !== 'auto' && (!Number.isInteger(requested) || requested < 1 || requested > 64)) {
      throw new RangeError(`thinnet.ready: threads must be 'auto' or an integer in [1, 64], got ${requested}`);
    }
    const threads = requested === 'auto' ? (features.threads ? Math.min(8, p.hardwareConcurrency()) : 1) : requested;
    const backend = options.backend ?? 'auto';
    if (!['auto', 'simd', 'relaxed'].includes(backend)) {
      throw new RangeError(`thinnet.ready: backend must be 'auto', 'simd' or 'relaxed', got ${String(backend)}`);
    }
    const build = chooseBuild(features, backend, threads > 1);
    const source = await resolveSource(build, options.wasm);
    let memory: WebAssembly.Memory | undefined;
    const imports: Record<string, Record<string, unknown>> = {};
    if (threads > 1) {
      const maxMB = options.maxMemoryMB ?? 2048;
      if (!(maxMB >= 16 && maxMB <= 4096)) throw new RangeError(`thinnet.ready: maxMemoryMB must be in [16, 4096], got ${maxMB}`);
      memory = new WebAssembly.Memory({ initial: 256, maximum: Math.floor(maxMB * 16), shared: true });
      imports.env = { memory };
    }
    const { module, instance } = await instantiate(source as any, imports as any);
    // The loader's demangled exports wrap every function to set an argument count; the kernels
    // take fixed arguments, so the raw instance exports are called directly (no wrapper per call).
    const kernels = instance.exports as unknown as Kernels;
    memory ??= kernels.memory;
    const heap = new Heap(memory, kernels);
    const pool = threads > 1 ? await WorkerPool.start(threads - 1, module, memory, kernels) : undefined;
    const rt = new Runtime(build, kernels, heap, pool, features, options);
    rt.warm();
    return rt;
  }

  /**
   * Runs an elementwise kernel over n elements, split across the pool when n is large.
   * `argsFor(start, count)` gives the kernel's arguments for elements [start, start + count).
   * Row-wise kernels pass rows as elements and a smaller `minPerThread` (ranges still start at
   * multiples of 32).
   */
  runSplit(kernel: KernelName, n: number, argsFor: (start: number, count: number) => number[],
           minPerThread = MIN_ELEMENTS_PER_THREAD): void {
    const ranges = this.pool ? splitRange(n, this.pool.threads, minPerThread) : [[0, n] as [number, number]];
    if (ranges.length === 1) {
      (this.kernels[kernel] as (...a: number[]) => void)(...argsFor(0, n));
      return;
    }
    const jobs: Job[] = ranges.map(([start, count]) => ({ kernel, args: argsFor(start, count) }));
    this.pool!.run(jobs);
  }

  private scratch: number[] = [];
  private scratchBytes = 0;

  /**
   * Per-thread scratch for the GEMM and dense kernels: one block of at least `bytes` bytes for
   * each thread (index i for the thread that runs jobs[i]). Allocated on first use and grown
   * (freed and reallocated) when a larger block is asked for, then reused by every later call,
   * so repeated products allocate nothing. The blocks are only valid until the next call of
   * this method; they are counted in memoryInfo() and freed by releaseWorkspaces().
   */
  workspaces(bytes: number): readonly number[] {
    const want = Math.max(64, Math.ceil(bytes / 64) * 64);
    if (want > this.scratchBytes || this.scratch.length !== this.threads) {
      this.releaseWorkspaces();
      const size = Math.max(want, this.scratchBytes);
      const blocks: number[] = [];
      try {
        for (let t = 0; t < this.threads; t++) blocks.push(this.heap.alloc(size));
      } catch (e) {
        for (const p of blocks) this.heap.free(p);
        this.scratchBytes = 0;
        throw e;
      }
      this.scratch = blocks;
      this.scratchBytes = size;
    }
    return this.scratch;
  }

  /** Frees the blocks of workspaces() (the next product allocates them again). */
  releaseWorkspaces(): void {
    for (const p of this.scratch) this.heap.free(p);
    this.scratch = [];
  }

  /** Calls the hot kernels a few times so V8 tiers them up before the first real call. */
  private warm(): void {
    const n = 4096;
    const a = this.heap.alloc(n * 4), b = this.heap.alloc(n * 4), m = this.heap.alloc(n / 8);
    const k = this.kernels;
    for (let r = 0; r < 3; r++) {
      k.dropout_forward_f32(b, m, a, 32768, 2, 0, 0, r, 0, n);
      k.dropout_backward_f32(a, b, m, 2, n);
      k.dropout_backward_recompute_f32(a, b, 32768, 2, 0, 0, r, 0, n);
      k.dropout_eval_f32(b, a, 0.5, n);
      if (k.gaussian_dropout_forward_f32) k.gaussian_dropout_forward_f32(b, a, 1, 0, 0, r, 0, n);
    }
    this.heap.free(a); this.heap.free(b); this.heap.free(m);
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}

async function resolveSource(build: BuildName, wasm: ReadyOptions['wasm']): Promise<unknown> {
  let source: WasmSource | undefined;
  if (wasm !== undefined && isBuildMap(wasm)) source = wasm[build];
  else source = wasm as WasmSource | undefined;
  source ??= platform().defaultSource(build);
  if (typeof source === 'string' || source instanceof URL) return platform().fetchSource(source);
  return source;
}

function isBuildMap(w: unknown): w is Partial<Record<BuildName, WasmSource>> {
  return typeof w === 'object' && w !== null && !(w instanceof URL) && !(w instanceof WebAssembly.Module) &&
    !ArrayBuffer.isView(w) && !(w instanceof ArrayBuffer) && typeof (w as any).then !== 'function' &&
    !(typeof Response !== 'undefined' && w instanceof Response);
}

let current: Runtime | undefined;
let starting: Promise<Runtime> | undefined;

/** Loads thinnet (once). Later calls return the same runtime; close() first to change options. */
export async function ready(options: ReadyOptions = {}): Promise<ReadyInfo> {
  if (current) {
    if (JSON.stringify(options) !== JSON.stringify(current.options) && Object.keys(options).length > 0) {
      throw new Error('thinnet.ready: already loaded with other options; call thinnet.close() first');
    }
    return current.info();
  }
  starting ??= Runtime.create(options);
  try {
    current = await starting;
  } finally {
    starting = undefined;
  }
  return current.info();
}

/** Stops the worker pool and forgets the runtime; tensors made before are no longer usable. */
export async function close(): Promise<void> {
  const rt = current;
  current = undefined;
  await rt?.close();
}

export function runtime(): Runtime {
  if (!current) throw new Error('thinnet is not loaded: call `await thinnet.ready()` first');
  return current;
}
