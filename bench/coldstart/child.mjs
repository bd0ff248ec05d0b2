// bench/coldstart/child.mjs <case> <dir> [entry]: one cold start, run by bench/coldstart.mjs in a fresh
// `node` process. Loads a library, loads the MNIST net's weights from a file, predicts one
// 784-pixel example and prints one line:
//   PRED {"case", "probs": [10], "t": {boot, import, ready, load, predict}}   (milliseconds)
// `boot` is process start → this script's first line (performance.now() counts from the
// process's time origin); the others are the steps after it. The parent takes the time at which
// this line arrives; the child exits right after printing.
//
// Cases:
//   node          a bare process: reads the input and prints (the floor of every case)
//   thinnet       import('thinnet') (the package's Node entry), tn.ready(), tn.loadModel(.tnet)
//   thinnet-1     the same with tn.ready({ threads: 1 })
//   base, base-1  the same two with thinnet imported from `entry` (another build's
//                 dist/index.node.js: bench/coldstart.mjs --baseline)
//   thinnet-onnx  import('thinnet'), tn.ready({ threads: 1 }), tn.io.loadOnnx(mnist.onnx): the same net
//                 from the ONNX file (the importer loads on this first call)
//   ort           onnxruntime-web (Node build, wasm backend, one thread): InferenceSession.create
//                 on mnist.onnx (includes ORT's wasm initialization: reported as `load`), run
//   ort-torch     the same on mnist-torch.onnx (the same weights, written by torch.onnx.export)
//   tfjs          @tensorflow/tfjs-core + @tensorflow/tfjs-backend-wasm (setWasmPaths to the
//                 node_modules dist folder, otherwise its defaults), weights from a raw float32
//                 file of the same (dropout-folded) weights, tf.tensor2d per layer
import { performance } from 'node:perf_hooks';

const boot = performance.now();
const [which, dir, entry] = process.argv.slice(2);
const t = { boot };
let last = boot;
const lap = (name) => { const now = performance.now(); t[name] = now - last; last = now; };

const { readFileSync } = await import('node:fs');
const SIZES = [784, 1024, 1024, 10];
/** A float32 file as a Float32Array (a copy only if Node's Buffer is not 4-byte aligned). */
const readF32 = (path) => {
  const b = readFileSync(path);
  return b.byteOffset % 4 === 0 ? new Float32Array(b.buffer, b.byteOffset, b.length / 4) : new Float32Array(new Uint8Array(b).buffer);
};
const input = readF32(`${dir}/input.f32`);

let probs;
if (which === 'node') {
  lap('import');
  probs = Array.from(input.subarray(0, 10));
} else if (['thinnet', 'thinnet-1', 'base', 'base-1'].includes(which)) {
  const tn = await import(which.startsWith('base') ? entry : 'thinnet');
  lap('import');
  await tn.ready(which.endsWith('-1') ? { threads: 1 } : {});
  lap('ready');
  const model = await tn.loadModel(`${dir}/mnist.tnet`);
  lap('load');
  probs = Array.from(model.predict(input));
  lap('predict');
} else if (which === 'thinnet-onnx') {
  // thinnet serving an ONNX file: tn.io.loadOnnx loads the importer on this first call
  const tn = await import('thinnet');
  lap('import');
  await tn.ready({ threads: 1 });
  lap('ready');
  const model = await tn.io.loadOnnx(`${dir}/mnist.onnx`);
  lap('load');
  probs = Array.from(model.predict(input));
  lap('predict');
} else if (which === 'ort' || which === 'ort-torch') {
  // onnxruntime-web's Node build (wasm backend), one thread; its wasm is compiled inside
  // InferenceSession.create, so `load` includes ORT's initialization
  const ort = await import('onnxruntime-web');
  lap('import');
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(`${dir}/${which === 'ort' ? 'mnist' : 'mnist-torch'}.onnx`)));
  lap('load');
  const out = await session.run({ input: new ort.Tensor('float32', input, [1, SIZES[0]]) });
  probs = Array.from(out.output.data);
  lap('predict');
  t.info = `onnxruntime-web ${ort.env.versions?.web ?? '?'} (wasm), threads ${ort.env.wasm.numThreads}`;
} else if (which === 'tfjs') {
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  lap('import');
  const root = new URL('../../', import.meta.url);
  wasm.setWasmPaths(new URL('node_modules/@tensorflow/tfjs-backend-wasm/dist/', root).pathname);
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
  await tf.ready();
  lap('ready');
  // tfjs-weights.f32: per layer W [in, out] row-major, then b [out], float32 little-endian.
  const all = readF32(`${dir}/tfjs-weights.f32`);
  const Ws = [], Bs = [];
  let off = 0;
  for (let l = 0; l < SIZES.length - 1; l++) {
    const inF = SIZES[l], outF = SIZES[l + 1];
    Ws.push(tf.tensor2d(all.subarray(off, off + inF * outF), [inF, outF])); off += inF * outF;
    Bs.push(tf.tensor1d(all.subarray(off, off + outF))); off += outF;
  }
  lap('load');
  const p = tf.tidy(() => {
    let h = tf.tensor2d(input, [1, SIZES[0]]);
    for (let l = 0; l < Ws.length; l++) {
      h = tf.add(tf.matMul(h, Ws[l]), Bs[l]);
      h = l < Ws.length - 1 ? tf.relu(h) : tf.softmax(h);
    }
    return h;
  });
  probs = Array.from(p.dataSync());
  lap('predict');
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  t.info = `tfjs ${tf.version_core}, simd ${simd}, multithread ${mt}, threads ${wasm.getThreadsCount ? wasm.getThreadsCount() : 1}`;
} else {
  throw new Error(`unknown case ${which}`);
}
if (which.startsWith('thinnet') || which.startsWith('base')) {
  const tn = await import(which.startsWith('base') ? entry : 'thinnet');
  const info = await tn.ready(which.endsWith('-1') || which.endsWith('-onnx') ? { threads: 1 } : {});
  t.info = `build ${info.backend}, threads ${info.threads}`;
}
process.stdout.write(`PRED ${JSON.stringify({ case: which, probs, t })}\n`);
process.exit(0);
