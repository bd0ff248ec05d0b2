// What thinnet needs from the host runtime. Node and browsers/edge runtimes each provide one;
// the entry points (index.node.ts, index.browser.ts) install theirs.
import type { BuildName } from '../wasm/backend.js';

/** A compiled wasm build as a user or the platform can supply it. */
export type WasmSource = BufferSource | WebAssembly.Module | Response | Promise<Response> | URL | string;

/** The part of a worker the pool uses: Node's worker_threads.Worker and the Web Worker both fit. */
export interface WorkerHandle {
  post(message: unknown): void;
  onMessage(listener: (data: any) => void): void;
  onError(listener: (error: Error) => void): void;
  /**
   * Calls `listener` once, with a short reason ("was terminated", "exited with code 1",
   * "crashed: <message>"), when the worker is gone: at once (synchronously) when terminate() is
   * called on this handle — a thread blocked in Atomics.wait receives no event, so this is what
   * the pool can see when the worker is stopped before a job list; otherwise when the host says
   * so (Node: the worker's 'error' then 'exit' events; browsers: an 'error' event, after which
   * the handle terminates the worker, as it no longer serves jobs). A listener added after that
   * is called at once.
   */
  onExit(listener: (reason: string) => void): void;
  /** Stops the worker (safe to call twice). Its onExit listeners run before this returns. */
  terminate(): Promise<void> | void;
  /** Lets the process exit while the worker idles (Node); a no-op in browsers. */
  unref(): void;
}

export interface Platform {
  name: 'node' | 'browser';
  /** Default source of a build when the user gives none: a file in Node, a URL in browsers. */
  defaultSource(build: BuildName): WasmSource;
  /** Turns a URL or path into something WebAssembly can compile. */
  fetchSource(url: URL | string): Promise<BufferSource | Response>;
  /**
   * Instantiates a compiled build with @assemblyscript/loader (Node: instantiateSync — the async
   * instantiate's `instanceof Response` check would load Node's whole fetch implementation,
   * ~15 ms of a cold start; elsewhere: instantiate).
   */
  instantiate(module: WebAssembly.Module, imports: WebAssembly.Imports): Promise<WebAssembly.Instance>;
  /**
   * The `seedrandom` package's default generator for a string seed (weight initialization,
   * shuffling). Node loads the package on first use with require (sync, ~4 ms): importing
   * CommonJS through ESM costs ~15 ms of every start, and a cold start that only loads and
   * predicts never needs it. Elsewhere it is a static import (bundlers handle CommonJS).
   */
  seedrandom(seed: string): () => number;
  /** Whether shared memory may be used (browsers: crossOriginIsolated). */
  isolated(): boolean;
  /** Makes startWorker usable (Node: loads node:worker_threads where it cannot be loaded synchronously). */
  prepareWorkers?(): Promise<void>;
  /** Starts a worker running the given self-contained JavaScript source. */
  startWorker(source: string): WorkerHandle;
  /**
   * Whether a worker boots on its own while the thread that started it blocks in Atomics.wait
   * (Node's worker_threads: yes; browsers start workers through the page's event loop). Then
   * the worker pool is started lazily: ready() does not wait for it, and the first job list
   * that needs workers spawns them and waits (see threads.ts).
   */
  workersStartUnattended(): boolean;
  hardwareConcurrency(): number;
  /**
   * Inflates a gzip stream chunk by chunk (Node: node:zlib, loaded on first use; elsewhere:
   * DecompressionStream), so that a data loader can write each chunk to its final place and
   * never hold the compressed and the decompressed data whole at once. Rejects on corrupted or
   * truncated data.
   */
  inflate(chunks: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array>;
  /** Whether this thread may block in Atomics.wait (not a browser's main thread). */
  canBlock(): boolean;
}

let current: Platform | undefined;

export function setPlatform(platform: Platform): void {
  current = platform;
}

export function platform(): Platform {
  if (!current) throw new Error('thinnet: no platform installed (import "thinnet", not an internal file)');
  return current;
}

/**
 * The once-only exit report of a WorkerHandle (shared by the Node and browser handles): the
 * first report wins; listeners added later hear it at once.
 */
export function exitReporter(): { report(reason: string): void; listen(listener: (reason: string) => void): void } {
  let reason: string | undefined;
  const listeners: Array<(reason: string) => void> = [];
  return {
    report(r) {
      if (reason !== undefined) return;
      reason = r;
      for (const l of listeners.splice(0)) l(r);
    },
    listen(l) {
      if (reason !== undefined) l(reason);
      else listeners.push(l);
    },
  };
}
