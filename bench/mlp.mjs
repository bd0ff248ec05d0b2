// bench/mlp: the paper's MNIST network (Srivastava et al. 2014: 784-1024-1024-10, ReLU, dropout
// keep 0.8 on the input and 0.5 on the hidden layers, softmax cross-entropy, SGD with momentum
// 0.95, max-norm c = 2, batch 100), trained and run by thinnet, by TensorFlow.js on its wasm
// backend (one thread) and by PyTorch on the CPU (bench/torch_ref.py), all in this one run;
// inference also by onnxruntime-web (wasm, one thread) on two ONNX files of the same net: thinnet's
// export, and PyTorch's torch.onnx.export (made at bench time by bench/make_onnx_peer.py, into a
// temporary directory; skipped with a message if /usr/bin/python3 has no torch).
//
//   npm run build && node --experimental-wasm-relaxed-simd bench/mlp.mjs [--quick]
//
// thinnet's step is written here from the kernels: the threaded products of src/kernels/linalg.ts
// (denseForward, denseBackward), the dropout, ReLU and loss kernels, the momentum update and
// max-norm (elementwise / per-row work split over the pool). If the model API (src/model.ts)
// loads, model.fit is measured too. Figures are medians after warm-up, in examples per second
// (training) and milliseconds / examples per second (inference); ratios follow. Other processes
// on these cores lower every figure: the load average is printed at the start and the end.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import * as tn from '../dist/index.node.js';
import { runtime } from '../dist/wasm/runtime.js';
import { loadTfjsWasm } from './peers.mjs';
import { denseBackward, denseForward } from '../dist/kernels/linalg.js';

const quick = process.argv.includes('--quick');
const root = fileURLToPath(new URL('../', import.meta.url));

const SIZES = [784, 1024, 1024, 10];
const L = SIZES.length - 1;
const BATCH = 100;
const KEEP = [0.8, 0.5, 0.5]; // retention probability of the input of layer l
const LR = 0.01, MOMENTUM = 0.95, MAX_NORM = 2, SEED = 7;

// ---- timing ------------------------------------------------------------------------------------

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length & 1 ? s[m] : (s[m - 1] + s[m]) / 2; };

/**
 * Seconds per call of each of fns (an array of samples per fn), measured round-robin (one call of
 * each per round) after `warm` warm-up rounds, for at least minRuns rounds and about `budget` s.
 */
function samplesInterleaved(fns, { warm = 3, minRuns = 7, maxRuns = 200, budget = quick ? 1 : 4 } = {}) {
  let i = 0;
  for (let w = 0; w < warm; w++) for (const fn of fns) fn(i++);
  const times = fns.map(() => []);
  const start = performance.now();
  for (let r = 0; r < maxRuns && (r < minRuns || (performance.now() - start) / 1e3 < budget); r++) {
    fns.forEach((fn, k) => { const t = performance.now(); fn(i++); times[k].push((performance.now() - t) / 1e3); });
  }
  return times;
}

/** Median seconds per call of each of fns, measured round-robin (see samplesInterleaved). */
const timeInterleaved = (fns, opts) => samplesInterleaved(fns, opts).map(median);

/** Deterministic values in [lo, hi). */
function fill(arr, seed, lo = 0, hi = 1) {
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < arr.length; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; arr[i] = lo + (hi - lo) * (s / 4294967296); }
  return arr;
}

const X = fill(new Float32Array(BATCH * SIZES[0]), 1);
const LABELS = Int32Array.from({ length: BATCH }, (_, i) => (i * 7) % 10);

// ---- thinnet: the step from the kernels ----------------------------------------------------------

/** The network's parameters, gradients, momentum and batch buffers in wasm memory, and its passes. */
function thinnetNet() {
  const rt = runtime();
  const h = rt.heap, k = rt.kernels;
  const layers = [];
  let total = 0;
  for (let l = 0; l < L; l++) {
    const inF = SIZES[l], outF = SIZES[l + 1];
    layers.push({ inF, outF, w: total, b: total + inF * outF });
    total += inF * outF + outF;
  }
  // One block each for parameters, gradients and momentum (one update call covers them all).
  const params = h.alloc(4 * total), grads = h.alloc(4 * total), vel = h.alloc(4 * total);
  h.f32(params, total).fill(0); h.f32(vel, total).fill(0);
  layers.forEach((ly, l) => {
    const lim = Math.sqrt(6 / (ly.inF + ly.outF));
    h.f32(params + 4 * ly.w, ly.inF * ly.outF).set(fill(new Float32Array(ly.inF * ly.outF), 10 + l, -lim, lim));
    Object.assign(ly, { W: params + 4 * ly.w, B: params + 4 * ly.b, dW: grads + 4 * ly.w, dB: grads + 4 * ly.b });
  });
  const x = h.alloc(4 * BATCH * SIZES[0]);
  h.f32(x, X.length).set(X);
  const labels = h.alloc(4 * BATCH);
  h.i32(labels, BATCH).set(LABELS);
  const drop = layers.map((ly) => h.alloc(4 * BATCH * ly.inF));             // dropped input of layer l
  const mask = layers.map((ly) => h.alloc(4 * Math.ceil(BATCH * ly.inF / 32))); // its 1-bit mask
  const act = layers.map((ly) => h.alloc(4 * BATCH * ly.outF));              // output of layer l (ReLU in place)
  const probs = h.alloc(4 * BATCH * SIZES[L]);
  const maxW = Math.max(...SIZES);
  const dA = h.alloc(4 * BATCH * maxW), dB = h.alloc(4 * BATCH * maxW);
  const keep16 = KEEP.map((p) => Math.round(p * 65536));
  const scale = keep16.map((q) => Math.fround(65536 / q));
  const threads = rt.threads;

  /** Max-norm on the rows of a weight matrix, rows split over the pool (rows are independent). */
  function maxNorm(w, rows, cols) {
    if (threads === 1) { k.max_norm_f32(w, MAX_NORM, rows, cols); return; }
    const chunk = Math.ceil(rows / threads);
    const jobs = [];
    for (let r = 0; r < rows; r += chunk) jobs.push({ kernel: 'max_norm_f32', args: [w + 4 * r * cols, MAX_NORM, Math.min(chunk, rows - r), cols] });
    if (jobs.length === 1) k.max_norm_f32(w, MAX_NORM, rows, cols); else rt.pool.run(jobs);
  }

  /** Forward over `batch` rows of x; dropout draws masks for training step `step`. Returns the logits. */
  function forward(batch, dropout, step) {
    let input = x;
    for (let l = 0; l < L; l++) {
      const ly = layers[l];
      if (dropout) {
        const y = drop[l], m = mask[l], src = input, q = keep16[l], s0 = scale[l];
        rt.runSplit('dropout_forward_f32', batch * ly.inF, (s, c) => [y + 4 * s, m + s / 8, src + 4 * s, q, s0, SEED, l, step, s, c]);
        input = y;
      }
      ly.input = input;
      denseForward(rt, act[l], input, ly.W, ly.B, batch, ly.inF, ly.outF);
      if (l < L - 1) {
        const a = act[l];
        rt.runSplit('relu_forward_f32', batch * ly.outF, (s, c) => [a + 4 * s, a + 4 * s, c]);
      }
      input = act[l];
    }
    return act[L - 1];
  }

  /** One training step on the batch: forward, loss, backward, momentum update, max-norm. */
  function trainStep(dropout, step) {
    const batch = BATCH;
    const logits = forward(batch, dropout, step);
    const loss = k.softmax_xent_forward_f32(probs, 0, logits, labels, batch, SIZES[L]);
    k.softmax_xent_backward_f32(dA, probs, labels, 1 / batch, batch, SIZES[L]);
    let dy = dA, dx = dB;
    for (let l = L - 1; l >= 0; l--) {
      const ly = layers[l];
      const needDx = l > 0;
      denseBackward(rt, needDx ? dx : 0, ly.dW, ly.dB, dy, ly.input, ly.W, 0, batch, ly.inF, ly.outF);
      if (needDx) {
        const g = dx, n = batch * ly.inF, m = mask[l], s0 = scale[l], a = act[l - 1];
        if (dropout) rt.runSplit('dropout_backward_f32', n, (s, c) => [g + 4 * s, g + 4 * s, m + s / 8, s0, c]);
        rt.runSplit('relu_backward_f32', n, (s, c) => [g + 4 * s, g + 4 * s, a + 4 * s, c]);
        [dy, dx] = [dx, dy];
      }
    }
    rt.runSplit('sgd_momentum_update_f32', total, (s, c) => [params + 4 * s, vel + 4 * s, grads + 4 * s, LR, MOMENTUM, 0, c]);
    for (const ly of layers) maxNorm(ly.W, ly.outF, ly.inF);
    return loss / batch;
  }

  /** Inference (no dropout: the inverted convention) on `batch` rows; softmax probabilities. */
  function infer(batch) {
    k.softmax_forward_f32(probs, forward(batch, false, 0), batch, SIZES[L]);
  }

  function dispose() {
    for (const p of [params, grads, vel, x, labels, ...drop, ...mask, ...act, probs, dA, dB]) h.free(p);
  }
  return { trainStep, infer, dispose };
}

/**
 * One block of measurements of thinnet at `threads` threads, appending per-call seconds to
 * `acc` (blocks at 1 and 2 threads alternate, so passing load on the machine falls on both).
 */
async function measureThinnet(threads, acc) {
  await tn.close();
  const info = await tn.ready({ threads });
  const net = thinnetNet();
  const first = net.trainStep(true, 0);
  let last = first;
  for (let s = 1; s < 20; s++) last = net.trainStep(true, s);
  const budget = quick ? 0.5 : 2;
  const [drop, plain] = samplesInterleaved([(i) => net.trainStep(true, 100 + i), (i) => net.trainStep(false, 100 + i)], { budget });
  const b1 = samplesInterleaved([() => net.infer(1)], { minRuns: 50, budget: budget / 2 })[0];
  const b100 = samplesInterleaved([() => net.infer(BATCH)], { budget: budget / 2 })[0];
  net.dispose();
  runtime().releaseWorkspaces();
  acc.drop.push(...drop); acc.plain.push(...plain); acc.b1.push(...b1); acc.b100.push(...b100);
  Object.assign(acc, { threads: info.threads, backend: info.backend, lossFirst: first, lossLast: last });
}

function summarize(acc) {
  return {
    ...acc, trainDrop: BATCH / median(acc.drop), trainPlain: BATCH / median(acc.plain),
    inferMs1: median(acc.b1) * 1e3, infer100: BATCH / median(acc.b100),
  };
}

/** f32x4 multiply-add throughput of one thread and of two at once: is the second core free? */
async function coreCheck() {
  await tn.close();
  await tn.ready({ threads: 2 });
  const rt = runtime();
  const iters = 1_000_000;
  const [one, two] = timeInterleaved([
    () => rt.kernels.gemm_peak_f32(iters),
    () => rt.pool.run([{ kernel: 'gemm_peak_f32', args: [iters] }, { kernel: 'gemm_peak_f32', args: [iters] }]),
  ], { warm: 2, minRuns: 9, budget: 0.3 });
  return { one: iters * 96 / one / 1e9, two: 2 * iters * 96 / two / 1e9 };
}

/** model.fit through the model API (src/model.ts), if it loads and runs. */
async function measureModel(threads) {
  try {
    if (typeof tn.sequential !== 'function') throw new Error('tn.sequential is not exported');
    await tn.close();
    await tn.ready({ threads });
    const out = {};
    const N = quick ? 500 : 1000;
    const xs = new Float32Array(N * SIZES[0]);
    for (let r = 0; r < N; r++) xs.set(X.subarray((r % BATCH) * SIZES[0], (r % BATCH + 1) * SIZES[0]), r * SIZES[0]);
    const ys = Int32Array.from({ length: N }, (_, i) => LABELS[i % BATCH]);
    for (const dropout of [true, false]) {
      const layers = [];
      if (dropout) layers.push({ type: 'dropout', keep: KEEP[0], convention: 'inverted' });
      for (let l = 0; l < L; l++) {
        layers.push({ type: 'dense', units: SIZES[l + 1], activation: l < L - 1 ? 'relu' : 'linear', maxNorm: MAX_NORM });
        if (dropout && l < L - 1) layers.push({ type: 'dropout', keep: KEEP[l + 1], convention: 'inverted' });
      }
      const model = tn.sequential({ inputShape: [SIZES[0]], seed: SEED, layers });
      model.compile({ optimizer: tn.optimizers.sgd({ learningRate: LR, momentum: MOMENTUM }) });
      await model.fit(xs, ys, { epochs: 1, batchSize: BATCH, shuffle: false });
      const times = [];
      const start = performance.now();
      while (times.length < 3 || (times.length < 15 && (performance.now() - start) / 1e3 < (quick ? 1 : 4))) {
        const t = performance.now();
        await model.fit(xs, ys, { epochs: 1, batchSize: BATCH, shuffle: false });
        times.push((performance.now() - t) / 1e3);
      }
      out[dropout ? 'drop' : 'plain'] = N / median(times);
      model.dispose();
    }
    return out;
  } catch (e) {
    return { error: e.message };
  }
}

// ---- TensorFlow.js (wasm backend, one thread) ----------------------------------------------------

function measureTfjs(tf) {
  const Ws = [], Bs = [];
  for (let l = 0; l < L; l++) {
    const inF = SIZES[l], outF = SIZES[l + 1], lim = Math.sqrt(6 / (inF + outF));
    Ws.push(tf.variable(tf.tensor2d(fill(new Float32Array(inF * outF), 10 + l, -lim, lim), [inF, outF]), true, `mlpW${l}`)); // [in, out]
    Bs.push(tf.variable(tf.zeros([outF]), true, `mlpB${l}`));
  }
  const x = tf.tensor2d(X, [BATCH, SIZES[0]]);
  const x1 = tf.tensor2d(X.subarray(0, SIZES[0]), [1, SIZES[0]]);
  const y = tf.cast(tf.oneHot(tf.tensor1d(LABELS, 'int32'), SIZES[L]), 'float32');
  const opt = tf.train.momentum(LR, MOMENTUM);
  // The backward pass is written out with ops (tfjs-core's Node bundle registers no gradients;
  // the @tensorflow/tfjs union package does): this spares tfjs the tape, its best case. Masks are
  // drawn as tf.dropout draws them (floor(u + keep) / keep) and kept for the backward pass.
  const forward = (inp, dropout, saved) => {
    let h = inp;
    for (let l = 0; l < L; l++) {
      if (dropout) {
        const m = tf.div(tf.floor(tf.add(tf.randomUniform(h.shape, 0, 1, 'float32'), KEEP[l])), KEEP[l]);
        h = tf.mul(h, m);
        if (saved) saved.masks[l] = m;
      }
      if (saved) saved.inputs[l] = h;
      h = tf.add(tf.matMul(h, Ws[l]), Bs[l]);
      if (l < L - 1) {
        h = tf.relu(h);
        if (saved) saved.acts[l] = h;
      }
    }
    return h;
  };
  const names = [...Ws, ...Bs].map((v) => v.name);
  // explicit: the transposed products as tf.transpose + a plain matMul, tfjs's fastest form (its
  // wasm backend's matMul with transposeA/transposeB, which its own MatMul gradient uses, is far
  // slower); otherwise with the transpose flags, as tfjs's autodiff writes them.
  const step = (dropout, explicit) => {
    const out = tf.tidy(() => {
      const saved = { inputs: [], masks: [], acts: [] };
      const logits = forward(x, dropout, saved);
      const loss = tf.losses.softmaxCrossEntropy(y, logits);
      let g = tf.div(tf.sub(tf.softmax(logits), y), BATCH);
      const grads = {};
      for (let l = L - 1; l >= 0; l--) {
        grads[names[l]] = explicit ? tf.matMul(tf.transpose(saved.inputs[l]), g) : tf.matMul(saved.inputs[l], g, true, false);
        grads[names[L + l]] = tf.sum(g, 0);
        if (l > 0) {
          g = explicit ? tf.matMul(g, tf.transpose(Ws[l])) : tf.matMul(g, Ws[l], false, true);
          if (dropout) g = tf.mul(g, saved.masks[l]);
          g = tf.mul(g, tf.step(saved.acts[l - 1]));
        }
      }
      return { loss, grads };
    });
    opt.applyGradients(out.grads);
    const loss = out.loss.dataSync()[0];
    out.loss.dispose();
    for (const t of Object.values(out.grads)) t.dispose();
    tf.tidy(() => { // max-norm: each unit's incoming weights are a column of W [in, out]
      for (const W of Ws) {
        const norms = tf.sqrt(tf.sum(tf.square(W), 0));
        W.assign(tf.mul(W, tf.minimum(1, tf.div(MAX_NORM, tf.maximum(norms, 1e-12)))));
      }
    });
    return loss;
  };
  const infer = (inp) => { const p = tf.tidy(() => tf.softmax(forward(inp, false))); p.dataSync(); p.dispose(); };
  const first = step(true, false);
  const [drop, plain, dropX, plainX] = timeInterleaved([() => step(true, false), () => step(false, false), () => step(true, true), () => step(false, true)],
    { warm: 2, minRuns: 5, budget: quick ? 2 : 8 });
  const b1 = timeInterleaved([() => infer(x1)], { minRuns: 50, budget: quick ? 0.5 : 2 })[0];
  const b100 = timeInterleaved([() => infer(x)], { budget: quick ? 0.5 : 2 })[0];
  const last = step(true, true);
  for (const t of [...Ws, ...Bs, x, x1, y]) t.dispose();
  opt.dispose();
  return {
    lossFirst: first, lossLast: last, trainDrop: BATCH / drop, trainPlain: BATCH / plain,
    trainDropX: BATCH / dropX, trainPlainX: BATCH / plainX, inferMs1: b1 * 1e3, infer100: BATCH / b100,
  };
}

// ---- onnxruntime-web (issue 17: ONNX Runtime as a peer) --------------------------------------------

/**
 * The same net made by PyTorch: bench/make_onnx_peer.py (torch.nn.Sequential with nn.Dropout,
 * eval mode, torch.onnx.export opset 13; --softmax so the graph ends as thinnet's export of a
 * classifier does) writes it into a temporary directory. Its own seeded weights (the timing does
 * not depend on them). Returns { bytes, info } or null after a one-line skip message.
 */
function torchOnnxFile() {
  const tmp = mkdtempSync(join(tmpdir(), 'thinnet-mlp-'));
  try {
    const out = join(tmp, 'mlp-torch.onnx');
    const r = spawnSync('/usr/bin/python3', [`${root}bench/make_onnx_peer.py`, '--out', out, '--sizes', SIZES.join(','), '--seed', String(SEED), '--softmax'],
      { encoding: 'utf8', timeout: 120_000, env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' } });
    if (r.error || r.status !== 0) {
      const why = r.error?.message ?? (r.stderr.trim().split('\n').pop() || `exit ${r.status}`);
      console.log(`onnxruntime-web on a torch.onnx.export file skipped: /usr/bin/python3 bench/make_onnx_peer.py failed (${why}; it needs python3-torch)`);
      return null;
    }
    return { bytes: new Uint8Array(readFileSync(out)), info: JSON.parse(r.stdout.trim().split('\n').pop()) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Inference of the same 784-1024-1024-10 ReLU net (dropout folded: the function predict computes)
 * in onnxruntime-web's Node build (wasm backend, one thread), from two ONNX files: one made by
 * thinnet's exporter (docs/INTEROP.md) and, if /usr/bin/python3 has torch, one made by
 * torch.onnx.export (torchOnnxFile). session.run is asynchronous, so each call is awaited; the two
 * sessions are timed in alternating blocks (see time below), medians after warm-up, batch 1
 * latency and batch 100 throughput as for the others. Untimed, thinnet's tn.io.loadOnnx of the
 * torch file is checked to predict what ORT computes from it.
 */
async function measureOrt() {
  let ortm;
  try {
    ortm = await import('onnxruntime-web');
  } catch (e) {
    console.log(`onnxruntime-web skipped: ${e.message}`);
    return null;
  }
  const torchFile = torchOnnxFile();
  const x1 = fill(new Float32Array(SIZES[0]), 11), x100 = fill(new Float32Array(BATCH * SIZES[0]), 12);
  const CHECK_ROWS = 4;
  await tn.ready({ threads: 1 });
  const m = tn.sequential({ inputShape: [SIZES[0]], seed: SEED, layers: [
    ...SIZES.slice(1, -1).map((units) => tn.layers.dense({ units, activation: 'relu' })), tn.layers.dense({ units: SIZES[L] })] });
  const files = [{ name: 'thinnet export', bytes: await m.toOnnx({ trainingModeInput: false }) }];
  m.dispose();
  let thinnetOnTorch;
  if (torchFile) {
    files.push({ name: 'torch.onnx.export', bytes: torchFile.bytes });
    const imported = await tn.io.loadOnnx(torchFile.bytes);
    thinnetOnTorch = imported.predict(x100.subarray(0, CHECK_ROWS * SIZES[0]));
    imported.dispose();
  }
  await tn.close();
  ortm.env.wasm.numThreads = 1;
  for (const f of files) f.session = await ortm.InferenceSession.create(f.bytes);
  const feeds = (x, n) => ({ input: new ortm.Tensor('float32', x, [n, SIZES[0]]) });
  let check;
  if (torchFile) {
    const y = (await files[1].session.run(feeds(x100.subarray(0, CHECK_ROWS * SIZES[0]), CHECK_ROWS))).output.data;
    let diff = 0, scale = 0;
    for (let i = 0; i < y.length; i++) { diff = Math.max(diff, Math.abs(y[i] - thinnetOnTorch[i])); scale = Math.max(scale, Math.abs(y[i])); }
    check = { rows: CHECK_ROWS, diff, rel: diff / scale };
  }
  /**
   * Median seconds per session.run of each file's session: blocks of consecutive calls, the files'
   * blocks alternating (A B A B), each after its own warm-up. Not one call of each per round: two
   * sessions' 7.5 MB of weights in turn evict each other from the cache (batch 1 took about 2.5 times
   * as long that way), and thinnet and the other peers are timed on one net at a time.
   */
  const time = async (x, n) => {
    const ts = files.map(() => []);
    for (let block = 0; block < 2; block++) {
      for (let k = 0; k < files.length; k++) {
        for (let w = 0; w < 5; w++) await files[k].session.run(feeds(x, n));
        const start = performance.now();
        for (let r = 0; r < 100 && (r < 7 || (performance.now() - start) / 1e3 < (quick ? 0.5 : 1.5)); r++) {
          const t = performance.now();
          await files[k].session.run(feeds(x, n));
          ts[k].push((performance.now() - t) / 1e3);
        }
      }
    }
    return ts.map(median);
  };
  const b1 = await time(x1, 1), b100 = await time(x100, BATCH);
  for (const f of files) await f.session.release();
  const version = ortm.env.versions?.web ?? '?';
  const result = (k) => ({ version, file: files[k].name, inferMs1: b1[k] * 1e3, infer100: BATCH / b100[k] });
  return { thinnetFile: result(0), torchFile: torchFile ? { ...result(1), torch: torchFile.info.torch, ops: torchFile.info.ops, check } : null };
}

// ---- PyTorch (bench/torch_ref.py) ------------------------------------------------------------------

function measureTorch() {
  const py = '/usr/bin/python3';
  const probe = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    console.log('PyTorch reference skipped: `/usr/bin/python3 -c "import torch"` failed.');
    console.log('  Install it with: apt-get install python3-torch libopenblas0-pthread');
    console.log("  (Debian's torch calls the system BLAS; without libopenblas0-pthread that is the generic reference BLAS, far slower.)");
    return null;
  }
  const out = {};
  for (const t of [1, 2]) {
    // torch.set_num_threads does not reach a system BLAS: its thread count comes from the
    // environment. OpenMP threads must not spin while OpenBLAS's threads work (the default
    // spin-wait makes 2-thread torch slower than 1 thread here): OMP_WAIT_POLICY=PASSIVE, torch's
    // best setting on this machine.
    const env = { ...process.env, OMP_NUM_THREADS: String(t), OPENBLAS_NUM_THREADS: String(t), MKL_NUM_THREADS: String(t), OMP_WAIT_POLICY: 'PASSIVE' };
    const args = [`${root}bench/torch_ref.py`, '--threads', String(t), '--skip-gemm', ...(quick ? ['--quick'] : [])];
    const r = spawnSync(py, args, { env, encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) { console.log(`torch_ref.py failed (${t} threads): ${r.stderr || r.error}`); return null; }
    const j = JSON.parse(r.stdout.trim().split('\n').pop());
    out.version = j.torch;
    out.blas = j.blas;
    const m = j.threads[String(t)];
    out[t] = { trainDrop: m.train_examples_per_s_dropout, trainPlain: m.train_examples_per_s_no_dropout, inferMs1: m.infer_batch1_ms, infer100: m.infer_batch100_examples_per_s };
  }
  return out;
}

// ---- run -----------------------------------------------------------------------------------------

console.log(`bench/mlp: ${SIZES.join('-')} ReLU, dropout keep ${KEEP.join('/')}, softmax xent, SGD momentum ${MOMENTUM}, max-norm ${MAX_NORM}, batch ${BATCH}${quick ? ' (--quick)' : ''}`);
console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}; load average at start ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);

const coresBefore = await coreCheck();
const acc = { 1: { drop: [], plain: [], b1: [], b100: [] }, 2: { drop: [], plain: [], b1: [], b100: [] } };
for (let block = 0; block < 2; block++) for (const t of [1, 2]) await measureThinnet(t, acc[t]);
const thin = { 1: summarize(acc[1]), 2: summarize(acc[2]) };
const model = {};
for (const t of [1, 2]) model[t] = await measureModel(t);
await tn.close();
const tfl = await loadTfjsWasm();
const tfr = tfl ? measureTfjs(tfl.tf) : null;
const torch = measureTorch();
const ort = await measureOrt();

const f0 = (v) => (v === undefined || v === null || Number.isNaN(v) ? '-' : Math.round(v).toString());
const f3 = (v) => (v === undefined || v === null ? '-' : v.toFixed(3));
const row = (name, train, plain, ms1, thr) => console.log(
  `${name.padEnd(52)} ${f0(train).padStart(9)} ${f0(plain).padStart(11)} ${f3(ms1).padStart(10)} ${f0(thr).padStart(10)}`);
const coresAfter = await coreCheck();
await tn.close();
console.log('');
const cc = (c) => `1 thread ${c.one.toFixed(1)}, 2 threads together ${c.two.toFixed(1)} GFLOP/s (${(c.two / c.one).toFixed(2)}x)`;
console.log(`machine check, f32x4 multiply-add peak: before ${cc(coresBefore)}; after ${cc(coresAfter)}`);
if (Math.min(coresBefore.two / coresBefore.one, coresAfter.two / coresAfter.one) < 1.8) {
  console.log('  (well below 2x: the second core was busy with other work during the run; the 2-thread figures below suffer)');
}
for (const t of [1, 2]) console.log(`thinnet ${t} thread(s): build ${thin[t].backend}; training loss ${thin[t].lossFirst.toFixed(4)} -> ${thin[t].lossLast.toFixed(4)} over the first 20 steps`);
if (tfl) console.log('tfjs step: backward written out with ops; "tf.transpose" row: transposed products as tf.transpose + matMul, else matMul(.., transposeA/B) as tfjs gradients use');
if (tfl) console.log(`${tfl.desc}; training loss ${tfr.lossFirst.toFixed(4)} -> ${tfr.lossLast.toFixed(4)}`);
if (torch) console.log(`torch ${torch.version} (OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = threads, OMP_WAIT_POLICY=PASSIVE), BLAS ${torch.blas}${/openblas/i.test(torch.blas) ? '' : '  (reference BLAS: install libopenblas0-pthread for a fair peer)'}`);
if (ort?.torchFile) {
  const t = ort.torchFile, c = t.check;
  console.log(`onnxruntime-web "torch file": made by torch.onnx.export, torch ${t.torch}, opset 13, nodes ${t.ops.join(' ')} (bench/make_onnx_peer.py --softmax, seed ${SEED})`);
  console.log(`  check, tn.io.loadOnnx(that file).predict vs onnxruntime-web on it, ${c.rows} rows: max |Δ| ${c.diff.toExponential(2)}, relative to max |y| ${c.rel.toExponential(2)}${c.rel <= 1e-5 ? '' : '  (MORE THAN 1e-5: not the same function)'}`);
}
console.log('');
console.log(`${''.padEnd(52)} ${'train ex/s'.padStart(9)} ${'no-dropout'.padStart(11)} ${'b1 ms'.padStart(10)} ${'b100 ex/s'.padStart(10)}`);
for (const t of [1, 2]) row(`thinnet kernels + linalg, ${t} thread(s)`, thin[t].trainDrop, thin[t].trainPlain, thin[t].inferMs1, thin[t].infer100);
for (const t of [1, 2]) {
  if (model[t].error) console.log(`thinnet model.fit, ${t} thread(s): unavailable (${model[t].error})`);
  else row(`thinnet model.fit, ${t} thread(s)`, model[t].drop, model[t].plain);
}
if (tfr) {
  row('tfjs-backend-wasm, 1 thread', tfr.trainDrop, tfr.trainPlain, tfr.inferMs1, tfr.infer100);
  row('tfjs-backend-wasm, 1 thread, tf.transpose', tfr.trainDropX, tfr.trainPlainX);
}
if (torch) for (const t of [1, 2]) row(`PyTorch CPU, ${t} thread(s)`, torch[t].trainDrop, torch[t].trainPlain, torch[t].inferMs1, torch[t].infer100);
if (ort) {
  row(`onnxruntime-web ${ort.thinnetFile.version} (wasm), 1 thread`, undefined, undefined, ort.thinnetFile.inferMs1, ort.thinnetFile.infer100);
  if (ort.torchFile) row(`onnxruntime-web ${ort.torchFile.version} (wasm), 1 thread, torch file`, undefined, undefined, ort.torchFile.inferMs1, ort.torchFile.infer100);
}

console.log('');
const goal = (name, value, ok, want) => console.log(`${name.padEnd(52)} ${value.padStart(9)}   goal ${want.padEnd(7)} ${ok ? 'met' : 'MISSED'}`);
const x2 = (v) => `${v.toFixed(2)}x`;
if (tfr) {
  goal('training (dropout), thinnet / tfjs, 1 thread', x2(thin[1].trainDrop / tfr.trainDrop), thin[1].trainDrop / tfr.trainDrop >= 15, '>= 15x');
  console.log(`${'training (no dropout), thinnet / tfjs, 1 thread'.padEnd(52)} ${x2(thin[1].trainPlain / tfr.trainPlain).padStart(9)}`);
  goal('training (dropout), thinnet / tfjs with tf.transpose', x2(thin[1].trainDrop / tfr.trainDropX), thin[1].trainDrop / tfr.trainDropX >= 15, '>= 15x');
}
if (torch) {
  for (const t of [1, 2]) {
    goal(`training (dropout), thinnet / torch, ${t} thread(s)`, x2(thin[t].trainDrop / torch[t].trainDrop), thin[t].trainDrop / torch[t].trainDrop >= 1.3, '>= 1.3x');
    console.log(`${`training (no dropout), thinnet / torch, ${t} thread(s)`.padEnd(52)} ${x2(thin[t].trainPlain / torch[t].trainPlain).padStart(9)}`);
  }
}
const scaling = thin[2].trainDrop / thin[1].trainDrop;
goal('training (dropout), thinnet 2 threads / 1 thread', x2(scaling), scaling >= 1.7, '>= 1.7x');
console.log(`${'training (no dropout), thinnet 2 threads / 1 thread'.padEnd(52)} ${x2(thin[2].trainPlain / thin[1].trainPlain).padStart(9)}`);
for (const t of [1, 2]) {
  const over = 100 * (thin[t].trainPlain / thin[t].trainDrop - 1);
  goal(`dropout overhead, thinnet ${t} thread(s)`, `${over.toFixed(1)}%`, over <= 3, '<= 3%');
}
if (tfr) {
  const over = 100 * (tfr.trainPlain / tfr.trainDrop - 1);
  console.log(`${'dropout overhead, tfjs 1 thread'.padEnd(52)} ${`${over.toFixed(1)}%`.padStart(9)}`);
  const lat = thin[1].inferMs1 / tfr.inferMs1, thr = thin[1].infer100 / tfr.infer100;
  goal('inference batch 1 latency, thinnet / tfjs, 1 thread', x2(lat), lat <= 0.5, '<= 0.5x');
  goal('inference batch 100 throughput, thinnet / tfjs, 1 thread', x2(thr), thr >= 1.6, '>= 1.6x');
  console.log(`${'inference batch 1 latency, thinnet 2 threads / tfjs'.padEnd(52)} ${x2(thin[2].inferMs1 / tfr.inferMs1).padStart(9)}`);
}
if (torch) {
  for (const t of [1, 2]) {
    console.log(`${`inference batch 1 latency, thinnet / torch, ${t} thr`.padEnd(52)} ${x2(thin[t].inferMs1 / torch[t].inferMs1).padStart(9)}`);
    console.log(`${`inference batch 100 throughput, thinnet / torch, ${t} thr`.padEnd(52)} ${x2(thin[t].infer100 / torch[t].infer100).padStart(9)}`);
  }
}
if (ort) {
  const o = ort.thinnetFile, t = ort.torchFile;
  console.log(`${'inference batch 1 latency, thinnet / onnxruntime-web, 1 thr'.padEnd(52)} ${x2(thin[1].inferMs1 / o.inferMs1).padStart(9)}`);
  console.log(`${'inference batch 100 throughput, thinnet / ort-web, 1 thr'.padEnd(52)} ${x2(thin[1].infer100 / o.infer100).padStart(9)}`);
  if (t) {
    console.log(`${'inference b1 latency, thinnet / ort-web torch file'.padEnd(52)} ${x2(thin[1].inferMs1 / t.inferMs1).padStart(9)}`);
    console.log(`${'inference b100 throughput, thinnet / ort torch file'.padEnd(52)} ${x2(thin[1].infer100 / t.infer100).padStart(9)}`);
  }
}
console.log(`load average at end ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
