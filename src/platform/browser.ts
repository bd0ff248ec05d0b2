// Browsers, Web Workers, bundlers and edge runtimes: no fs. Builds are fetched from URLs next to
// this module (bundlers rewrite `new URL(..., import.meta.url)`), or passed in by the user as
// bytes or a WebAssembly.Module (how edge runtimes such as workerd import wasm).
import { instantiate } from '@assemblyscript/loader';
import seedrandom from 'seedrandom';
import type { BuildName } from '../wasm/backend.js';
import { exitReporter, type Platform, type WorkerHandle } from './types.js';

declare const crossOriginIsolated: boolean | undefined;
declare const navigator: { hardwareConcurrency?: number } | undefined;

function buildUrl(build: BuildName): URL {
  switch (build) { // literal URLs so that bundlers can see and copy each file
    case 'simd': return new URL('../../build/simd.wasm', import.meta.url);
    case 'relaxed': return new URL('../../build/relaxed.wasm', import.meta.url);
    case 'threads': return new URL('../../build/threads.wasm', import.meta.url);
    case 'relaxed-threads': return new URL('../../build/relaxed-threads.wasm', import.meta.url);
  }
}

function isMainThread(): boolean {
  return typeof (globalThis as any).document !== 'undefined';
}

export const browserPlatform: Platform = {
  name: 'browser',
  defaultSource: (build) => buildUrl(build),
  fetchSource: async (url) => fetch(url),
  instantiate: async (module, imports) => (await instantiate(module, imports as any)).instance,
  seedrandom: (seed) => seedrandom(seed),
  isolated: () => typeof crossOriginIsolated !== 'undefined' && crossOriginIsolated === true,
  startWorker(source: string): WorkerHandle {
    const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    const worker = new Worker(url);
    const gone = exitReporter();
    const stop = () => { worker.terminate(); URL.revokeObjectURL(url); };
    // A Web Worker has no 'exit' event. An uncaught error means the worker no longer serves the
    // pool (its job loop never lets one escape): stop it, so that it can never touch memory again.
    worker.addEventListener('error', (e: ErrorEvent) => {
      gone.report(`crashed: ${e.message || 'an uncaught error'}`);
      stop();
    });
    return {
      post: (message) => worker.postMessage(message),
      onMessage: (listener) => worker.addEventListener('message', (e: MessageEvent) => listener(e.data)),
      onError: (listener) => worker.addEventListener('error', (e: ErrorEvent) => listener(new Error(e.message))),
      onExit: gone.listen,
      terminate: () => {
        gone.report('was terminated');
        stop();
      },
      unref: () => {},
    };
  },
  hardwareConcurrency: () => (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 1,
  async *inflate(chunks) {
    if (typeof DecompressionStream === 'undefined') throw new Error('thinnet.data: this runtime has no DecompressionStream to read .gz data');
    // a pull source: the next compressed chunk is read only when the decompressor wants it
    const it = chunks[Symbol.asyncIterator]();
    const input = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const r = await it.next();
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      },
      async cancel() { await it.return?.(); },
    });
    const reader = input.pipeThrough(new DecompressionStream('gzip') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>).getReader();
    let finished = false;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) { finished = true; return; }
        yield value;
      }
    } finally {
      // the consumer stopped early (an error in the data): stop decompressing and reading
      if (!finished) await reader.cancel().catch(() => {});
      reader.releaseLock();
    }
  },
  canBlock: () => !isMainThread(),
  workersStartUnattended: () => false,
};
