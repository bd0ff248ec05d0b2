// The loaded module: which build runs, its kernels, its heap and (optionally) the worker pool.
// One runtime per JavaScript realm; `ready()` makes it, `close()` ends it.
import { chooseBuild, detectFeatures, type BuildName, type Features } from './backend.js';
import type { KernelName, Kernels } from '../kernels/binding.js';
import { Heap } from './heap.js';
import { platform, type WasmSource } from '../platform/types.js';
// The worker pool's module is loaded only when threads > 1 (a one-thread runtime never needs it).
import type { Job, WorkerPool } from '../threads/pool.js';
import { splitRange } from '../threads/split.js';

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

  /** Threads ops may use now (the pool's threads, or 1). */
  get threads(): number {
    return this.pool ? this.pool.threads : 1;
  }

  info(): ReadyInfo {
    return { backend: this.build, threads: this.pool ? this.pool.count + 1 : 1, features: this.features };
  }

  /**
   * Runs fn on the threads that run now: small work (a prediction of a few examples, ~1 ms)
   * never spawns the pool's workers or waits ~30 ms for them to boot. Results do not depend on
   * the thread count.
   */
  withRunningThreads<T>(fn: () => T): T {
    return this.pool ? this.pool.runningOnly(fn) : fn();
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
    const imports: WebAssembly.Imports = {};
    if (threads > 1) {
      const maxMB = options.maxMemoryMB ?? 2048;
      if (!(maxMB >= 16 && maxMB <= 4096)) throw new RangeError(`thinnet.ready: maxMemoryMB must be in [16, 4096], got ${maxMB}`);
      memory = new WebAssembly.Memory({ initial: 256, maximum: Math.floor(maxMB * 16), shared: true });
      imports.env = { memory };
    }
    const { module, instance } = await instantiate(source, imports);
    // The kernels take fixed arguments: the raw instance exports are called directly.
    const kernels = instance.exports as unknown as Kernels;
    memory ??= kernels.memory;
    // the shared memory's maximum is known: larger requests fail before they reach the allocator
    const heap = new Heap(memory, kernels, threads > 1 ? Math.floor((options.maxMemoryMB ?? 2048) * 16) * 65536 : undefined);
    // Where workers boot on their own, the pool starts them when first needed (see threads.ts).
    const pool = threads > 1
      ? await (await import('../threads/pool.js')).WorkerPool.start(threads - 1, module, memory, kernels, p.workersStartUnattended())
      : undefined;
    // No warm-up calls here: V8 compiles each kernel lazily on its first call and tiers it up
    // by itself; warming five dropout kernels took 2–3 ms of every ready() (half of it).
    return new Runtime(build, kernels, heap, pool, features, options);
  }

  /**
   * Runs an elementwise kernel over n elements, split across the pool when n is large.
   * `argsFor(start, count)` gives the kernel's arguments for elements [start, start + count).
   * Row-wise kernels pass rows as elements and a smaller `minPerThread` (ranges still start at
   * multiples of 32).
   */
  runSplit(kernel: KernelName, n: number, argsFor: (start: number, count: number) => number[],
           minPerThread = MIN_ELEMENTS_PER_THREAD): void {
    const ranges = this.pool ? splitRange(n, this.pool.threads, { minChunk: minPerThread }) : [[0, n] as [number, number]];
    this.run(ranges.map(([start, count]) => ({ kernel, args: argsFor(start, count) })));
  }

  /** Runs one job on this thread, or several on the pool (jobs[0] on this thread). */
  run(jobs: Job[]): void {
    if (jobs.length === 1) (this.kernels[jobs[0].kernel] as (...a: number[]) => void)(...jobs[0].args);
    else this.pool!.run(jobs);
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
    // More blocks than threads running now is fine (a small prediction runs on fewer threads
    // while the pool boots): re-making them whenever that count changed would allocate on
    // every switch between small and large work.
    if (want > this.scratchBytes || this.scratch.length < this.threads) {
      const count = Math.max(this.threads, this.scratch.length);
      this.releaseWorkspaces();
      const size = Math.max(want, this.scratchBytes);
      const blocks: number[] = [];
      try {
        for (let t = 0; t < count; t++) blocks.push(this.heap.alloc(size));
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

/**
 * Compiles a build and instantiates it through the platform (@assemblyscript/loader). A Response
 * is recognized by shape, not by `instanceof Response`: in Node, merely reading the global
 * `Response` loads the whole fetch implementation (undici, ~15 ms of a cold start).
 */
async function instantiate(source: unknown, imports: WebAssembly.Imports): Promise<WebAssembly.WebAssemblyInstantiatedSource> {
  const src = await source;
  let module: WebAssembly.Module;
  if (src instanceof WebAssembly.Module) module = src;
  else if (isResponseLike(src)) {
    module = typeof WebAssembly.compileStreaming === 'function'
      ? await WebAssembly.compileStreaming(src as Response) : await WebAssembly.compile(await src.arrayBuffer());
  } else module = await WebAssembly.compile(src as BufferSource);
  return { module, instance: await platform().instantiate(module, imports) };
}

function isResponseLike(s: unknown): s is { arrayBuffer(): Promise<ArrayBuffer> } {
  return typeof s === 'object' && s !== null && !ArrayBuffer.isView(s) && !(s instanceof ArrayBuffer) &&
    typeof (s as { arrayBuffer?: unknown }).arrayBuffer === 'function';
}

function isBuildMap(w: unknown): w is Partial<Record<BuildName, WasmSource>> {
  return typeof w === 'object' && w !== null && !(w instanceof URL) && !(w instanceof WebAssembly.Module) &&
    !ArrayBuffer.isView(w) && !(w instanceof ArrayBuffer) && typeof (w as any).then !== 'function' && !isResponseLike(w);
}

let current: Runtime | undefined;
let starting: Promise<Runtime> | undefined;
/** Counts close() calls: a ready() that was pending when close() ran does not install its runtime. */
let generation = 0;

/** Loads thinnet (once). Later calls return the same runtime; close() first to change options. */
export async function ready(options: ReadyOptions = {}): Promise<ReadyInfo> {
  if (current) {
    if (JSON.stringify(options) !== JSON.stringify(current.options) && Object.keys(options).length > 0) {
      throw new Error('thinnet.ready: already loaded with other options; call thinnet.close() first');
    }
    return current.info();
  }
  const gen = generation;
  const pending = starting ??= Runtime.create(options);
  let rt: Runtime;
  try {
    rt = await pending;
  } finally {
    if (starting === pending) starting = undefined;
  }
  if (gen !== generation) {
    // thinnet.close() was called while this was loading: the runtime is stopped, not installed
    await rt.close();
    throw new Error('thinnet.ready: thinnet.close() was called while thinnet was loading');
  }
  current = rt;
  return current.info();
}

/**
 * Stops the worker pool and forgets the runtime; tensors and models made before are no longer
 * usable (their operations fail with an error that says so). A ready() still loading is
 * abandoned: it rejects, and its runtime is stopped.
 */
export async function close(): Promise<void> {
  generation++;
  const rt = current;
  current = undefined;
  starting = undefined;
  await rt?.close();
}

/** Whether rt is the runtime in use (not one that close() ended). */
export function isCurrentRuntime(rt: Runtime): boolean {
  return rt === current;
}

export function runtime(): Runtime {
  if (!current) throw new Error('thinnet is not loaded: call `await thinnet.ready()` first');
  return current;
}

/** Bytes held by live tensors and masks, their count, and the wasm memory size. */
export function memoryInfo(): { allocatedBytes: number; allocations: number; memoryBytes: number } {
  const heap = runtime().heap;
  return { allocatedBytes: heap.allocatedBytes, allocations: heap.allocationCount, memoryBytes: heap.memoryBytes };
}
