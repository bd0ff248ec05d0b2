// Peers the benches measure in the same run. One loader so every bench sets tfjs up the same way.
import { fileURLToPath } from 'node:url';

/**
 * TensorFlow.js on its wasm backend (devDependencies @tensorflow/tfjs-core and
 * @tensorflow/tfjs-backend-wasm). `singleThread` pins it to one thread (it has none in Node
 * anyway); otherwise its defaults stand. Returns { tf, desc } or null (with a message) when
 * the backend cannot load.
 */
export async function loadTfjsWasm({ singleThread = true } = {}) {
  try {
    const tf = await import('@tensorflow/tfjs-core');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(fileURLToPath(new URL('../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url)));
    if (singleThread) {
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      if (wasm.setThreadsCount) wasm.setThreadsCount(1);
    }
    if (!(await tf.setBackend('wasm'))) throw new Error('setBackend(wasm) failed');
    await tf.ready();
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    const threads = wasm.getThreadsCount ? wasm.getThreadsCount() : 1;
    return { tf, desc: `tfjs ${tf.version_core}, backend ${tf.getBackend()}, simd ${simd}, multithread ${multithread}, threads ${threads}` };
  } catch (e) {
    console.log(`tfjs wasm backend unavailable: ${e.message}`);
    return null;
  }
}
