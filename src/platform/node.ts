// Node: builds are read from the package's build/ folder; workers are worker_threads, loaded on
// first use (a process that runs on one thread never loads node:worker_threads): synchronously
// by process.getBuiltinModule (Node >= 20.16, Bun, Deno), else by prepareWorkers().
import { instantiateSync } from '@assemblyscript/loader';
import { createRequire } from 'node:module';
import { availableParallelism, cpus } from 'node:os';
import type { BuildName } from '../wasm/backend.js';
import { exitReporter, type Platform, type WorkerHandle } from './types.js';

type WorkerThreads = typeof import('node:worker_threads');
let workerThreads: WorkerThreads | undefined;

function builtinWorkerThreads(): WorkerThreads | undefined {
  const proc = process as { getBuiltinModule?: (id: string) => unknown };
  return typeof proc.getBuiltinModule === 'function' ? proc.getBuiltinModule('node:worker_threads') as WorkerThreads : undefined;
}

let seedrandomPackage: ((seed: string) => () => number) | undefined;

function buildUrl(build: BuildName): URL {
  // src/platform/node.ts and dist/platform/node.js both sit two levels below the package root.
  return new URL(`../../build/${build}.wasm`, import.meta.url);
}

export const nodePlatform: Platform = {
  name: 'node',
  defaultSource: (build) => buildUrl(build),
  async fetchSource(url) {
    const u = typeof url === 'string' && !/^[a-z]+:/i.test(url) ? url : new URL(url);
    if (u instanceof URL && u.protocol !== 'file:') return fetch(u);
    // A synchronous read of ~60 KB: an asynchronous one costs four thread-pool round trips.
    const { readFileSync } = await import('node:fs');
    return readFileSync(u);
  },
  instantiate: async (module, imports) => instantiateSync(module, imports as any).instance,
  seedrandom(seed) {
    seedrandomPackage ??= createRequire(import.meta.url)('seedrandom') as (seed: string) => () => number;
    return seedrandomPackage(seed);
  },
  isolated: () => true,
  async prepareWorkers() {
    // Only where it cannot be loaded later, synchronously, when the first worker is spawned.
    if (!workerThreads && typeof (process as { getBuiltinModule?: unknown }).getBuiltinModule !== 'function') {
      workerThreads = await import('node:worker_threads');
    }
  },
  startWorker(source: string): WorkerHandle {
    workerThreads ??= builtinWorkerThreads();
    if (!workerThreads) throw new Error('thinnet: node:worker_threads is not loaded (prepareWorkers first)');
    const worker = new workerThreads.Worker(source, { eval: true });
    const gone = exitReporter();
    // 'error' (an uncaught exception, running out of memory) comes before 'exit' and says more.
    worker.on('error', (e: Error) => gone.report(`crashed: ${e?.message ?? e}`));
    worker.on('exit', (code: number) => gone.report(`exited with code ${code}`));
    return {
      post: (message) => worker.postMessage(message),
      onMessage: (listener) => { worker.on('message', listener); },
      onError: (listener) => { worker.on('error', listener); },
      onExit: gone.listen,
      terminate: async () => {
        gone.report('was terminated');
        await worker.terminate();
      },
      unref: () => worker.unref(),
    };
  },
  hardwareConcurrency: () => (typeof availableParallelism === 'function' ? availableParallelism() : cpus().length),
  async *inflate(chunks) {
    // loaded here, not at the top: a process that never reads a .gz file never loads zlib
    const { createGunzip } = await import('node:zlib');
    const { Readable, pipeline } = await import('node:stream');
    // zlib's default 16 KB output chunks: each is garbage once copied to its place, and small
    // ones are reclaimed soonest (inflating MNIST's training images peaked ~20 MB higher with
    // 256 KB chunks, measured with 64 KB reads)
    const gunzip = createGunzip();
    // pipeline forwards an error of either side to the other (an input error ends the output)
    pipeline(Readable.from(chunks, { objectMode: false }), gunzip, () => {});
    for await (const c of gunzip) yield c as Uint8Array;
  },
  canBlock: () => true,
  workersStartUnattended: () => true,
};
