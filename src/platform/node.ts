// Node: builds are read from the package's build/ folder; workers are worker_threads.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { availableParallelism, cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BuildName } from '../backend.js';
import type { Platform, WorkerHandle } from './types.js';

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
    return readFile(u instanceof URL ? fileURLToPath(u) : u);
  },
  isolated: () => true,
  startWorker(source: string): WorkerHandle {
    const worker = new Worker(source, { eval: true });
    return {
      post: (message) => worker.postMessage(message),
      onMessage: (listener) => { worker.on('message', listener); },
      onError: (listener) => { worker.on('error', listener); },
      terminate: async () => { await worker.terminate(); },
      unref: () => worker.unref(),
    };
  },
  hardwareConcurrency: () => (typeof availableParallelism === 'function' ? availableParallelism() : cpus().length),
  canBlock: () => true,
};
