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

/**
 * Registers tfjs-core's gradient functions, so that optimizer.minimize / tf.grads work as in the
 * @tensorflow/tfjs union package (tfjs-core's own Node bundle registers none). The registering
 * module is part of tfjs-core's ES-module tree, whose relative imports have no extensions (and the
 * package is not "type": "module"), so a small loader hook resolves them. tfjs keeps its kernel and
 * gradient registries on globalThis, so the gradients land where the CommonJS copy looks.
 * Used by bench/conv-child.mjs and bench/memory.mjs.
 */
export async function registerTfjsGradients() {
  const { register } = await import('node:module');
  const hook = `
    const CORE = '/node_modules/@tensorflow/tfjs-core/dist/';
    export async function resolve(spec, ctx, next) {
      if (ctx.parentURL && ctx.parentURL.includes(CORE) && spec.startsWith('.') && !spec.endsWith('.js')) {
        try { return await next(spec + '.js', ctx); } catch { return next(spec + '/index.js', ctx); }
      }
      return next(spec, ctx);
    }
    export async function load(url, ctx, next) {
      if (url.includes(CORE) && !/\\/tf-core[^/]*\\.js$/.test(url)) return { ...(await next(url, { ...ctx, format: 'module' })), format: 'module' };
      return next(url, ctx);
    }`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
  await import(new URL('../node_modules/@tensorflow/tfjs-core/dist/register_all_gradients.js', import.meta.url).href);
}
