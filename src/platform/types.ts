// What thinnet needs from the host runtime. Node and browsers/edge runtimes each provide one;
// the entry points (index.node.ts, index.browser.ts) install theirs.
import type { BuildName } from '../backend.js';

/** A compiled wasm build as a user or the platform can supply it. */
export type WasmSource = BufferSource | WebAssembly.Module | Response | Promise<Response> | URL | string;

/** The part of a worker the pool uses: Node's worker_threads.Worker and the Web Worker both fit. */
export interface WorkerHandle {
  post(message: unknown): void;
  onMessage(listener: (data: any) => void): void;
  onError(listener: (error: Error) => void): void;
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
  /** Whether shared memory may be used (browsers: crossOriginIsolated). */
  isolated(): boolean;
  /** Starts a worker running the given self-contained JavaScript source. */
  startWorker(source: string): WorkerHandle;
  hardwareConcurrency(): number;
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
