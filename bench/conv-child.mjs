// bench/conv-child: one measurement process of bench/conv.mjs (see there). Prints progress on
// stderr and one JSON object as the last line of stdout.
//
//   node --experimental-wasm-relaxed-simd bench/conv-child.mjs thinnet <threads> [--quick] [--batches 20]
//   node --experimental-wasm-relaxed-simd bench/conv-child.mjs tfjs-wasm [--quick]
//   node --experimental-wasm-relaxed-simd bench/conv-child.mjs tfjs-cpu [--quick]
//
// The net (NHWC, input 28×28×1): dropout keep 0.9 → conv 5×5×32 'same' ReLU → max-pool 2 →
// dropout 0.75 → conv 5×5×64 'same' ReLU → max-pool 2 → dropout 0.75 → flatten 3136 → dense 1024
// ReLU → dropout 0.5 → dense 10, softmax cross-entropy, SGD momentum 0.9 (lr 0.01), batch 100.
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { registerTfjsGradients } from './peers.mjs';
import { lenet } from './nets.mjs';

const argv = process.argv.slice(2);
const mode = argv[0];
const quick = argv.includes('--quick');
const opt = (name, dflt) => { const i = argv.indexOf(name); return i > 0 ? Number(argv[i + 1]) : dflt; };
const BATCH = 100;
const BATCHES = opt('--batches', quick ? 10 : 20);
const H = 28, F = H * H, C = 10;
const LR = 0.01, MOMENTUM = 0.9;
const log = (...a) => console.error(`[conv-child ${mode}${mode === 'thinnet' ? ' ' + argv[1] : ''}]`, ...a);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length & 1 ? s[m] : (s[m - 1] + s[m]) / 2; };

/** Deterministic values in [lo, hi) (xorshift32). */
function fill(arr, seed, lo = 0, hi = 1) {
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < arr.length; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; arr[i] = lo + (hi - lo) * (s / 4294967296); }
  return arr;
}

/** Seconds per call of fn (samples) after `warm` calls: at least minRuns, up to maxRuns or `budget` s. */
async function samples(fn, { warm = 3, minRuns = 7, maxRuns = 500, budget = quick ? 1 : 3 } = {}) {
  for (let w = 0; w < warm; w++) await fn();
  const times = [];
  const start = performance.now();
  while (times.length < minRuns || (times.length < maxRuns && (performance.now() - start) / 1e3 < budget)) {
    const t = performance.now();
    await fn();
    times.push((performance.now() - t) / 1e3);
  }
  return times;
}

// Synthetic data (timing only): pixels in [0, 1), labels (i·7) mod 10; the same in every process.
const N = BATCHES * BATCH;
const X = fill(new Float32Array(N * F), 1);
const Y = Int32Array.from({ length: N }, (_, i) => (i * 7) % 10);
const X100 = X.subarray(0, BATCH * F);
const X1 = X.subarray(0, F);

// ---- thinnet ---------------------------------------------------------------------------------------

async function thinnet(threads) {
  const tn = await import('../dist/index.node.js');
  const missing = ['conv2d', 'maxPool2d', 'flatten'].filter((n) => typeof tn.layers?.[n] !== 'function');
  if (missing.length) return { skipped: `dist/index.node.js has no tn.layers.${missing.join(', tn.layers.')} (thinnet's conv layers not built yet)` };
  const info = await tn.ready({ threads });
  const model = lenet(tn);
  model.compile({ optimizer: tn.optimizers.sgd({ learningRate: LR, momentum: MOMENTUM }) });
  const fitOpts = { epochs: 1, batchSize: BATCH, shuffle: false };
  log(`build ${info.backend}, threads ${info.threads}: warm-up fit`);
  const losses = [];
  const fitOnce = async () => { const h = await model.fit(X, Y, fitOpts); losses.push(h.loss[h.loss.length - 1]); };
  const train = (await samples(fitOnce, { warm: 1, minRuns: quick ? 2 : 4, maxRuns: 30, budget: quick ? 3 : 10 })).map((s) => s / BATCHES);
  log('inference');
  const p1 = model.predict(X1, { batchSize: 1 });
  const p100 = model.predict(X100, { batchSize: BATCH });
  if (p1.length !== C || p100.length !== BATCH * C) throw new Error(`predict returned ${p1.length} / ${p100.length} values`);
  const b1 = await samples(() => model.predict(X1, { batchSize: 1 }), { warm: 10, minRuns: 50, budget: quick ? 0.5 : 2 });
  const b100 = await samples(() => model.predict(X100, { batchSize: BATCH }), { warm: 3, minRuns: 9, budget: quick ? 1 : 3 });
  model.dispose?.();
  await tn.close?.();
  return { build: info.backend, threads: info.threads, batchesPerFit: BATCHES, train, b1, b100, lossFirst: losses[0], lossLast: losses[losses.length - 1] };
}

/** f32x4 multiply-add throughput of one thread and of two at once (as bench/mlp.mjs): is the second core free? */
async function coreCheck() {
  const tn = await import('../dist/index.node.js');
  const { runtime } = await import('../dist/wasm/runtime.js');
  await tn.ready({ threads: 2 });
  const rt = runtime();
  const iters = 1_000_000;
  const one = [], two = [];
  // warm-up rounds first (the worker compiles its own wasm and tiers up separately), then
  // alternating rounds for at least 0.5 s
  const start = performance.now();
  for (let r = 0; r < 300 && (r < 30 || performance.now() - start < 800); r++) {
    let t = performance.now(); rt.kernels.gemm_peak_f32(iters); if (r >= 10) one.push(performance.now() - t);
    t = performance.now(); rt.pool.run([{ kernel: 'gemm_peak_f32', args: [iters] }, { kernel: 'gemm_peak_f32', args: [iters] }]); if (r >= 10) two.push(performance.now() - t);
  }
  await tn.close?.();
  return { one: (iters * 96) / median(one) / 1e6, two: (2 * iters * 96) / median(two) / 1e6 };
}

// ---- TensorFlow.js ---------------------------------------------------------------------------------

// registerTfjsGradients (bench/peers.mjs): tfjs-core's gradient functions, which its Node bundle does not register.

/**
 * A Conv2DBackpropFilter kernel for the wasm backend (which has none), supplied by this bench:
 * dW[i,j,ci,co] = Σ_{n,h,w} xpad[n,h+i,w+j,ci]·dy[n,h,w,co] is itself a forward convolution of
 * x transposed to [Ci,H,W,N] with dy transposed to [H,W,N,Co] as the filter (the same padding),
 * giving [Ci,fh,fw,Co], transposed back. It calls the wasm backend's own Transpose and Conv2D
 * (XNNPACK) kernels. Stride 1, dilation 1, NHWC only (what this net needs).
 */
function registerWasmFilterGrad(tf) {
  const transpose = tf.getKernel('Transpose', 'wasm').kernelFunc;
  const conv = tf.getKernel('Conv2D', 'wasm').kernelFunc;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter', backendName: 'wasm',
    kernelFunc: ({ inputs: { x, dy }, backend, attrs }) => {
      const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
      const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode, false, tf.backend_util.convertConv2DDataFormat(dataFormat));
      if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dataFormat !== 'channelsLast') throw new Error('bench Conv2DBackpropFilter: stride 1, NHWC only');
      const p = info.padInfo;
      const xt = transpose({ inputs: { x }, backend, attrs: { perm: [3, 1, 2, 0] } });
      const dyt = transpose({ inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } });
      const o = conv({ inputs: { x: xt, filter: dyt }, backend, attrs: { strides: 1, pad: [[0, 0], [p.top, p.bottom], [p.left, p.right], [0, 0]], dataFormat: 'NHWC', dilations: 1, dimRoundingMode: undefined } });
      const dw = transpose({ inputs: { x: o }, backend, attrs: { perm: [1, 2, 0, 3] } });
      for (const t of [xt, dyt, o]) backend.disposeData(t.dataId);
      return dw;
    },
  });
}

/** Max |Δ| of tf.conv2d's filter gradient against plain loops, on a small 'same' case. */
function checkFilterGrad(tf) {
  const [n, h, w, ci, co, k] = [2, 7, 6, 3, 4, 5];
  const xv = fill(new Float32Array(n * h * w * ci), 3, -1, 1), dyv = fill(new Float32Array(n * h * w * co), 4, -1, 1);
  const got = tf.tidy(() => tf.conv2d(tf.tensor4d(xv, [n, h, w, ci]), tf.zeros([k, k, ci, co]), 1, 'same'));
  got.dispose();
  const dw = tf.tidy(() => {
    const x = tf.tensor4d(xv, [n, h, w, ci]);
    const dy = tf.tensor4d(dyv, [n, h, w, co]);
    return tf.conv2DBackpropFilter ? tf.conv2DBackpropFilter(x, dy, [k, k, ci, co], 1, 'same') : tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [k, k, ci, co] });
  });
  const d = dw.dataSync();
  dw.dispose();
  let err = 0;
  const pad = (k - 1) >> 1;
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) for (let a = 0; a < ci; a++) for (let b = 0; b < co; b++) {
    let s = 0;
    for (let m = 0; m < n; m++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const yy = y + i - pad, xx = x + j - pad;
      if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
      s += xv[((m * h + yy) * w + xx) * ci + a] * dyv[((m * h + y) * w + x) * co + b];
    }
    err = Math.max(err, Math.abs(s - d[((i * k + j) * ci + a) * co + b]));
  }
  return err;
}

/** The net in tfjs ops (NHWC), tfjs's own gradients through optimizer.minimize. */
function tfjsNet(tf) {
  const glorot = (shape, fanIn, fanOut, seed) => {
    const lim = Math.sqrt(6 / (fanIn + fanOut));
    return tf.variable(tf.tensor(fill(new Float32Array(shape.reduce((a, b) => a * b)), seed, -lim, lim), shape));
  };
  const W1 = glorot([5, 5, 1, 32], 25, 25 * 32, 11), b1 = tf.variable(tf.zeros([32]));
  const W2 = glorot([5, 5, 32, 64], 25 * 32, 25 * 64, 12), b2 = tf.variable(tf.zeros([64]));
  const W3 = glorot([3136, 1024], 3136, 1024, 13), b3 = tf.variable(tf.zeros([1024]));
  const W4 = glorot([1024, 10], 1024, 10, 14), b4 = tf.variable(tf.zeros([10]));
  const vars = [W1, b1, W2, b2, W3, b3, W4, b4];
  // tf.fused ops as tfjs-layers uses them; under a gradient tape tfjs runs them unfused.
  const forward = (x, training) => {
    const drop = (h, keep) => (training ? tf.dropout(h, 1 - keep) : h);
    let h = drop(tf.reshape(x, [-1, 28, 28, 1]), 0.9);
    h = tf.maxPool(tf.fused.conv2d({ x: h, filter: W1, strides: 1, pad: 'same', bias: b1, activation: 'relu' }), 2, 2, 'valid');
    h = drop(h, 0.75);
    h = tf.maxPool(tf.fused.conv2d({ x: h, filter: W2, strides: 1, pad: 'same', bias: b2, activation: 'relu' }), 2, 2, 'valid');
    h = drop(h, 0.75);
    h = tf.fused.matMul({ a: tf.reshape(h, [-1, 3136]), b: W3, bias: b3, activation: 'relu' });
    h = drop(h, 0.5);
    return tf.fused.matMul({ a: h, b: W4, bias: b4 });
  };
  const x = tf.tensor2d(X100, [BATCH, F]);
  const x1 = tf.tensor2d(X1, [1, F]);
  const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Y.subarray(0, BATCH), 'int32'), C), 'float32'));
  const xs = tf.tensor2d(X.subarray(0, 4 * F), [4, F]); // a 4-example batch: warm-up of a slow backend
  const ys = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Y.subarray(0, 4), 'int32'), C), 'float32'));
  const optimizer = tf.train.momentum(LR, MOMENTUM);
  const step = (small = false) => {
    const cost = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(small ? ys : y, forward(small ? xs : x, true)), true, vars);
    const v = cost.dataSync()[0];
    cost.dispose();
    return v;
  };
  const infer = (inp) => { const p = tf.tidy(() => tf.softmax(forward(inp, false))); p.dataSync(); p.dispose(); };
  const dispose = () => { for (const t of [...vars, x, x1, y, xs, ys]) t.dispose(); optimizer.dispose(); };
  return { step, infer, x, x1, dispose };
}

async function tfjsMeasure(tf, { trainRuns, trainBudget, slow = false }) {
  const net = tfjsNet(tf);
  const out = {};
  log('inference');
  out.b1 = await samples(() => net.infer(net.x1), { warm: 5, minRuns: quick || slow ? 10 : 30, budget: quick || slow ? 0.5 : 2 });
  out.b100 = await samples(() => net.infer(net.x), { warm: slow ? 1 : 2, minRuns: quick || slow ? 3 : 7, budget: quick || slow ? 1 : 3 });
  log('training');
  const losses = [];
  try {
    // slow (tfjs-cpu: minutes per step): the warm-up steps run on a 4-example batch, then
    // `trainRuns` timed steps at batch 100
    if (slow) { for (let w = 0; w < 2; w++) net.step(true); }
    out.train = await samples(() => { losses.push(net.step()); }, { warm: slow ? 0 : 1, minRuns: trainRuns, maxRuns: 50, budget: trainBudget });
    out.lossFirst = losses[0]; out.lossLast = losses[losses.length - 1];
  } catch (e) {
    out.trainError = e.message;
  }
  if (argv.includes('--profile') && !out.trainError) {
    // tf.profile of one training step: time per kernel name, largest first (stderr)
    const prof = await tf.profile(() => { net.step(); });
    const by = new Map();
    for (const k of prof.kernels) { const e = by.get(k.name) ?? { ms: 0, n: 0 }; e.ms += Number(k.kernelTimeMs) || 0; e.n++; by.set(k.name, e); }
    const total = [...by.values()].reduce((a, e) => a + e.ms, 0);
    log(`profile of one step: ${total.toFixed(0)} ms in kernels`);
    for (const [name, e] of [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) log(`  ${name.padEnd(24)} ${e.ms.toFixed(1).padStart(8)} ms  x${e.n}`);
    out.profile = Object.fromEntries([...by].map(([k, e]) => [k, e.ms]));
  }
  net.dispose();
  out.numTensors = tf.memory().numTensors;
  return out;
}

async function tfjsWasm() {
  const { loadTfjsWasm } = await import('./peers.mjs');
  const l = await loadTfjsWasm();
  if (!l) return { skipped: 'tfjs wasm backend unavailable' };
  const { tf, desc } = l;
  const out = { desc };
  // 1. tfjs-core alone (its Node bundle registers no gradient functions)
  try {
    tf.tidy(() => { const w = tf.variable(tf.ones([5, 5, 1, 2])); tf.variableGrads(() => tf.sum(tf.conv2d(tf.ones([1, 8, 8, 1]), w, 1, 'same'))); w.dispose(); });
    out.gradsCoreOnly = 'ok';
  } catch (e) { out.gradsCoreOnly = e.message; }
  await registerTfjsGradients();
  // 2. with tfjs's gradients: the training step as tfjs runs it on the wasm backend
  const probe = tfjsNet(tf);
  try { probe.step(); out.trainOwnGradients = 'ok'; } catch (e) { out.trainOwnGradients = e.message; }
  probe.dispose();
  out.hasKernel = Object.fromEntries(['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'MaxPool', 'MaxPoolGrad', 'Transpose'].map((k) => [k, tf.getKernel(k, 'wasm') != null]));
  // 3. the bench's Conv2DBackpropFilter for wasm; everything else is tfjs's own gradients and kernels
  registerWasmFilterGrad(tf);
  out.filterGradMaxErr = checkFilterGrad(tf);
  Object.assign(out, await tfjsMeasure(tf, { trainRuns: quick ? 3 : 7, trainBudget: quick ? 5 : 20 }));
  return out;
}

async function tfjsCpu() {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) return { skipped: 'setBackend(cpu) failed' };
  await tf.ready();
  await registerTfjsGradients();
  const out = { desc: `tfjs ${tf.version_core}, backend ${tf.getBackend()} (tfjs-backend-cpu, plain JavaScript)` };
  out.filterGradMaxErr = checkFilterGrad(tf);
  Object.assign(out, await tfjsMeasure(tf, { trainRuns: opt('--cpu-steps', 1), trainBudget: 0, slow: true }));
  return out;
}

// ---- run ---------------------------------------------------------------------------------------------

let result;
try {
  if (mode === 'thinnet') result = await thinnet(Number(argv[1] ?? 1));
  else if (mode === 'corecheck') result = await coreCheck();
  else if (mode === 'tfjs-wasm') result = await tfjsWasm();
  else if (mode === 'tfjs-cpu') result = await tfjsCpu();
  else throw new Error(`unknown mode ${mode}`);
} catch (e) {
  result = { error: e.stack || String(e) };
}
result.maxRssMB = process.resourceUsage().maxRSS / 1024;
console.log(JSON.stringify(result));
process.exit(0);
